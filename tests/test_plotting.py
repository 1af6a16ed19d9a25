"""Figures from stored results: valid files, and the plotted data equals the stored data."""

import math
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import sweep_fake_runner as fake
from amssim import plotting
from amssim.errors import ConfigError
from amssim.sweep import (
    Objective,
    ResultStore,
    SweepSpec,
    aggregate,
    build_points,
    pareto_front,
    point_labels,
    run_sweep,
)

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


def _valid(path):
    data = path.read_bytes()
    if path.suffix == ".svg":
        return data.lstrip().startswith(b"<?xml") and b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")
    return data.startswith(MAGIC[path.suffix]) and len(data) > 1000


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    p = tmp_path_factory.mktemp("plots") / "s.jsonl"
    grid = [("numerics.adc_bits", ["6", "8"]), ("numerics.tile_width", ["8", "32", "128"]),
            ("numerics.gain", ["1", "2", "4", "8", "16"])]
    spec = SweepSpec(trace="wl/x", device="dev", mode="full", points=tuple(build_points(grid=grid)), seeds=(0, 1))
    with ResultStore(p, writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    return aggregate(ResultStore(p).rows)


@pytest.fixture(autouse=True)
def no_simulator(monkeypatch):
    """Figures must come from stored results: importing the run layer fails here."""
    monkeypatch.setitem(sys.modules, "amssim.run", None)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_pareto_plot_files_are_valid(summaries, tmp_path, suffix):
    out = tmp_path / f"front{suffix}"
    plotting.plot_pareto(summaries, out)
    assert _valid(out)


def test_pareto_plot_highlights_exactly_the_front(summaries, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn = []
    real_plot = Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda self, *a, **k: drawn.append((a, k)) or real_plot(self, *a, **k))
    for objs in ([Objective(key="energy_j", maximise=False), Objective(key="accuracy", maximise=True)],
                 [Objective(key="latency_s", maximise=False), Objective(key="accuracy", maximise=True)]):
        drawn.clear()
        data = plotting.plot_pareto(summaries, tmp_path / "f.png", objectives=objs)
        front = pareto_front(summaries, objs)
        assert data["front"] == front
        (args, kw), = drawn  # the one highlighted line
        fx, fy = args[0], args[1]
        assert list(fx) == [summaries[i][objs[0].key] for i in front]
        assert list(fy) == [summaries[i][objs[1].key] for i in front]
        labels = point_labels(summaries)
        assert data["front_labels"] == [labels[i] for i in front]
        assert data["x"] == [s[objs[0].key] for s in summaries]


def test_heatmap_cells_are_stored_means(summaries, tmp_path):
    out = tmp_path / "heat.png"
    data = plotting.plot_heatmap(summaries, out)
    assert _valid(out)
    assert len(data["panels"]) == 2  # adc_bits 6 and 8
    for panel in data["panels"]:
        assert panel["rows"] == ["8", "32", "128"] and panel["cols"] == ["1", "2", "4", "8", "16"]
        bits = panel["facet"][0].split("=")[1]
        for s in summaries:
            ov = s["overrides"]
            if ov["numerics.adc_bits"] != bits:
                continue
            r, c = panel["rows"].index(ov["numerics.tile_width"]), panel["cols"].index(ov["numerics.gain"])
            assert panel["values"][r][c] == s["accuracy"]
            assert panel["pct_of_fp32"][r][c] == pytest.approx(100 * s["accuracy"] / s["fp32_accuracy"])


def test_heatmap_missing_cells_and_errors(summaries, tmp_path):
    part = [s for s in summaries if not (s["overrides"]["numerics.gain"] == "16"
                                         and s["overrides"]["numerics.tile_width"] == "8")]
    data = plotting.plot_heatmap(part, tmp_path / "h.svg")
    assert math.isnan(data["panels"][0]["values"][0][4])
    with pytest.raises(ConfigError, match="numerics.nope"):
        plotting.plot_heatmap(summaries, tmp_path / "h.png", row_key="numerics.nope")


def test_energy_breakdown_bars_are_stored_components(summaries, tmp_path):
    out = tmp_path / "e.pdf"
    data = plotting.plot_energy_breakdown(summaries, out)
    assert _valid(out)
    assert data["points"] == pareto_front(summaries)  # default: the front (<= 12 points)
    for k, i in enumerate(data["points"]):
        for c, comp in enumerate(data["components"]):
            assert data["values_j"][c][k] == summaries[i]["energy_breakdown_j"][comp]
        assert sum(row[k] for row in data["values_j"]) == pytest.approx(summaries[i]["energy_j"], rel=1e-12)


def test_layer_error_series_are_stored_layers(summaries, tmp_path):
    sel = [0, 5, 29]
    data = plotting.plot_layer_error(summaries, tmp_path / "l.png", select=sel, metric="rel_rms_error")
    assert data["layers"] == ["conv1", "conv2", "fc"]
    labels = point_labels(summaries)
    for i in sel:
        assert data["series"][labels[i]] == [layer["rel_rms_error"] for layer in summaries[i]["layers"]]
    with pytest.raises(ConfigError, match="metric"):
        plotting.plot_layer_error(summaries, tmp_path / "l.png", metric="loss")


def test_latency_breakdown_sums_to_latency(summaries, tmp_path):
    data = plotting.plot_latency_breakdown(summaries, tmp_path / "t.png", select=[0, 1, 2], top=2)
    assert data["layers"] == ["conv2", "fc", "other"]
    for k, i in enumerate(data["points"]):
        assert sum(row[k] for row in data["values_s"]) == pytest.approx(summaries[i]["latency_s"], rel=1e-12)
    no_timing = [dict(s, layers=[dict(layer, cycles=None) for layer in s["layers"]]) for s in summaries]
    with pytest.raises(ConfigError, match="cycles"):
        plotting.plot_latency_breakdown(no_timing, tmp_path / "t.png")


def test_default_selection_thins_to_limit():
    pts = [{"energy_j": float(i), "accuracy": float(i)} for i in range(40)]
    sel = plotting.default_selection(pts, limit=12)
    assert len(sel) == 12 and sel[0] == 0 and sel[-1] == 39
    assert plotting.default_selection([{"energy_j": 1.0}, {"energy_j": 2.0}]) == [0, 1]


def test_bad_figure_paths(summaries, tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        plotting.plot_pareto(summaries, tmp_path / "f.jpg")
    with pytest.raises(ConfigError, match="does not exist"):
        plotting.plot_pareto(summaries, tmp_path / "no" / "f.png")
    with pytest.raises(ConfigError, match="two objectives"):
        plotting.plot_pareto(summaries, tmp_path / "f.png", objectives=[Objective(key="energy_j", maximise=False)])

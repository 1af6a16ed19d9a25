"""Figures from stored results: valid files, and the plotted data equals the stored data."""

import math
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import sweep_fake_runner as fake
from amssim.reporting import figures as plotting
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
def rows(tmp_path_factory):
    p = tmp_path_factory.mktemp("plots") / "s.jsonl"
    grid = [("numerics.adc_bits", ["6", "8"]), ("numerics.tile_width", ["8", "32", "128"]),
            ("numerics.gain", ["1", "2", "4", "8", "16"])]
    spec = SweepSpec(trace="wl/x", device="dev", mode="full", points=tuple(build_points(grid=grid)), seeds=(0, 1))
    with ResultStore(p, writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    return ResultStore(p).rows


@pytest.fixture(scope="module")
def summaries(rows):
    return aggregate(rows)


@pytest.fixture(autouse=True)
def no_simulator(monkeypatch):
    """Figures must come from stored results: importing the run layer fails here."""
    monkeypatch.setitem(sys.modules, "amssim.run", None)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_pareto_plot_files_are_valid(summaries, tmp_path, suffix):
    out = tmp_path / f"front{suffix}"
    plotting.plot_pareto(summaries, out)
    assert _valid(out)


def test_pareto_plot_draws_stored_means_and_front_as_step_line(summaries, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn = []
    real_plot = Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda self, *a, **k: drawn.append((a, k)) or real_plot(self, *a, **k))
    for objs in ([Objective(key="energy_j", maximise=False), Objective(key="accuracy", maximise=True)],
                 [Objective(key="latency_s", maximise=False), Objective(key="accuracy", maximise=True)],
                 [Objective(key="tops_per_w", maximise=True), Objective(key="accuracy", maximise=True)]):
        drawn.clear()
        ox, oy = objs
        data = plotting.plot_pareto(summaries, tmp_path / "f.png", objectives=objs)
        front = pareto_front(summaries, objs)
        assert data["front"] == front
        (args, kw), = drawn  # the one front line
        assert kw["drawstyle"] == ("steps-pre" if ox.maximise else "steps-post")
        fx = sorted(summaries[i][ox.key] * data["x_factor"] for i in front)
        assert list(args[0]) == fx  # front sorted along x
        assert sorted(args[1]) == sorted(summaries[i][oy.key] * 100.0 for i in front)  # accuracy in %
        labels = point_labels(summaries)
        assert data["front_labels"] == [labels[i] for i in front]
        assert data["x"] == [s[ox.key] * data["x_factor"] for s in summaries]
        # error bars: sample std over the two seeds, in the axis unit
        assert data["y_err"] == [s["accuracy_std"] * 100.0 for s in summaries]
        assert data["numbers"] == {i: k + 1 for k, i in enumerate(front)}
        assert [r[:2] for r in data["table"]] == [[str(k + 1), labels[i]] for k, i in enumerate(front)]


def test_pareto_units_are_si_prefixed(summaries, tmp_path):
    data = plotting.plot_pareto(summaries, tmp_path / "f.png")
    # fake energies are about 2-3e-7 J -> nJ (median read >= 1)
    med = sorted(s["energy_j"] for s in summaries)[len(summaries) // 2]
    assert data["x_unit"] == "nJ" and data["x_factor"] == 1e9 and 1 <= med * 1e9 < 1000
    assert data["y_unit"] == "%"
    assert plotting.unit_scaling("energy_j", [3.2e-6])[:2] == (1e6, "µJ")
    assert plotting.unit_scaling("latency_s", [4.6e-6, 1.2e-4, 5e-6])[:2] == (1e6, "µs")
    assert plotting.unit_scaling("latency_s", [0.5])[:2] == (1e3, "ms")
    assert plotting.unit_scaling("energy_j", [2.0])[:2] == (1.0, "J")
    assert plotting.unit_scaling("tops_per_w", [4.8])[:2] == (1.0, "TOPS/W")
    assert plotting.unit_scaling("accuracy", [0.99, 0.5])[:2] == (100.0, "%")
    assert plotting.unit_scaling("accuracy", [55.0])[:2] == (1.0, "")  # already a percentage


def test_auto_log_axes_and_override(summaries, tmp_path):
    assert plotting.resolve_scale("auto", [1.0, 10.0]) == "linear"
    assert plotting.resolve_scale("auto", [1.0, 10.01]) == "log"
    assert plotting.resolve_scale("auto", [-1.0, 100.0]) == "linear"
    assert plotting.resolve_scale("linear", [1.0, 1e6]) == "linear"
    with pytest.raises(ConfigError, match="<= 0"):
        plotting.resolve_scale("log", [0.0, 1.0])
    with pytest.raises(ConfigError, match="axis scale"):
        plotting.resolve_scale("sqrt", [1.0])
    data = plotting.plot_pareto(summaries, tmp_path / "f.png")
    xs = [v for v in data["x"] if math.isfinite(v)]
    assert data["xscale"] == ("log" if max(xs) / min(xs) > 10 else "linear")
    data = plotting.plot_pareto(summaries, tmp_path / "f.png", xscale="log", yscale="linear")
    assert (data["xscale"], data["yscale"]) == ("log", "linear")
    with pytest.raises(ConfigError, match="<= 0"):  # some fake accuracies are exactly 0
        plotting.plot_pareto(summaries, tmp_path / "f.png", yscale="log")
    spread = [dict(s, energy_j=s["energy_j"] * 10 ** (k % 3)) for k, s in enumerate(summaries)]
    assert plotting.plot_pareto(spread, tmp_path / "f.png")["xscale"] == "log"
    assert plotting.plot_pareto(spread, tmp_path / "f.png", xscale="linear")["xscale"] == "linear"


def _no_overlaps(boxes):
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            A, B = boxes[a], boxes[b]
            assert min(A[2], B[2]) <= max(A[0], B[0]) or min(A[3], B[3]) <= max(A[1], B[1]), (a, b, A, B)


def test_front_numbers_never_overlap(summaries, tmp_path):
    data = plotting.plot_pareto(summaries, tmp_path / "f.png")
    assert len(data["label_boxes"]) == len(data["front"])
    _no_overlaps(data["label_boxes"])
    # a dense front: 40 points along a curve with near-duplicates; the first 30 are numbered
    pts = []
    for k in range(40):
        e = 1e-6 * (1 + 0.02 * k + (0.0005 if k % 2 else 0))
        pts.append({"energy_j": e, "accuracy": 0.4 + 0.015 * k, "overrides": {"numerics.gain": str(k)},
                    "device": "d", "n_seeds": 1})
    data = plotting.plot_pareto(pts, tmp_path / "dense.png")
    assert len(data["front"]) == 40 and len(data["label_boxes"]) == plotting.MAX_NUMBERED == 30
    assert len(data["table"]) == 31 and "+10 more front points" in data["table"][-1][1]
    _no_overlaps(data["label_boxes"])
    # each number sits nearer its own point than any other numbered point
    for k, box in enumerate(data["label_boxes"]):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        d = [math.hypot(cx - mx, cy - my) for mx, my in data["marker_boxes"]]
        assert d.index(min(d)) == k


def test_key_table_and_numbers_stay_inside_the_figure(tmp_path):
    """Long configuration names (five swept keys) widen the figure instead of spilling out."""
    grid = [("numerics.tile_width", ["8", "32", "128"]), ("numerics.gain", ["1", "2", "4", "8", "16"]),
            ("numerics.adc_bits", ["6", "8"]), ("noise.kind", ["uniform", "gaussian"]), ("noise.lsb", ["0.5", "1.0"])]
    spec = SweepSpec(trace="wl/x", device="dev", mode="full", points=tuple(build_points(grid=grid)), seeds=(0, 1))
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    long = aggregate(ResultStore(tmp_path / "s.jsonl").rows)
    data = plotting.plot_pareto(long, tmp_path / "long.png", color="numerics.gain")
    fx0, fy0, fx1, fy1 = data["figure_box"]
    tx0, ty0, tx1, ty1 = data["table_box"]
    assert fx0 <= tx0 and tx1 <= fx1 and fy0 <= ty0 and ty1 <= fy1
    ax0, ay0, ax1, ay1 = data["axes_box"]
    for x0, y0, x1, y1 in data["label_boxes"]:
        assert ax0 <= x0 and x1 <= ax1 and ay0 <= y0 and y1 <= ay1
    _no_overlaps(data["label_boxes"])


def test_colour_by_key(summaries, tmp_path):
    data = plotting.plot_pareto(summaries, tmp_path / "f.png", color="numerics.tile_width")
    col = data["colour"]
    assert col["key"] == "numerics.tile_width" and col["kind"] == "category"
    by_value = {}
    for s, c in zip(summaries, col["colors"]):
        by_value.setdefault(s["overrides"]["numerics.tile_width"], set()).add(c)
    assert all(len(v) == 1 for v in by_value.values()) and len({next(iter(v)) for v in by_value.values()}) == 3
    assert plotting.colour_values(summaries, "tile_width")["key"] == "numerics.tile_width"  # unique suffix
    assert plotting.colour_values(summaries, "energy_j")["kind"] == "continuous"  # 30 distinct numbers
    data = plotting.plot_pareto(summaries, tmp_path / "c.png", color="energy_j")  # with a colour bar
    order = sorted(range(len(summaries)), key=lambda i: summaries[i]["energy_j"])
    lum = [sum(data["colour"]["colors"][i][:3]) for i in order]  # viridis brightens with the value
    assert lum[0] < lum[-1] and _valid(tmp_path / "c.png")
    with pytest.raises(ConfigError, match="nope"):
        plotting.plot_pareto(summaries, tmp_path / "f.png", color="nope")


def test_marker_shape_by_device_kind(summaries, tmp_path):
    mixed = []
    for k, s in enumerate(summaries):
        dev, kind = [("a1", None), ("a2", "analog"), ("d1", "digital")][k % 3]
        mixed.append(dict(s, device=dev, device_kind=kind))
    assert plotting.device_kind(mixed[0]) == "analog"  # not stored -> analog
    data = plotting.plot_pareto(mixed, tmp_path / "m.svg")
    assert data["markers"] == {"a1": "o", "a2": "^", "d1": "s"}
    assert data["markers"]["d1"] in plotting.DIGITAL_MARKERS
    assert _valid(tmp_path / "m.svg")


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


def test_layer_error_bars_are_sample_std_over_seeds(rows, summaries, tmp_path):
    import numpy as np

    sel = [3, 17]
    data = plotting.plot_layer_error(summaries, tmp_path / "l.png", select=sel, numbers={3: 7, 17: 2})
    labels = point_labels(summaries)
    for i in sel:
        raw = [r["result"]["layers"] for r in rows if r["point_key"] == summaries[i]["point_key"]]
        assert len(raw) == 2
        for j, name in enumerate(data["layers"]):
            vals = [next(L["dy_std"] for L in layers if L["name"] == name) for layers in raw]
            assert data["std"][labels[i]][j] == pytest.approx(np.std(vals, ddof=1), rel=1e-9)
    assert data["numbers"] == {3: 7, 17: 2} and [r[0] for r in data["table"]] == ["7", "2"]


def test_bar_figures_reuse_pareto_numbers(summaries, tmp_path):
    front = plotting.plot_pareto(summaries, tmp_path / "p.png")
    for fn in (plotting.plot_energy_breakdown, plotting.plot_latency_breakdown):
        data = fn(summaries, tmp_path / "b.png", numbers=front["numbers"])
        assert all(data["numbers"][i] == front["numbers"][i] for i in data["points"])
        assert [r[1] for r in data["table"]] == data["labels"]
    data = plotting.plot_energy_breakdown(summaries, tmp_path / "b.png", numbers=front["numbers"])
    assert data["unit"] == "nJ" and data["factor"] == 1e9


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

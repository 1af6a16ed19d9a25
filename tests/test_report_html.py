"""The HTML explorer file: self-contained, and its data equals the stored results."""

import json
import re
import sys

import pytest

import sweep_fake_runner as fake
from amssim.errors import ConfigError
from amssim.sweep import ResultStore, SweepSpec, aggregate, build_points, pareto_front, point_labels, run_sweep

pytest.importorskip("plotly")

from amssim.reporting import write_html_report  # noqa: E402


def kind_runner(trace, device, overrides, seed, mode="accuracy"):
    """The fake runner, with a device kind stored in the result as digital devices will."""
    res = fake.run_point(trace, device, overrides, seed, mode)
    if device.startswith("dig"):
        res["device_kind"] = "digital"
        res["energy_j"] *= 3.0
    return res


def make_store(path, devices=("dev", "dig-int8"), grid=None, traces=("wl/x",)):
    grid = grid or [("numerics.tile_width", ["8", "32", "128"]), ("numerics.gain", ["1", "2", "4", "8"])]
    with ResultStore(path, writable=True) as st:
        for trace in traces:
            for dev in devices:
                spec = SweepSpec(trace=trace, device=dev, mode="full", points=tuple(build_points(grid=grid)),
                                 seeds=(0, 1))
                run_sweep(spec, st, runner=kind_runner, validator=fake.validate_overrides)
    return path


@pytest.fixture(autouse=True)
def no_simulator(monkeypatch):
    monkeypatch.setitem(sys.modules, "amssim.run", None)


def page_data(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="amssim-data">(.*?)</script>', text, re.S)
    return text, json.loads(m.group(1).replace("<\\/", "</"))


def test_html_is_self_contained_and_carries_the_stored_points(tmp_path):
    store = make_store(tmp_path / "s.jsonl")
    res = write_html_report(store, tmp_path / "r.html", color="tile_width")
    text, data = page_data(res.path)
    assert res.n_bytes == len(text.encode())
    # nothing loaded from elsewhere: no external scripts, stylesheets, images or frames
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text, re.I)
    assert "plotly.js v" in text[:5000] and "Plotly" in text
    summaries = aggregate(ResultStore(store).rows)
    labels = point_labels(summaries)
    assert len(data["points"]) == res.n_points == len(summaries) == 24
    assert data["front"] == pareto_front(summaries)
    assert data["colour"] == "numerics.tile_width"
    assert set(data["filter_keys"]) == {"device", "device_kind", "numerics.tile_width", "numerics.gain"}
    for p, s, label in zip(data["points"], summaries, labels):
        assert p["label"] == label
        assert p["kind"] == ("digital" if s["device"].startswith("dig") else "analog")
        assert (p["x"], p["y"], p["y_std"]) == (s["energy_j"], s["accuracy"], s["accuracy_std"])
        assert p["layers"]["dy_std"] == [L["dy_std"] for L in s["layers"]]
        assert p["energy_breakdown_j"] == s["energy_breakdown_j"]


def test_html_errors(tmp_path, monkeypatch):
    store = make_store(tmp_path / "s.jsonl", devices=("dev",))
    with pytest.raises(ConfigError, match="nope"):
        write_html_report(store, tmp_path / "r.html", color="nope")
    write_html_report(store, tmp_path / "r.html", color="device")  # one device: nothing to colour by
    assert page_data(tmp_path / "r.html")[1]["colour"] is None
    with pytest.raises(ConfigError, match="does not exist"):
        write_html_report(store, tmp_path / "no" / "r.html")
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(ConfigError, match=r"amssim\[report\]"):
        write_html_report(store, tmp_path / "r2.html")
    assert not (tmp_path / "r2.html").exists()


def test_html_write_is_atomic(tmp_path, monkeypatch):
    """The page goes through io_safety.atomic_write: a failed rename keeps the old page, no temp file."""
    import os

    from amssim.errors import OutputPathError

    store = make_store(tmp_path / "s.jsonl", devices=("dev",))
    out = tmp_path / "r.html"
    out.write_text("old page")

    def fail(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputPathError, match=r"--html .*r\.html: cannot write"):
        write_html_report(store, out)
    assert out.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "s.jsonl"]

"""Markdown report of a store: tables, figures, skipped figures, warnings, CLI."""

import json
import os
import sys

import pytest

import sweep_fake_runner as fake
from amssim.cli import main
from amssim.errors import ConfigError, StoreError
from amssim.reporting import write_report
from amssim.sweep import ResultStore, SweepSpec, aggregate, build_points, pareto_front, point_labels, run_sweep


def _store(path, mode="full", trace="wl/x", grid=None):
    grid = grid or [("numerics.tile_width", ["8", "128"]), ("numerics.gain", ["1", "4", "16"])]
    spec = SweepSpec(trace=trace, device="dev", mode=mode, points=tuple(build_points(grid=grid)), seeds=(0, 1))
    with ResultStore(path, writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    return path


@pytest.fixture(autouse=True)
def no_simulator(monkeypatch):
    monkeypatch.setitem(sys.modules, "amssim.run", None)


def test_report_writes_markdown_and_every_figure(tmp_path):
    store = _store(tmp_path / "s.jsonl")
    res = write_report(store, tmp_path / "rep")
    md = open(res.path).read()
    assert res.skipped == () and len(res.figures) == 5
    for f in res.figures:
        assert os.path.exists(f) and open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        assert f"]({os.path.basename(f)})" in md  # linked relative to report.md
    summaries = aggregate(ResultStore(store).rows)
    labels = point_labels(summaries)
    front = pareto_front(summaries)
    assert f"{len(front)} of {len(summaries)} configurations are non-dominated" in md
    section = md.split("## Pareto front")[1].split("## All configurations")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "config" not in line]
    assert [r.split(" | ")[1] for r in rows] == [labels[i] for i in front]
    assert [r.split(" | ")[0][2:] for r in rows] == [str(k + 1) for k in range(len(front))]  # figure numbers
    assert "12 runs, 6 configurations, 2 seeds" in md


def test_report_skips_figures_the_data_cannot_support(tmp_path):
    store = _store(tmp_path / "s.jsonl", mode="timing", grid=[("numerics.adc_bits", ["6", "8"])])
    res = write_report(store, tmp_path / "rep", fig_format="svg")
    names = dict(res.skipped)
    assert set(names) == {"x-pareto", "x-heatmap"}
    assert "accuracy" in names["x-pareto"] and "numerics.tile_width" in names["x-heatmap"]
    md = open(res.path).read()
    assert "## Figures not drawn" in md
    assert all(f.endswith(".svg") for f in res.figures)


def test_report_sections_per_trace_and_store_warnings(tmp_path):
    store = _store(tmp_path / "s.jsonl")
    _store(store, trace="wl/y")
    with open(store, "ab") as fh:
        fh.write(b'{"point_key": "trunc')
    before = store.read_bytes()
    res = write_report(store, tmp_path / "rep")
    md = open(res.path).read()
    assert "## Trace `wl/x`" in md and "## Trace `wl/y`" in md
    assert len(res.warnings) == 1 and "truncated" in md
    assert store.read_bytes() == before
    assert len(res.figures) == 10


def test_report_errors(tmp_path):
    with pytest.raises(StoreError):
        write_report(tmp_path / "none.jsonl", tmp_path / "rep")
    empty = tmp_path / "e.jsonl"
    with ResultStore(empty, writable=True):
        pass
    with pytest.raises(StoreError, match="no results"):
        write_report(empty, tmp_path / "rep")
    with pytest.raises(ConfigError, match="format"):
        write_report(_store(tmp_path / "s.jsonl"), tmp_path / "rep", fig_format="gif")


def test_cli_report(tmp_path, capsys):
    store = _store(tmp_path / "s.jsonl")
    assert main(["report", str(store), "--out", str(tmp_path / "rep"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["report"].endswith("report.md") and len(out["figures"]) == 5
    assert main(["report", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "rep")]) == 2


def test_cli_report_options_and_html(tmp_path, capsys):
    pytest.importorskip("plotly")
    store = _store(tmp_path / "s.jsonl")
    rep = tmp_path / "rep"
    assert main(["report", str(store), "--out", str(rep), "--html", "--color", "numerics.gain",
                 "--xscale", "log", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["html"] == str(rep / "report.html") and out["html_bytes"] == os.path.getsize(rep / "report.html")
    assert len(out["figures"]) == 5
    assert main(["report", str(store), "--out", str(rep), "--color", "numerics.nope"]) == 2
    assert "numerics.nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse choices
        main(["report", str(store), "--out", str(rep), "--xscale", "sqrt"])
    assert exc.value.code == 2

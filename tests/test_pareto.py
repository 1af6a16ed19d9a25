"""Pareto fronts against a brute-force O(n^2) oracle, and the `amssim pareto` command."""

import json

import numpy as np
import pytest

from amssim.cli import main
from amssim.errors import ConfigError
from amssim.sweep import Objective, pareto_front, pareto_mask, parse_objective
from amssim.sweep.pareto import DEFAULT_OBJECTIVES


def oracle(points, objectives):
    """Plain double loop straight from the definition."""
    def val(p, o):
        v = p.get(o.key)
        return None if v is None or v != v else (v if o.maximise else -v)  # larger is better

    out = []
    for i, a in enumerate(points):
        va = [val(a, o) for o in objectives]
        if None in va:
            continue
        dominated = False
        for j, b in enumerate(points):
            vb = [val(b, o) for o in objectives]
            if j == i or None in vb:
                continue
            if all(x >= y for x, y in zip(vb, va)) and any(x > y for x, y in zip(vb, va)):
                dominated = True
                break
        if not dominated:
            out.append(i)
    return out


@pytest.mark.parametrize("n_obj", [2, 3])
@pytest.mark.parametrize("trial", range(30))
def test_front_matches_oracle_with_ties(trial, n_obj):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(1, 60))
    # few distinct values -> many ties and exact duplicates
    levels = int(rng.integers(2, 8)) if trial % 2 else 1000
    keys = ["energy_j", "accuracy", "latency_s"][:n_obj]
    pts = [{k: float(rng.integers(0, levels)) for k in keys} for _ in range(n)]
    if trial % 5 == 0 and n > 2:
        pts[0]["accuracy"] = None
        pts[1]["energy_j"] = float("nan")
    objs = [Objective(key=k, maximise=bool(rng.integers(0, 2))) for k in keys]
    got = pareto_front(pts, objs)
    assert sorted(got) == oracle(pts, objs)
    assert list(np.flatnonzero(pareto_mask(pts, objs))) == oracle(pts, objs)


def test_identical_points_are_all_on_the_front():
    pts = [{"energy_j": 1.0, "accuracy": 0.9}] * 3 + [{"energy_j": 2.0, "accuracy": 0.9}]
    assert sorted(pareto_front(pts)) == [0, 1, 2]


def test_front_is_ordered_by_first_objective():
    pts = [{"energy_j": 3.0, "accuracy": 0.9}, {"energy_j": 1.0, "accuracy": 0.5},
           {"energy_j": 2.0, "accuracy": 0.7}, {"energy_j": 2.5, "accuracy": 0.6}]
    assert pareto_front(pts) == [1, 2, 0]
    assert pareto_front(pts, [Objective(key="accuracy", maximise=True), Objective(key="energy_j", maximise=False)]) == [0, 2, 1]


def test_parse_objective():
    assert parse_objective("energy_j") == Objective(key="energy_j", maximise=False)
    assert parse_objective("accuracy") == Objective(key="accuracy", maximise=True)
    assert parse_objective("accuracy:min") == Objective(key="accuracy", maximise=False)
    assert parse_objective("latency_s:max") == Objective(key="latency_s", maximise=True)
    assert tuple(DEFAULT_OBJECTIVES) == (parse_objective("energy_j"), parse_objective("accuracy"))
    for bad in ("", ":max", "energy_j:up"):
        with pytest.raises(ConfigError):
            parse_objective(bad)
    with pytest.raises(ConfigError):
        pareto_mask([{"a": 1}], [])


FAKE = ["--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"]


@pytest.fixture
def store(tmp_path):
    p = tmp_path / "s.jsonl"
    assert main(["sweep", "wl/x", "--device", "dev", "--grid", "numerics.tile_width=8,32,128",
                 "--grid", "numerics.gain=1,2,4,8,16", "--seeds", "2", "--store", str(p),
                 "--workers", "1", *FAKE]) == 0
    return p


def test_cli_pareto_json_front_equals_library(store, capsys):
    from amssim.sweep.summary import load_summaries

    capsys.readouterr()
    assert main(["pareto", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    summaries, _ = load_summaries(store)
    want = [summaries[i]["point_key"] for i in pareto_front(summaries)]
    assert [p["point_key"] for p in out["front"]] == want
    assert out["objectives"] == ["energy_j:min", "accuracy:max"] and out["n_points"] == 15
    assert main(["pareto", str(store), "--x", "latency_s", "--y", "tops_per_w", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = [summaries[i]["point_key"] for i in pareto_front(
        summaries, [parse_objective("latency_s"), parse_objective("tops_per_w")])]
    assert [p["point_key"] for p in out["front"]] == want


def test_cli_pareto_table_and_figure(store, tmp_path, capsys):
    fig = tmp_path / "front.svg"
    assert main(["pareto", str(store), "--all", "--out", str(fig)]) == 0
    assert fig.read_bytes().lstrip().startswith(b"<?xml")


def test_cli_pareto_errors(store, tmp_path, capsys):
    assert main(["pareto", str(store), "--x", "joules"]) == 2
    assert "joules" in capsys.readouterr().err
    assert main(["pareto", str(store), "--out", str(tmp_path / "f.jpg")]) == 2
    assert main(["pareto", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["pareto", str(store), "--trace", "other"]) == 2
    # a store with two traces needs --trace
    assert main(["sweep", "wl/y", "--device", "dev", "--grid", "numerics.gain=1,2", "--store", str(store),
                 "--workers", "1", *FAKE]) == 0
    capsys.readouterr()
    assert main(["pareto", str(store)]) == 2
    assert "--trace" in capsys.readouterr().err
    assert main(["pareto", str(store), "--trace", "wl/y", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["front"]) >= 1


def test_cli_pareto_colour_and_scales(store, tmp_path, capsys):
    fig = tmp_path / "front.png"
    assert main(["pareto", str(store), "--out", str(fig), "--color", "numerics.tile_width",
                 "--xscale", "log", "--yscale", "linear"]) == 0
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["pareto", str(store), "--out", str(tmp_path / "f2.png"), "--color", "numerics.nope"]) == 2
    err = capsys.readouterr().err
    assert "numerics.nope" in err and "numerics.tile_width" in err  # names the key and the choices
    assert not (tmp_path / "f2.png").exists()

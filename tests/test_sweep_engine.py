"""Sweep engine: runs, skips stored points, aggregates over seeds, resumes after SIGKILL."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

import sweep_fake_runner as fake
from amssim.cli import main
from amssim.errors import ConfigError, RunFailure
from amssim.sweep import (
    LocalExecutor,
    ResultStore,
    SweepSpec,
    aggregate,
    build_points,
    point_labels,
    raise_for_failures,
    run_sweep,
)

HERE = os.path.dirname(__file__)
GRID = [("numerics.tile_width", ["8", "32", "128"]), ("numerics.gain", ["1", "4", "16"])]


def _spec(seeds=(0, 1), grid=GRID, **kw):
    return SweepSpec(trace="wl/x", device="dev", points=tuple(build_points(grid=grid)), seeds=seeds, **kw)


def _oracle_rows(spec):
    """What an uninterrupted sweep must store: the fake runner called directly."""
    return {
        (spec.key_of(p), s): fake.run_point(spec.trace, spec.device, dict(p), s, mode=spec.mode)
        for p in spec.points
        for s in spec.seeds
    }


def _stored(path):
    return {(r["point_key"], r["seed"]): r["result"] for r in ResultStore(path)}


def test_run_sweep_stores_every_point_and_seed(tmp_path):
    spec = _spec()
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        rep = run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    assert (rep.total, rep.already_done, rep.ran, rep.failures) == (18, 0, 18, ())
    assert _stored(tmp_path / "s.jsonl") == _oracle_rows(spec)


def test_second_run_skips_everything_and_extension_runs_only_new(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv(fake.CALLS_ENV, str(calls))
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        run_sweep(_spec(), st, runner=fake.run_point, validator=fake.validate_overrides)
    with ResultStore(p, writable=True) as st:
        rep = run_sweep(_spec(), st, runner=fake.run_point, validator=fake.validate_overrides)
    assert (rep.already_done, rep.ran) == (18, 0)
    # more seeds + one more gain: only the new pairs run
    grid = [GRID[0], ("numerics.gain", ["1", "4", "16", "2"])]
    with ResultStore(p, writable=True) as st:
        rep = run_sweep(_spec(seeds=(0, 1, 2), grid=grid), st, runner=fake.run_point,
                        validator=fake.validate_overrides)
    assert (rep.total, rep.already_done, rep.ran) == (36, 18, 18)
    assert len(calls.read_text().splitlines()) == 36  # nothing ran twice
    assert len(ResultStore(p)) == 36


def test_runner_selected_by_reference_and_env(tmp_path, monkeypatch):
    spec = _spec(seeds=(0,))
    monkeypatch.setenv("AMSSIM_SWEEP_RUNNER", "sweep_fake_runner:run_point")
    monkeypatch.setenv("AMSSIM_SWEEP_VALIDATOR", "sweep_fake_runner.validate_overrides")
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        run_sweep(spec, st)
    assert _stored(tmp_path / "s.jsonl") == _oracle_rows(spec)


def test_bad_runner_reference(tmp_path):
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        with pytest.raises(RunFailure, match="no_such_module"):
            run_sweep(_spec(), st, runner=fake.run_point, validator="no_such_module:f")
        with pytest.raises(RunFailure, match="no function"):
            run_sweep(_spec(), st, runner=fake.run_point, validator="sweep_fake_runner:nope")
        with pytest.raises(ConfigError, match="module:function"):
            run_sweep(_spec(), st, runner=fake.run_point, validator="nodots")


def test_validation_happens_before_any_run(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv(fake.CALLS_ENV, str(calls))
    spec = SweepSpec(trace="wl/x", device="dev", seeds=(0,),
                     points=({"numerics.gain": "1"}, {"numerics.gain": "loud"}))
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        with pytest.raises(ConfigError, match="loud"):
            run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
        assert len(st) == 0
    assert not calls.exists()


def test_failures_are_reported_not_stored_and_retried(tmp_path):
    spec = SweepSpec(trace="wl/x", device="dev", seeds=(0, 1),
                     points=({"numerics.gain": "1"}, {"fake.fail": "1"}))
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        rep = run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    assert rep.ran == 2 and len(rep.failures) == 2
    assert "fake failure" in rep.failures[0][1]
    with pytest.raises(RunFailure, match="2 of 4 runs failed"):
        raise_for_failures(rep)
    with ResultStore(p, writable=True) as st:
        rep = run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
        assert (rep.already_done, rep.ran, len(rep.failures)) == (2, 0, 2)
        with pytest.raises(RuntimeError, match="fake failure"):
            run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides, fail_fast=True)


def test_spec_validation():
    with pytest.raises(ConfigError, match="mode"):
        _spec(mode="fast")
    with pytest.raises(ConfigError, match="no points"):
        SweepSpec(trace="t", device="d", points=())
    with pytest.raises(ConfigError, match="seeds"):
        _spec(seeds=(1, 1))


def test_aggregate_mean_and_std_over_seeds(tmp_path):
    spec = _spec(seeds=(0, 1, 2))
    with ResultStore(tmp_path / "s.jsonl", writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
        summaries = aggregate(st.rows)
    assert len(summaries) == 9
    for s in summaries:
        res = [fake.run_point("wl/x", "dev", s["overrides"], seed) for seed in (0, 1, 2)]
        accs = [r["accuracy"] for r in res]
        m = sum(accs) / 3
        assert s["accuracy"] == pytest.approx(m, rel=1e-15)
        assert s["accuracy_std"] == pytest.approx(math.sqrt(sum((a - m) ** 2 for a in accs) / 2), rel=1e-12)
        assert s["n_seeds"] == 3 and s["seeds"] == [0, 1, 2]
        assert s["energy_breakdown_j"]["adc"] == pytest.approx(res[0]["energy_breakdown_j"]["adc"])
        dy = [r["layers"][1]["dy_std"] for r in res]
        assert s["layers"][1]["name"] == "conv2"
        assert s["layers"][1]["dy_std"] == pytest.approx(sum(dy) / 3, rel=1e-15)
    one = aggregate([st.rows[0]])[0]
    assert one["accuracy_std"] is None


def test_point_labels_name_what_varies():
    s = [{"overrides": {"numerics.gain": "1", "noise.lsb": "0.5"}, "device": "d"},
         {"overrides": {"numerics.gain": "8", "noise.lsb": "0.5"}, "device": "d"}]
    assert point_labels(s) == ["gain=1", "gain=8"]
    s = [{"overrides": {"a.gain": "1", "b.gain": "2"}}, {"overrides": {"a.gain": "2", "b.gain": "2"}},
         {"overrides": {"a.gain": "2", "b.gain": "3"}}]
    assert point_labels(s) == ["a.gain=1 b.gain=2", "a.gain=2 b.gain=2", "a.gain=2 b.gain=3"]
    assert point_labels([{"overrides": {}}]) == ["defaults"]


def test_local_process_pool_matches_serial(tmp_path):
    spec = _spec(seeds=(0, 1))
    with ResultStore(tmp_path / "a.jsonl", writable=True) as st, LocalExecutor(2) as ex:
        rep = run_sweep(spec, st, executor=ex, runner="sweep_fake_runner:run_point",
                        validator=fake.validate_overrides)
    assert rep.ran == 18
    assert _stored(tmp_path / "a.jsonl") == _oracle_rows(spec)


def _sweep_cmd(store, workers):
    return [sys.executable, "-m", "amssim", "sweep", "wl/x", "--device", "dev",
            "--grid", "numerics.tile_width=8,32,128", "--grid", "numerics.gain=1,2,4,8",
            "--seeds", "2", "--store", str(store), "--workers", str(workers), "--json",
            "--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"]


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_sigkill(tmp_path, workers):
    store = tmp_path / "s.jsonl"
    calls = tmp_path / "calls.txt"
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               AMSSIM_FAKE_RUNNER_DELAY_S="0.15", AMSSIM_FAKE_RUNNER_CALLS=str(calls))
    proc = subprocess.Popen(_sweep_cmd(store, workers), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # wait for a few rows (loop guard, not a timing assertion)
            if store.exists() and len(store.read_bytes().splitlines()) >= 1 + 4:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _stored(store)
    assert 4 <= len(before) < 24
    env.pop("AMSSIM_FAKE_RUNNER_DELAY_S")
    out = subprocess.run(_sweep_cmd(store, workers), env=env, capture_output=True, check=True)
    summary = json.loads(out.stdout)
    assert summary["already_done"] == len(before) and summary["ran"] == 24 - len(before)
    # every (point, seed) exactly once, equal to an uninterrupted sweep
    lines = store.read_bytes().splitlines()[1:]
    keys = [(json.loads(x)["point_key"], json.loads(x)["seed"]) for x in lines]
    assert len(keys) == len(set(keys)) == 24
    spec = SweepSpec(trace="wl/x", device="dev", seeds=(0, 1), points=tuple(build_points(
        grid=[("numerics.tile_width", ["8", "32", "128"]), ("numerics.gain", ["1", "2", "4", "8"])])))
    assert _stored(store) == _oracle_rows(spec)
    # runs that were under way when the sweep was killed may have run twice; stored ones never
    ran = calls.read_text().splitlines()
    assert len(ran) - 24 <= workers
    assert ResultStore(store).warnings == []


def test_cli_sweep_json_summary(tmp_path, capsys):
    rc = main(["sweep", "wl/x", "--device", "dev", "--grid", "numerics.gain=1,8", "--set", "numerics.tile_width=128",
               "--seeds", "3", "--store", str(tmp_path / "s.jsonl"), "--workers", "1", "--json",
               "--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["total"], out["ran"], out["already_done"]) == (6, 6, 0)
    assert [p["label"] for p in out["points"]] == ["gain=1", "gain=8"]
    assert out["points"][1]["overrides"] == {"numerics.tile_width": "128", "numerics.gain": "8"}


def test_cli_sweep_failure_exit_1(tmp_path, capsys):
    rc = main(["sweep", "wl/x", "--device", "dev", "--grid", "fake.fail=0,1", "--store", str(tmp_path / "s.jsonl"),
               "--workers", "1", "--runner", "sweep_fake_runner:run_point",
               "--validator", "sweep_fake_runner:validate_overrides"])
    assert rc == 1
    assert "1 of 2 runs failed" in capsys.readouterr().err

"""Sweeps under careless/hostile conditions: unterminated rows, bad store lines, SIGKILL of the
main process (workers and the resource tracker must end), failure classification by type."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from amssim.errors import ConfigError, RunFailure, TraceError
from amssim.sweep.engine import SweepFailure, SweepReport, SweepTask, _failure, raise_for_failures
from amssim.sweep.store import ResultStore, make_row

HERE = os.path.dirname(os.path.abspath(__file__))


def _env(**extra):
    return dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)


def _cmd(store, *extra, workers=1, grid=("numerics.tile_width=8,32", "numerics.gain=1,2")):
    cmd = [sys.executable, "-m", "amssim", "sweep", "wl/x", "--device", "dev", "--store", str(store),
           "--workers", str(workers), "--json", "--runner", "sweep_fake_runner:run_point",
           "--validator", "sweep_fake_runner:validate_overrides"]
    for g in grid:
        cmd += ["--grid", g]
    return cmd + list(extra)


def _keys(store):
    lines = store.read_bytes().split(b"\n")[1:]
    return [(json.loads(x)["point_key"], json.loads(x)["seed"]) for x in lines if x.strip()]


def test_complete_row_without_newline_counts_as_stored(tmp_path):
    store = tmp_path / "s.jsonl"
    subprocess.run(_cmd(store), env=_env(), check=True, capture_output=True)
    data = store.read_bytes()
    assert data.endswith(b"\n")
    store.write_bytes(data[:-1])  # the last complete row loses only its newline
    st = ResultStore(store)
    assert len(st) == 4 and st.warnings == []
    out = subprocess.run(_cmd(store), env=_env(), check=True, capture_output=True)
    s = json.loads(out.stdout)
    assert (s["already_done"], s["ran"]) == (4, 0)
    # grow the sweep: the next append writes the missing newline first
    out = subprocess.run(_cmd(store, grid=("numerics.tile_width=8,32,128", "numerics.gain=1,2")),
                         env=_env(), check=True, capture_output=True)
    s = json.loads(out.stdout)
    assert (s["already_done"], s["ran"]) == (4, 2)
    keys = _keys(store)
    assert len(keys) == len(set(keys)) == 6
    assert ResultStore(store).warnings == []


BAD_LINES = [
    b'{"point_key": "k1", "seed": 0, "result": {"layers": 5}}',
    b'{"point_key": "k2", "seed": 0, "result": {"energy_breakdown_j": [1, 2]}}',
    b'{"point_key": "k3", "seed": 0, "overrides": {"a": {"b": 1}}, "result": {}}',
    b'{"point_key": "k4", "seed": 0, "trace": 7, "result": {}}',
    b'{"point_key": "k5", "seed": -1, "result": {}}',
    b'{"point_key": "k6", "seed": 0, "result": {"layers": [{"name": "a", "macs": [1]}]}}',
    b'{"point_key": "\xff\xfe", "seed": 0, "result": {}}',
    b'{"point_key": "k7", "seed": ' + b"9" * 5000 + b', "result": {}}',
    b"[" * 50000 + b"]" * 50000,
]


def test_bad_store_lines_are_skipped_by_pareto_report_and_resume(tmp_path):
    store = tmp_path / "s.jsonl"
    subprocess.run(_cmd(store), env=_env(), check=True, capture_output=True)
    good = store.read_bytes().split(b"\n")
    for bad in BAD_LINES:  # each bad line alone: reported (naming the line) and skipped
        one = tmp_path / "one.jsonl"
        one.write_bytes(b"\n".join(good[:2] + [bad] + good[2:]))
        st = ResultStore(one)
        assert len(st) == 4 and len(st.warnings) == 1 and "line 3" in st.warnings[0], bad[:60]
    lines = good[:2] + BAD_LINES + good[2:]
    store.write_bytes(b"\n".join(lines))
    before = store.read_bytes()
    assert len(ResultStore(store).warnings) == len(BAD_LINES)
    r = subprocess.run([sys.executable, "-m", "amssim", "pareto", str(store)], capture_output=True, text=True,
                       env=_env())
    assert r.returncode == 0 and "line 3" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "amssim", "report", str(store), "--out", str(tmp_path / "rep")],
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run(_cmd(store), env=_env(), capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["ran"] == 0, r.stderr
    assert store.read_bytes() == before  # nothing rewritten


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    st = fh.read()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(d))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _dask_or_skip():
    pytest.importorskip("distributed")
    return ("--executor", "dask")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("executor", ["process", pytest.param("dask", marks=pytest.mark.slow)])
def test_sigkill_of_the_main_process_ends_workers_and_resource_tracker(tmp_path, executor):
    """SIGKILL of the sweep's main process: its worker processes (the process pool's, or the
    Dask LocalCluster's spawned workers) and the resource tracker must all end on their own."""
    store = tmp_path / "s.jsonl"
    env = _env(AMSSIM_FAKE_RUNNER_DELAY_S="0.5")
    extra = _dask_or_skip() if executor == "dask" else ()
    proc = subprocess.Popen(_cmd(store, "--seeds", "20", *extra, workers=2), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    kids = []
    try:
        for _ in range(6000):  # wait until both workers and the tracker exist and a row is stored
            kids = _children(proc.pid)
            if len(kids) >= 3 and store.exists() and len(store.read_bytes().splitlines()) >= 2:
                break
            assert proc.poll() is None
            time.sleep(0.02)
        assert len(kids) >= 3, kids  # 2 workers + the resource tracker
        os.kill(proc.pid, signal.SIGKILL)  # only the main process, not its group
    finally:
        proc.wait()
    for _ in range(3000):  # loop guard (60 s): every child must go on its own
        if not any(_alive(k) for k in kids):
            break
        time.sleep(0.02)
    left = [k for k in kids if _alive(k)]
    for k in left:  # do not leak processes from a failing test
        os.kill(k, signal.SIGKILL)
    assert left == []
    # and a resume completes the sweep without duplicates
    r = subprocess.run(_cmd(store, "--seeds", "20", workers=2), env=_env(), capture_output=True, check=True)
    keys = _keys(store)
    assert len(keys) == len(set(keys)) == 80 and json.loads(r.stdout)["ran"] == 80 - json.loads(r.stdout)["already_done"]


def test_failures_are_classified_by_exception_type_not_message():
    task = SweepTask(trace="t", device="d", mode="accuracy", overrides=(("a", "1"),), seed=0, runner="m:f")
    f_bad = _failure(task, TraceError("RunFailure: looks like a runtime error"))
    f_bug = _failure(task, ValueError("ConfigError: looks like bad input"))
    assert f_bad.bad_input and f_bad.error_type == "amssim.errors.TraceError"
    assert not f_bug.bad_input and f_bug.error_type == "builtins.ValueError"
    rep = SweepReport(total=2, already_done=0, ran=0, failures=(f_bad,))
    with pytest.raises(ConfigError):
        raise_for_failures(rep)
    rep = SweepReport(total=2, already_done=0, ran=0, failures=(f_bad, f_bug))
    with pytest.raises(RunFailure):
        raise_for_failures(rep)
    assert isinstance(f_bad, SweepFailure) and f_bad[1].startswith("TraceError:")


def test_huge_seed_counts_and_grids_are_refused_before_materialising(tmp_path):
    store = tmp_path / "s.jsonl"
    for extra, grid in ((["--seeds", "1000000000", "--dry-run"], ("numerics.gain=1,2",)),
                        (["--dry-run"], tuple(f"{k}={','.join(str(i) for i in range(1, 200))}" for k in
                                              ("numerics.tile_width", "numerics.gain", "numerics.adc_bits",
                                               "noise.lsb")))):
        r = subprocess.run(_cmd(store, *extra, grid=grid), env=_env(), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2, r.stderr
        assert "over the limit" in r.stderr and "Traceback" not in r.stderr
    assert not store.exists()
    row = make_row(trace="t", device="d", mode="accuracy", overrides={}, seed=0, result={"accuracy": 1.0})
    assert row["seed"] == 0

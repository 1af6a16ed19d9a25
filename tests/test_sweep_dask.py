"""Dask executor: a LocalCluster gives the same stored results as the local executor."""

import pytest

pytest.importorskip("distributed")

import sweep_fake_runner as fake
from amssim.cli import main
from amssim.errors import ConfigError
from amssim.sweep import DaskExecutor, ResultStore, SweepSpec, build_points, run_sweep
from amssim.sweep.executors import make_executor

GRID = [("numerics.tile_width", ["8", "128"]), ("numerics.gain", ["1", "8"])]


def _stored(path):
    return {(r["point_key"], r["seed"]): r["result"] for r in ResultStore(path)}


def test_dask_local_cluster_matches_local_executor(tmp_path):
    spec = SweepSpec(trace="wl/x", device="dev", points=tuple(build_points(grid=GRID)), seeds=(0, 1, 2))
    with ResultStore(tmp_path / "local.jsonl", writable=True) as st:
        run_sweep(spec, st, runner=fake.run_point, validator=fake.validate_overrides)
    with ResultStore(tmp_path / "dask.jsonl", writable=True) as st:
        with DaskExecutor(None, workers=1, processes=False) as ex:
            rep = run_sweep(spec, st, executor=ex, runner="sweep_fake_runner:run_point",
                            validator=fake.validate_overrides)
    assert rep.ran == 12 and rep.failures == ()
    local, dask = _stored(tmp_path / "local.jsonl"), _stored(tmp_path / "dask.jsonl")
    assert len(local) == 12 and dask == local


def test_unreachable_scheduler_is_config_error():
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=0.5)


def test_cli_unreachable_scheduler_exits_2_without_touching_store(tmp_path, capsys):
    store = tmp_path / "s.jsonl"
    with ResultStore(store, writable=True):
        pass
    before = store.read_bytes()
    rc = main(["sweep", "wl/x", "--device", "dev", "--grid", "numerics.gain=1", "--store", str(store),
               "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.5",
               "--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"])
    assert rc == 2
    assert "tcp://127.0.0.1:9" in capsys.readouterr().err
    assert store.read_bytes() == before


def test_make_executor_rejects():
    with pytest.raises(ConfigError, match="only used with --executor dask"):
        make_executor("local", workers=1, scheduler="tcp://x:1")
    with pytest.raises(ConfigError, match="workers"):
        make_executor("local", workers=0)
    with pytest.raises(ConfigError, match="executor"):
        make_executor("ray")

"""Full mode: the simpy model drives the ABFP blocks; bit-identical to accuracy mode."""

import numpy as np
import pytest

pytest.importorskip("amssim.signal")

from amssim.config import apply_overrides, load_device  # noqa: E402
from amssim.energy import estimate_energy  # noqa: E402
from amssim.signal import abfp_matmul  # noqa: E402
from amssim.timing import GemmShape, TimedAbfpBackend, simulate_timing  # noqa: E402


@pytest.mark.parametrize("ov", [
    {"numerics.tile_width": "32"},
    {"numerics.tile_width": "16", "arch.tile_cols": "24", "arch.sram_bytes": "9000"},  # spilled
    {"numerics.tile_width": "8", "noise.kind": "gaussian", "noise.lsb": "1.0", "arch.tiles": "3"},
    {"numerics.tile_width": "64", "numerics.weight_noise_rel": "0.02", "noise.kind": "uniform"},
])
@pytest.mark.parametrize("gran", ["chunk", "column", "job"])
def test_full_equals_accuracy_bit_for_bit(rng, ov, gran):
    dev = apply_overrides(load_device("photonic-128-measured"), ov)
    cfg = dev.abfp_config()
    b = TimedAbfpBackend(dev, seed=5, granularity=gran)
    for layer, (m, k, n) in enumerate([(37, 100, 45), (64, 256, 70), (5, 33, 130)]):
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.laplace(size=(n, k)).astype(np.float32)
        y = b.gemm(x, w, layer=layer, row_offset=11 * layer, op_name=f"op{layer}")
        ref = abfp_matmul(x, w, cfg, 5, layer=layer, row_offset=11 * layer)
        assert y.dtype == np.float32 and np.array_equal(y, ref)
        # a second call of the same shape replays the recorded retire order
        y2 = b.gemm(x, w, layer=layer, row_offset=11 * layer, op_name=f"op{layer}")
        assert np.array_equal(y2, ref)


def test_replay_off_runs_simpy_each_call(rng):
    dev = apply_overrides(load_device("abfp-paper"), {"numerics.tile_width": "16"})
    x = rng.standard_normal((20, 50)).astype(np.float32)
    w = rng.standard_normal((30, 50)).astype(np.float32)
    a = TimedAbfpBackend(dev, seed=1, replay=False)
    y1 = a.gemm(x, w, layer=0, row_offset=0, op_name="fc")
    y2 = a.gemm(x, w, layer=0, row_offset=0, op_name="fc")
    assert np.array_equal(y1, y2) and np.array_equal(y1, abfp_matmul(x, w, dev.abfp_config(), 1))


def test_full_timing_equals_timing_mode(rng):
    """Calls shaped like the executor's (static: m x batch rows; dynamic: per sample and head)."""
    dev = apply_overrides(load_device("photonic-128-measured"), {"numerics.tile_width": "32"})
    batch = 3
    shapes = [GemmShape(name="fc1", layer=0, m=4, k=96, n=64),
              GemmShape(name="qk", layer=1, m=4, k=16, n=4, count=2, weights_static=False),
              GemmShape(name="fc2", layer=2, m=4, k=64, n=10)]
    b = TimedAbfpBackend(dev, seed=0, gemm_shapes=shapes)
    for s in shapes:
        if s.weights_static:
            x = rng.standard_normal((s.m * batch, s.k)).astype(np.float32)
            w = rng.standard_normal((s.n, s.k)).astype(np.float32)
            b.gemm(x, w, layer=s.layer, row_offset=0, op_name=s.name)
        else:
            for g in range(batch * s.count):
                x = rng.standard_normal((s.m, s.k)).astype(np.float32)
                w = rng.standard_normal((s.n, s.k)).astype(np.float32)
                b.gemm(x, w, layer=s.layer, row_offset=g * s.m, op_name=s.name)
    full = b.timing_result(batch)
    timing = simulate_timing(shapes, dev, batch)
    assert full.cycles == timing.cycles and full.actions == timing.actions
    assert full.busy_cycles == timing.busy_cycles and full.stall_cycles == timing.stall_cycles
    assert [L.cycles for L in full.layers] == [L.cycles for L in timing.layers]
    ef, et = estimate_energy(full, dev), estimate_energy(timing, dev)
    assert ef.energy_j == et.energy_j and ef.breakdown_j == et.breakdown_j
    b.reset()
    assert b.timing_result(1).cycles == 0


def test_full_mode_on_a_builtin_trace(repo_dir):
    """The executor drives the timed backend: same outputs as AbfpBackend, same timing as timing mode."""
    import os

    from amssim.trace import load_trace
    from amssim.trace.backends import AbfpBackend
    from amssim.trace.executor import evaluate

    path = os.path.join(repo_dir, "workloads", "digits-resnet")
    if not os.path.isfile(os.path.join(path, "manifest.json")):
        pytest.skip("built-in workload digits-resnet not present")
    tr = load_trace(path)
    dev = apply_overrides(load_device("photonic-128-measured"), {"numerics.tile_width": "32"})
    batch = 8
    timed = TimedAbfpBackend(dev, seed=2, gemm_shapes=tr.gemm_ops())
    full = evaluate(tr, timed, batch_size=batch, limit=batch, keep_outputs=True)
    acc = evaluate(tr, AbfpBackend(dev.abfp_config(), seed=2), batch_size=batch, limit=batch, keep_outputs=True)
    assert np.array_equal(full.outputs, acc.outputs)
    t_full = timed.timing_result(batch)
    t_mode = simulate_timing(tr.gemm_ops(), dev, batch)
    assert t_full.cycles == t_mode.cycles and t_full.actions == t_mode.actions
    assert estimate_energy(t_full, dev).energy_j == estimate_energy(t_mode, dev).energy_j


def test_ideal_cfg_still_timed(rng):
    dev = apply_overrides(load_device("abfp-paper"), {"numerics.ideal": "true", "numerics.tile_width": "16"})
    b = TimedAbfpBackend(dev)
    x = rng.standard_normal((9, 40)).astype(np.float32)
    w = rng.standard_normal((12, 40)).astype(np.float32)
    y = b.gemm(x, w, layer=0, row_offset=0, op_name="fc")
    assert np.array_equal(y, (x.astype(np.float64) @ w.astype(np.float64).T).astype(np.float32))
    assert b.timing_result().cycles > 0


def test_cfg_tile_width_mismatch_and_bad_granularity_rejected():
    from amssim.errors import ConfigError

    dev = load_device("abfp-paper")
    with pytest.raises(ConfigError, match="granularity"):
        TimedAbfpBackend(dev, granularity="cycle")
    cfg = apply_overrides(dev, {"numerics.tile_width": "8"}).abfp_config()
    with pytest.raises(ConfigError, match="tile_width"):
        TimedAbfpBackend(dev, cfg=cfg)

"""simpy timing model vs the closed-form oracle; exact event logs on tiny scenarios."""

import math

import numpy as np
import pytest

from amssim.config import apply_overrides, load_device
from amssim.errors import ConfigError
from amssim.timing import (GemmShape, plan_gemm, plan_times, simulate_plan, simulate_timing,
                           steady_state_cycles)
from amssim.timing.closed_form import ideal_cycles


def tiny(**ov):
    """1 tile of 2x2, every depth 1 cycle, programming 1 cycle per row, fetch 1 cycle."""
    base = {"arch.tiles": 1, "numerics.tile_width": 2, "arch.clock_hz": 1e9,
            "arch.weight_interface_hz": 1e9, "arch.weight_rows_per_transfer": 1,
            "arch.weight_settle_s": 0, "arch.weight_buffers": 1, "arch.sram_bytes_per_cycle": 8,
            "arch.exp_unit_partials_per_cycle": 2, "arch.offchip_bytes_per_s": 1e13,
            "arch.exp_latency_cycles": 1, "arch.sram_bytes": 10**6}
    base.update(ov)
    return apply_overrides(load_device("abfp-paper"), base)


def test_tiny_single_buffered_exact_log():
    plan = plan_gemm(3, 4, 2, tiny())  # T = 2 blocks, J = 1, 3 vectors, II = 1, P = 2
    assert plan.program_cycles == 2 and [j.ii for j in plan.jobs] == [1, 1]
    sim = simulate_plan(plan, log_events=True)
    expected = [
        (0, "read", "fetch_start", 0), (1, "program0", "start", 0),
        (3, "read", "fetch_start", 1), (3, "sram0", "start", 0), (4, "dac0", "start", 0),
        (5, "tile0", "start", 0), (6, "adc0", "start", 0), (7, "exp_unit0", "start", 0),
        # bank freed when the last vector leaves the tile: 5 + 1 + (3 - 1) = 8
        (8, "program0", "start", 1), (10, "retire", "job", 0),
        (10, "sram0", "start", 1), (11, "dac0", "start", 1), (12, "tile0", "start", 1),
        (13, "adc0", "start", 1), (14, "exp_unit0", "start", 1), (17, "retire", "job", 1),
    ]
    assert sorted(sim.events) == sorted(expected)
    assert sim.cycles == 17 == plan_times(plan)["cycles"]


def test_tiny_double_buffered_exact_log():
    plan = plan_gemm(3, 4, 2, tiny(**{"arch.weight_buffers": 2}))
    sim = simulate_plan(plan, log_events=True)
    expected = [
        (0, "read", "fetch_start", 0), (1, "program0", "start", 0),
        (3, "read", "fetch_start", 1), (3, "sram0", "start", 0), (4, "dac0", "start", 0),
        (4, "program0", "start", 1),  # second bank: programs while job 0 streams
        (5, "tile0", "start", 0), (6, "adc0", "start", 0), (6, "sram0", "start", 1),
        (7, "exp_unit0", "start", 0), (7, "dac0", "start", 1), (8, "tile0", "start", 1),
        (9, "adc0", "start", 1), (10, "retire", "job", 0), (10, "exp_unit0", "start", 1),
        (13, "retire", "job", 1),
    ]
    assert sorted(sim.events) == sorted(expected)
    assert sim.cycles == 13


def test_tiny_spilled_exact_log():
    # M (K + N) x 2 bytes = 4 * 6 * 2 = 48 > 40 -> chunks of 40 // (2 * 12) = 1 row
    dev = tiny(**{"arch.sram_bytes": 40, "arch.offchip_bytes_per_s": 12e9, "arch.weight_buffers": 2})
    plan = plan_gemm(4, 2, 4, dev)  # K = 2 -> T = 1; N = 4 -> J = 2
    assert plan.spilled and len(plan.chunks) == 4
    c0 = plan.chunks[0]
    assert (c0.read_bytes, c0.write_bytes, c0.read_cycles, c0.write_cycles) == (4, 8, 1, 1)
    sim = simulate_plan(plan, log_events=True)
    ref = plan_times(plan)
    assert sim.cycles == ref["cycles"] and sim.retire == ref["retire"]
    # chunk 2's input waits for chunk 0's outputs to be written (ping-pong buffers)
    assert sim.chunk_ready[2] >= sim.chunk_written[0]
    ev = [e for e in sim.events if e[1] in ("read", "write")]
    assert ev[0] == (0, "read", "input_start", 0)
    assert [e for e in ev if e[2] == "output_start"][0] == (sim.retire[1], "write", "output_start", 0)


def _random_device(rng):
    return tiny(**{
        "arch.tiles": int(rng.integers(1, 5)), "numerics.tile_width": int(rng.choice([2, 3, 4, 8])),
        "arch.tile_cols": int(rng.integers(1, 6)), "arch.weight_buffers": int(rng.integers(1, 3)),
        "arch.sram_bytes": int(rng.integers(200, 4000)), "arch.sram_bytes_per_cycle": int(rng.integers(1, 40)),
        "arch.offchip_bytes_per_s": float(rng.integers(1, 50)) * 1e9,
        "arch.weight_interface_hz": float(rng.integers(1, 5)) * 1e8,
        "arch.exp_unit_partials_per_cycle": int(rng.integers(1, 10)),
        "arch.dac_latency_cycles": int(rng.integers(1, 5)), "arch.exp_latency_cycles": int(rng.integers(1, 9)),
        "converters.adc_conversions_per_cycle": int(rng.integers(1, 4)),
        "converters.dac_conversions_per_cycle": int(rng.integers(1, 4))})


def test_closed_form_equals_simpy_on_random_shapes():
    rng = np.random.default_rng(7)
    spilled = 0
    for _ in range(40):
        dev = _random_device(rng)
        m, k, n = (int(v) for v in rng.integers(1, 30, 3))
        plan = plan_gemm(m, k, n, dev, weights_static=bool(rng.integers(0, 2)))
        spilled += plan.spilled
        sim, ref = simulate_plan(plan), plan_times(plan)
        assert sim.cycles == ref["cycles"], (m, k, n)
        assert sim.start == ref["start"] and sim.complete == ref["complete"]
        assert sim.retire == ref["retire"] and sim.prog_end == ref["prog_end"]
        assert sim.chunk_written == ref["chunk_written"]
    assert spilled >= 5  # the random cases exercise memory tiling


def test_simulate_timing_engines_agree():
    rng = np.random.default_rng(3)
    ops = [GemmShape(name=f"op{i}", layer=i, m=int(rng.integers(1, 60)), k=int(rng.integers(1, 300)),
                     n=int(rng.integers(1, 300)), count=int(rng.integers(1, 3)),
                     weights_static=bool(i % 3)) for i in range(8)]
    dev = apply_overrides(load_device("photonic-128-measured"), {"numerics.tile_width": "32"})
    a = simulate_timing(ops, dev, batch=3, engine="simpy")
    b = simulate_timing(ops, dev, batch=3, engine="closed_form")
    assert a == b == simulate_timing(ops, dev, batch=3)  # "auto", the default
    assert a.cycles == sum(L.cycles for L in a.layers)
    assert a.macs == sum(o.m * o.k * o.n * o.count for o in ops) * 3


def test_steady_state_formula_in_its_regime():
    dev = apply_overrides(load_device("photonic-projected"), {"arch.weight_settle_s": "0"})
    for m, k, n in [(4096, 512, 512), (3000, 1024, 256), (5000, 300, 700)]:
        plan = plan_gemm(m, k, n, dev)
        assert not plan.spilled and plan.program_cycles <= m
        assert steady_state_cycles(plan) == plan_times(plan)["cycles"] == simulate_plan(plan).cycles
        assert plan_times(plan)["cycles"] >= ideal_cycles(m, k, n, 4, 128, 128)


def test_mapping_blocks_and_order():
    dev = apply_overrides(load_device("photonic-128-measured"), {"numerics.tile_width": "8",
                                                                 "arch.tile_cols": "16"})
    plan = plan_gemm(5, 20, 40, dev)
    T, J = math.ceil(20 / 8), math.ceil(40 / 16)
    assert len(plan.jobs) == T * J
    assert [(j.j, j.t) for j in plan.jobs] == [(jj, tt) for jj in range(J) for tt in range(T)]
    assert [j.tile for j in plan.jobs] == [i % 4 for i in range(T * J)]
    assert sum(j.rows * j.cols for j in plan.jobs) == 20 * 40  # blocks cover W exactly
    assert plan.jobs[-1].rows == 4 and plan.jobs[-1].cols == 8


def test_tile_width_override_changes_timing():
    ops = [GemmShape(name="fc", layer=0, m=256, k=1024, n=1024)]
    base = load_device("photonic-128-measured")
    t128 = simulate_timing(ops, base)
    t32 = simulate_timing(ops, apply_overrides(base, {"numerics.tile_width": "32"}))
    assert t32.layers[0].jobs == 16 * t128.layers[0].jobs
    assert t32.cycles > t128.cycles


def test_large_op_is_tiled_through_memory_not_rejected():
    dev = apply_overrides(load_device("photonic-128-measured"), {"arch.sram_bytes": str(2**22)})
    big = GemmShape(name="huge", layer=0, m=20_000, k=1024, n=512)
    t = simulate_timing([big], dev)
    L = t.layers[0]
    assert L.spilled and L.jobs == 30 * 8 * 4  # 30 row chunks of 2**22 // (2 * 3072) = 682 rows
    assert t.actions["offchip_read_bytes"] == 20_000 * 1024 * 2 + 30 * (1024 * 512 + 512 * 8 * 2)  # weights + one bf16 scale per column per block
    assert t.actions["offchip_write_bytes"] == 20_000 * 512 * 2
    assert t.macs == 20_000 * 1024 * 512
    fits = simulate_timing([big], load_device("photonic-128-measured"))
    assert not fits.layers[0].spilled and fits.actions["offchip_write_bytes"] == 0
    assert t.cycles > fits.cycles


def test_batch_and_dynamic_weight_semantics():
    dev = load_device("abfp-paper")
    st = GemmShape(name="fc", layer=0, m=10, k=256, n=256, count=2)
    dy = GemmShape(name="qk", layer=1, m=10, k=64, n=10, count=2, weights_static=False)
    t = simulate_timing([st, dy], dev, batch=4)
    a, b = t.layers
    assert (a.m, a.instances) == (40, 2) and (b.m, b.instances) == (10, 8)
    assert t.actions["macs"] == 4 * (2 * 10 * 256 * 256 + 2 * 10 * 64 * 10)
    assert b.actions["offchip_read_bytes"] == 0  # dynamic weights come from SRAM
    assert t.cycles_per_inference == t.cycles / 4


def test_utilisation_and_stalls_are_consistent():
    dev = apply_overrides(load_device("photonic-128-measured"),
                          {"arch.exp_unit_partials_per_cycle": "256"})  # exponent unit is the bottleneck
    t = simulate_timing([GemmShape(name="fc", layer=0, m=2048, k=512, n=512)], dev)
    assert t.busy_cycles["exp_unit"] == 2 * t.busy_cycles["tile"]
    assert t.stall_cycles["exp_unit"] == 0 and t.stall_cycles["dac"] == t.busy_cycles["dac"]
    for c, u in t.utilisation.items():
        assert 0 <= u <= 1, c
    assert t.mac_utilisation == pytest.approx(t.macs / (4 * 128 * 128 * t.cycles))
    assert t.mac_utilisation < 0.5


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_batch(bad):
    with pytest.raises(ConfigError, match="batch"):
        simulate_timing([], load_device("abfp-paper"), batch=bad)


def test_bad_shapes_and_engine():
    dev = load_device("abfp-paper")
    with pytest.raises(ConfigError, match="k = 0"):
        simulate_timing([GemmShape(name="x", layer=0, m=1, k=0, n=1)], dev)
    with pytest.raises(ConfigError, match="engine"):
        simulate_timing([], dev, engine="cycle")


def test_auto_engine_switches_to_the_identical_closed_form_for_large_plans(monkeypatch):
    """Above SIMPY_MAX_JOBS tile jobs "auto" uses the closed form (found by the fuzz campaign:
    a 6.4e9-row GEMM took minutes in the event model); the result is the same."""
    import amssim.timing.simulate as S

    dev = apply_overrides(load_device("abfp-paper"), {"numerics.tile_width": "8"})
    ops = [GemmShape(name="big", layer=0, m=300, k=64, n=40, count=1, weights_static=True)]
    want = simulate_timing(ops, dev, batch=2, engine="simpy")
    jobs = S.time_instance(600, 64, 40, dev, engine="simpy").jobs
    used = []
    real = S.plan_times
    monkeypatch.setattr(S, "plan_times", lambda plan: used.append(len(plan.jobs)) or real(plan))
    monkeypatch.setattr(S, "SIMPY_MAX_JOBS", jobs - 1)
    assert simulate_timing(ops, dev, batch=2) == want and used == [jobs]
    monkeypatch.setattr(S, "SIMPY_MAX_JOBS", jobs)
    used.clear()
    assert simulate_timing(ops, dev, batch=2) == want and used == []

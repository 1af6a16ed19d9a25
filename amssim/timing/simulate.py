"""Timing of a sequence of GEMM shapes on a device: ``simulate_timing``.

Input: objects with ``.name``, ``.layer``, ``.m``, ``.k``, ``.n``, ``.count`` and
``.weights_static`` (:class:`amssim.trace.loader.GemmShape`, also exported here), each
describing one inference. For ``batch`` inferences an op with static weights is
``count`` instances of an (m x batch, k) x (n, k)^T product (the weights are
programmed once for the whole batch); with dynamic weights (activation x
activation) it is ``count x batch`` instances of (m, k) x (n, k)^T. Instances and
ops run one after another (a barrier between them); identical instances are
simulated once. In full mode :class:`~amssim.timing.backend.TimedAbfpBackend` runs
each executor ``gemm`` call as one instance, so a full run whose calls have these
shapes gives identical cycles and energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config.device import Device
from ..errors import ConfigError
from .closed_form import plan_times
from .extrapolate import exact_limit, instance_jobs, time_large_instance
from .mapping import plan_gemm
from .model import simulate_plan
from .result import (ACTIONS, LayerTiming, TimingResult, component_counts,
                     plan_accounting)

ENGINES = ("auto", "simpy", "closed_form")
#: "auto" runs plans with more tile jobs than this through the closed form, which walks the
#: same job list with max-plus recurrences and gives identical results (tests check every
#: plan) about 7x faster than the event queue (measured: 52,643 jobs in 2.6 s vs 17.7 s)
SIMPY_MAX_JOBS = 5_000


@dataclass(frozen=True, kw_only=True)
class InstanceTiming:
    """Cycles, busy/stall and actions of one GEMM instance."""

    cycles: int
    jobs: int
    spilled: bool
    busy: dict
    stall: dict
    actions: dict


def time_instance(m: int, k: int, n: int, device: Device, *, weights_static: bool = True,
                  engine: str = "simpy", on_retire=None, plan=None, chunking=None) -> InstanceTiming:
    """Simulate one (m, k) x (n, k)^T instance with the chosen engine ("auto": the simpy
    event model, or the identical closed form for plans over :data:`SIMPY_MAX_JOBS` jobs
    when no functional model is driven); ``chunking`` as :func:`~amssim.timing.mapping.plan_gemm`."""
    digital = getattr(device, "kind", "analog") == "digital"
    if plan is None:
        if digital:
            from .systolic import plan_systolic

            plan = plan_systolic(m, k, n, device, weights_static=weights_static, chunking=chunking)
        else:
            plan = plan_gemm(m, k, n, device, weights_static=weights_static, chunking=chunking)
    if engine == "auto":
        engine = "simpy" if on_retire is not None or len(plan.jobs) <= SIMPY_MAX_JOBS else "closed_form"
    if engine == "simpy":
        sim = simulate_plan(plan, on_retire=on_retire)
        cycles, starts = sim.cycles, sim.start
    elif engine == "closed_form":
        if on_retire is not None:
            raise ConfigError("engine 'closed_form' cannot drive a functional model (use 'simpy')")
        res = plan_times(plan)
        cycles, starts = res["cycles"], res["start"]
    else:
        raise ConfigError(f"timing engine {engine!r}: must be one of {', '.join(ENGINES)}")
    if digital:
        from .systolic import systolic_accounting

        busy, stall, act = systolic_accounting(plan, device, stage_starts=starts)
    else:
        busy, stall, act = plan_accounting(plan, input_bits=device.numerics.input_bits,
                                           stage_starts=starts)
    return InstanceTiming(cycles=cycles, jobs=len(plan.jobs), spilled=plan.spilled,
                          busy=busy, stall=stall, actions=act)


def _check_op(op, i):
    for attr in ("m", "k", "n", "count"):
        v = getattr(op, attr, None)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"GEMM op {i} ({getattr(op, 'name', '?')}): {attr} = {v!r} must be an "
                              f"integer >= 1")


def layer_from_instances(*, name, layer, m, k, n, instances, weights_static, inst) -> LayerTiming:
    """Scale one instance's figures by the number of identical instances."""
    return LayerTiming(
        name=name, layer=layer, m=m, k=k, n=n, instances=instances,
        weights_static=weights_static, spilled=inst.spilled, jobs=inst.jobs,
        macs=inst.actions["macs"] * instances, cycles=inst.cycles * instances,
        busy_cycles={c: v * instances for c, v in inst.busy.items()},
        stall_cycles={c: v * instances for c, v in inst.stall.items()},
        actions={a: v * instances for a, v in inst.actions.items()})


def combine_layers(layers: Sequence[LayerTiming], device: Device, batch: int) -> TimingResult:
    """Sum layer figures into a :class:`TimingResult`."""
    cycles = sum(L.cycles for L in layers)
    # components and actions of the device's kind first, then any another kind's layers
    # (per-layer devices) bring along
    comps = _union(component_counts(device.compute_units, getattr(device, "kind", "analog")),
                   (L.busy_cycles for L in layers))
    base_actions: tuple[str, ...]
    if getattr(device, "kind", "analog") == "digital":
        from .systolic import DIGITAL_ACTIONS as base_actions
    else:
        base_actions = ACTIONS
    acts = _union(dict.fromkeys(base_actions), (L.actions for L in layers))
    busy = {c: sum(L.busy_cycles.get(c, 0) for L in layers) for c in comps}
    stall = {c: sum(L.stall_cycles.get(c, 0) for L in layers) for c in comps}
    actions = {a: sum(L.actions.get(a, 0) for L in layers) for a in acts}
    counts = {c: comps[c] if comps[c] is not None else 1 for c in comps}
    util = {c: (busy[c] / (counts[c] * cycles) if cycles else 0.0) for c in comps}
    peak = device.compute_units * device.tile_rows * device.tile_cols
    macs = actions["macs"]
    return TimingResult(
        batch=batch, clock_hz=device.arch.clock_hz, cycles=cycles,
        latency_s=cycles / device.arch.clock_hz, macs=macs, busy_cycles=busy,
        stall_cycles=stall, utilisation=util,
        mac_utilisation=(macs / (peak * cycles) if cycles else 0.0), counts=counts,
        actions=actions, layers=tuple(layers))


def _union(first: dict, more) -> dict:
    out = dict(first)
    for d in more:
        for k in d:
            out.setdefault(k, None)
    return out


def simulate_timing(ops: Sequence, device: Device, batch: int = 1, *,
                    engine: str = "auto") -> TimingResult:
    """Cycles, utilisation, stalls and action counts of ``batch`` inferences of ``ops``."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch = {batch!r}: must be an integer >= 1")
    if engine not in ENGINES:
        raise ConfigError(f"timing engine {engine!r}: must be one of {', '.join(ENGINES)}")
    cache: dict = {}
    layers = []
    for i, op in enumerate(ops):
        _check_op(op, i)
        static = bool(getattr(op, "weights_static", True))
        m = op.m * batch if static else op.m
        instances = op.count if static else op.count * batch
        key = (m, op.k, op.n, static)
        if key not in cache:
            if instance_jobs(m, op.k, op.n, device) > exact_limit():
                def one(mm, kk, nn, chunking, static=static):
                    return time_instance(mm, kk, nn, device, weights_static=static, engine=engine,
                                         chunking=chunking)

                cache[key] = time_large_instance(m, op.k, op.n, device, time_one=one, name=str(op.name))
            else:
                cache[key] = time_instance(m, op.k, op.n, device, weights_static=static, engine=engine)
        layers.append(layer_from_instances(
            name=str(op.name), layer=int(getattr(op, "layer", i)), m=m, k=op.k, n=op.n,
            instances=instances, weights_static=static, inst=cache[key]))
    return combine_layers(layers, device, batch)

"""Full mode: the timing model drives the functional ABFP model (docs/architecture.md §2).

:class:`TimedAbfpBackend` implements the executor's backend protocol. Each
``gemm`` call is one GEMM instance: it is mapped onto the tiles and run through
the simpy model; when the exponent unit retires a tile job (in job order, so every
output element receives its K-blocks in increasing t) the job's numeric block is
computed with ``AbfpPrepared.accumulate``. Outputs are therefore bit-identical to
``abfp_matmul`` (accuracy mode), and the recorded instance timings are the ones
timing mode computes for the same shapes, so cycles and energy are identical too.

The plan and retire order of an instance depend only on its shape, so the first
call of each shape runs the simpy model and later calls of the same shape replay
its recorded retire order (``replay=False`` runs simpy every call).
``granularity`` sets how retired blocks are applied: ``"job"`` -- one
``accumulate`` call per tile job (block t of column block j); ``"column"`` -- one
call per column block once its last t retired; ``"chunk"`` (default) -- one call
per row chunk once all its jobs retired. Every output element receives its blocks
in increasing t in all three, so the results are identical; coarser calls avoid
re-quantising the inputs once per column block.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..config.device import Device
from .mapping import plan_gemm
from .result import TimingResult
from .simulate import combine_layers, layer_from_instances, time_instance


class TimedAbfpBackend:
    """ABFP tiles timed by the simpy model; records per-call timing for reports."""

    bf16_activations = True

    def __init__(self, device: Device, seed: int = 0, *, gemm_shapes: Iterable | None = None,
                 cfg=None, replay: bool = True, granularity: str = "chunk"):
        self.device = device
        self.cfg = cfg if cfg is not None else device.abfp_config()
        if self.cfg.tile_width != device.tile_rows:
            from ..errors import ConfigError
            raise ConfigError(f"cfg.tile_width = {self.cfg.tile_width} differs from the device's "
                              f"tile rows {device.tile_rows}")
        self.seed = int(seed)
        self.name = "abfp"
        self.replay = replay
        if granularity not in GRANULARITIES:
            from ..errors import ConfigError
            raise ConfigError(f"granularity {granularity!r}: must be one of {', '.join(GRANULARITIES)}")
        self.granularity = granularity
        self._static = {g.name: bool(g.weights_static) for g in (gemm_shapes or ())}
        self._prepared: dict = {}
        self._cache: dict = {}  # (m, k, n, static) -> (InstanceTiming, plan, retire order)
        self.calls: list = []  # (op_name, layer, m, k, n, static, InstanceTiming)

    # ----------------------------------------------------------------- protocol
    def gemm(self, x, w, *, layer: int, row_offset: int, op_name: str) -> np.ndarray:
        from ..signal import abfp_matmul, finalize, prepare_weights

        x = np.ascontiguousarray(x, dtype=np.float32)
        m, k = x.shape
        n = w.shape[0]
        static = self._static.get(op_name, True)
        key = (m, k, n, static)
        ideal = bool(getattr(self.cfg, "ideal", False))
        prep = None
        if not ideal:
            hit = self._prepared.get(op_name)
            if hit is not None and hit[0] is w:
                prep = hit[1]
            else:
                prep = prepare_weights(w, self.cfg, self.seed, layer)
                self._prepared[op_name] = (w, prep)
        acc = np.zeros((m, n), np.float32)
        pending: list = []

        gran = self.granularity

        def flush():
            # pending: consecutive retired jobs of one row chunk; either one job, or
            # whole column blocks (all t) j0..j1, or a run of t within one column block
            if pending and prep is not None:
                j0, j1 = pending[0], pending[-1]
                if j0.j == j1.j:
                    t0, t1, c0, c1 = j0.t, j1.t + 1, j0.c0, j0.c1
                else:
                    t0, t1, c0, c1 = 0, j1.t + 1, j0.c0, j1.c1
                prep.accumulate(x[j0.m0:j0.m1], acc[j0.m0:j0.m1], t0, t1,
                                row_offset=int(row_offset) + j0.m0, col_start=c0, col_stop=c1)
                pending.clear()

        def on_retire(job):
            if prep is None:
                return
            pending.append(job)
            if gran == "job" or (job.last_t and (gran == "column" or job.index == last_of_chunk[job.chunk])):
                flush()

        if self.replay and key in self._cache:
            inst, plan, order = self._cache[key]
            last_of_chunk = _last_of_chunk(plan)
            for idx in order:
                on_retire(plan.jobs[idx])
        else:
            plan = plan_gemm(m, k, n, self.device, weights_static=static)
            last_of_chunk = _last_of_chunk(plan)
            order = []

            def record(job):
                order.append(job.index)
                on_retire(job)

            inst = time_instance(m, k, n, self.device, weights_static=static,
                                 on_retire=record, plan=plan)
            self._cache[key] = (inst, plan, order)
        flush()
        self.calls.append((op_name, int(layer), m, k, n, static, inst))
        if ideal:
            return abfp_matmul(x, w, self.cfg, self.seed, layer=layer, row_offset=row_offset)
        return finalize(acc)

    # ----------------------------------------------------------------- reports
    def timing_result(self, batch: int = 1) -> TimingResult:
        """Calls recorded so far, grouped by op (first-call order) like timing mode.

        ``batch`` is the number of inferences those calls covered (for per-inference
        figures). Clear with :meth:`reset` between evaluation batches to compare one
        batch with ``simulate_timing(shapes, device, batch)``.
        """
        groups: dict = {}
        for op_name, layer, m, k, n, static, inst in self.calls:
            g = groups.setdefault(op_name, {"layer": layer, "insts": [], "shape": (m, k, n, static)})
            g["insts"].append(inst)
        layers = []
        for name, g in groups.items():
            m, k, n, static = g["shape"]
            parts = [layer_from_instances(name=name, layer=g["layer"], m=m, k=k, n=n, instances=1,
                                          weights_static=static, inst=i) for i in g["insts"]]
            layers.append(_sum_layers(parts))
        return combine_layers(layers, self.device, batch)

    def reset(self) -> None:
        """Forget recorded calls (keeps prepared weights and cached plans)."""
        self.calls.clear()

    def __repr__(self):
        return f"TimedAbfpBackend(device={self.device.name!r}, seed={self.seed})"


GRANULARITIES = ("chunk", "column", "job")


def _last_of_chunk(plan) -> dict:
    return {job.chunk: job.index for job in plan.jobs}


def _sum_layers(parts):
    from dataclasses import replace

    first = parts[0]
    if len(parts) == 1:
        return first

    def add(attr):
        out: dict = {}
        for p in parts:
            for c, v in getattr(p, attr).items():
                out[c] = out.get(c, 0) + v
        return out

    return replace(first, instances=sum(p.instances for p in parts),
                   macs=sum(p.macs for p in parts), cycles=sum(p.cycles for p in parts),
                   busy_cycles=add("busy_cycles"), stall_cycles=add("stall_cycles"),
                   actions=add("actions"))

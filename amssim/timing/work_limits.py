"""Work bounds of the timing model, checked before any plan is built.

Timing mode keeps every tile job of a GEMM instance in memory (plan, event queue,
records), so a trace or device whose shapes would need more jobs than the budget allows
is refused with a ResourceLimitError (exit 2) naming the op, instead of exhausting
memory. There is no job-list-free closed form to fall back to yet (the analytic model in
:mod:`.closed_form` walks the same job list).
"""

from __future__ import annotations

import math

from ..errors import ResourceLimitError
from ..limits import check_count, max_memory_bytes
from .mapping import chunk_rows

#: timing mode simulates at most this many tile jobs per GEMM instance (above: refused)
MAX_TIMING_JOBS = 2_000_000
#: tiles (compute units) the event model handles; every tile keeps its own queues and processes
MAX_TIMING_TILES = 65_536
#: bytes of memory per simulated tile job (plan, event queue and per-job records; measured order)
TIMING_BYTES_PER_JOB = 1024


def check_timing_work(gemms, device, batch: int) -> None:
    """Refuse, before planning, timing work whose job count or tile count is unbounded.

    A GEMM instance becomes ceil(m/rows per chunk) x ceil(k/R) x ceil(n/C) tile jobs, each
    held in memory by the event model; the count is computed here in O(1) per op and checked
    against :data:`MAX_TIMING_JOBS` and the memory budget (:data:`TIMING_BYTES_PER_JOB` each).
    """
    tiles = int(getattr(device, "compute_units", None) or device.arch.tiles)
    check_count(tiles, MAX_TIMING_TILES, f"device {getattr(device, 'name', '?')!r}: the number of tiles "
                                         "(arch.tiles) for the timing model")
    limit = min(MAX_TIMING_JOBS, max_memory_bytes() // TIMING_BYTES_PER_JOB)
    a = device.arch
    clock = float(a.clock_hz)
    per_s = {k: getattr(a, k, None) for k in ("offchip_bytes_per_s", "weight_interface_hz")}
    settle = float(getattr(a, "weight_settle_s", 0.0) or 0.0)
    biggest = max((g.m * batch * (g.k + g.n) for g in gemms), default=0) * 8 + 1
    spans = {"arch.weight_settle_s x arch.clock_hz": settle * clock}
    for k, v in per_s.items():
        if v:
            try:
                spans[f"moving {biggest} bytes at arch.{k}"] = biggest * clock / float(v)
            except OverflowError:  # a byte count beyond float range: certainly too many cycles
                spans[f"moving {biggest} bytes at arch.{k}"] = math.inf
    for what, cyc in spans.items():
        if not cyc < 2.0**62:  # also NaN/inf
            raise ResourceLimitError(f"device {getattr(device, 'name', '?')!r}: {what} takes {cyc:.3g} "
                                     "cycles; cycle counts would overflow (check the device's clock, "
                                     "bandwidth and settle-time values)")
    R, C = int(device.tile_rows), int(device.tile_cols)
    for g in gemms:
        static = bool(getattr(g, "weights_static", True))
        m = g.m * batch if static else g.m
        try:
            _, mc = chunk_rows(m, g.k, g.n, device)
        except (ArithmeticError, ValueError):
            mc = 1
        jobs = -(-m // max(1, mc)) * -(-g.k // R) * -(-g.n // C)
        check_count(jobs, limit, f"GEMM op {g.name!r} (m={m}, k={g.k}, n={g.n}): tile jobs per instance",
                    hint=" of the timing model (the trace's shapes are too large for an event-level "
                         "simulation within the memory budget; see --max-memory)")

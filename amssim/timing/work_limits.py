"""Work bounds of the timing model, checked before any plan is built.

The timing model keeps every tile job of a GEMM instance in memory (plan, event queue,
records). In timing and accuracy modes an instance with more jobs than
:func:`amssim.timing.extrapolate.exact_limit` is timed on a few of its row chunks and
extrapolated (with a notice); full mode drives the functional model job by job, so there
a trace whose shapes need more than :data:`MAX_TIMING_JOBS` jobs (or more than the memory
budget holds) is refused with a ResourceLimitError (exit 2) naming the op, instead of
exhausting memory. Tile counts and cycle spans are checked in every mode.
"""

from __future__ import annotations

import math

from ..errors import ResourceLimitError
from ..limits import check_count, max_memory_bytes
from .extrapolate import instance_jobs

#: full mode simulates at most this many tile jobs per GEMM instance (above: refused; timing and
#: accuracy modes extrapolate above extrapolate.exact_limit instead)
MAX_TIMING_JOBS = 2_000_000
#: tiles (compute units) the event model handles; every tile keeps its own queues and processes
MAX_TIMING_TILES = 65_536
#: bytes of memory per simulated tile job (plan and per-job records: peak RSS growth measured
#: 1,453 B/job timing a 100,352-job instance with the closed form)
TIMING_BYTES_PER_JOB = 1536


def check_timing_work(gemms, device, batch: int, *, job_by_job: bool = True) -> None:
    """Refuse, before planning, timing work whose tile count or cycle spans are unbounded, and
    (``job_by_job``: full mode) whose job count is.

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
    if not job_by_job:
        return
    for g in gemms:
        static = bool(getattr(g, "weights_static", True))
        m = g.m * batch if static else g.m
        jobs = instance_jobs(m, g.k, g.n, device)
        check_count(jobs, limit, f"GEMM op {g.name!r} (m={m}, k={g.k}, n={g.n}): tile jobs per instance",
                    hint=" of the timing model (the trace's shapes are too large for an event-level "
                         "simulation within the memory budget; see --max-memory)")

"""Timing of GEMM instances too large to walk job by job: chunk extrapolation.

A GEMM instance whose rows spill through off-chip memory is a sequence of identical row
chunks (plus one shorter remainder chunk); every chunk programs the same weight blocks and
streams the same number of vectors. After a few chunks the pipeline repeats itself with a
period of ``p`` chunks (tiles / gcd(jobs per chunk, tiles): the round-robin tile assignment),
so the instance is timed exactly on two short versions of it -- ``P`` and ``P + p`` full
chunks, each followed by the remainder chunk -- and the difference is added for the other
periods (cycles, busy and stall cycles, action counts):

    X(m) = X(m_P) + reps * (X(m_P + p * mc) - X(m_P)),  m_P = P * mc + remainder

Action counts (MACs, conversions, bytes) are linear in the chunks, so they are exact;
cycles are exact once the schedule is periodic (tests compare with the full walk). When
even one chunk holds too many jobs (a very wide output, e.g. a language model's vocabulary
projection), the output columns are split into parts timed one after the other with the
whole GEMM's chunking: approximate (every part re-reads its input rows). Either way a
:class:`TimingApproximationWarning` names the op (the CLI prints it as one line).
"""

from __future__ import annotations

import math
import warnings

from ..errors import ResourceLimitError
from .mapping import chunk_rows

#: GEMM instances with more tile jobs than this are extrapolated; the closed-form walk takes
#: about 40 us and 1.45 KiB per job (measured at 100,352 jobs: 4.0 s, 139 MiB), so this bounds
#: one timed instance to a few seconds (lowered to fit the memory budget,
#: work_limits.TIMING_BYTES_PER_JOB each)
EXACT_MAX_JOBS = 100_000
#: full row chunks simulated before extrapolating (measured: cycles, busy cycles and actions are
#: periodic from the first chunks on; a 4-tile device's tile stall needs ~8, within 0.7 % at 3)
EXTRAPOLATE_CHUNKS = 3


class TimingApproximationWarning(UserWarning):
    """A layer's timing was extrapolated or split (see :mod:`amssim.timing.extrapolate`)."""


def instance_jobs(m: int, k: int, n: int, device, mc: int | None = None) -> int:
    """Tile jobs (array folds for a digital device) of one (m, k) x (n, k)^T instance, in O(1)
    (``mc``: rows per chunk, default :func:`~amssim.timing.mapping.chunk_rows`)."""
    R, C = int(device.tile_rows), int(device.tile_cols)
    if mc is None:
        try:
            _, mc = chunk_rows(m, k, n, device)
        except (ArithmeticError, ValueError):
            mc = 1
    mc = max(1, min(m, mc))
    full, rem = divmod(m, mc)
    J = -(-n // C)
    if getattr(device, "kind", "analog") == "digital" and getattr(device.arch, "dataflow", "ws") == "os":
        per = full * -(-mc // R) + (-(-rem // R) if rem else 0)  # R x C output tiles
        return per * J
    return (full + (1 if rem else 0)) * -(-k // R) * J


def _map(fn, *ts):
    """Apply ``fn`` to the aligned figures (cycles, jobs, busy, stall, actions) of InstanceTimings."""
    from .simulate import InstanceTiming

    def d(attr):
        keys = dict.fromkeys(k for t in ts for k in getattr(t, attr))
        return {k: fn(*(getattr(t, attr).get(k, 0) for t in ts)) for k in keys}

    return InstanceTiming(cycles=fn(*(t.cycles for t in ts)), jobs=fn(*(t.jobs for t in ts)),
                          spilled=any(t.spilled for t in ts), busy=d("busy"), stall=d("stall"),
                          actions=d("actions"))


def exact_limit() -> int:
    """Jobs of the largest instance timed job by job (:data:`EXACT_MAX_JOBS`, or fewer when the
    memory budget is small)."""
    from ..limits import max_memory_bytes
    from .work_limits import TIMING_BYTES_PER_JOB

    return max(1, min(EXACT_MAX_JOBS, max_memory_bytes() // TIMING_BYTES_PER_JOB))


def _rows(m, k, n, device, time_one, chunking, limit, name):
    """One column part, chunked as the whole GEMM: exact below the job limit, else extrapolated
    along its row chunks. Jobs are dealt round-robin to the tiles, so the schedule repeats
    every ``period`` chunks (tiles / gcd(jobs per chunk, tiles)); the two short versions
    differ by whole periods."""
    spilled, mc = chunking
    shapes = [m]
    reps = 0
    if instance_jobs(m, k, n, device, mc) > limit:
        full, rem = divmod(m, mc)
        tiles = int(getattr(device, "compute_units", None) or device.arch.tiles)
        per_chunk = instance_jobs(mc, k, n, device, mc)
        period = tiles // math.gcd(per_chunk, tiles)
        if (EXTRAPOLATE_CHUNKS + 2 * period) * per_chunk > limit:
            period = 1  # tile stalls may then differ slightly (cycles and actions stay exact in tests)
        p0 = EXTRAPOLATE_CHUNKS + (full - EXTRAPOLATE_CHUNKS) % period
        if full > p0 + period:
            reps = (full - p0) // period
            shapes = [p0 * mc + rem, (p0 + period) * mc + rem]
    for rows in shapes:
        jobs = instance_jobs(rows, k, n, device, mc)
        if jobs > limit:
            raise ResourceLimitError(
                f"GEMM op {name!r} (m={m}, k={k}, n={n}): a part of {rows} rows x {n} columns still "
                f"has {jobs:,} tile jobs, over the timing model's limit of {limit:,} (see --max-memory)")
    a, *b = (time_one(rows, k, n, (spilled, mc)) for rows in shapes)
    return _map(lambda x, y: x + reps * (y - x), a, b[0]) if b else a


def time_large_instance(m: int, k: int, n: int, device, *, time_one, name: str = "?"):
    """InstanceTiming of an instance over :func:`exact_limit` jobs; ``time_one(m, k, n, chunking)``
    times a smaller instance exactly with the given (spilled, rows per chunk). Warns with
    :class:`TimingApproximationWarning`."""
    C = int(device.tile_cols)
    limit = exact_limit()
    chunking = chunk_rows(m, k, n, device)
    mc = chunking[1]
    per_block = instance_jobs(min(m, mc), k, C, device, mc)  # one chunk, one output-column block
    budget = max(1, limit // (EXTRAPOLATE_CHUNKS + 2))  # jobs of one row chunk
    n_part = n
    if instance_jobs(min(m, mc), k, n, device, mc) > budget:
        cols = budget // per_block
        if cols < 1:
            raise ResourceLimitError(
                f"GEMM op {name!r} (m={m}, k={k}, n={n}): one row chunk of one output column block is "
                f"{per_block:,} tile jobs, over the timing model's limit of {budget:,} (see --max-memory)")
        n_part = min(n, cols * C)
    q, r = divmod(n, n_part)
    how = ("extrapolated from a few of its row chunks" if n_part == n else
           f"split into {q + (1 if r else 0):,} column parts of up to {n_part} outputs run one after the "
           "other (each re-reads the inputs), each extrapolated from a few row chunks")
    warnings.warn(f"timing: GEMM op {name} (m={m}, k={k}, n={n}) has {instance_jobs(m, k, n, device):,} tile "
                  f"jobs per instance, over {limit:,}: its timing is {how}", TimingApproximationWarning,
                  stacklevel=3)
    out = _map(lambda x: q * x, _rows(m, k, n_part, device, time_one, chunking, limit, name))
    if r:
        out = _map(lambda x, y: x + y, out, _rows(m, k, r, device, time_one, chunking, limit, name))
    return out


__all__ = ["EXACT_MAX_JOBS", "EXTRAPOLATE_CHUNKS", "TimingApproximationWarning", "exact_limit",
           "instance_jobs", "time_large_instance"]

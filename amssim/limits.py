"""Resource bounds decided before allocating (the memory budget and work limits).

Every size an input *declares* (an ``.npy`` header, an ``.npz`` member, a CSV's channel
count, a sweep's grid product and seeds, a device's tile count, timing job counts,
bootstrap repetitions, study rows) is checked here before anything is allocated, so a
hostile or careless input ends with exit 2 and a message instead of an out-of-memory
kill or a hang.

The memory budget is, in order of precedence:

1. ``--max-memory SIZE`` on the command line (``amssim --max-memory 8G simulate ...``);
2. the environment variable ``AMSSIM_MAX_MEMORY`` (the CLI sets it, so sweep workers
   inherit the command's budget);
3. the default: the smallest of :data:`DEFAULT_MAX_MEMORY_BYTES`, half the physical
   memory and a third of the process's address-space limit (``ulimit -v``), if any.

SIZE is bytes with an optional suffix K, M, G, T (powers of 1024), e.g. ``512M``.
"""

from __future__ import annotations

import math
import os
import re
import resource

from .errors import ConfigError, ResourceLimitError

__all__ = [
    "DEFAULT_MAX_MEMORY_BYTES",
    "MAX_MEMORY_ENV",
    "MAX_TIMING_JOBS",
    "MAX_SWEEP_RUNS",
    "MAX_BOOTSTRAP_REPS",
    "max_memory_bytes",
    "parse_size",
    "set_max_memory",
    "check_bytes",
    "check_count",
    "fmt_bytes",
]

#: default upper bound of the memory budget (bytes); lowered by physical memory and ulimit -v
DEFAULT_MAX_MEMORY_BYTES = 4 * 1024**3
#: environment variable holding the budget (bytes or SIZE with K/M/G/T)
MAX_MEMORY_ENV = "AMSSIM_MAX_MEMORY"
#: timing mode simulates at most this many tile jobs event by event; above it the
#: closed-form (analytic) timing is used, with a notice
MAX_TIMING_JOBS = 2_000_000
#: (point, seed) runs one sweep may hold (the store and the plan are kept in memory)
MAX_SWEEP_RUNS = 100_000
#: bootstrap refits in calibration (each one is a full fit)
MAX_BOOTSTRAP_REPS = 10_000

_SUFFIX = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str, *, where: str = "--max-memory") -> int:
    """``"512M"`` -> 536870912; plain numbers are bytes (``1e9`` allowed)."""
    s = str(text).strip().upper().removesuffix("IB").removesuffix("B") if text is not None else ""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?(?:E[0-9]{1,3})?)\s*([KMGT]?)", s)
    if not m:
        raise ConfigError(f"{where} {text!r}: expected a size in bytes with an optional K, M, G or T "
                          "suffix (e.g. 512M, 4G)")
    v = float(m.group(1)) * _SUFFIX[m.group(2)]
    if not math.isfinite(v) or v < 1024**2 or v > 1024**5:
        raise ConfigError(f"{where} {text!r}: must be between 1M and 1024T")
    return int(v)


def _default_budget() -> int:
    b = DEFAULT_MAX_MEMORY_BYTES
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if phys > 0:
            b = min(b, phys // 2)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            b = min(b, soft // 3)
    except (ValueError, OSError):
        pass
    return max(int(b), 1024**2)


def max_memory_bytes() -> int:
    """The memory budget in bytes (see the module docstring)."""
    env = os.environ.get(MAX_MEMORY_ENV)
    if env:
        return parse_size(env, where=MAX_MEMORY_ENV)
    return _default_budget()


def set_max_memory(text: str | None) -> int:
    """Set the budget for this process and its children (the ``--max-memory`` option)."""
    if text is not None:
        os.environ[MAX_MEMORY_ENV] = str(parse_size(text))
    return max_memory_bytes()


def fmt_bytes(n: float) -> str:
    if not n == n or n in (float("inf"), float("-inf")):
        return f"{n} bytes"
    for unit, f in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{int(n)} bytes"


def check_bytes(nbytes: float, what: str, *, budget: int | None = None) -> None:
    """Raise ResourceLimitError if ``nbytes`` (declared, not yet allocated) exceeds the budget."""
    budget = max_memory_bytes() if budget is None else budget
    if not nbytes <= budget:  # also catches NaN
        raise ResourceLimitError(
            f"{what} needs {fmt_bytes(nbytes)}, over the memory budget of {fmt_bytes(budget)} "
            "(raise it with --max-memory SIZE or AMSSIM_MAX_MEMORY)")


def check_count(n: float, limit: int, what: str, *, hint: str = "") -> None:
    """Raise ResourceLimitError if a declared count exceeds a work limit."""
    if not n <= limit:
        raise ResourceLimitError(f"{what} is {n:,}, over the limit of {limit:,}{hint}")


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
    from .timing.mapping import chunk_rows

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
            spans[f"moving {biggest} bytes at arch.{k}"] = biggest * clock / float(v)
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

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
    "MAX_SWEEP_RUNS",
    "MAX_BOOTSTRAP_REPS",
    "MAX_FINETUNE_EPOCHS",
    "MAX_DNF_BINS",
    "MAX_THREADS",
    "MAX_SEED",
    "MAX_COUNT",
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
#: (point, seed) runs one sweep may hold (the store and the plan are kept in memory)
MAX_SWEEP_RUNS = 100_000
#: bootstrap refits in calibration (each one is a full fit)
MAX_BOOTSTRAP_REPS = 10_000
#: finetuning epochs (each one is a full pass over the training set)
MAX_FINETUNE_EPOCHS = 100_000
#: DNF histogram bins per layer (paper: 100)
MAX_DNF_BINS = 1_000_000
#: torch CPU threads one command may ask for
MAX_THREADS = 4096
#: seeds are 64-bit: 0 .. 2^64 - 1
MAX_SEED = 2**64 - 1
#: sizes and counts handed to numpy / torch (int64)
MAX_COUNT = 2**63 - 1

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
    if isinstance(n, int) and n >= 1024**4 * 10**300:  # beyond float range once divided
        return f"about 2^{n.bit_length() - 1} bytes"
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
        shown = f"{n:,}" if not (isinstance(n, int) and n.bit_length() > 200) else f"about 2^{n.bit_length() - 1}"
        raise ResourceLimitError(f"{what} is {shown}, over the limit of {limit:,}{hint}")

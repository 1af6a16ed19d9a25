"""Counter-based random numbers (docs/architecture.md §4).

Every random draw in amssim is a pure function of ``(seed, stream, layer,
coordinates)``; there is no generator state. A draw is made in two steps:

1. :func:`stream_key` (Python, once per layer) turns ``(seed, stream, layer)``
   into two 32-bit keys ``(k0, k1)`` with SplitMix64;
2. :func:`hash3` (numba, in the hot loop) hashes three 32-bit coordinates
   (e.g. output row ``m``, output column ``i``, block ``t``) with the keys into
   one uniformly distributed ``uint32``.

The mixer is Chris Wellons' ``lowbias32`` (public domain integer hash), three
rounds, using 32-bit multiplies only so LLVM can vectorise it on AVX2.
:func:`hash3_np` is the numpy twin used as the test oracle. Because nothing
depends on call order, results are identical for any batching, thread count,
event order or executor.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ._jit import njit
from .errors import ConfigError, short_repr

_M32 = 0xFFFFFFFF
_C1 = 0x7FEB352D
_C2 = 0x846CA68B
_TWO_M32 = 2.0**-32


class Stream(IntEnum):
    """Independent random streams; never reuse a number for another purpose."""

    OUTPUT_NOISE = 1  # additive ADC-referred noise, keyed (m, i, t)
    OUTPUT_NOISE_2 = 2  # second uniform for two-uniform samplers (Box-Muller)
    WEIGHT_PROGRAMMING = 3  # weight programming noise, keyed (i, k, 0)
    SIGNAL_NOISE = 4  # signal-dependent (shot) noise, keyed (m, i, t)
    STOCHASTIC_ROUNDING = 5  # formats: stochastic rounding, keyed (element index)
    DNF = 6  # differential noise finetuning draws
    SYNTHETIC = 7  # synthetic data (calibration examples, shape-only traces)
    SEARCH = 8  # configuration search (genetic algorithm)
    DRIFT = 9  # weight drift since programming


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def stream_key(seed: int, stream: int, layer: int = 0) -> tuple[np.uint32, np.uint32]:
    """Two 32-bit keys for ``(seed, stream, layer)``; ``seed`` in 0 .. 2^64 - 1 (a larger
    seed would silently collide with its value modulo 2^64), ``layer`` >= 0."""
    seed = int(seed)
    if not 0 <= seed <= 0xFFFFFFFFFFFFFFFF:
        raise ConfigError(f"seed must be an integer in 0..2^64-1, got {short_repr(seed)}")
    h = _splitmix64(seed & 0xFFFFFFFFFFFFFFFF)
    h = _splitmix64(h ^ (int(stream) & 0xFFFFFFFF))
    h = _splitmix64(h ^ ((int(layer) & 0xFFFFFFFFFFFF) << 16))
    return np.uint32(h & _M32), np.uint32((h >> 32) & _M32)


@njit
def _mix32(h):
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(_C1))
    h = np.uint32(h ^ (h >> np.uint32(15)))
    h = np.uint32(h * np.uint32(_C2))
    h = np.uint32(h ^ (h >> np.uint32(16)))
    return h


@njit
def hash3(k0, k1, a, b, c):
    """uint32 hash of three uint32 coordinates under keys ``(k0, k1)``."""
    h = _mix32(np.uint32(np.uint32(a) ^ k0))
    h = _mix32(np.uint32(h + np.uint32(b)))
    h = _mix32(np.uint32(h ^ np.uint32(c) ^ k1))
    return h


@njit
def to_unit_open(h):
    """Map a uint32 to a float64 in the open interval (0, 1)."""
    return (np.float64(h) + 0.5) * _TWO_M32


def _mix32_np(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(_C1)
    h = h ^ (h >> np.uint32(15))
    h = h * np.uint32(_C2)
    return h ^ (h >> np.uint32(16))


def hash3_np(k0, k1, a, b, c) -> np.ndarray:
    """numpy oracle of :func:`hash3` (broadcasts ``a``, ``b``, ``c``)."""
    with np.errstate(over="ignore"):
        a = np.asarray(a).astype(np.uint32)
        b = np.asarray(b).astype(np.uint32)
        c = np.asarray(c).astype(np.uint32)
        h = _mix32_np(a ^ np.uint32(k0))
        h = _mix32_np(h + b)
        return _mix32_np(h ^ c ^ np.uint32(k1))


def to_unit_open_np(h: np.ndarray) -> np.ndarray:
    """numpy oracle of :func:`to_unit_open`."""
    return (h.astype(np.float64) + 0.5) * _TWO_M32

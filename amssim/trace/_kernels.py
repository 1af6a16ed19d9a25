"""numba kernels of the executor (arrays and scalars only; wrappers in executor.py)."""

from __future__ import annotations

import numpy as np

from .._jit import njit


@njit
def diff_sums(y, ref):
    """Sequential float64 sums over flat float32 arrays: (sum d, sum d^2, sum ref^2), d = y - ref."""
    s1 = 0.0
    s2 = 0.0
    sy = 0.0
    for i in range(y.size):
        r = np.float64(ref[i])
        d = np.float64(y[i]) - r
        s1 += d
        s2 += d * d
        sy += r * r
    return s1, s2, sy

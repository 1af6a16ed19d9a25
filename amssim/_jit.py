"""The one place numba options are set (docs/architecture.md §12).

``fastmath`` stays off everywhere: the kernels round, clamp and compare, and
fast-math reassociation would break bit-exact agreement with the references.
"""

from __future__ import annotations

import numba

_BASE = dict(cache=True, fastmath=False, nogil=True, error_model="numpy")

#: serial kernel (scalar helpers, small kernels)
njit = numba.njit(**_BASE)
#: parallel kernel (uses ``numba.prange``)
njit_parallel = numba.njit(parallel=True, **_BASE)

prange = numba.prange


def jit(fn=None, *, parallel: bool = False):
    """Decorator form: ``@jit`` or ``@jit(parallel=True)``."""

    def wrap(f):
        return numba.njit(parallel=parallel, **_BASE)(f)

    return wrap(fn) if fn is not None else wrap

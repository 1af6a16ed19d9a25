"""Per-thread OpenBLAS thread count for numpy's BLAS (``openblas_set_num_threads_local``).

The ABFP kernels run their block products (numpy ``matmul``, OpenBLAS) and their numba
epilogues on worker threads of their own; each worker limits ITS OpenBLAS calls to one
thread, so the two thread pools (OpenBLAS's and numba's) never compete for the cores.
The setting is thread-local (OpenBLAS >= 0.3.27), so other threads of the process keep
their BLAS threads. :func:`available` is False when numpy's BLAS is not OpenBLAS or
the symbol is missing; callers then use their single-pool path.
"""

from __future__ import annotations

import ctypes
import glob
import os

_SYMBOL = "openblas_set_num_threads_local"
_fn = None
_searched = False


def _candidates():
    import numpy

    here = os.path.dirname(numpy.__file__)
    yield from sorted(glob.glob(os.path.join(os.path.dirname(here), "numpy.libs", "*openblas*.so*")))
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().splitlines()
    except OSError:
        return
    seen = set()
    for line in maps:
        path = line.split()[-1] if line.split() else ""
        if "openblas" in os.path.basename(path).lower() and path not in seen:
            seen.add(path)
            yield path


def _find():
    global _fn, _searched
    if _searched:
        return _fn
    _searched = True
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        fn = getattr(lib, _SYMBOL, None)
        if fn is not None:
            fn.argtypes = [ctypes.c_int]
            fn.restype = ctypes.c_int
            _fn = fn
            break
    return _fn


def available() -> bool:
    """True if numpy's OpenBLAS can be limited per thread."""
    return _find() is not None


def set_local_threads(n: int) -> int:
    """Limit the calling thread's OpenBLAS calls to ``n`` threads; returns the previous value."""
    fn = _find()
    if fn is None:
        raise RuntimeError("numpy's BLAS has no per-thread thread count (OpenBLAS >= 0.3.27 needed)")
    return int(fn(int(n)))

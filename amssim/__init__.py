"""amssim: simulator of analog mixed-signal DNN accelerators with ABFP numerics."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AbfpConfig", "__version__", "abfp_error_variance", "abfp_matmul"]


def __getattr__(name):  # lazy: importing amssim does not compile numba kernels
    if name in ("AbfpConfig", "abfp_matmul", "abfp_error_variance"):
        from . import signal

        return getattr(signal, name)
    raise AttributeError(f"module 'amssim' has no attribute {name!r}")

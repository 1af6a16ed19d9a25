"""amssim: simulator of analog mixed-signal DNN accelerators with ABFP numerics."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

"""Digital GEMM on quantised operands: ``digital_matmul``."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .registry import _as_float32, quantize

ACCUMULATE = ("fp32", "fp64")
SALT_X = 1
SALT_W = 2


def digital_matmul(x, w, fmt_x, fmt_w, accumulate: str = "fp32", seed=None, layer: int = 0,
                   row_offset: int = 0, rounding="nearest_even") -> np.ndarray:
    """Y = Q(x) Q(w)^T for x (M, K) and w (N, K), both quantised along K (axis -1).

    ``accumulate="fp32"``: a float32 GEMM (BLAS sgemm); ``"fp64"``: float64 GEMM rounded
    once to float32. Stochastic rounding keys x's element (m, k) by
    (row_offset + m) * K + k (salt 1) and w's element (n, k) by n * K + k (salt 2), so
    splitting the rows of x into batches with the matching ``row_offset`` draws the
    same numbers. Returns float32 (M, N).
    """
    if accumulate not in ACCUMULATE:
        raise ConfigError(f"accumulate={accumulate!r} is not supported; valid: {', '.join(ACCUMULATE)}")
    xa = _as_float32(x, "x")
    wa = _as_float32(w, "w")
    if xa.ndim != 2 or wa.ndim != 2:
        raise ConfigError(f"digital_matmul needs 2-D x (M, K) and w (N, K); got shapes {xa.shape} and {wa.shape}")
    if xa.shape[1] != wa.shape[1]:
        raise ConfigError(f"reduction sizes differ: x has K={xa.shape[1]}, w has K={wa.shape[1]}")
    if isinstance(row_offset, bool) or not isinstance(row_offset, (int, np.integer)) or row_offset < 0:
        raise ConfigError(f"row_offset must be a non-negative integer, got {row_offset!r}")
    k = xa.shape[1]
    qx = quantize(xa, fmt_x, axis=-1, rounding=rounding, seed=seed, layer=layer,
                  index_offset=int(row_offset) * k, salt=SALT_X, argument="x")
    qw = quantize(wa, fmt_w, axis=-1, rounding=rounding, seed=seed, layer=layer, salt=SALT_W, argument="w")
    if accumulate == "fp32":
        return np.matmul(qx, qw.T)
    return np.matmul(qx.astype(np.float64), qw.T.astype(np.float64)).astype(np.float32)

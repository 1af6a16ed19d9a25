"""Digital GEMM on quantised operands: ``digital_matmul``."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .registry import _as_float32, get_format, quantize

ACCUMULATE = ("fp32", "fp64")
SALT_X = 1
SALT_W = 2


def quantize_weights(w, fmt_w, seed=None, layer: int = 0, rounding="nearest_even") -> np.ndarray:
    """Q(w) exactly as :func:`digital_matmul` quantises its ``w`` (N, K): along K, salt 2.

    Pass the result as ``digital_matmul(..., qw=...)`` to reuse static weights across
    calls (bit-identical to quantising them again)."""
    wa = _as_float32(w, "w")
    if wa.ndim != 2:
        raise ConfigError(f"w must be 2-D (N, K); got shape {wa.shape}")
    return quantize(wa, fmt_w, axis=-1, rounding=rounding, seed=seed, layer=layer, salt=SALT_W, argument="w")


def digital_matmul(x, w, fmt_x, fmt_w, accumulate: str = "fp32", seed=None, layer: int = 0,
                   row_offset: int = 0, rounding="nearest_even", sample_rows: int | None = None,
                   qw: np.ndarray | None = None) -> np.ndarray:
    """Y = Q(x) Q(w)^T for x (M, K) and w (N, K), both quantised along K (axis -1).

    ``accumulate="fp32"``: a float32 GEMM (BLAS sgemm); ``"fp64"``: float64 GEMM rounded
    once to float32. Stochastic rounding keys x's element (m, k) by
    (row_offset + m) * K + k (salt 1) and w's element (n, k) by n * K + k (salt 2), so
    splitting the rows of x into batches with the matching ``row_offset`` draws the
    same numbers. ``sample_rows`` (R): x holds whole samples of R consecutive rows each;
    a per-tensor scaled format (per-tensor INT) then takes one scale per sample (per
    R rows) instead of one for all of x, so results do not depend on how many samples
    are in one call (docs/architecture.md §4). Row-local formats ignore it. ``qw``: the
    weights already quantised by :func:`quantize_weights` with the same format, seed,
    layer and rounding (``w`` is then only checked for its shape). Returns float32 (M, N).
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
    if sample_rows is not None and (isinstance(sample_rows, bool) or not isinstance(sample_rows, (int, np.integer))
                                    or sample_rows < 1 or xa.shape[0] % sample_rows):
        raise ConfigError(f"sample_rows must be a positive integer dividing the {xa.shape[0]} rows of x, "
                          f"got {sample_rows!r}")
    k = xa.shape[1]
    m = xa.shape[0]
    rows = int(sample_rows) if sample_rows is not None and get_format(fmt_x).tensor_scaled and m else None
    qx = quantize(xa, fmt_x, axis=-1, rounding=rounding, seed=seed, layer=layer, index_offset=int(row_offset) * k,
                  salt=SALT_X, argument="x", tensor_rows=rows)
    if qw is None:
        qw = quantize(wa, fmt_w, axis=-1, rounding=rounding, seed=seed, layer=layer, salt=SALT_W, argument="w")
    elif qw.shape != wa.shape or qw.dtype != np.float32:
        raise ConfigError(f"qw must be float32 of w's shape {wa.shape}; got {qw.dtype} {qw.shape}")
    if accumulate == "fp32":
        return np.matmul(qx, qw.T)
    return np.matmul(qx.astype(np.float64), qw.T.astype(np.float64)).astype(np.float32)

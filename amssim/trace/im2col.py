"""Convolution and pooling windows as matrices (im2col), in numpy.

Convolutions run as GEMMs (docs/architecture.md §3): the input ``x`` of shape ``(B, C, *spatial)``
becomes a row matrix ``cols`` of shape ``(B * P, C * prod(kernel))`` with ``P`` the
number of output positions per sample, rows ordered sample-major then output
position in C order (so the rows of sample ``b`` are ``b*P ... b*P + P-1``, which
is what the executor's global ``row_offset`` relies on), columns ordered
``(channel, kernel offsets...)`` to match a weight reshaped to ``(O, C*prod(kernel))``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1,
             ceil_mode: bool = False) -> int:
    """Output length of a window sweep along one axis (PyTorch/ONNX convention)."""
    eff = dilation * (kernel - 1) + 1
    span = size + pad_lo + pad_hi - eff
    if span < 0 and not ceil_mode:
        return 0
    if ceil_mode:  # PyTorch: a window larger than the input still gives one output
        n = -(-span // stride) + 1
        # PyTorch: the last window must start inside the input or left padding
        if (n - 1) * stride >= size + pad_lo:
            n -= 1
        return n
    return span // stride + 1


def windows(x: np.ndarray, kernel, stride, padding, dilation, *, pad_value: float = 0.0,
            ceil_mode: bool = False) -> np.ndarray:
    """Strided window view of ``x`` (B, C, *spatial) -> (B, C, *out, *kernel).

    ``padding`` is ``[lo_0, lo_1, ..., hi_0, hi_1, ...]`` (ONNX order), one pair per
    spatial axis. The result is a view of a padded copy (no im2col copy yet).
    """
    nd = len(kernel)
    sp = x.shape[2:]
    lo, hi = list(padding[:nd]), list(padding[nd:])
    outs = [out_size(sp[i], kernel[i], stride[i], lo[i], hi[i], dilation[i], ceil_mode)
            for i in range(nd)]
    # extra high padding so ceil-mode windows fit
    need = [(outs[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    extra = [max(0, need[i] - (sp[i] + lo[i] + hi[i])) for i in range(nd)]
    pads = [(0, 0), (0, 0)] + [(lo[i], hi[i] + extra[i]) for i in range(nd)]
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, pads, mode="constant", constant_values=pad_value)
    eff = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    v = sliding_window_view(x, eff, axis=tuple(range(2, 2 + nd)))
    sl: tuple[slice, ...] = (slice(None), slice(None))
    sl += tuple(slice(0, (outs[i] - 1) * stride[i] + 1, stride[i]) for i in range(nd))
    sl += tuple(slice(None, None, dilation[i]) for i in range(nd))
    return v[sl]


def im2col(x: np.ndarray, kernel, stride, padding, dilation) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` (B, C, *spatial) -> (cols (B*P, C*prod(kernel)) C-contiguous, out spatial shape)."""
    nd = len(kernel)
    v = windows(x, kernel, stride, padding, dilation)
    b, c = v.shape[:2]
    outs = v.shape[2:2 + nd]
    # (B, C, *out, *k) -> (B, *out, C, *k)
    perm = (0,) + tuple(range(2, 2 + nd)) + (1,) + tuple(range(2 + nd, 2 + 2 * nd))
    cols = np.ascontiguousarray(v.transpose(perm)).reshape(b * int(np.prod(outs)), -1)
    return cols, tuple(int(o) for o in outs)


def cols_to_output(y: np.ndarray, batch: int, outs: tuple[int, ...]) -> np.ndarray:
    """GEMM result (B*P, O) -> (B, O, *outs) contiguous."""
    o = y.shape[1]
    y = y.reshape((batch,) + tuple(outs) + (o,))
    nd = len(outs)
    return np.ascontiguousarray(np.moveaxis(y, 1 + nd, 1))

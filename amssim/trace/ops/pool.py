"""Pooling, unpooling and resizing op kinds (NC... layouts, batch on axis 0).

  pool              attrs mode "max" | "avg", kernel [k] or [kh, kw], stride [kernel],
                    padding [lo..., hi...] ([0...]), ceil_mode [false], count_include_pad
                    [true]; or global [true] with mode: reduce all spatial axes to size 1.
  max_pool_indices  the int64 argmax positions of max pooling (same attrs as pool, mode
                    max), flattened over each input plane (PyTorch's return_indices).
  max_unpool        inputs x, indices (from max_pool_indices); attrs output_size
                    (spatial): zeros with x scattered to its indices.
  resize            attrs mode "nearest" | "linear" (bilinear in 2-d), size (spatial out),
                    align_corners [false]. Nearest: src = floor(dst * in / out);
                    linear: half-pixel centres (align_corners=false) or corner-aligned.
"""

from __future__ import annotations

import math

import numpy as np

from .. import im2col as _im
from ._base import F32, OpDataError, dt_first_float, dt_int_out, register, torch_mod

FAMILY = "pool"


def pool_geometry(x, at):
    """(nd, (kernel, stride, padding)) of a pool op, or (nd, None) for global pooling."""
    nd = len(x) - 2
    if at.get("global", False):
        return nd, None
    kernel = [int(k) for k in at["kernel"]]
    if len(kernel) != nd:
        raise ValueError(f"attrs.kernel {kernel} needs {nd} entries for input {list(x)}")
    stride = [int(s) for s in at.get("stride", kernel)]
    padding = [int(p) for p in at.get("padding", [0] * (2 * nd))]
    if len(stride) != nd or len(padding) != 2 * nd or min(kernel + stride) < 1 or min(padding) < 0:
        raise ValueError("attrs stride/padding malformed")
    return nd, (kernel, stride, padding)


def _pool_out(x, at):
    if len(x) not in (3, 4):
        raise ValueError(f"pooling needs a (B, C, L) or (B, C, H, W) input, got {list(x)}")
    nd, geo = pool_geometry(x, at)
    if geo is None:
        return tuple(x[:2]) + (1,) * nd
    kernel, stride, padding = geo
    ceil = bool(at.get("ceil_mode", False))
    outs = tuple(_im.out_size(x[2 + i], kernel[i], stride[i], padding[i], padding[nd + i], 1, ceil)
                 for i in range(nd))
    if min(outs) < 1:
        raise ValueError(f"pool kernel {kernel} larger than input {list(x[2:])}")
    return tuple(x[:2]) + outs


def _s_pool(ins, ps, at):
    if at.get("mode") not in ("max", "avg"):
        raise ValueError(f"attrs.mode must be 'max' or 'avg', got {at.get('mode')!r}")
    return [_pool_out(ins[0], at)]


def _r_pool(ins, ps, at):
    x = ins[0]
    nd, geo = pool_geometry(x.shape, at)
    sp = tuple(range(2, 2 + nd))
    if geo is None:
        f = np.max if at["mode"] == "max" else np.mean
        return [f(x, axis=sp, keepdims=True).astype(F32)]
    kernel, stride, padding = geo
    wax = tuple(range(2 + nd, 2 + 2 * nd))
    if at["mode"] == "max":
        v = _im.windows(x, kernel, stride, padding, [1] * nd, pad_value=-np.inf,
                        ceil_mode=bool(at.get("ceil_mode", False)))
        return [np.max(v, axis=wax)]
    ceil = bool(at.get("ceil_mode", False))
    v = _im.windows(x, kernel, stride, padding, [1] * nd, ceil_mode=ceil)
    s = np.sum(v, axis=wax, dtype=F32)
    include = bool(at.get("count_include_pad", True))
    if include and not ceil:
        return [(s / F32(np.prod(kernel))).astype(F32)]
    cnt = np.ones((1, 1) + (1,) * nd, F32)
    for i in range(nd):  # PyTorch's divisor: the window clipped to the padded (or bare) input
        start = np.arange(s.shape[2 + i]) * stride[i] - padding[i]
        end = np.minimum(start + kernel[i], x.shape[2 + i] + padding[nd + i])
        if not include:
            start, end = np.maximum(start, 0), np.minimum(end, x.shape[2 + i])
        shp = [1] * (2 + nd)
        shp[2 + i] = -1
        cnt = cnt * (end - start).astype(F32).reshape(shp)
    return [(s / cnt).astype(F32)]


def _flat_pads(lo, hi):
    pads = []
    for i in reversed(range(len(lo))):
        pads += [lo[i], hi[i]]
    return pads


def _t_pool(ins, ps, at):
    F = torch_mod().nn.functional
    x = ins[0]
    nd, geo = pool_geometry(tuple(x.shape), at)
    sp = tuple(range(2, 2 + nd))
    if geo is None:
        return x.amax(dim=sp, keepdim=True) if at["mode"] == "max" else x.mean(dim=sp, keepdim=True)
    kernel, stride, padding = geo
    lo, hi = padding[:nd], padding[nd:]
    ceil = bool(at.get("ceil_mode", False))
    if lo == hi and all(2 * p <= k for p, k in zip(lo, kernel)):
        if at["mode"] == "max":
            f = F.max_pool1d if nd == 1 else F.max_pool2d
            return f(x, kernel, stride, lo, ceil_mode=ceil)
        f = F.avg_pool1d if nd == 1 else F.avg_pool2d
        return f(x, kernel, stride, lo, ceil_mode=ceil, count_include_pad=bool(at.get("count_include_pad", True)))
    if ceil or (at["mode"] == "avg" and not at.get("count_include_pad", True)):
        raise ValueError("asymmetric pool padding with ceil_mode or count_include_pad=false "
                         "is not supported by the torch interpreter")
    if at["mode"] == "max":
        f = F.max_pool1d if nd == 1 else F.max_pool2d
        return f(F.pad(x, _flat_pads(lo, hi), value=-math.inf), kernel, stride)
    f = F.avg_pool1d if nd == 1 else F.avg_pool2d
    return f(F.pad(x, _flat_pads(lo, hi)), kernel, stride)


# ---------------------------------------------------------------- indices and unpooling

def _s_indices(ins, ps, at):
    if at.get("global", False):
        raise ValueError("max_pool_indices needs a kernel (not global pooling)")
    return [_pool_out(ins[0], at)]


def _r_indices(ins, ps, at):
    x = ins[0]
    nd, (kernel, stride, padding) = pool_geometry(x.shape, at)
    ceil = bool(at.get("ceil_mode", False))
    v = _im.windows(x, kernel, stride, padding, [1] * nd, pad_value=-np.inf, ceil_mode=ceil)
    pos = np.arange(math.prod(x.shape[2:]), dtype=np.int64).reshape((1, 1) + x.shape[2:])
    iv = _im.windows(pos, kernel, stride, padding, [1] * nd, pad_value=-1, ceil_mode=ceil)
    outs = v.shape[2:2 + nd]
    vf = v.reshape(v.shape[:2 + nd] + (-1,))
    am = np.argmax(vf, axis=-1)  # first maximum in window scan order, as PyTorch
    ivf = np.broadcast_to(iv.reshape((1, 1) + tuple(outs) + (-1,)), vf.shape)
    return [np.take_along_axis(ivf, am[..., None], axis=-1)[..., 0].astype(np.int64)]


def _t_indices(ins, ps, at):
    F = torch_mod().nn.functional
    x = ins[0]
    nd, (kernel, stride, padding) = pool_geometry(tuple(x.shape), at)
    lo, hi = padding[:nd], padding[nd:]
    if lo != hi:
        raise ValueError("asymmetric padding in max_pool_indices is not supported by the torch interpreter")
    f = F.max_pool1d if nd == 1 else F.max_pool2d
    return f(x, kernel, stride, lo, ceil_mode=bool(at.get("ceil_mode", False)), return_indices=True)[1]


def _s_unpool(ins, ps, at):
    x, idx = ins
    out = [int(s) for s in at["output_size"]]
    if tuple(idx) != tuple(x) or len(out) != len(x) - 2 or min(out) < 1:
        raise ValueError(f"max_unpool needs indices of the input's shape {list(x)} and "
                         f"{len(x) - 2} output sizes, got {list(idx)} and {out}")
    return [tuple(x[:2]) + tuple(out)]


def _r_unpool(ins, ps, at):
    x, idx = ins
    out = [int(s) for s in at["output_size"]]
    n = math.prod(out)
    flat = np.asarray(idx).reshape(idx.shape[:2] + (-1,))
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        raise OpDataError(f"max_unpool index out of range [0, {n})")
    y = np.zeros(x.shape[:2] + (n,), F32)
    np.put_along_axis(y, flat, np.asarray(x, F32).reshape(x.shape[:2] + (-1,)), axis=2)
    return [y.reshape(x.shape[:2] + tuple(out))]


def _t_unpool(ins, ps, at):
    torch = torch_mod()
    x, idx = ins
    out = [int(s) for s in at["output_size"]]
    y = torch.zeros(tuple(x.shape[:2]) + (math.prod(out),), dtype=x.dtype)
    y = y.scatter(2, idx.reshape(idx.shape[0], idx.shape[1], -1), x.reshape(x.shape[0], x.shape[1], -1))
    return y.reshape(tuple(x.shape[:2]) + tuple(out))


# ---------------------------------------------------------------- resize

RESIZE_MODES = ("nearest", "linear")


def _s_resize(ins, ps, at):
    x = ins[0]
    size = [int(s) for s in at["size"]]
    if at.get("mode") not in RESIZE_MODES:
        raise ValueError(f"attrs.mode must be one of {list(RESIZE_MODES)}, got {at.get('mode')!r}")
    if len(x) not in (3, 4) or len(size) != len(x) - 2 or min(size) < 1:
        raise ValueError(f"resize needs a (B, C, L) or (B, C, H, W) input and matching sizes, got {list(x)}, {size}")
    return [tuple(x[:2]) + tuple(size)]


def _linear_taps(n_in, n_out, align):
    """Source indices i0, i1 and weight of i1 for each output position (float64 math)."""
    d = np.arange(n_out, dtype=np.float64)
    if align:
        src = d * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((d + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(F32)


def _r_resize(ins, ps, at):
    x = ins[0]
    size = [int(s) for s in at["size"]]
    for i, n_out in enumerate(size):
        ax = 2 + i
        n_in = x.shape[ax]
        if at["mode"] == "nearest":
            src = np.minimum(np.floor(np.arange(n_out) * (n_in / n_out)).astype(np.int64), n_in - 1)
            x = np.take(x, src, axis=ax)
        else:
            i0, i1, lam = _linear_taps(n_in, n_out, bool(at.get("align_corners", False)))
            shp = [1] * x.ndim
            shp[ax] = n_out
            lam = lam.reshape(shp)
            a, b = np.take(x, i0, axis=ax), np.take(x, i1, axis=ax)
            x = (a * (F32(1) - lam) + b * lam).astype(F32)
    return [np.asarray(x, F32)]


def _t_resize(ins, ps, at):
    F = torch_mod().nn.functional
    x = ins[0]
    size = [int(s) for s in at["size"]]
    if at["mode"] == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    mode = "linear" if len(size) == 1 else "bilinear"
    return F.interpolate(x, size=size, mode=mode, align_corners=bool(at.get("align_corners", False)))


_POOL_ATTRS = ("kernel", "stride", "padding", "ceil_mode")
register("pool", FAMILY, (1, 1), _s_pool, _r_pool, _t_pool, attrs=("mode",),
         optional_attrs=_POOL_ATTRS + ("count_include_pad", "global"), batch_first=True,
         doc="max / average pooling, global pooling")
register("max_pool_indices", FAMILY, (1, 1), _s_indices, _r_indices, _t_indices, attrs=("kernel",),
         optional_attrs=("stride", "padding", "ceil_mode"), dtype=dt_int_out, batch_first=True,
         doc="argmax positions of max pooling (for max_unpool)")
register("max_unpool", FAMILY, (2, 2), _s_unpool, _r_unpool, _t_unpool, attrs=("output_size",),
         dtype=dt_first_float, batch_first=True, doc="scatter pooled values back to their positions")
register("resize", FAMILY, (1, 1), _s_resize, _r_resize, _t_resize, attrs=("mode", "size"),
         optional_attrs=("align_corners",), batch_first=True, doc="nearest / (bi)linear upsampling")

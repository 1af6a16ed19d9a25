"""Shape rules of the op kinds (see :mod:`amssim.trace.ops` for the attributes).

Each rule maps full input shapes (with the batch axis), parameter shapes and attrs
to output shapes, raising ``ValueError`` with a message the loader wraps in a
:class:`~amssim.errors.TraceError` naming the file, op and field.
"""

from __future__ import annotations

import math
import numpy as np

from . import im2col as _im

def attr_float(v) -> float:
    """A float attribute that may be written as "inf" / "-inf" in JSON."""
    if isinstance(v, str):
        if v not in ("inf", "-inf"):
            raise ValueError(f"expected a number or 'inf'/'-inf', got {v!r}")
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {v!r}")
    return float(v)


def _ax(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} out of range for rank {ndim}")
    return axis % ndim


def _bcast(a, b):
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ValueError(f"shapes {list(a)} and {list(b)} do not broadcast") from None


# ---------------------------------------------------------------- shape rules
# shape functions: (in_shapes: list[tuple], params: dict[str, tuple], attrs) -> list[tuple]
# They raise ValueError with a message; the loader names the op and field.

def _s_linear(ins, ps, at):
    (x,) = ins
    w = ps["weight"]
    if len(w) != 2:
        raise ValueError(f"params.weight must be 2-D (N, K), got shape {list(w)}")
    if len(x) < 2 or x[-1] != w[1]:
        raise ValueError(f"input shape {list(x)} does not end in K={w[1]} of weight {list(w)}")
    if "bias" in ps and ps["bias"] != (w[0],):
        raise ValueError(f"params.bias shape {list(ps['bias'])} != ({w[0]},)")
    return [x[:-1] + (w[0],)]


def conv_geometry(nd: int, at: dict):
    stride = list(at.get("stride", [1] * nd))
    padding = list(at.get("padding", [0] * (2 * nd)))
    dilation = list(at.get("dilation", [1] * nd))
    if len(stride) != nd or len(dilation) != nd or len(padding) != 2 * nd:
        raise ValueError(f"attrs stride/dilation need {nd} entries and padding {2 * nd}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError("attrs stride and dilation must be >= 1 and padding >= 0")
    return stride, padding, dilation


def _s_conv(nd):
    def f(ins, ps, at):
        (x,) = ins
        w = ps["weight"]
        if int(at.get("groups", 1)) != 1:
            raise ValueError(f"attrs.groups={at.get('groups')} is not supported (only groups=1)")
        if len(w) != nd + 2 or len(x) != nd + 2:
            raise ValueError(f"conv{nd}d needs a {nd + 2}-D input and weight, got {list(x)} and {list(w)}")
        if x[1] != w[1]:
            raise ValueError(f"input channels {x[1]} != weight channels {w[1]} (weight {list(w)})")
        if "bias" in ps and ps["bias"] != (w[0],):
            raise ValueError(f"params.bias shape {list(ps['bias'])} != ({w[0]},)")
        stride, padding, dilation = conv_geometry(nd, at)
        outs = tuple(_im.out_size(x[2 + i], w[2 + i], stride[i], padding[i], padding[nd + i], dilation[i])
                     for i in range(nd))
        if min(outs) < 1:
            raise ValueError(f"kernel {list(w[2:])} larger than padded input {list(x[2:])}")
        return [(x[0], w[0]) + outs]
    return f


def _s_matmul(ins, ps, at):
    a, b = ins
    if len(a) < 2 or len(b) != len(a):
        raise ValueError(f"matmul operands need equal rank >= 2, got {list(a)} and {list(b)}")
    if at.get("transpose_b", False):
        b = b[:-2] + (b[-1], b[-2])
    if a[:-2] != b[:-2] or a[-1] != b[-2]:
        raise ValueError(f"matmul shapes {list(a)} @ {list(b)} do not match")
    return [a[:-1] + (b[-1],)]


def _s_same(ins, ps, at):
    return [ins[0]]


def _s_binary(ins, ps, at):
    extra = (len(ins) == 2) + ("other" in ps) + ("scalar" in at)
    if extra != 1:
        raise ValueError("needs exactly one of: a second input, params.other, attrs.scalar")
    if len(ins) == 2:
        if len(ins[0]) != len(ins[1]):
            raise ValueError(f"operands need equal rank, got {list(ins[0])} and {list(ins[1])}")
        return [_bcast(ins[0], ins[1])]
    if "other" in ps:
        o = ps["other"]
        if len(o) > len(ins[0]):
            raise ValueError(f"params.other shape {list(o)} has more dims than input {list(ins[0])}")
        out = _bcast(ins[0], o)
        if out != ins[0]:
            raise ValueError(f"params.other shape {list(o)} would change the shape {list(ins[0])}")
        return [out]
    attr_float(at["scalar"])
    return [ins[0]]


def _s_embedding(ins, ps, at):
    w = ps["weight"]
    if len(w) != 2:
        raise ValueError(f"params.weight must be (V, D), got {list(w)}")
    return [ins[0] + (w[1],)]


def _s_axis(ins, ps, at):
    _ax(int(at.get("axis", -1)), len(ins[0]))
    return [ins[0]]


def _s_layernorm(ins, ps, at):
    x = ins[0]
    ns = tuple(at["normalized_shape"])
    if len(ns) == 0 or x[-len(ns):] != ns:
        raise ValueError(f"attrs.normalized_shape {list(ns)} is not the tail of input {list(x)}")
    for k in ("weight", "bias"):
        if k in ps and ps[k] != ns:
            raise ValueError(f"params.{k} shape {list(ps[k])} != normalized_shape {list(ns)}")
    return [x]


def _s_batchnorm(ins, ps, at):
    x = ins[0]
    if len(x) < 2:
        raise ValueError(f"batchnorm input needs a channel axis, got {list(x)}")
    for k, s in ps.items():
        if s != (x[1],):
            raise ValueError(f"params.{k} shape {list(s)} != ({x[1]},) channels")
    return [x]


def pool_geometry(x, at):
    nd = len(x) - 2
    if at.get("global", False):
        return nd, None
    kernel = list(at["kernel"])
    if len(kernel) != nd:
        raise ValueError(f"attrs.kernel {kernel} needs {nd} entries for input {list(x)}")
    stride = list(at.get("stride", kernel))
    padding = list(at.get("padding", [0] * (2 * nd)))
    if len(stride) != nd or len(padding) != 2 * nd or min(kernel + stride) < 1 or min(padding) < 0:
        raise ValueError("attrs stride/padding malformed")
    return nd, (kernel, stride, padding)


def _s_pool(ins, ps, at):
    x = ins[0]
    if at.get("mode") not in ("max", "avg"):
        raise ValueError(f"attrs.mode must be 'max' or 'avg', got {at.get('mode')!r}")
    if len(x) not in (3, 4):
        raise ValueError(f"pool needs a (B, C, L) or (B, C, H, W) input, got {list(x)}")
    nd, geo = pool_geometry(x, at)
    if geo is None:
        return [x[:2] + (1,) * nd]
    kernel, stride, padding = geo
    if at["mode"] == "avg" and at.get("ceil_mode", False):
        raise ValueError("attrs.ceil_mode=true is supported for max pooling only")
    outs = tuple(_im.out_size(x[2 + i], kernel[i], stride[i], padding[i], padding[nd + i], 1,
                              bool(at.get("ceil_mode", False))) for i in range(nd))
    if min(outs) < 1:
        raise ValueError(f"pool kernel {kernel} larger than input {list(x[2:])}")
    return [x[:2] + outs]


def _s_reduce(ins, ps, at):
    x = ins[0]
    axes = sorted({_ax(int(a), len(x)) for a in at["axes"]})
    if at.get("keepdims", False):
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _s_flatten(ins, ps, at):
    x = ins[0]
    s = _ax(int(at.get("start_dim", 1)), len(x))
    e = _ax(int(at.get("end_dim", -1)), len(x))
    if e < s:
        raise ValueError(f"end_dim {e} < start_dim {s}")
    return [x[:s] + (math.prod(x[s:e + 1]),) + x[e + 1:]]


def reshape_target(x, shape):
    shape = [int(d) for d in shape]
    total = math.prod(x)
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise ValueError(f"attrs.shape {shape} may hold at most one -1 and no other negatives")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {list(x)} to {shape}")
        shape[shape.index(-1)] = total // known
    if math.prod(shape) != total:
        raise ValueError(f"cannot reshape {list(x)} to {shape}")
    return tuple(shape)


def _s_reshape(ins, ps, at):
    return [reshape_target(ins[0], at["shape"])]


def _s_transpose(ins, ps, at):
    x = ins[0]
    perm = [int(p) for p in at["perm"]]
    if sorted(perm) != list(range(len(x))):
        raise ValueError(f"attrs.perm {perm} is not a permutation of {len(x)} axes")
    return [tuple(x[p] for p in perm)]


def expand_target(x, shape):
    shape = [int(d) for d in shape]
    if len(shape) != len(x):
        raise ValueError(f"attrs.shape {shape} must have rank {len(x)}")
    tgt = tuple(x[i] if d == -1 else d for i, d in enumerate(shape))
    for i, (a, b) in enumerate(zip(x, tgt)):
        if a != b and a != 1:
            raise ValueError(f"cannot expand {list(x)} to {shape}")
    return tgt


def _s_expand(ins, ps, at):
    return [expand_target(ins[0], at["shape"])]


def _s_concat(ins, ps, at):
    ax = _ax(int(at["axis"]), len(ins[0]))
    for s in ins[1:]:
        if len(s) != len(ins[0]) or any(a != b for i, (a, b) in enumerate(zip(s, ins[0])) if i != ax):
            raise ValueError(f"concat shapes {[list(s) for s in ins]} differ off axis {ax}")
    out = list(ins[0])
    out[ax] = sum(s[ax] for s in ins)
    return [tuple(out)]


def _s_slice(ins, ps, at):
    x = ins[0]
    ax = _ax(int(at["axis"]), len(x))
    step = int(at.get("step", 1))
    if step < 1:
        raise ValueError(f"attrs.step must be >= 1, got {step}")
    n = len(range(*slice(int(at.get("start", 0)), int(at.get("end", 2**62)), step).indices(x[ax])))
    return [x[:ax] + (n,) + x[ax + 1:]]


def _s_select(ins, ps, at):
    x = ins[0]
    ax = _ax(int(at["axis"]), len(x))
    idx = int(at["index"])
    if not -x[ax] <= idx < x[ax]:
        raise ValueError(f"attrs.index {idx} out of range for size {x[ax]}")
    return [x[:ax] + x[ax + 1:]]


def _s_eq(ins, ps, at):
    attr_float(at["scalar"])
    return [ins[0]]


def _s_masked_fill(ins, ps, at):
    attr_float(at["value"])
    if len(ins[1]) != len(ins[0]) or _bcast(ins[0], ins[1]) != ins[0]:
        raise ValueError(f"mask shape {list(ins[1])} does not broadcast to {list(ins[0])}")
    return [ins[0]]


def _s_full_like(ins, ps, at):
    attr_float(at["value"])
    return [ins[0]]

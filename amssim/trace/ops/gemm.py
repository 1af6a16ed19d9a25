"""GEMM op kinds (sent to the numeric backend): linear, conv1d, conv2d, matmul.

  linear   x (..., K); params weight (N, K), bias (N) [none] -> (..., N)
  conv1d   x (B, C, L); params weight (O, C/groups, k), bias (O); attrs stride [1],
           padding [lo, hi] ([0, 0]), dilation [1], groups [1], input_dilation [1]
  conv2d   x (B, C, H, W); params weight (O, C/groups, kh, kw), bias; attrs stride
           [sh, sw], padding [top, left, bottom, right], dilation [dh, dw],
           groups [1], input_dilation [1, 1]
  matmul   a (..., M, K), b (..., K, N), both activations (attention QK^T, AV);
           attrs transpose_b [false] (then b is (..., N, K)); batch dims equal.

A grouped convolution is ``groups`` independent GEMMs (group g: input channels
g*C/G..., outputs g*O/G...); depthwise is groups = C. ``input_dilation`` d inserts
d-1 zeros between input samples before padding: a transposed convolution is
lowered at import to a convolution with input_dilation = its stride, flipped and
transposed weights and padding dilation*(k-1)-padding (the zero-insertion form,
so the analog tile sees the zeros and the timing counts their MACs).
"""

from __future__ import annotations

import math

import numpy as np

from .. import im2col as _im
from ._base import F32, register, torch_mod

FAMILY = "gemm"
GEMM_KINDS = ("linear", "conv1d", "conv2d", "matmul")
#: group g > 0 of a grouped convolution at op index L is keyed as layer L + g * this in
#: the backend's random streams (group 0 keeps L, so groups=1 is unchanged); op indices
#: stay below it
GROUP_LAYER_STRIDE = 1 << 24


def group_layer(index: int, g: int) -> int:
    """The ``layer`` coordinate of group ``g`` of the GEMM op at trace index ``index``."""
    return int(index) + int(g) * GROUP_LAYER_STRIDE


def linear_f32(x, w, b=None):
    y = np.matmul(x, w.T)
    return y if b is None else y + b


def conv_geometry(nd: int, at: dict):
    """(stride, padding [lo..., hi...], dilation) of a conv op's attrs, validated."""
    stride = list(at.get("stride", [1] * nd))
    padding = list(at.get("padding", [0] * (2 * nd)))
    dilation = list(at.get("dilation", [1] * nd))
    if len(stride) != nd or len(dilation) != nd or len(padding) != 2 * nd:
        raise ValueError(f"attrs stride/dilation need {nd} entries and padding {2 * nd}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError("attrs stride and dilation must be >= 1 and padding >= 0")
    return stride, padding, dilation


def input_dilation(nd: int, at: dict) -> list[int]:
    d = [int(v) for v in at.get("input_dilation", [1] * nd)]
    if len(d) != nd or min(d) < 1:
        raise ValueError(f"attrs.input_dilation needs {nd} entries >= 1, got {d}")
    return d


def dilate_input(x, d):
    """Insert d-1 zeros between samples along each spatial axis (numpy or torch)."""
    nd = len(d)
    if all(v == 1 for v in d):
        return x
    sp = tuple(x.shape[2:])
    big = tuple((s - 1) * f + 1 for s, f in zip(sp, d))
    sl = (slice(None), slice(None)) + tuple(slice(None, None, f) for f in d)
    if isinstance(x, np.ndarray):
        out = np.zeros(tuple(x.shape[:2]) + big, x.dtype)
    else:
        out = torch_mod().zeros(tuple(x.shape[:2]) + big, dtype=x.dtype)
    out[sl] = x
    assert len(big) == nd
    return out


def groups_of(at) -> int:
    g = int(at.get("groups", 1))
    if g < 1:
        raise ValueError(f"attrs.groups must be >= 1, got {g}")
    return g


def conv_f32(x, w, b, at):
    """Float32 convolution through im2col (per group), the executor's reference."""
    nd = w.ndim - 2
    stride, padding, dilation = conv_geometry(nd, at)
    x = dilate_input(x, input_dilation(nd, at))
    g = groups_of(at)
    cg, og = x.shape[1] // g, w.shape[0] // g
    ys = []
    outs = None
    for j in range(g):
        cols, outs = _im.im2col(x[:, j * cg:(j + 1) * cg], w.shape[2:], stride, padding, dilation)
        wj = w[j * og:(j + 1) * og]
        ys.append(cols @ wj.reshape(og, -1).T)
    y = ys[0] if g == 1 else np.concatenate(ys, axis=1)
    if b is not None:
        y += b
    return _im.cols_to_output(y, x.shape[0], outs)


def _r_linear(ins, ps, at):
    return [linear_f32(ins[0], ps["weight"], ps.get("bias"))]


def _r_conv(ins, ps, at):
    return [conv_f32(ins[0], ps["weight"], ps.get("bias"), at)]


def _r_matmul(ins, ps, at):
    b = ins[1]
    if at.get("transpose_b", False):
        b = np.swapaxes(b, -1, -2)
    return [np.matmul(ins[0], b)]


def _t_linear(ins, ps, at):
    return torch_mod().nn.functional.linear(ins[0], ps["weight"], ps.get("bias"))


def _t_conv(ins, ps, at):
    F = torch_mod().nn.functional
    w = ps["weight"]
    nd = w.dim() - 2
    stride, padding, dilation = conv_geometry(nd, at)
    x = dilate_input(ins[0], input_dilation(nd, at))
    pads = []
    for i in reversed(range(nd)):
        pads += [padding[i], padding[nd + i]]
    if any(pads):
        x = F.pad(x, pads)
    conv = F.conv1d if nd == 1 else F.conv2d
    return conv(x, w, ps.get("bias"), stride=stride, dilation=dilation, groups=groups_of(at))


def _t_matmul(ins, ps, at):
    b = ins[1].transpose(-1, -2) if at.get("transpose_b", False) else ins[1]
    return ins[0] @ b


# ---------------------------------------------------------------- shape rules

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


def conv_out_spatial(x, w, at):
    """Output spatial shape of a conv op (x, w full shapes)."""
    nd = len(w) - 2
    stride, padding, dilation = conv_geometry(nd, at)
    idil = input_dilation(nd, at)
    sp = [(x[2 + i] - 1) * idil[i] + 1 for i in range(nd)]
    return tuple(_im.out_size(sp[i], w[2 + i], stride[i], padding[i], padding[nd + i], dilation[i])
                 for i in range(nd))


def _s_conv(nd):
    def f(ins, ps, at):
        (x,) = ins
        w = ps["weight"]
        g = groups_of(at)
        if len(w) != nd + 2 or len(x) != nd + 2:
            raise ValueError(f"conv{nd}d needs a {nd + 2}-D input and weight, got {list(x)} and {list(w)}")
        if x[1] % g or w[0] % g:
            raise ValueError(f"groups={g} must divide input channels {x[1]} and outputs {w[0]}")
        if x[1] != w[1] * g:
            raise ValueError(f"input channels {x[1]} != weight channels {w[1]} x groups {g} (weight {list(w)})")
        if "bias" in ps and ps["bias"] != (w[0],):
            raise ValueError(f"params.bias shape {list(ps['bias'])} != ({w[0]},)")
        outs = conv_out_spatial(x, w, at)
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


def gemm_shape(kind, x, y, w, attrs):
    """Per-sample (m, k, n, count) of a GEMM op from its full shapes at batch 1."""
    if kind == "linear":
        return math.prod(x[:-1]), w[1], w[0], 1
    if kind in ("conv1d", "conv2d"):
        g = groups_of(attrs)
        return math.prod(y[2:]), math.prod(w[1:]), w[0] // g, g
    return x[-2], x[-1], y[-1], math.prod(x[:-2])


_CONV_ATTRS = ("stride", "padding", "dilation", "groups", "input_dilation")

register("linear", FAMILY, (1, 1), _s_linear, _r_linear, _t_linear, params=("weight",),
         optional_params=("bias",), gemm=True, doc="x W^T + b (nn.Linear, Gemm, MatMul with a constant)")
for _nd in (1, 2):
    register(f"conv{_nd}d", FAMILY, (1, 1), _s_conv(_nd), _r_conv, _t_conv, params=("weight",),
             optional_params=("bias",), optional_attrs=_CONV_ATTRS, gemm=True, batch_first=True,
             doc=f"{_nd}-d convolution: grouped, depthwise, dilated, transposed (zero insertion)")
register("matmul", FAMILY, (2, 2), _s_matmul, _r_matmul, _t_matmul, optional_attrs=("transpose_b",), gemm=True,
         doc="product of two activations (attention QK^T and AV)")


def conv_transpose_as_conv(w, stride, padding, output_padding, dilation, groups: int = 1):
    """Lower a transposed convolution to the zero-insertion convolution of this table.

    ``w`` is the transposed-conv weight (C_in, C_out/groups, *k) (PyTorch and ONNX);
    ``padding`` one entry per spatial axis (symmetric), or [lo..., hi...]. Returns
    (conv weight (C_out, C_in/groups, *k), attrs) such that conv{nd}d with those attrs
    equals the transposed convolution. Raises ValueError when the padding exceeds
    dilation*(k-1) (the result would need cropping).
    """
    w = np.asarray(w, dtype=F32)
    nd = w.ndim - 2
    k = w.shape[2:]
    pad = list(padding) if len(padding) == 2 * nd else list(padding) * 2
    cin, coutg = w.shape[0], w.shape[1]
    cing = cin // groups
    parts = []
    for j in range(groups):
        wj = w[j * cing:(j + 1) * cing]  # (C_in/g, C_out/g, *k)
        wj = np.swapaxes(wj, 0, 1)
        parts.append(np.flip(wj, axis=tuple(range(2, 2 + nd))))
    wc = np.ascontiguousarray(np.concatenate(parts, axis=0))  # (C_out, C_in/g, *k)
    lo = [dilation[i] * (k[i] - 1) - pad[i] for i in range(nd)]
    hi = [dilation[i] * (k[i] - 1) - pad[nd + i] + output_padding[i] for i in range(nd)]
    if min(lo + hi) < 0:
        raise ValueError(f"transposed convolution padding {pad} exceeds dilation*(kernel-1) (would crop)")
    assert wc.shape[0] == coutg * groups
    attrs = {"stride": [1] * nd, "padding": lo + hi, "dilation": list(dilation), "groups": int(groups),
             "input_dilation": list(stride)}
    return wc, attrs

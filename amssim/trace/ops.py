"""Operator kinds of a trace: attributes, shape rules and float32 implementations.

Every op kind is an :class:`OpSpec`. Tensors have FULL shapes that include the
batch (sample) axis; axis attributes are in full coordinates (negative allowed),
as in PyTorch and ONNX. The batch axis is usually 0 but may move (e.g. a
sequence-first attention layout); reductions, softmax, norms, concat, slice and
select along a batch-dependent axis are rejected at load time.

Attributes per kind (defaults in brackets; every kind also reads only the params
listed):

GEMM kinds (sent to the numeric backend):
  linear   x (..., K); params weight (N, K), bias (N) [none] -> (..., N)
  conv1d   x (B, C, L); params weight (O, C, k), bias; attrs stride [1],
           padding [lo, hi] ([0, 0]), dilation [1], groups [1] (only 1 supported)
  conv2d   x (B, C, H, W); params weight (O, C, kh, kw), bias; attrs stride
           [sh, sw] ([1, 1]), padding [top, left, bottom, right] ([0, 0, 0, 0]),
           dilation [dh, dw] ([1, 1]), groups [1] (only 1 supported)
  matmul   a (..., M, K), b (..., K, N), both activations (attention QK^T, AV);
           attrs transpose_b [false] (then b is (..., N, K)); batch dims equal.
Digital / float32 kinds:
  embedding       ids (integer); params weight (V, D) -> ids.shape + (D,). Digital lookup.
  add sub mul div two inputs (broadcast), or one input and param ``other``
                  (constant, broadcast against the full shape) or attr ``scalar``.
  relu tanh sigmoid erf    elementwise.
  gelu            attrs approximate ["none"] | "tanh".
  softmax log_softmax      attrs axis [-1].
  layernorm       attrs normalized_shape (list, trailing dims), eps [1e-5];
                  params weight, bias [none].
  batchnorm       channel axis 1; params mean, var, weight [1], bias [0]; attrs eps [1e-5].
  pool            attrs mode "max" | "avg", kernel [k] or [kh, kw], stride [kernel],
                  padding [lo..., hi...] ([0...]), ceil_mode [false],
                  count_include_pad [true]; or global [true] with mode: reduce all
                  spatial axes to size 1.
  mean sum        attrs axes (list), keepdims [false].
  flatten         attrs start_dim [1], end_dim [-1].
  reshape         attrs shape (full target shape; the batch-dependent entry is -1).
  transpose       attrs perm (full permutation).
  expand          attrs shape (full; -1 keeps a dim).
  concat          attrs axis; any number of inputs.
  slice           attrs axis, start [0], end [large], step [1] (step > 0).
  select          attrs axis, index (drops the axis).
  eq              attrs scalar -> float32 1.0 where equal else 0.0.
  masked_fill     inputs x, mask (nonzero = fill, broadcast); attrs value
                  (number or "inf"/"-inf").
  full_like       attrs value (number or "inf"/"-inf") -> x.shape filled, float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

from . import im2col as _im
from . import shapes as _s

GEMM_KINDS = ("linear", "conv1d", "conv2d", "matmul")
F32 = np.float32


def round_bf16(a: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), kept as float32."""
    a = np.ascontiguousarray(a, dtype=F32)
    u = a.view(np.uint32)
    with np.errstate(over="ignore"):
        r = (u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))) & np.uint32(0xFFFF0000)
    out = r.view(F32)
    nan = np.isnan(a)
    if nan.any():
        out = np.where(nan, a, out)
    return out


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """What a kind accepts and how it runs in float32."""

    kind: str
    n_inputs: tuple[int, int]  #: (min, max) number of input tensors; max -1 = any
    params: tuple[str, ...] = ()  #: required parameter names
    optional_params: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()  #: required attribute names
    optional_attrs: tuple[str, ...] = ()
    shape: Callable = None  #: shape rule (see :mod:`.shapes`)
    run: Callable = None  #: float32 implementation (inputs, params, attrs) -> outputs
    gemm: bool = False  #: sent to the numeric backend
    axis_attrs: tuple[str, ...] = ()  #: attrs naming axes that must not be batch axes
    int_input: bool = False  #: first input holds integer ids


# ---------------------------------------------------------------- float32 implementations

def linear_f32(x, w, b=None):
    y = np.matmul(x, w.T)
    return y if b is None else y + b


def _r_linear(ins, ps, at):
    return [linear_f32(ins[0], ps["weight"], ps.get("bias"))]


def conv_f32(x, w, b, at):
    nd = w.ndim - 2
    stride, padding, dilation = _s.conv_geometry(nd, at)
    cols, outs = _im.im2col(x, w.shape[2:], stride, padding, dilation)
    y = cols @ w.reshape(w.shape[0], -1).T
    if b is not None:
        y += b
    return _im.cols_to_output(y, x.shape[0], outs)


def _r_conv(ins, ps, at):
    return [conv_f32(ins[0], ps["weight"], ps.get("bias"), at)]


def _r_matmul(ins, ps, at):
    b = ins[1]
    if at.get("transpose_b", False):
        b = np.swapaxes(b, -1, -2)
    return [np.matmul(ins[0], b)]


def _r_embedding(ins, ps, at):
    ids = ins[0]
    w = ps["weight"]
    if ids.size and (ids.min() < 0 or ids.max() >= w.shape[0]):
        raise ValueError(f"token id out of range [0, {w.shape[0]}): min {ids.min()}, max {ids.max()}")
    return [w[ids]]


def _binary(fn):
    def r(ins, ps, at):
        if len(ins) == 2:
            other = ins[1]
        elif "other" in ps:
            other = ps["other"]
        else:
            other = F32(_s.attr_float(at["scalar"]))
        return [fn(ins[0], other).astype(F32, copy=False)]
    return r


def _unary(fn):
    return lambda ins, ps, at: [fn(ins[0]).astype(F32, copy=False)]


_SQRT1_2 = F32(1.0 / np.sqrt(2.0))


def _r_gelu(ins, ps, at):
    x = ins[0]
    if at.get("approximate", "none") == "tanh":
        c = F32(np.sqrt(2.0 / np.pi))
        return [(F32(0.5) * x * (F32(1) + np.tanh(c * (x + F32(0.044715) * x * x * x)))).astype(F32)]
    return [(F32(0.5) * x * (F32(1) + special.erf(x * _SQRT1_2))).astype(F32)]


def _r_softmax(ins, ps, at):
    ax = int(at.get("axis", -1))
    x = ins[0]
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    return [(e / np.sum(e, axis=ax, keepdims=True)).astype(F32)]


def _r_log_softmax(ins, ps, at):
    ax = int(at.get("axis", -1))
    x = ins[0]
    z = x - np.max(x, axis=ax, keepdims=True)
    return [(z - np.log(np.sum(np.exp(z), axis=ax, keepdims=True))).astype(F32)]


def _r_layernorm(ins, ps, at):
    x = ins[0]
    axes = tuple(range(x.ndim - len(at["normalized_shape"]), x.ndim))
    mu = np.mean(x, axis=axes, keepdims=True, dtype=F32)
    d = x - mu
    var = np.mean(d * d, axis=axes, keepdims=True, dtype=F32)
    y = d / np.sqrt(var + F32(at.get("eps", 1e-5)))
    if "weight" in ps:
        y = y * ps["weight"]
    if "bias" in ps:
        y = y + ps["bias"]
    return [y.astype(F32, copy=False)]


def _r_batchnorm(ins, ps, at):
    x = ins[0]
    shp = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - ps["mean"].reshape(shp)) / np.sqrt(ps["var"].reshape(shp) + F32(at.get("eps", 1e-5)))
    if "weight" in ps:
        y = y * ps["weight"].reshape(shp)
    if "bias" in ps:
        y = y + ps["bias"].reshape(shp)
    return [y.astype(F32, copy=False)]


def _r_pool(ins, ps, at):
    x = ins[0]
    nd, geo = _s.pool_geometry(x.shape, at)
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
    v = _im.windows(x, kernel, stride, padding, [1] * nd)
    s = np.sum(v, axis=wax, dtype=F32)
    if at.get("count_include_pad", True):
        return [(s / F32(np.prod(kernel))).astype(F32)]
    ones = np.ones((1, 1) + x.shape[2:], F32)
    cnt = np.sum(_im.windows(ones, kernel, stride, padding, [1] * nd), axis=wax)
    return [(s / cnt).astype(F32)]


def _r_reduce(fn):
    def r(ins, ps, at):
        axes = tuple(int(a) for a in at["axes"])
        return [fn(ins[0], axis=axes, keepdims=bool(at.get("keepdims", False)), dtype=F32)]
    return r


def _r_flatten(ins, ps, at):
    return [ins[0].reshape(_s._s_flatten([ins[0].shape], ps, at)[0])]


def _r_reshape(ins, ps, at):
    return [ins[0].reshape(_s.reshape_target(ins[0].shape, at["shape"]))]


def _r_expand(ins, ps, at):
    return [np.broadcast_to(ins[0], _s.expand_target(ins[0].shape, at["shape"]))]


def _r_slice(ins, ps, at):
    x = ins[0]
    ax = int(at["axis"]) % x.ndim
    sl = [slice(None)] * x.ndim
    sl[ax] = slice(int(at.get("start", 0)), int(at.get("end", 2**62)), int(at.get("step", 1)))
    return [x[tuple(sl)]]


def _r_masked_fill(ins, ps, at):
    return [np.where(ins[1] != 0, F32(_s.attr_float(at["value"])), ins[0]).astype(F32)]


def _spec(kind, n_inputs, shape, run, **kw):
    return OpSpec(kind=kind, n_inputs=n_inputs, shape=shape, run=run, **kw)


_CONV_ATTRS = ("stride", "padding", "dilation", "groups")
_BIN = dict(optional_params=("other",), optional_attrs=("scalar",))

SPECS: dict[str, OpSpec] = {s.kind: s for s in (
    _spec("linear", (1, 1), _s._s_linear, _r_linear, params=("weight",), optional_params=("bias",), gemm=True),
    _spec("conv1d", (1, 1), _s._s_conv(1), _r_conv, params=("weight",), optional_params=("bias",),
          optional_attrs=_CONV_ATTRS, gemm=True),
    _spec("conv2d", (1, 1), _s._s_conv(2), _r_conv, params=("weight",), optional_params=("bias",),
          optional_attrs=_CONV_ATTRS, gemm=True),
    _spec("matmul", (2, 2), _s._s_matmul, _r_matmul, optional_attrs=("transpose_b",), gemm=True),
    _spec("embedding", (1, 1), _s._s_embedding, _r_embedding, params=("weight",), int_input=True),
    _spec("add", (1, 2), _s._s_binary, _binary(np.add), **_BIN),
    _spec("sub", (1, 2), _s._s_binary, _binary(np.subtract), **_BIN),
    _spec("mul", (1, 2), _s._s_binary, _binary(np.multiply), **_BIN),
    _spec("div", (1, 2), _s._s_binary, _binary(np.divide), **_BIN),
    _spec("relu", (1, 1), _s._s_same, _unary(lambda x: np.maximum(x, F32(0)))),
    _spec("tanh", (1, 1), _s._s_same, _unary(np.tanh)),
    _spec("sigmoid", (1, 1), _s._s_same, _unary(special.expit)),
    _spec("erf", (1, 1), _s._s_same, _unary(special.erf)),
    _spec("gelu", (1, 1), _s._s_same, _r_gelu, optional_attrs=("approximate",)),
    _spec("softmax", (1, 1), _s._s_axis, _r_softmax, optional_attrs=("axis",), axis_attrs=("axis",)),
    _spec("log_softmax", (1, 1), _s._s_axis, _r_log_softmax, optional_attrs=("axis",), axis_attrs=("axis",)),
    _spec("layernorm", (1, 1), _s._s_layernorm, _r_layernorm, optional_params=("weight", "bias"),
          attrs=("normalized_shape",), optional_attrs=("eps",)),
    _spec("batchnorm", (1, 1), _s._s_batchnorm, _r_batchnorm, params=("mean", "var"),
          optional_params=("weight", "bias"), optional_attrs=("eps",)),
    _spec("pool", (1, 1), _s._s_pool, _r_pool, attrs=("mode",),
          optional_attrs=("kernel", "stride", "padding", "ceil_mode", "count_include_pad", "global")),
    _spec("mean", (1, 1), _s._s_reduce, _r_reduce(np.mean), attrs=("axes",), optional_attrs=("keepdims",),
          axis_attrs=("axes",)),
    _spec("sum", (1, 1), _s._s_reduce, _r_reduce(np.sum), attrs=("axes",), optional_attrs=("keepdims",),
          axis_attrs=("axes",)),
    _spec("flatten", (1, 1), _s._s_flatten, _r_flatten, optional_attrs=("start_dim", "end_dim")),
    _spec("reshape", (1, 1), _s._s_reshape, _r_reshape, attrs=("shape",)),
    _spec("transpose", (1, 1), _s._s_transpose, lambda i, p, a: [np.transpose(i[0], a["perm"])],
          attrs=("perm",)),
    _spec("expand", (1, 1), _s._s_expand, _r_expand, attrs=("shape",)),
    _spec("concat", (1, -1), _s._s_concat, lambda i, p, a: [np.concatenate(i, axis=int(a["axis"]))],
          attrs=("axis",), axis_attrs=("axis",)),
    _spec("slice", (1, 1), _s._s_slice, _r_slice, attrs=("axis",), optional_attrs=("start", "end", "step"),
          axis_attrs=("axis",)),
    _spec("select", (1, 1), _s._s_select, lambda i, p, a: [np.take(i[0], int(a["index"]), axis=int(a["axis"]))],
          attrs=("axis", "index"), axis_attrs=("axis",)),
    _spec("eq", (1, 1), _s._s_eq, lambda i, p, a: [(i[0] == _s.attr_float(a["scalar"])).astype(F32)],
          attrs=("scalar",)),
    _spec("masked_fill", (2, 2), _s._s_masked_fill, _r_masked_fill, attrs=("value",)),
    _spec("full_like", (1, 1), _s._s_full_like,
          lambda i, p, a: [np.full(i[0].shape, _s.attr_float(a["value"]), F32)], attrs=("value",)),
)}

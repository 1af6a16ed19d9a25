"""Reductions and axis-wise op kinds.

  mean sum max min  attrs axes (list), keepdims [false]; sum/max/min keep integers.
  argmax argmin     attrs axis, keepdims [false] -> int64 (first extreme, as PyTorch).
  softmax log_softmax  attrs axis [-1].
"""

from __future__ import annotations

import numpy as np

from ._base import F32, INT_DTYPES, as_f32, dt_int_out, dt_to_float, norm_axis, register, torch_mod

FAMILY = "reduce"


def _s_reduce(ins, ps, at):
    x = ins[0]
    axes = sorted({norm_axis(int(a), len(x)) for a in at["axes"]})
    if not axes:
        raise ValueError("attrs.axes must name at least one axis")
    if at.get("keepdims", False):
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _dt_keep(in_dts, pdts, at):
    return "int64" if in_dts[0] in INT_DTYPES else "float32"


def _axes(at):
    return tuple(int(a) for a in at["axes"])


def _r_sum(ins, ps, at):
    x = ins[0]
    return [np.sum(x, axis=_axes(at), keepdims=bool(at.get("keepdims", False)),
                   dtype=np.int64 if x.dtype.kind in "iu" else F32)]


def _r_mean(ins, ps, at):
    return [np.mean(as_f32(ins[0]), axis=_axes(at), keepdims=bool(at.get("keepdims", False)), dtype=F32)]


def _r_ext(fn):
    return lambda ins, ps, at: [fn(ins[0], axis=_axes(at), keepdims=bool(at.get("keepdims", False)))]


def _t_red(name, to_float=False):
    def r(ins, ps, at):
        x = ins[0].float() if to_float else ins[0]
        return getattr(torch_mod(), name)(x, dim=_axes(at), keepdim=bool(at.get("keepdims", False)))
    return r


def _s_arg(ins, ps, at):
    x = ins[0]
    ax = norm_axis(int(at["axis"]), len(x))
    if at.get("keepdims", False):
        return [tuple(1 if i == ax else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i != ax)]


def _r_arg(fn):
    def r(ins, ps, at):
        ax = int(at["axis"])
        y = fn(ins[0], axis=ax).astype(np.int64)
        return [np.expand_dims(y, ax) if at.get("keepdims", False) else y]
    return r


def _t_arg(name):
    return lambda ins, ps, at: getattr(torch_mod(), name)(ins[0], dim=int(at["axis"]),
                                                          keepdim=bool(at.get("keepdims", False)))


def _s_softmax(ins, ps, at):
    norm_axis(int(at.get("axis", -1)), len(ins[0]))
    return [ins[0]]


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


_R = dict(attrs=("axes",), optional_attrs=("keepdims",), axis_attrs=("axes",))
register("mean", FAMILY, (1, 1), _s_reduce, _r_mean, _t_red("mean", True), dtype=dt_to_float,
         doc="mean over axes", **_R)
register("sum", FAMILY, (1, 1), _s_reduce, _r_sum, _t_red("sum"), dtype=_dt_keep, doc="sum over axes", **_R)
register("max", FAMILY, (1, 1), _s_reduce, _r_ext(np.max), _t_red("amax"), dtype=_dt_keep,
         doc="maximum over axes", **_R)
register("min", FAMILY, (1, 1), _s_reduce, _r_ext(np.min), _t_red("amin"), dtype=_dt_keep,
         doc="minimum over axes", **_R)
_A = dict(attrs=("axis",), optional_attrs=("keepdims",), axis_attrs=("axis",), dtype=dt_int_out)
register("argmax", FAMILY, (1, 1), _s_arg, _r_arg(np.argmax), _t_arg("argmax"), doc="index of the maximum", **_A)
register("argmin", FAMILY, (1, 1), _s_arg, _r_arg(np.argmin), _t_arg("argmin"), doc="index of the minimum", **_A)
_SM = dict(optional_attrs=("axis",), axis_attrs=("axis",))
register("softmax", FAMILY, (1, 1), _s_softmax, _r_softmax,
         lambda i, p, a: torch_mod().softmax(i[0], dim=int(a.get("axis", -1))), doc="softmax along an axis", **_SM)
register("log_softmax", FAMILY, (1, 1), _s_softmax, _r_log_softmax,
         lambda i, p, a: torch_mod().log_softmax(i[0], dim=int(a.get("axis", -1))),
         doc="log-softmax along an axis", **_SM)

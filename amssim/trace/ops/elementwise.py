"""Elementwise op kinds: arithmetic, activations, comparisons, where, casts.

Binary kinds (add sub mul div pow maximum minimum; comparisons eq ne lt le gt ge)
take two inputs (numpy broadcasting), or one input and param ``other`` (a constant
that must not change the input's shape) or attr ``scalar``. Arithmetic on integers
stays int64 (div is always float32); comparisons return float32 1.0 / 0.0.

Unary kinds: relu tanh sigmoid erf exp log sqrt rsqrt neg abs sin cos reciprocal
silu hardswish hardsigmoid; gelu (attrs approximate ["none"] | "tanh"); softplus
(beta [1], threshold [20]); clamp (min, max [none]: ReLU6, hardtanh); leaky_relu
(negative_slope [0.01]); elu (alpha [1]).

  where        inputs cond, x, y (broadcast) -> x where cond != 0 else y.
  masked_fill  inputs x, mask (nonzero = fill, broadcast); attrs value (number or "inf"/"-inf").
  full_like    attrs value -> x.shape filled, float32.
  cast         attrs dtype "float32" | "int64" (float -> int truncates toward zero) |
               "bool" (float32 1.0 where nonzero).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._base import (F32, INT_DTYPES, as_f32, attr_float, bcast, dt_float, dt_to_float, register, same_shape,
                    t_f32, torch_mod)

FAMILY = "elementwise"
_SQRT1_2 = F32(1.0 / np.sqrt(2.0))


# ---------------------------------------------------------------- binary

def _other(ins, ps, at):
    if len(ins) == 2:
        return ins[1]
    if "other" in ps:
        return ps["other"]
    return attr_float(at["scalar"])


def _s_binary(ins, ps, at):
    extra = (len(ins) == 2) + ("other" in ps) + ("scalar" in at)
    if extra != 1:
        raise ValueError("needs exactly one of: a second input, params.other, attrs.scalar")
    if len(ins) == 2:
        return [bcast(ins[0], ins[1])]
    if "other" in ps:
        o = ps["other"]
        if len(o) > len(ins[0]) or bcast(ins[0], o) != tuple(ins[0]):
            raise ValueError(f"params.other shape {list(o)} would change the shape {list(ins[0])}")
        return [ins[0]]
    attr_float(at["scalar"])
    return [ins[0]]


def _int_scalar(at):
    return "scalar" not in at or float(attr_float(at["scalar"])).is_integer()


def dt_arith(kind):
    def rule(in_dts, pdts, at):
        if kind != "div" and all(d in INT_DTYPES for d in in_dts) and _int_scalar(at) and "other" not in pdts:
            return "int64"
        return "float32"
    return rule


def _np_arith(fn, kind):
    rule = dt_arith(kind)

    def r(ins, ps, at):
        a, b = ins[0], _other(ins, ps, at)
        dts = ["int64" if np.asarray(v).dtype.kind in "iu" else "float32" for v in ins]
        if rule(dts, {r: "float32" for r in ps}, at) == "int64":
            return [np.asarray(fn(a, int(b) if isinstance(b, float) else b)).astype(np.int64)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return [np.asarray(fn(as_f32(a), F32(b) if isinstance(b, float) else as_f32(b))).astype(F32)]
    return r


def _t_arith(name, kind):
    def r(ins, ps, at):
        torch = torch_mod()
        fn = getattr(torch, name)
        a, b = ins[0], _other(ins, ps, at)
        ints = not a.is_floating_point() and (not torch.is_tensor(b) or not b.is_floating_point()) \
            and kind != "div" and _int_scalar(at) and "other" not in ps
        if ints:  # python scalars as 0-d tensors: torch.maximum/minimum take tensors only
            b = b if torch.is_tensor(b) else torch.tensor(int(b))
            return fn(a, b).long()
        return fn(t_f32(a), t_f32(b) if torch.is_tensor(b) else torch.tensor(float(b))).float()
    return r


_ARITH = {"add": (np.add, "add"), "sub": (np.subtract, "sub"), "mul": (np.multiply, "mul"),
          "div": (np.divide, "div"), "pow": (np.power, "pow"), "maximum": (np.maximum, "maximum"),
          "minimum": (np.minimum, "minimum")}
_BIN = dict(optional_params=("other",), optional_attrs=("scalar",))
for _k, (_fn, _tname) in _ARITH.items():
    register(_k, FAMILY, (1, 2), _s_binary, _np_arith(_fn, _k), _t_arith(_tname, _k), dtype=dt_arith(_k),
             doc=f"elementwise {_k} (tensor, constant or scalar operand)", **_BIN)

_CMP = {"eq": (np.equal, "eq"), "ne": (np.not_equal, "ne"), "lt": (np.less, "lt"), "le": (np.less_equal, "le"),
        "gt": (np.greater, "gt"), "ge": (np.greater_equal, "ge")}


def _np_cmp(fn):
    def r(ins, ps, at):
        b = _other(ins, ps, at)
        return [fn(ins[0], b).astype(F32)]
    return r


def _t_cmp(name):
    def r(ins, ps, at):
        return getattr(torch_mod(), name)(ins[0], _other(ins, ps, at)).float()
    return r


for _k, (_fn, _tname) in _CMP.items():
    register(_k, FAMILY, (1, 2), _s_binary, _np_cmp(_fn), _t_cmp(_tname), dtype=dt_to_float,
             doc=f"comparison {_k} -> 1.0 / 0.0", **_BIN)


# ---------------------------------------------------------------- unary

def _np_unary(fn):
    def r(ins, ps, at):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return [np.asarray(fn(as_f32(ins[0]), at)).astype(F32, copy=False)]
    return r


def _t_unary(fn):
    return lambda ins, ps, at: fn(t_f32(ins[0]), at)


def _relu6(x):
    return np.minimum(np.maximum(x, F32(0)), F32(6))


def _np_gelu(x, at):
    if at.get("approximate", "none") == "tanh":
        c = F32(np.sqrt(2.0 / np.pi))
        return F32(0.5) * x * (F32(1) + np.tanh(c * (x + F32(0.044715) * x * x * x)))
    return F32(0.5) * x * (F32(1) + special.erf(x * _SQRT1_2))


def _np_softplus(x, at):
    beta, thr = F32(at.get("beta", 1.0)), F32(at.get("threshold", 20.0))
    bx = beta * x
    return np.where(bx > thr, x, np.log1p(np.exp(np.minimum(bx, thr))) / beta)


def _np_clamp(x, at):
    if at.get("min") is not None:
        x = np.maximum(x, F32(attr_float(at["min"])))
    if at.get("max") is not None:
        x = np.minimum(x, F32(attr_float(at["max"])))
    return x


def _t_clamp(x, at):
    lo = attr_float(at["min"]) if at.get("min") is not None else None
    hi = attr_float(at["max"]) if at.get("max") is not None else None
    return x if lo is None and hi is None else torch_mod().clamp(x, lo, hi)


def _np_elu(x, at):
    a = F32(at.get("alpha", 1.0))
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, F32(0))))


def _s_clamp(ins, ps, at):
    for k in ("min", "max"):
        if at.get(k) is not None:
            attr_float(at[k])
    return [ins[0]]


def _t(name):
    return lambda x, at: getattr(torch_mod(), name)(x)


def _tf(name, **kw):
    return lambda x, at: getattr(torch_mod().nn.functional, name)(x, **{k: v(at) for k, v in kw.items()})


_UNARY = {
    "relu": (lambda x, at: np.maximum(x, F32(0)), _t("relu"), ()),
    "tanh": (lambda x, at: np.tanh(x), _t("tanh"), ()),
    "sigmoid": (lambda x, at: special.expit(x), _t("sigmoid"), ()),
    "erf": (lambda x, at: special.erf(x), _t("erf"), ()),
    "exp": (lambda x, at: np.exp(x), _t("exp"), ()),
    "log": (lambda x, at: np.log(x), _t("log"), ()),
    "sqrt": (lambda x, at: np.sqrt(x), _t("sqrt"), ()),
    "rsqrt": (lambda x, at: F32(1) / np.sqrt(x), _t("rsqrt"), ()),
    "neg": (lambda x, at: -x, _t("neg"), ()),
    "abs": (lambda x, at: np.abs(x), _t("abs"), ()),
    "sin": (lambda x, at: np.sin(x), _t("sin"), ()),
    "cos": (lambda x, at: np.cos(x), _t("cos"), ()),
    "reciprocal": (lambda x, at: F32(1) / x, _t("reciprocal"), ()),
    "silu": (lambda x, at: x * special.expit(x), _tf("silu"), ()),
    "hardswish": (lambda x, at: x * _relu6(x + F32(3)) / F32(6), _tf("hardswish"), ()),
    "hardsigmoid": (lambda x, at: _relu6(x + F32(3)) / F32(6), _tf("hardsigmoid"), ()),
    "gelu": (_np_gelu, _tf("gelu", approximate=lambda at: at.get("approximate", "none")), ("approximate",)),
    "softplus": (_np_softplus, _tf("softplus", beta=lambda at: float(at.get("beta", 1.0)),
                                   threshold=lambda at: float(at.get("threshold", 20.0))), ("beta", "threshold")),
    "clamp": (_np_clamp, _t_clamp, ("min", "max")),
    "leaky_relu": (lambda x, at: np.where(x >= 0, x, F32(at.get("negative_slope", 0.01)) * x),
                   _tf("leaky_relu", negative_slope=lambda at: float(at.get("negative_slope", 0.01))),
                   ("negative_slope",)),
    "elu": (_np_elu, _tf("elu", alpha=lambda at: float(at.get("alpha", 1.0))), ("alpha",)),
}
for _k, (_ufn, _tfn, _attrs) in _UNARY.items():
    register(_k, FAMILY, (1, 1), _s_clamp if _k == "clamp" else same_shape, _np_unary(_ufn), _t_unary(_tfn),
             optional_attrs=_attrs, doc=f"elementwise {_k}")


# ---------------------------------------------------------------- where, fills, casts

def _s_where(ins, ps, at):
    return [bcast(*ins)]


def _dt_where(in_dts, pdts, at):
    return "int64" if all(d in INT_DTYPES for d in in_dts[1:]) else "float32"


def _r_where(ins, ps, at):
    c, x, y = ins
    out = np.where(np.asarray(c) != 0, x, y)
    return [out.astype(np.int64 if out.dtype.kind in "iu" else F32, copy=False)]


def _t_where(ins, ps, at):
    c, x, y = ins
    torch = torch_mod()
    if x.is_floating_point() or y.is_floating_point():
        x, y = t_f32(x), t_f32(y)
    return torch.where(c != 0, x, y)


register("where", FAMILY, (3, 3), _s_where, _r_where, _t_where, dtype=_dt_where,
         doc="x where cond else y (broadcast)")


def _s_masked_fill(ins, ps, at):
    attr_float(at["value"])
    if bcast(ins[0], ins[1]) != tuple(ins[0]):
        raise ValueError(f"mask shape {list(ins[1])} does not broadcast to {list(ins[0])}")
    return [ins[0]]


def _dt_masked_fill(in_dts, pdts, at):
    dt_float(in_dts[:1], pdts, at)
    return "float32"


register("masked_fill", FAMILY, (2, 2), _s_masked_fill,
         lambda i, p, a: [np.where(np.asarray(i[1]) != 0, F32(attr_float(a["value"])), i[0]).astype(F32)],
         lambda i, p, a: torch_mod().where(i[1] != 0, torch_mod().tensor(attr_float(a["value"])), i[0]),
         attrs=("value",), dtype=_dt_masked_fill, doc="fill where mask != 0")


def _s_full_like(ins, ps, at):
    attr_float(at["value"])
    return [ins[0]]


register("full_like", FAMILY, (1, 1), _s_full_like,
         lambda i, p, a: [np.full(np.shape(i[0]), attr_float(a["value"]), F32)],
         lambda i, p, a: torch_mod().full(tuple(i[0].shape), attr_float(a["value"])),
         attrs=("value",), dtype=dt_to_float, doc="a tensor of x's shape filled with a value")

CAST_DTYPES = ("float32", "int64", "bool")


def _s_cast(ins, ps, at):
    if at.get("dtype") not in CAST_DTYPES:
        raise ValueError(f"attrs.dtype must be one of {list(CAST_DTYPES)}, got {at.get('dtype')!r}")
    return [ins[0]]


def _dt_cast(in_dts, pdts, at):
    return "int64" if at.get("dtype") == "int64" else "float32"


def _r_cast(ins, ps, at):
    x = np.asarray(ins[0])
    d = at["dtype"]
    if d == "bool":
        return [(x != 0).astype(F32)]
    if d == "int64":
        return [np.trunc(x).astype(np.int64) if x.dtype.kind == "f" else x.astype(np.int64)]
    return [x.astype(F32)]


def _t_cast(ins, ps, at):
    x = ins[0]
    d = at["dtype"]
    if d == "bool":
        return (x != 0).float()
    return x.long() if d == "int64" else x.float()


register("cast", FAMILY, (1, 1), _s_cast, _r_cast, _t_cast, attrs=("dtype",), dtype=_dt_cast,
         doc="type cast (float32, int64, bool as 0/1)")

"""Normalisation op kinds.

  layernorm  attrs normalized_shape (list, trailing dims), eps [1e-5]; params weight, bias [none].
  rmsnorm    attrs normalized_shape, eps [1e-6]; params weight [none]: x / sqrt(mean(x^2) + eps) * w.
  batchnorm  channel axis 1; params mean, var, weight [1], bias [0]; attrs eps [1e-5] (inference).
  groupnorm  x (B, C, ...); attrs groups, eps [1e-5]; params weight, bias (C,) [none].
             InstanceNorm is groupnorm with groups = C.
"""

from __future__ import annotations

import numpy as np

from ._base import F32, register, torch_mod

FAMILY = "norm"


def _axes(x, at):
    n = len(at["normalized_shape"])
    return tuple(range(x.ndim - n, x.ndim))


def _affine(y, ps, shp=None):
    if "weight" in ps:
        y = y * (ps["weight"] if shp is None else ps["weight"].reshape(shp))
    if "bias" in ps:
        y = y + (ps["bias"] if shp is None else ps["bias"].reshape(shp))
    return y


def _r_layernorm(ins, ps, at):
    x = ins[0]
    axes = _axes(x, at)
    mu = np.mean(x, axis=axes, keepdims=True, dtype=F32)
    d = x - mu
    var = np.mean(d * d, axis=axes, keepdims=True, dtype=F32)
    return [_affine(d / np.sqrt(var + F32(at.get("eps", 1e-5))), ps).astype(F32, copy=False)]


def _t_layernorm(ins, ps, at):
    x = ins[0]
    axes = tuple(range(x.dim() - len(at["normalized_shape"]), x.dim()))
    mu = x.mean(dim=axes, keepdim=True)
    d = x - mu
    var = (d * d).mean(dim=axes, keepdim=True)
    return _affine(d / torch_mod().sqrt(var + float(at.get("eps", 1e-5))), ps)


def _r_rmsnorm(ins, ps, at):
    x = ins[0]
    ms = np.mean(x * x, axis=_axes(x, at), keepdims=True, dtype=F32)
    return [_affine(x / np.sqrt(ms + F32(at.get("eps", 1e-6))), ps).astype(F32, copy=False)]


def _t_rmsnorm(ins, ps, at):
    x = ins[0]
    axes = tuple(range(x.dim() - len(at["normalized_shape"]), x.dim()))
    ms = (x * x).mean(dim=axes, keepdim=True)
    return _affine(x / torch_mod().sqrt(ms + float(at.get("eps", 1e-6))), ps)


def _s_lastdims(ins, ps, at):
    x = ins[0]
    ns = tuple(int(d) for d in at["normalized_shape"])
    if len(ns) == 0 or tuple(x[-len(ns):]) != ns:
        raise ValueError(f"attrs.normalized_shape {list(ns)} is not the tail of input {list(x)}")
    for k in ("weight", "bias"):
        if k in ps and tuple(ps[k]) != ns:
            raise ValueError(f"params.{k} shape {list(ps[k])} != normalized_shape {list(ns)}")
    return [x]


def _batch_lastdims(baxes, shapes, at):
    nd = len(shapes[0])
    if any(a >= nd - len(at["normalized_shape"]) for a in baxes[0]):
        raise ValueError("normalises over the batch axis")


def _chan_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2 if hasattr(x, "ndim") else x.dim() - 2)


def _r_batchnorm(ins, ps, at):
    x = ins[0]
    shp = _chan_shape(x)
    y = (x - ps["mean"].reshape(shp)) / np.sqrt(ps["var"].reshape(shp) + F32(at.get("eps", 1e-5)))
    return [_affine(y, ps, shp).astype(F32, copy=False)]


def _t_batchnorm(ins, ps, at):
    x = ins[0]
    shp = _chan_shape(x)
    y = (x - ps["mean"].reshape(shp)) / torch_mod().sqrt(ps["var"].reshape(shp) + float(at.get("eps", 1e-5)))
    return _affine(y, ps, shp)


def _s_batchnorm(ins, ps, at):
    x = ins[0]
    if len(x) < 2:
        raise ValueError(f"batchnorm input needs a channel axis, got {list(x)}")
    for k, s in ps.items():
        if tuple(s) != (x[1],):
            raise ValueError(f"params.{k} shape {list(s)} != ({x[1]},) channels")
    return [x]


def _s_groupnorm(ins, ps, at):
    x = ins[0]
    g = int(at["groups"])
    if len(x) < 2 or g < 1 or x[1] % g:
        raise ValueError(f"attrs.groups={g} must divide the channels of input {list(x)}")
    for k, s in ps.items():
        if tuple(s) != (x[1],):
            raise ValueError(f"params.{k} shape {list(s)} != ({x[1]},) channels")
    return [x]


def _r_groupnorm(ins, ps, at):
    x = ins[0]
    b, c = x.shape[:2]
    g = int(at["groups"])
    xg = x.reshape((b, g, -1))
    mu = np.mean(xg, axis=2, keepdims=True, dtype=F32)
    d = xg - mu
    var = np.mean(d * d, axis=2, keepdims=True, dtype=F32)
    y = (d / np.sqrt(var + F32(at.get("eps", 1e-5)))).reshape(x.shape)
    return [_affine(y, ps, _chan_shape(x)).astype(F32, copy=False)]


def _t_groupnorm(ins, ps, at):
    x = ins[0]
    b = x.shape[0]
    g = int(at["groups"])
    xg = x.reshape(b, g, -1)
    mu = xg.mean(dim=2, keepdim=True)
    d = xg - mu
    var = (d * d).mean(dim=2, keepdim=True)
    y = (d / torch_mod().sqrt(var + float(at.get("eps", 1e-5)))).reshape(x.shape)
    return _affine(y, ps, _chan_shape(x))


register("layernorm", FAMILY, (1, 1), _s_lastdims, _r_layernorm, _t_layernorm, optional_params=("weight", "bias"),
         attrs=("normalized_shape",), optional_attrs=("eps",), batch_rule=_batch_lastdims,
         doc="layer normalisation over trailing dims")
register("rmsnorm", FAMILY, (1, 1), _s_lastdims, _r_rmsnorm, _t_rmsnorm, optional_params=("weight",),
         attrs=("normalized_shape",), optional_attrs=("eps",), batch_rule=_batch_lastdims,
         doc="RMS normalisation over trailing dims")
register("batchnorm", FAMILY, (1, 1), _s_batchnorm, _r_batchnorm, _t_batchnorm, params=("mean", "var"),
         optional_params=("weight", "bias"), optional_attrs=("eps",), batch_first=True,
         doc="inference batch normalisation (folded into a preceding conv at import)")
register("groupnorm", FAMILY, (1, 1), _s_groupnorm, _r_groupnorm, _t_groupnorm, optional_params=("weight", "bias"),
         attrs=("groups",), optional_attrs=("eps",), batch_first=True,
         doc="group normalisation (instance norm: groups = channels)")

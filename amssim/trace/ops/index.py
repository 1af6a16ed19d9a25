"""Indexing op kinds: embedding, gather, take (index_select / tensor indexing), cumsum.

  embedding  ids (integer); params weight (V, D) -> ids.shape + (D,). A digital lookup.
  gather     inputs x, index (integer, same rank); attrs axis -> index.shape;
             y[..i..] = x[..index[..i..]..] along axis (torch.gather, ONNX GatherElements).
  take       inputs x, index (integer, any shape); attrs axis -> x.shape[:axis] +
             index.shape + x.shape[axis+1:] (index_select, x[:, idx], ONNX Gather).
             Negative indices count from the end.
  cumsum     attrs axis; integers stay int64.
"""

from __future__ import annotations

import numpy as np

from ._base import F32, OpDataError, INT_DTYPES, dt_gather, norm_axis, register, torch_mod

FAMILY = "index"


def _check_range(idx, n, what):
    idx = np.asarray(idx)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise OpDataError(f"{what} out of range [-{n}, {n}): min {idx.min()}, max {idx.max()}")


def _r_embedding(ins, ps, at):
    ids, w = ins[0], ps["weight"]
    if ids.size and (ids.min() < 0 or ids.max() >= w.shape[0]):
        raise OpDataError(f"token id out of range [0, {w.shape[0]}): min {ids.min()}, max {ids.max()}")
    return [w[ids]]


def _t_embedding(ins, ps, at):
    ids, w = ins[0], ps["weight"]
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= w.shape[0]):
        raise OpDataError(f"token id out of range [0, {w.shape[0]})")
    return torch_mod().nn.functional.embedding(ids, w)


def _s_embedding(ins, ps, at):
    w = ps["weight"]
    if len(w) != 2:
        raise ValueError(f"params.weight must be (V, D), got {list(w)}")
    return [tuple(ins[0]) + (w[1],)]


def _dt_embedding(in_dts, pdts, at):
    if in_dts[0] not in INT_DTYPES:
        raise ValueError(f"embedding needs integer ids, got {in_dts[0]}")
    return "float32"


def _s_gather(ins, ps, at):
    x, idx = ins
    ax = norm_axis(int(at["axis"]), len(x))
    if len(idx) != len(x) or any(i > s for d, (i, s) in enumerate(zip(idx, x)) if d != ax):
        raise ValueError(f"gather index shape {list(idx)} does not fit input {list(x)} off axis {ax}")
    return [tuple(idx)]


def _r_gather(ins, ps, at):
    x, idx = ins
    ax = norm_axis(int(at["axis"]), x.ndim)
    _check_range(idx, x.shape[ax], "gather index")
    sl = tuple(slice(None) if d == ax else slice(0, n) for d, n in enumerate(idx.shape))
    idx = np.where(idx < 0, idx + x.shape[ax], idx)
    return [np.take_along_axis(x[sl], idx, axis=ax)]


def _t_gather(ins, ps, at):
    x, idx = ins
    ax = int(at["axis"]) % x.dim()
    idx = torch_mod().where(idx < 0, idx + x.shape[ax], idx)
    return torch_mod().gather(x, ax, idx)


def _s_take(ins, ps, at):
    x, idx = ins
    ax = norm_axis(int(at["axis"]), len(x))
    return [tuple(x[:ax]) + tuple(idx) + tuple(x[ax + 1:])]


def _r_take(ins, ps, at):
    x, idx = ins
    ax = norm_axis(int(at["axis"]), x.ndim)
    _check_range(idx, x.shape[ax], "index")
    return [np.take(x, idx, axis=ax)]


def _t_take(ins, ps, at):
    x, idx = ins
    ax = int(at["axis"]) % x.dim()
    idx = torch_mod().where(idx < 0, idx + x.shape[ax], idx)
    flat = torch_mod().index_select(x, ax, idx.reshape(-1))
    return flat.reshape(tuple(x.shape[:ax]) + tuple(idx.shape) + tuple(x.shape[ax + 1:]))


def _dt_cumsum(in_dts, pdts, at):
    return "int64" if in_dts[0] in INT_DTYPES else "float32"


def _r_cumsum(ins, ps, at):
    x = ins[0]
    return [np.cumsum(x, axis=int(at["axis"]), dtype=np.int64 if x.dtype.kind in "iu" else F32)]


def _t_cumsum(ins, ps, at):
    x = ins[0]
    return torch_mod().cumsum(x, dim=int(at["axis"]))


def _s_axis_same(ins, ps, at):
    norm_axis(int(at["axis"]), len(ins[0]))
    return [ins[0]]


register("embedding", FAMILY, (1, 1), _s_embedding, _r_embedding, _t_embedding, params=("weight",),
         dtype=_dt_embedding, doc="table lookup of integer ids (digital)")
register("gather", FAMILY, (2, 2), _s_gather, _r_gather, _t_gather, attrs=("axis",), axis_attrs=("axis",),
         dtype=dt_gather, doc="elementwise gather along an axis")
register("take", FAMILY, (2, 2), _s_take, _r_take, _t_take, attrs=("axis",), axis_attrs=("axis",),
         dtype=dt_gather, doc="select entries along an axis by an index tensor")
register("cumsum", FAMILY, (1, 1), _s_axis_same, _r_cumsum, _t_cumsum, attrs=("axis",), axis_attrs=("axis",),
         dtype=_dt_cumsum, doc="cumulative sum along an axis")

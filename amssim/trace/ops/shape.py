"""Shape and data-movement op kinds (dtype kept, integers allowed).

  flatten    attrs start_dim [1], end_dim [-1].
  reshape    attrs shape (full target shape; the batch-dependent entry is -1).
  transpose  attrs perm (full permutation).
  expand     attrs shape (full; -1 keeps a dim).
  concat     attrs axis; any number of inputs.
  slice      attrs axis, start [0], end [large], step [1] (step > 0).
  select     attrs axis, index (drops the axis).
  pad        attrs pads [lo_0.., hi_0..] over every axis (ONNX order, >= 0), mode
             ["constant"] | "reflect" | "replicate", value [0] (constant mode).
  roll       attrs shifts, axes (lists of equal length).
  constant   params value (float32 or int64); no input: the value itself (no batch
             axis), or one input ``ref`` and attrs batch_axes: the value tiled B times
             along each of those axes, B = ref's batch size (axis 0 of ref); a size-1
             axis is thus broadcast to B. How importers bring constants (position ids,
             masks, class tokens, rotary tables, per-sample repeated tables) into the
             graph; a constant expanded to the batch size is such a value.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import dt_same, norm_axis, register, torch_mod

FAMILY = "shape"
BIG = 2**62


def _s_flatten(ins, ps, at):
    x = ins[0]
    s = norm_axis(int(at.get("start_dim", 1)), len(x))
    e = norm_axis(int(at.get("end_dim", -1)), len(x))
    if e < s:
        raise ValueError(f"end_dim {e} < start_dim {s}")
    return [tuple(x[:s]) + (math.prod(x[s:e + 1]),) + tuple(x[e + 1:])]


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


def expand_target(x, shape):
    shape = [int(d) for d in shape]
    if len(shape) != len(x):
        raise ValueError(f"attrs.shape {shape} must have rank {len(x)}")
    tgt = tuple(x[i] if d == -1 else d for i, d in enumerate(shape))
    for a, b in zip(x, tgt):
        if a != b and a != 1:
            raise ValueError(f"cannot expand {list(x)} to {shape}")
    return tgt


def _s_transpose(ins, ps, at):
    x = ins[0]
    perm = [int(p) for p in at["perm"]]
    if sorted(perm) != list(range(len(x))):
        raise ValueError(f"attrs.perm {perm} is not a permutation of {len(x)} axes")
    return [tuple(x[p] for p in perm)]


def _s_concat(ins, ps, at):
    ax = norm_axis(int(at["axis"]), len(ins[0]))
    for s in ins[1:]:
        if len(s) != len(ins[0]) or any(a != b for i, (a, b) in enumerate(zip(s, ins[0])) if i != ax):
            raise ValueError(f"concat shapes {[list(s) for s in ins]} differ off axis {ax}")
    out = list(ins[0])
    out[ax] = sum(s[ax] for s in ins)
    return [tuple(out)]


def _slice_of(at, size):
    step = int(at.get("step", 1))
    if step < 1:
        raise ValueError(f"attrs.step must be >= 1, got {step}")
    return slice(*slice(int(at.get("start", 0)), int(at.get("end", BIG)), step).indices(size))


def _s_slice(ins, ps, at):
    x = ins[0]
    ax = norm_axis(int(at["axis"]), len(x))
    n = len(range(*_slice_of(at, x[ax]).indices(x[ax])))
    return [tuple(x[:ax]) + (n,) + tuple(x[ax + 1:])]


def _r_slice(ins, ps, at):
    x = ins[0]
    ax = norm_axis(int(at["axis"]), x.ndim)
    sl = [slice(None)] * x.ndim
    sl[ax] = _slice_of(at, x.shape[ax])
    return [x[tuple(sl)]]


def _s_select(ins, ps, at):
    x = ins[0]
    ax = norm_axis(int(at["axis"]), len(x))
    idx = int(at["index"])
    if not -x[ax] <= idx < x[ax]:
        raise ValueError(f"attrs.index {idx} out of range for size {x[ax]}")
    return [tuple(x[:ax]) + tuple(x[ax + 1:])]


PAD_MODES = ("constant", "reflect", "replicate")


def pad_pairs(x, at):
    """[(lo, hi)] per axis of a pad op, validated against the input shape ``x``."""
    pads = [int(p) for p in at["pads"]]
    nd = len(x)
    if len(pads) != 2 * nd or min(pads) < 0:
        raise ValueError(f"attrs.pads needs {2 * nd} entries >= 0 for rank {nd}, got {pads}")
    mode = at.get("mode", "constant")
    if mode not in PAD_MODES:
        raise ValueError(f"attrs.mode must be one of {list(PAD_MODES)}, got {mode!r}")
    pairs = [(pads[i], pads[nd + i]) for i in range(nd)]
    if mode == "reflect" and any(max(p) >= s and max(p) > 0 for p, s in zip(pairs, x)):
        raise ValueError(f"reflect padding {pads} must be smaller than the input {list(x)}")
    return pairs


def _s_pad(ins, ps, at):
    pairs = pad_pairs(ins[0], at)
    return [tuple(s + lo + hi for s, (lo, hi) in zip(ins[0], pairs))]


def _r_pad(ins, ps, at):
    x = ins[0]
    pairs = pad_pairs(x.shape, at)
    mode = at.get("mode", "constant")
    if mode == "constant":
        return [np.pad(x, pairs, mode="constant", constant_values=np.asarray(at.get("value", 0)).astype(x.dtype))]
    return [np.pad(x, pairs, mode="reflect" if mode == "reflect" else "edge")]


def _t_pad(ins, ps, at):
    x = ins[0]
    F = torch_mod().nn.functional
    pairs = pad_pairs(tuple(x.shape), at)
    mode = at.get("mode", "constant")
    lead = next((i for i, p in enumerate(pairs) if p != (0, 0)), len(pairs))
    flat = []
    for lo, hi in reversed(pairs[lead:]):
        flat += [lo, hi]
    if not flat:
        return x
    if mode == "constant":
        return F.pad(x, flat, value=float(at.get("value", 0)))
    # torch pads the last 1-3 dims of a (N, C, ...) tensor in reflect/replicate mode
    n_sp = len(pairs) - lead
    if n_sp > 3:  # more axes: one axis at a time (separable, as np.pad)
        for ax, (lo, hi) in enumerate(pairs):
            if (lo, hi) != (0, 0):
                y = x.movedim(ax, -1)
                shp = tuple(y.shape)
                y = F.pad(y.reshape(1, -1, shp[-1]), [lo, hi], mode=mode)
                x = y.reshape(shp[:-1] + (y.shape[-1],)).movedim(-1, ax)
        return x
    shp = tuple(x.shape)
    y = x.reshape((1, -1) + shp[lead:]) if lead >= 0 else x
    y = F.pad(y, flat, mode=mode)
    return y.reshape(shp[:lead] + tuple(y.shape[-n_sp:]))


def _batch_pad(baxes, shapes, at):
    pairs = pad_pairs(shapes[0], at)
    if any(pairs[a] != (0, 0) for a in baxes[0]):
        raise ValueError("pads the batch axis")


def _s_roll(ins, ps, at):
    sh, axes = list(at["shifts"]), list(at["axes"])
    if len(sh) != len(axes) or not axes:
        raise ValueError("attrs.shifts and attrs.axes need equal, non-zero lengths")
    for a in axes:
        norm_axis(int(a), len(ins[0]))
    return [ins[0]]


def _s_constant(ins, ps, at):
    v = tuple(ps["value"])
    bax = [norm_axis(int(a), max(len(v), 1)) for a in at.get("batch_axes", [])]
    if not ins:
        if bax:
            raise ValueError("attrs.batch_axes needs a ref input (whose axis 0 is the batch)")
        return [v]
    if not bax:
        raise ValueError("a constant with a ref input needs attrs.batch_axes")
    return [tuple(ins[0][0] * d if i in bax else d for i, d in enumerate(v))]


def _dt_constant(in_dts, pdts, at):
    return pdts["value"]


def _reps(v, b, at):
    bax = {int(a) % len(v) for a in at["batch_axes"]}
    return tuple(b if i in bax else 1 for i in range(len(v)))


def _r_constant(ins, ps, at):
    v = ps["value"]
    if not ins:
        return [v]
    reps = _reps(v.shape, np.shape(ins[0])[0], at)
    if all(r == 1 or d == 1 for r, d in zip(reps, v.shape)):
        return [np.broadcast_to(v, tuple(r * d for r, d in zip(reps, v.shape)))]
    return [np.tile(v, reps)]


def _t_constant(ins, ps, at):
    v = ps["value"]
    if not ins:
        return v
    reps = _reps(tuple(v.shape), ins[0].shape[0], at)
    if all(r == 1 or d == 1 for r, d in zip(reps, v.shape)):
        return v.expand(*[r * d for r, d in zip(reps, v.shape)])
    return v.repeat(*reps)


_S = dict(dtype=dt_same)
register("flatten", FAMILY, (1, 1), _s_flatten, lambda i, p, a: [i[0].reshape(_s_flatten([i[0].shape], p, a)[0])],
         lambda i, p, a: i[0].reshape(_s_flatten([tuple(i[0].shape)], p, a)[0]),
         optional_attrs=("start_dim", "end_dim"), doc="flatten a range of axes", **_S)
register("reshape", FAMILY, (1, 1), lambda i, p, a: [reshape_target(i[0], a["shape"])],
         lambda i, p, a: [i[0].reshape(reshape_target(i[0].shape, a["shape"]))],
         lambda i, p, a: i[0].reshape(reshape_target(tuple(i[0].shape), a["shape"])),
         attrs=("shape",), doc="reshape (view, unsqueeze, squeeze, unflatten)", **_S)
register("transpose", FAMILY, (1, 1), _s_transpose, lambda i, p, a: [np.transpose(i[0], a["perm"])],
         lambda i, p, a: i[0].permute(*[int(q) for q in a["perm"]]), attrs=("perm",),
         doc="permute axes", **_S)
register("expand", FAMILY, (1, 1), lambda i, p, a: [expand_target(i[0], a["shape"])],
         lambda i, p, a: [np.broadcast_to(i[0], expand_target(i[0].shape, a["shape"]))],
         lambda i, p, a: i[0].expand(*expand_target(tuple(i[0].shape), a["shape"])), attrs=("shape",),
         doc="broadcast size-1 axes", **_S)
register("concat", FAMILY, (1, -1), _s_concat, lambda i, p, a: [np.concatenate(i, axis=int(a["axis"]))],
         lambda i, p, a: torch_mod().cat(list(i), dim=int(a["axis"])), attrs=("axis",), axis_attrs=("axis",),
         doc="concatenate along an axis", **_S)
register("slice", FAMILY, (1, 1), _s_slice, _r_slice,
         lambda i, p, a: _r_slice(i, p, a)[0], attrs=("axis",), optional_attrs=("start", "end", "step"),
         axis_attrs=("axis",), doc="strided slice along one axis", **_S)
register("select", FAMILY, (1, 1), _s_select,
         lambda i, p, a: [np.take(i[0], int(a["index"]), axis=int(a["axis"]))],
         lambda i, p, a: i[0].select(int(a["axis"]), int(a["index"])),
         attrs=("axis", "index"), axis_attrs=("axis",), doc="one index along an axis (drops it)", **_S)
register("pad", FAMILY, (1, 1), _s_pad, _r_pad, _t_pad, attrs=("pads",), optional_attrs=("mode", "value"),
         batch_rule=_batch_pad, doc="constant / reflect / replicate padding", **_S)
register("roll", FAMILY, (1, 1), _s_roll,
         lambda i, p, a: [np.roll(i[0], [int(s) for s in a["shifts"]], axis=[int(x) for x in a["axes"]])],
         lambda i, p, a: torch_mod().roll(i[0], [int(s) for s in a["shifts"]], [int(x) for x in a["axes"]]),
         attrs=("shifts", "axes"), axis_attrs=("axes",), doc="cyclic shift along axes", **_S)
register("constant", FAMILY, (0, 1), _s_constant, _r_constant, _t_constant, params=("value",),
         optional_attrs=("batch_axes",), int_params=("value",), dtype=_dt_constant,
         doc="a constant tensor, optionally broadcast to the batch size")

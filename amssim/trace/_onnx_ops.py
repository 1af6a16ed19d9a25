"""ONNX operator handlers of :mod:`.import_onnx`: each translates one operator on
activations into kinds of the op table (:mod:`amssim.trace.ops`).

A handler gets the converter ``cv``, the node and its attributes. ``cv.act(node, i)``
gives input ``i`` as an activation (a folded constant becomes a ``constant`` op),
``cv.const(node, i)`` as a batch-independent numpy constant. ONNX booleans are float32
0/1 in the trace; ``cv.bool`` remembers which activations hold booleans (for Cast).
"""

from __future__ import annotations

import math

import numpy as np

from .import_onnx import _C, _Plane, _onnx_dtype
from .ops.gemm import conv_transpose_as_conv


def _s(at, key, default=None):
    v = at.get(key, default)
    return v.decode() if isinstance(v, bytes) else v


def _fval(v):
    v = np.asarray(v).reshape(-1)[0]
    if v.dtype.kind in "iub":
        return int(v)
    v = float(v)
    return ("inf" if v > 0 else "-inf") if math.isinf(v) else v


def _bcast(*shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        return None


# ---------------------------------------------------------------- GEMMs

def _auto_pads(cv, node, ap, sp, k, stride, dil):
    nd = len(k)
    pads = [0] * (2 * nd)
    if ap in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(nd):
            out = -(-sp[i] // stride[i])
            tot = max(0, (out - 1) * stride[i] + dil[i] * (k[i] - 1) + 1 - sp[i])
            small, big = tot // 2, tot - tot // 2
            pads[i], pads[nd + i] = (small, big) if ap == "SAME_UPPER" else (big, small)
    elif ap not in ("VALID", "NOTSET"):
        cv.fail(node, f"auto_pad {ap!r} is not supported")
    return pads


def h_conv(cv, node, at):
    x, w = cv.act(node, 0), cv.const(node, 1)
    b = cv.const(node, 2)
    nd = w.ndim - 2
    if nd not in (1, 2):
        cv.fail(node, f"only 1-d and 2-d convolutions are supported (got {nd}-d)")
    stride = [int(v) for v in at.get("strides", [1] * nd)]
    dil = [int(v) for v in at.get("dilations", [1] * nd)]
    pads = [int(v) for v in at.get("pads", [0] * (2 * nd))]
    ap = _s(at, "auto_pad", "NOTSET")
    if ap != "NOTSET":
        pads = _auto_pads(cv, node, ap, cv.s1[x][2:], w.shape[2:], stride, dil)
    attrs = {"stride": stride, "padding": pads, "dilation": dil}
    if int(at.get("group", 1)) != 1:
        attrs["groups"] = int(at["group"])
    return cv.emit(node, f"conv{nd}d", [x], {"weight": w, "bias": b}, attrs)


def h_conv_transpose(cv, node, at):
    x, w = cv.act(node, 0), cv.const(node, 1)
    b = cv.const(node, 2)
    nd = w.ndim - 2
    if nd not in (1, 2):
        cv.fail(node, f"only 1-d and 2-d transposed convolutions are supported (got {nd}-d)")
    k = list(w.shape[2:])
    stride = [int(v) for v in at.get("strides", [1] * nd)]
    dil = [int(v) for v in at.get("dilations", [1] * nd)]
    opad = [int(v) for v in at.get("output_padding", [0] * nd)]
    pads = [int(v) for v in at.get("pads", [0] * (2 * nd))]
    ap = _s(at, "auto_pad", "NOTSET")
    if "output_shape" in at or ap in ("SAME_UPPER", "SAME_LOWER"):
        sp = cv.s1[x][2:]
        want = list(at["output_shape"])[-nd:] if "output_shape" in at else [sp[i] * stride[i] for i in range(nd)]
        for i in range(nd):
            tot = stride[i] * (sp[i] - 1) + opad[i] + (k[i] - 1) * dil[i] + 1 - int(want[i])
            lo, hi = tot // 2, tot - tot // 2
            pads[i], pads[nd + i] = (lo, hi) if ap == "SAME_UPPER" else (hi, lo)  # as onnxruntime
    elif ap not in ("NOTSET", "VALID"):
        cv.fail(node, f"auto_pad {ap!r} is not supported")
    try:
        wc, attrs = conv_transpose_as_conv(w, stride, pads, opad, dil, int(at.get("group", 1)))
    except ValueError as exc:
        cv.fail(node, str(exc))
    if attrs.get("groups") == 1:
        attrs.pop("groups")
    return cv.emit(node, f"conv{nd}d", [x], {"weight": wc, "bias": b}, attrs)


def h_gemm(cv, node, at):
    x = cv.act(node, 0)
    if at.get("transA", 0):
        if len(cv.s1[x]) != 2:
            cv.fail(node, "Gemm input must be 2-d")
        x = cv.emit(node, "transpose", [x], attrs={"perm": [1, 0]}, name=cv.nm(node, "_tA"))
    if cv.is_act(node, 1):
        cv.fail(node, "Gemm with a computed (non-constant) B is not supported")
    w = cv.const(node, 1).astype(np.float32)
    w = w if at.get("transB", 0) else w.T
    w = w * np.float32(at.get("alpha", 1.0))
    c = cv.const(node, 2)
    bias = None
    if c is not None:
        c = np.float32(at.get("beta", 1.0)) * c.astype(np.float32)
        if c.size in (1, w.shape[0]) and (c.ndim < 2 or c.shape[0] == 1):
            bias = np.broadcast_to(c.reshape(-1), (w.shape[0],)).copy()
            c = None
    y = cv.emit(node, "linear", [x], {"weight": np.ascontiguousarray(w), "bias": bias},
                name=cv.nm(node, "_mm") if c is not None else None)
    if c is not None:
        y = cv.emit(node, "add", [y], params={"other": c})
    return y


def h_matmul(cv, node, at):
    a, b = cv.val(node, 0), cv.val(node, 1)
    if isinstance(a, str) and isinstance(b, str):
        return cv.emit(node, "matmul", [a, b])
    if isinstance(a, str) and b.static and (b.v1.ndim == 2 or (b.v1.ndim > 2 and all(d == 1 for d in b.v1.shape[:-2]))):
        w = b.v1.reshape(b.v1.shape[-2:]).astype(np.float32)
        if len(cv.s1[a]) < 2:
            cv.fail(node, "MatMul of a 1-d activation is not supported")
        return cv.emit(node, "linear", [a], {"weight": np.ascontiguousarray(w.T)})
    if isinstance(b, str) and a.static and a.v1.ndim == 2 and len(cv.s1[b]) >= 2:
        # c @ x = (x^T c^T)^T: a linear layer with weight c on the transposed activation
        nd = len(cv.s1[b])
        perm = list(range(nd - 2)) + [nd - 1, nd - 2]
        t = cv.emit(node, "transpose", [b], attrs={"perm": perm}, name=cv.nm(node, "_xT"))
        y = cv.emit(node, "linear", [t], {"weight": np.ascontiguousarray(a.v1.astype(np.float32))},
                    name=cv.nm(node, "_mm"))
        return cv.emit(node, "transpose", [y], attrs={"perm": perm})
    return cv.emit(node, "matmul", [cv.act(node, 0), cv.act(node, 1)])


# ---------------------------------------------------------------- elementwise

def _binary(kind, commutative=False, rev=None, bool_out=False):
    """Binary op: activation (op) scalar / shape-preserving constant, else two activations."""
    def h(cv, node, at):
        if len(node.input) > 2:  # variadic Max/Min/Sum
            out = cv.act(node, 0)
            for i in range(1, len(node.input)):
                out = cv.emit(node, kind, [out, cv.act(node, i)], name=cv.nm(node, f"_{i}" if i < len(node.input) - 1
                                                                             else ""))
            return out
        if len(node.input) == 1:
            return cv.act(node, 0)
        a, b = cv.val(node, 0), cv.val(node, 1)
        out = None
        if isinstance(a, str) and isinstance(b, str):
            out = cv.emit(node, kind, [a, b])
        else:
            first = isinstance(a, str)
            x, c = (a, b) if first else (b, a)
            k = kind if first or commutative else rev
            if k is not None and c.static:
                v = c.v1
                if v.size == 1 and v.ndim <= len(cv.s1[x]) and (
                        v.dtype.kind in "iub" or cv.dt[x] == "float32" or float(v.reshape(-1)[0]).is_integer()):
                    out = cv.emit(node, k, [x], attrs={"scalar": _fval(v)})
                elif (v.dtype.kind == "f" and cv.dt[x] == "float32" and np.isfinite(v).all()
                      and v.ndim <= len(cv.s1[x]) and _bcast(cv.s1[x], v.shape) == cv.s1[x]
                      and _bcast(cv.s2[x], v.shape) == cv.s2[x]):
                    out = cv.emit(node, k, [x], params={"other": v.astype(np.float32)})
            if out is None:
                out = cv.emit(node, kind, [cv.act(node, 0), cv.act(node, 1)])
        if bool_out:
            cv.bool.add(out)
        return out
    return h


def _unary(kind):
    def h(cv, node, at):
        x = cv.act(node, 0)
        if cv.dt[x] != "float32":
            x = cv.emit(node, "cast", [x], attrs={"dtype": "float32"}, name=cv.nm(node, "_f"))
        return cv.emit(node, kind, [x])
    return h


def h_neg(cv, node, at):
    x = cv.act(node, 0)
    if cv.dt[x] == "int64":
        return cv.emit(node, "mul", [x], attrs={"scalar": -1})
    return cv.emit(node, "neg", [x])


def h_gelu(cv, node, at):
    return cv.emit(node, "gelu", [cv.act(node, 0)], attrs={"approximate": _s(at, "approximate", "none")})


def h_clip(cv, node, at):
    x = cv.act(node, 0)
    lo = at.get("min") if cv.opset < 11 else cv.const(node, 1)
    hi = at.get("max") if cv.opset < 11 else cv.const(node, 2)
    attrs = {}
    if lo is not None:
        attrs["min"] = _fval(lo)
    if hi is not None:
        attrs["max"] = _fval(hi)
    return cv.emit(node, "clamp", [x], attrs=attrs)


def h_hardsigmoid(cv, node, at):
    x = cv.act(node, 0)
    alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
    if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
        return cv.emit(node, "hardsigmoid", [x])
    y = cv.emit(node, "mul", [x], attrs={"scalar": alpha}, name=cv.nm(node, "_a"))
    y = cv.emit(node, "add", [y], attrs={"scalar": beta}, name=cv.nm(node, "_b"))
    return cv.emit(node, "clamp", [y], attrs={"min": 0.0, "max": 1.0})


def h_softplus(cv, node, at):
    return cv.emit(node, "softplus", [cv.act(node, 0)])


def h_leaky_relu(cv, node, at):
    return cv.emit(node, "leaky_relu", [cv.act(node, 0)], attrs={"negative_slope": float(at.get("alpha", 0.01))})


def h_elu(cv, node, at):
    return cv.emit(node, "elu", [cv.act(node, 0)], attrs={"alpha": float(at.get("alpha", 1.0))})


def h_prelu(cv, node, at):
    x = cv.act(node, 0)
    slope = cv.val(node, 1)
    neg = cv.emit(node, "lt", [x], attrs={"scalar": 0.0}, name=cv.nm(node, "_neg"))
    if isinstance(slope, _C) and slope.static and slope.v1.size == 1:
        sx = cv.emit(node, "mul", [x], attrs={"scalar": _fval(slope.v1.astype(np.float32))}, name=cv.nm(node, "_mul"))
    else:
        sx = _binary("mul", True)(cv, _Renamed(node, cv.nm(node, "_mul")), at)
    return cv.emit(node, "where", [neg, sx, x])


class _Renamed:
    """A node seen under another name (a handler reused for part of a decomposition)."""

    def __init__(self, node, name):
        self.node, self.name = node, name

    def __getattr__(self, k):
        return getattr(self.node, k)


def h_depth_space(cv, node, at):
    """DepthToSpace / SpaceToDepth: reshape, transpose, reshape (NCHW, batch kept as -1)."""
    x = cv.act(node, 0)
    if len(cv.s1[x]) != 4:
        cv.fail(node, f"{node.op_type} needs a 4-d NCHW input")
    _, c, h, w = cv.s1[x]
    b = int(at["blocksize"])
    if node.op_type == "SpaceToDepth":
        r1, perm, r2 = [-1, c, h // b, b, w // b, b], [0, 3, 5, 1, 2, 4], [-1, c * b * b, h // b, w // b]
    elif _s(at, "mode", "DCR") == "DCR":
        r1, perm, r2 = [-1, b, b, c // (b * b), h, w], [0, 3, 4, 1, 5, 2], [-1, c // (b * b), h * b, w * b]
    else:  # CRD
        r1, perm, r2 = [-1, c // (b * b), b, b, h, w], [0, 1, 4, 2, 5, 3], [-1, c // (b * b), h * b, w * b]
    y = cv.emit(node, "reshape", [x], attrs={"shape": r1}, name=cv.nm(node, "_r1"))
    y = cv.emit(node, "transpose", [y], attrs={"perm": perm}, name=cv.nm(node, "_t"))
    return cv.emit(node, "reshape", [y], attrs={"shape": r2})


def h_isnan(cv, node, at):
    x = cv.act(node, 0)
    out = cv.emit(node, "ne", [x, x])
    cv.bool.add(out)
    return out


def h_isinf(cv, node, at):
    x = cv.act(node, 0)
    pos, neg = int(at.get("detect_positive", 1)), int(at.get("detect_negative", 1))
    if pos and neg:
        x = cv.emit(node, "abs", [x], name=cv.nm(node, "_abs"))
    elif not pos and not neg:
        cv.fail(node, "IsInf detecting nothing")
    out = cv.emit(node, "eq", [x], attrs={"scalar": "inf" if pos else "-inf"})
    cv.bool.add(out)
    return out


def h_not(cv, node, at):
    out = cv.emit(node, "eq", [cv.act(node, 0)], attrs={"scalar": 0.0})
    cv.bool.add(out)
    return out


def h_where(cv, node, at):
    c, x, y = (cv.val(node, i) for i in range(3))
    full1 = _bcast(*[cv.s1[v] if isinstance(v, str) else v.v1.shape for v in (c, x, y)])
    for i, j in ((1, 2), (2, 1)):  # one scalar constant branch, the other a full-shape activation
        br, other = (x, y) if i == 1 else (y, x)
        if isinstance(other, str) and isinstance(br, _C) and br.static and br.v1.size == 1 \
                and cv.dt[other] == "float32" and cv.s1[other] == full1:
            cond = cv.act(node, 0)
            if i == 1:  # where(cond, value, x) -> x filled where cond
                return cv.emit(node, "masked_fill", [other, cond], attrs={"value": _fval(br.v1.astype(np.float32))})
            inv = cv.emit(node, "eq", [cond], attrs={"scalar": 0.0}, name=cv.nm(node, "_not"))
            return cv.emit(node, "masked_fill", [other, inv], attrs={"value": _fval(br.v1.astype(np.float32))})
    return cv.emit(node, "where", [cv.act(node, 0), cv.act(node, 1), cv.act(node, 2)])


def h_cast(cv, node, at):
    x = cv.act(node, 0)
    if node.op_type == "CastLike":
        tv = cv.val(node, 1)
        to = np.asarray(tv.v1).dtype if isinstance(tv, _C) else (
            np.dtype(bool) if tv in cv.bool else np.dtype(np.float32 if cv.dt[tv] == "float32" else np.int64))
    else:
        to = _onnx_dtype(at["to"])
    if to.kind == "b":
        if x in cv.bool:
            return x
        out = cv.emit(node, "cast", [x], attrs={"dtype": "bool"})
        cv.bool.add(out)
        return out
    if to.kind == "f":
        return x if cv.dt[x] == "float32" else cv.emit(node, "cast", [x], attrs={"dtype": "float32"})
    if to.kind in "iu":
        return x if cv.dt[x] == "int64" else cv.emit(node, "cast", [x], attrs={"dtype": "int64"})
    cv.fail(node, f"cast to {to} is not supported")


def _identity(cv, node, at):
    return cv.act(node, 0)


def h_dropout(cv, node, at):
    return (cv.act(node, 0),)


def h_trilu(cv, node, at):
    x = cv.act(node, 0)
    k = int(np.asarray(cv.const(node, 1, 0)).reshape(-1)[0]) if len(node.input) > 1 and node.input[1] else 0
    r, c = cv.s1[x][-2:]
    if cv.s2[x][-2:] != (r, c):
        cv.fail(node, "Trilu over the batch axis")
    m = np.triu(np.ones((r, c), np.float32), k) if at.get("upper", 1) else np.tril(np.ones((r, c), np.float32), k)
    if cv.dt[x] != "float32":
        return cv.emit(node, "mul", [x, cv.materialize(node, _C(m.astype(np.int64)), cv.nm(node, "_mask"))])
    return cv.emit(node, "mul", [x], params={"other": m})


# ---------------------------------------------------------------- normalisation, softmax

def _softmax(kind):
    def h(cv, node, at):
        x = cv.act(node, 0)
        nd = len(cv.s1[x])
        axis = int(at.get("axis", -1 if cv.opset >= 13 else 1))
        if cv.opset < 13 and axis % nd != nd - 1:
            cv.fail(node, f"{node.op_type} before opset 13 over axes {axis}.. is not supported")
        return cv.emit(node, kind, [x], attrs={"axis": axis})
    return h


def h_layernorm(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", -1)) % len(cv.s1[x])
    shape = list(cv.s1[x][axis:])
    w, b = cv.const(node, 1), cv.const(node, 2)
    return cv.emit(node, "layernorm", [x], {"weight": None if w is None else np.broadcast_to(w, shape),
                                            "bias": None if b is None else np.broadcast_to(b, shape)},
                   {"normalized_shape": shape, "eps": float(at.get("epsilon", 1e-5))})


def h_rmsnorm(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", -1)) % len(cv.s1[x])
    shape = list(cv.s1[x][axis:])
    w = cv.const(node, 1)
    return cv.emit(node, "rmsnorm", [x], {"weight": None if w is None else np.broadcast_to(w, shape)},
                   {"normalized_shape": shape, "eps": float(at.get("epsilon", 1e-5))})


def h_batchnorm(cv, node, at):
    if at.get("training_mode", 0):
        cv.fail(node, "BatchNormalization in training mode is not supported")
    x = cv.act(node, 0)
    return cv.emit(node, "batchnorm", [x], {"weight": cv.const(node, 1), "bias": cv.const(node, 2),
                                            "mean": cv.const(node, 3), "var": cv.const(node, 4)},
                   {"eps": float(at.get("epsilon", 1e-5))})


def h_instancenorm(cv, node, at):
    x = cv.act(node, 0)
    c = cv.s1[x][1]
    return cv.emit(node, "groupnorm", [x], {"weight": cv.const(node, 1), "bias": cv.const(node, 2)},
                   {"groups": int(c), "eps": float(at.get("epsilon", 1e-5))})


def h_groupnorm(cv, node, at):
    x = cv.act(node, 0)
    c, g = cv.s1[x][1], int(at["num_groups"])
    w, b = cv.const(node, 1), cv.const(node, 2)
    if w is not None and w.size == g and g != c:  # opset 18: scale and bias per group
        w, b = np.repeat(w, c // g), np.repeat(b, c // g)
    return cv.emit(node, "groupnorm", [x], {"weight": w, "bias": b},
                   {"groups": g, "eps": float(at.get("epsilon", 1e-5))})


# ---------------------------------------------------------------- pooling, resize

def _pool(mode):
    def h(cv, node, at):
        x = cv.act(node, 0)
        k = [int(v) for v in at["kernel_shape"]]
        nd = len(k)
        if any(d != 1 for d in at.get("dilations", [1] * nd)):
            cv.fail(node, "dilated pooling is not supported")
        stride = [int(v) for v in at.get("strides", [1] * nd)]
        pads = [int(v) for v in at.get("pads", [0] * (2 * nd))]
        ap = _s(at, "auto_pad", "NOTSET")
        if ap != "NOTSET":
            pads = _auto_pads(cv, node, ap, cv.s1[x][2:], k, stride, [1] * nd)
        attrs = {"mode": mode, "kernel": k, "stride": stride, "padding": pads,
                 "ceil_mode": bool(at.get("ceil_mode", 0))}
        if mode == "avg":
            attrs["count_include_pad"] = bool(at.get("count_include_pad", 0))
        y = cv.emit(node, "pool", [x], attrs=attrs)
        if len(node.output) > 1 and node.output[1]:
            if at.get("storage_order", 0):
                cv.fail(node, "MaxPool indices with storage_order=1 are not supported")
            del attrs["mode"]
            idx = cv.emit(node, "max_pool_indices", [x], attrs=attrs, name=node.output[1])
            return y, _Plane(idx, np.prod(cv.s1[x][2:]), cv.s1[x][1], np.prod(cv.s1[idx][2:]))
        return y
    return h


def _global(mode):
    return lambda cv, node, at: cv.emit(node, "pool", [cv.act(node, 0)], attrs={"mode": mode, "global": True})


def h_max_unpool(cv, node, at):
    x, p = cv.act(node, 0), cv.val(node, 1)
    if not isinstance(p, _Plane) or cv.s1[p.local] != cv.s1[x]:
        cv.fail(node, "MaxUnpool indices must come from a MaxPool of this graph, in its output shape")
    idx = p.local
    sp = cv.s1[x][2:]
    nd = len(sp)
    k = [int(v) for v in at["kernel_shape"]]
    stride = [int(v) for v in at.get("strides", [1] * nd)]
    pads = [int(v) for v in at.get("pads", [0] * (2 * nd))]
    if len(node.input) > 2 and node.input[2]:
        size = [int(v) for v in cv.vals[node.input[2]].v1[-nd:]]
    else:
        size = [(sp[i] - 1) * stride[i] - pads[i] - pads[nd + i] + k[i] for i in range(nd)]
    if int(np.prod(size)) != p.size:
        cv.fail(node, f"MaxUnpool output size {size} differs from the pooled input's planes")
    return cv.emit(node, "max_unpool", [x, idx], attrs={"output_size": size})


def h_resize(cv, node, at):
    x = cv.act(node, 0)
    sp = cv.s1[x][2:]
    nd = len(sp)
    if "axes" in at:
        cv.fail(node, "Resize with axes is not supported")
    if at.get("antialias", 0):
        cv.fail(node, "Resize with antialias is not supported")
    sizes = cv.vals.get(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    scales = cv.const(node, 2) if len(node.input) > 2 and node.input[2] else None
    if sizes is not None:
        size = [int(v) for v in sizes.v1[2:]]
        if [int(v) for v in sizes.v1[1:2]] != [cv.s1[x][1]] or len(size) != nd:
            cv.fail(node, "Resize may change the spatial axes only")
        exact = True
    elif scales is not None and scales.size:
        if list(scales[:2]) != [1.0, 1.0]:
            cv.fail(node, "Resize may change the spatial axes only")
        size = [int(math.floor(sp[i] * float(scales[2 + i]))) for i in range(nd)]
        exact = all(float(sp[i] * float(scales[2 + i])).is_integer() for i in range(nd))
    else:
        cv.fail(node, "Resize needs scales or sizes")
    mode = _s(at, "mode", "nearest")
    ctm = _s(at, "coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        if ctm != "asymmetric" or _s(at, "nearest_mode", "round_prefer_floor") != "floor" or not exact:
            cv.fail(node, "nearest Resize is supported with coordinate_transformation_mode=asymmetric, "
                          "nearest_mode=floor and an integral output size (PyTorch's nearest)")
        return cv.emit(node, "resize", [x], attrs={"mode": "nearest", "size": size})
    if mode == "linear":
        if ctm in ("half_pixel", "pytorch_half_pixel") and (ctm == "half_pixel" or min(size) > 1) and exact:
            return cv.emit(node, "resize", [x], attrs={"mode": "linear", "size": size, "align_corners": False})
        if ctm == "align_corners":
            return cv.emit(node, "resize", [x], attrs={"mode": "linear", "size": size, "align_corners": True})
        cv.fail(node, f"linear Resize with coordinate_transformation_mode={ctm!r} is not supported")
    cv.fail(node, f"Resize mode {mode!r} is not supported")


# ---------------------------------------------------------------- shapes

def h_flatten(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", 1))
    axis = axis + len(cv.s1[x]) if axis < 0 else axis
    if axis == 1:
        return cv.emit(node, "flatten", [x], attrs={"start_dim": 1, "end_dim": -1})
    n1 = [int(np.prod(cv.s1[x][:axis])), int(np.prod(cv.s1[x][axis:]))]
    n2 = [int(np.prod(cv.s2[x][:axis])), int(np.prod(cv.s2[x][axis:]))]
    return _reshape_to(cv, node, x, n1, n2)


def h_reshape(cv, node, at):
    x = cv.act(node, 0)
    c = cv.val(node, 1)
    if not isinstance(c, _C):
        cv.fail(node, "the target shape must be computable without values")
    return cv.emit(node, "reshape", [x], attrs={"shape": cv.target(node, x, c)})


def _reshape_to(cv, node, x, new1, new2, name=None):
    tgt = [int(d) for d in new1]
    dep = [i for i, (a, b) in enumerate(zip(new1, new2)) if a != b]
    if len(dep) > 1 or len(new1) != len(new2):
        cv.fail(node, f"cannot place the batch axis in shape {list(new1)}")
    if dep:
        tgt[dep[0]] = -1
    return cv.emit(node, "reshape", [x], attrs={"shape": tgt}, name=name)


def _axes_of(cv, node, at, i):
    if "axes" in at:
        return [int(a) for a in at["axes"]]
    if len(node.input) > i and node.input[i]:
        return [int(a) for a in cv.const(node, i).reshape(-1)]
    return None


def h_unsqueeze(cv, node, at):
    x = cv.act(node, 0)
    axes = _axes_of(cv, node, at, 1)
    n = len(cv.s1[x]) + len(axes)
    s1, s2 = list(cv.s1[x]), list(cv.s2[x])
    for a in sorted(a % n for a in axes):
        s1.insert(a, 1)
        s2.insert(a, 1)
    return _reshape_to(cv, node, x, s1, s2)


def h_squeeze(cv, node, at):
    x = cv.act(node, 0)
    nd = len(cv.s1[x])
    axes = _axes_of(cv, node, at, 1)
    if axes is not None:
        axes = {a % nd for a in axes}
    else:
        axes = {i for i, d in enumerate(cv.s1[x]) if d == 1 and cv.s2[x][i] == 1}
    s1 = [d for i, d in enumerate(cv.s1[x]) if i not in axes]
    s2 = [d for i, d in enumerate(cv.s2[x]) if i not in axes]
    return _reshape_to(cv, node, x, s1, s2)


def h_transpose(cv, node, at):
    x = cv.act(node, 0)
    perm = list(at.get("perm", range(len(cv.s1[x]))[::-1]))
    return cv.emit(node, "transpose", [x], attrs={"perm": [int(p) for p in perm]})


def h_concat(cv, node, at):
    ins = [cv.act(node, i) for i in range(len(node.input)) if node.input[i]]
    ins = [t for t in ins if cv.s1[t][int(at["axis"]) % len(cv.s1[t])] or len(ins) == 1]  # drop empty parts
    if len(ins) == 1:
        return ins[0]
    if len({cv.dt[t] for t in ins}) > 1:
        ins = [t if cv.dt[t] == "float32" else cv.emit(node, "cast", [t], attrs={"dtype": "float32"},
                                                           name=cv.nm(node, f"_f{j}")) for j, t in enumerate(ins)]
    return cv.emit(node, "concat", ins, attrs={"axis": int(at["axis"])})


def h_slice(cv, node, at):
    x = cv.act(node, 0)
    c = [cv.val(node, i) for i in range(1, 5)]
    for j, v in enumerate(c):
        if isinstance(v, str):
            cv.fail(node, f"Slice input {j + 1} must be a constant")
    starts, ends = c[0], c[1]
    nd = len(cv.s1[x])
    axes = c[2].v1 if c[2] is not None else np.arange(len(starts.v1))
    steps = c[3].v1 if c[3] is not None else np.ones(len(starts.v1), np.int64)
    out = x
    for j, (a, st) in enumerate(zip(axes, steps)):
        a, st = int(a) % nd, int(st)
        sl1 = slice(int(starts.v1[j]), int(ends.v1[j]), st).indices(cv.s1[x][a])
        sl2 = slice(int(starts.v2[j]), int(ends.v2[j]), st).indices(cv.s2[x][a])
        if sl1 == (0, cv.s1[x][a], 1) and sl2 == (0, cv.s2[x][a], 1):
            continue  # the whole axis (also a slice up to the batch size)
        if cv.s1[x][a] != cv.s2[x][a] or sl1 != sl2:
            cv.fail(node, f"slice of axis {a} depends on the batch size")
        name = cv.nm(node, f"_{j}" if j < len(axes) - 1 else "")
        if st > 0:
            out = cv.emit(node, "slice", [out], attrs={"axis": a, "start": sl1[0], "end": sl1[1], "step": st},
                          name=name)
        else:  # negative step: a take with the reversed index list
            idx = np.arange(*sl1, dtype=np.int64)
            it = cv.materialize(node, _C(idx), cv.nm(node, f"_idx{j}"))
            out = cv.emit(node, "take", [out, it], attrs={"axis": a}, name=name)
    return out


def h_split(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", 0))
    size = cv.s1[x][axis]
    if cv.s2[x][axis] != size:
        cv.fail(node, "Split along the batch axis")
    n = len(node.output)
    sizes = cv.const(node, 1) if len(node.input) > 1 and node.input[1] else at.get("split")
    if sizes is None:
        k = -(-size // n)
        sizes = [k] * (n - 1) + [size - (n - 1) * k]
    outs, start = [], 0
    for j, k in enumerate(int(v) for v in np.asarray(sizes).reshape(-1)):
        outs.append(cv.emit(node, "slice", [x], attrs={"axis": axis, "start": start, "end": start + k, "step": 1},
                            name=node.output[j]))
        start += k
    return tuple(outs)


def _batch_affine(c):
    """(per-sample value, step) when a batch-dependent constant is ``value + b * step`` for sample b
    (batch on axis 0: the index of each sample's own rows), else None."""
    v1, v2 = c.v1, c.v2
    if c.static or v1.dtype.kind not in "iu" or v1.ndim == 0 or v1.shape[0] != 1 or \
            v2.shape != (2,) + v1.shape[1:] or not np.array_equal(v2[0], v1[0]):
        return None
    return v1[0], v2[1] - v2[0]


def _split_batch(cv, node, x, m, name):
    """Activation x whose axis 0 is (batch * m) -> (batch, m, ...)."""
    if cv.s2[x][0] != 2 * cv.s1[x][0] or cv.s1[x][0] != m:
        cv.fail(node, f"indexing of {list(cv.s1[x])} by sample is only supported when axis 0 holds the batch")
    return cv.emit(node, "reshape", [x], attrs={"shape": [-1, m] + list(cv.s1[x][1:])}, name=name)


def _per_sample_take(cv, node, x, lin, rest_shape):
    """take(x (B, K, *rest), per-sample linear index ``lin``, axis 1)."""
    if lin.size and (lin.min() < 0 or lin.max() >= cv.s1[x][1]):
        cv.fail(node, "per-sample index out of range")
    it = cv.materialize(node, _C(np.ascontiguousarray(lin, np.int64)), cv.nm(node, "_idx"))
    return cv.emit(node, "take", [x, it], attrs={"axis": 1})


def h_gather(cv, node, at):
    axis = int(at.get("axis", 0))
    d, i = cv.val(node, 0), cv.val(node, 1)
    if isinstance(d, str) and isinstance(i, _C) and not i.static and axis % len(cv.s1[d]) == 0:
        ba = _batch_affine(i)
        m = cv.s1[d][0]
        if ba is not None and np.all(ba[1] == m) and ba[0].min() >= 0 and ba[0].max() < m:
            # each sample gathers its own rows of a batch-merged axis 0: a per-sample take
            x = _split_batch(cv, node, d, m, cv.nm(node, "_split"))
            return _per_sample_take(cv, node, x, ba[0], cv.s1[d][1:])
    if isinstance(d, _C) and d.static and axis == 0 and d.v1.ndim == 2 and d.v1.dtype.kind == "f":
        ids = cv.act(node, 1)
        if cv.dt[ids] != "int64":
            cv.fail(node, "Gather indices must be integers")
        return cv.emit(node, "embedding", [ids], {"weight": d.v1})
    if isinstance(d, str) and isinstance(i, _C) and i.static and i.v1.ndim == 0:
        return cv.emit(node, "select", [d], attrs={"axis": axis, "index": int(i.v1)})
    return cv.emit(node, "take", [cv.act(node, 0), cv.act(node, 1)], attrs={"axis": axis})


def h_gather_nd(cv, node, at):
    d, i = cv.val(node, 0), cv.val(node, 1)
    if int(at.get("batch_dims", 0)) != 0 or not isinstance(d, str) or not isinstance(i, _C):
        cv.fail(node, "GatherND is supported on an activation with constant indices (batch_dims=0)")
    ba = _batch_affine(i)
    k = i.v1.shape[-1]
    m = cv.s1[d][0]
    step = None if ba is None else np.asarray(ba[1]).reshape(-1, k)
    if ba is None or not (np.all(step[:, 0] == m) and np.all(step[:, 1:] == 0)) or k > len(cv.s1[d]):
        cv.fail(node, "GatherND indices must select each sample's own rows (batch-dependent first component)")
    loc = ba[0]  # per-sample (..., k): component 0 within the sample's block of m rows
    dims = (m,) + tuple(cv.s1[d][1:k])
    if any(loc[..., j].min() < -dims[j] or loc[..., j].max() >= dims[j] for j in range(k)):
        cv.fail(node, "GatherND index out of range")
    loc = np.where(loc < 0, loc + np.array(dims), loc)
    lin = np.ravel_multi_index(tuple(loc[..., j] for j in range(k)), dims)
    rest = list(cv.s1[d][k:])
    x = cv.emit(node, "reshape", [d], attrs={"shape": [-1, int(np.prod(dims))] + rest}, name=cv.nm(node, "_flat"))
    return _per_sample_take(cv, node, x, lin, rest)


def h_gather_elements(cv, node, at):
    return cv.emit(node, "gather", [cv.act(node, 0), cv.act(node, 1)], attrs={"axis": int(at.get("axis", 0))})


def h_expand(cv, node, at):
    x = cv.act(node, 0)
    c = cv.val(node, 1)
    if not isinstance(c, _C):
        cv.fail(node, "the target shape must be computable without values")
    o1, o2 = _bcast(cv.s1[x], c.v1), _bcast(cv.s2[x], c.v2)
    if o1 is None or o2 is None:
        cv.fail(node, f"cannot expand {list(cv.s1[x])} to {list(c.v1)}")
    k = len(o1) - len(cv.s1[x])
    if k:
        x = _reshape_to(cv, node, x, (1,) * k + cv.s1[x], (1,) * k + cv.s2[x], name=cv.nm(node, "_rank"))
    shape = []
    for a, b, p, q in zip(cv.s1[x], cv.s2[x], o1, o2):
        if (a, b) == (p, q):
            shape.append(-1)
        elif a == b == 1 and p == q:
            shape.append(int(p))
        else:
            cv.fail(node, f"Expand of {list(cv.s1[x])} to the batch size is not supported")
    if all(s == -1 for s in shape):
        return x
    return cv.emit(node, "expand", [x], attrs={"shape": shape})


def h_tile(cv, node, at):
    x = cv.act(node, 0)
    reps = [int(r) for r in cv.const(node, 1).reshape(-1)]
    out = x
    for a, r in enumerate(reps):
        if r == 1:
            continue
        if cv.s1[x][a] != cv.s2[x][a]:
            cv.fail(node, "Tile along the batch axis")
        out = cv.emit(node, "concat", [out] * r, attrs={"axis": a}, name=cv.nm(node, f"_{a}"))
    return out


def h_pad(cv, node, at):
    x = cv.act(node, 0)
    nd = len(cv.s1[x])
    if cv.opset < 11:
        pads, value = list(at["pads"]), float(at.get("value", 0.0))
    else:
        pads = [int(p) for p in cv.const(node, 1).reshape(-1)]
        v = cv.const(node, 2)
        value = 0.0 if v is None or v.size == 0 else _fval(v)
        axes = cv.const(node, 3)
        if axes is not None:
            full = [0] * (2 * nd)
            for j, a in enumerate(int(a) % nd for a in axes.reshape(-1)):
                full[a], full[nd + a] = pads[j], pads[len(axes.reshape(-1)) + j]
            pads = full
    if min(pads) < 0:
        cv.fail(node, "negative padding (cropping) is not supported")
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(_s(at, "mode", "constant"))
    if mode is None:
        cv.fail(node, f"Pad mode {_s(at, 'mode')!r} is not supported")
    if not any(pads):
        return x
    attrs = {"pads": pads, "mode": mode}
    if mode == "constant" and value != 0:
        attrs["value"] = value
    return cv.emit(node, "pad", [x], attrs=attrs)


# ---------------------------------------------------------------- reductions

def _reduce(kind, pre=None, post=None):
    def h(cv, node, at):
        x = cv.act(node, 0)
        axes = _axes_of(cv, node, at, 1)
        if not axes:
            if at.get("noop_with_empty_axes", 0):
                return x
            cv.fail(node, "reduction over all axes would mix samples")
        if pre == "square":
            x = cv.emit(node, "mul", [x, x], name=cv.nm(node, "_sq"))
        y = cv.emit(node, kind, [x], attrs={"axes": axes, "keepdims": bool(at.get("keepdims", 1))},
                    name=cv.nm(node, "_sum") if post else None)
        return cv.emit(node, post, [y]) if post else y
    return h


def _arg(kind):
    def h(cv, node, at):
        if at.get("select_last_index", 0):
            cv.fail(node, f"{node.op_type} with select_last_index=1 is not supported")
        return cv.emit(node, kind, [cv.act(node, 0)], attrs={"axis": int(at.get("axis", 0)),
                                                             "keepdims": bool(at.get("keepdims", 1))})
    return h


def h_cumsum(cv, node, at):
    if at.get("exclusive", 0) or at.get("reverse", 0):
        cv.fail(node, "CumSum with exclusive or reverse is not supported")
    return cv.emit(node, "cumsum", [cv.act(node, 0)], attrs={"axis": int(np.asarray(cv.const(node, 1)).reshape(-1)[0])})


# ---------------------------------------------------------------- max-pooling indices (_Plane values)

def _plane_reshape(h):
    """Reshape-like ops act on the local indices; the linear order (and so each entry's plane) is kept."""
    def f(cv, node, at, p):
        cv.vals[node.input[0]] = p.local
        try:
            out = h(cv, node, at)
        finally:
            cv.vals[node.input[0]] = p
        return _Plane(out, p.size, p.chans, p.n)
    return f


def _plane_slice(cv, node, at, p):
    nd = len(cv.s1[p.local])
    axes = cv.const(node, 3, np.arange(len(cv.const(node, 1))))
    if nd < 3 or cv.s1[p.local][1] != p.chans or any(int(a) % nd < 2 for a in axes.reshape(-1)):
        cv.fail(node, "max-pooling indices may be sliced along spatial axes only")
    out = _plane_reshape(h_slice)(cv, node, at, p)
    out.n = int(np.prod(cv.s1[out.local][2:]))
    return out


def _plane_sub(cv, node, at, p):
    q = cv.val(node, 1)
    if not isinstance(q, _Plane) or (q.size, q.chans) != (p.size, p.chans):
        cv.fail(node, "max-pooling indices may only be subtracted from indices of the same planes")
    return cv.emit(node, "sub", [p.local, q.local])


def _plane_offset(cv, x, c):
    """``c`` (batch-dependent) = (sample * C + channel) * size for an activation x (B, C, ...): size, else None."""
    ba = _batch_affine(c) if isinstance(c, _C) else None
    sx = cv.s1[x]
    if ba is None or len(sx) < 2 or c.v1.ndim != len(sx) or c.v1.shape[1] != sx[1] \
            or any(d != 1 for d in c.v1.shape[2:]):
        return None
    ch = sx[1]
    first = ba[0].reshape(ch)
    size = int(first[1]) if ch > 1 else int(np.asarray(ba[1]).reshape(-1)[0])
    if size < 1 or not np.array_equal(first, np.arange(ch) * size) or not np.all(ba[1] == ch * size):
        return None
    return size


def h_add(cv, node, at):
    for i in (0, 1):
        x, c = cv.val(node, i), cv.val(node, 1 - i)
        if isinstance(x, str) and isinstance(c, _C) and not c.static and cv.dt[x] == "int64":
            size = _plane_offset(cv, x, c)
            if size is not None:  # local positions plus each plane's base: flat unpooling indices
                return _Plane(x, size, cv.s1[x][1], int(np.prod(cv.s1[x][2:])))
    return _binary("add", True)(cv, node, at)


def h_scatter_nd(cv, node, at):
    data, p, upd = cv.val(node, 0), cv.val(node, 1), cv.act(node, 2)
    if _s(at, "reduction", "none") != "none" or not isinstance(p, _Plane) or not isinstance(data, _C) \
            or data.v1.ndim != 1 or np.any(data.v1) or np.any(data.v2) or cv.s1[p.local][-1] != 1:
        cv.fail(node, "ScatterND is supported as unpooling only: max-pooling indices scattered into a flat "
                      "zero tensor")
    per = p.chans * p.size
    if data.v1.shape != (per,) or data.v2.shape != (2 * per,):
        cv.fail(node, "ScatterND target does not hold the index planes of each sample")
    n_upd = int(np.prod(cv.s1[upd]))
    if n_upd != p.chans * p.n or int(np.prod(cv.s1[p.local])) != n_upd:
        cv.fail(node, "ScatterND updates do not match the indices")
    x = cv.emit(node, "reshape", [upd], attrs={"shape": [-1, p.chans, p.n]}, name=cv.nm(node, "_x"))
    i = cv.emit(node, "reshape", [p.local], attrs={"shape": [-1, p.chans, p.n]}, name=cv.nm(node, "_i"))
    y = cv.emit(node, "max_unpool", [x, i], attrs={"output_size": [p.size]}, name=cv.nm(node, "_unpool"))
    return cv.emit(node, "reshape", [y], attrs={"shape": [-1]})


HANDLERS = {
    # GEMMs
    "Conv": h_conv, "ConvTranspose": h_conv_transpose, "Gemm": h_gemm, "MatMul": h_matmul,
    # elementwise
    "Add": h_add, "ScatterND": h_scatter_nd, "Sub": _binary("sub"), "Mul": _binary("mul", True), "Div": _binary("div"),
    "Pow": _binary("pow"), "Max": _binary("maximum", True), "Min": _binary("minimum", True),
    "Sum": _binary("add", True),
    "Equal": _binary("eq", True, bool_out=True), "Less": _binary("lt", rev="gt", bool_out=True),
    "LessOrEqual": _binary("le", rev="ge", bool_out=True), "Greater": _binary("gt", rev="lt", bool_out=True),
    "GreaterOrEqual": _binary("ge", rev="le", bool_out=True),
    "And": _binary("mul", True, bool_out=True), "Or": _binary("maximum", True, bool_out=True),
    "Xor": _binary("ne", True, bool_out=True), "Not": h_not, "IsNaN": h_isnan, "IsInf": h_isinf, "PRelu": h_prelu,
    "Relu": _unary("relu"), "Tanh": _unary("tanh"), "Sigmoid": _unary("sigmoid"), "Erf": _unary("erf"),
    "Exp": _unary("exp"), "Log": _unary("log"), "Sqrt": _unary("sqrt"), "Neg": h_neg, "Abs": _unary("abs"),
    "Sin": _unary("sin"), "Cos": _unary("cos"), "Reciprocal": _unary("reciprocal"), "Softplus": h_softplus,
    "HardSwish": _unary("hardswish"), "HardSigmoid": h_hardsigmoid, "Gelu": h_gelu, "Clip": h_clip,
    "LeakyRelu": h_leaky_relu, "Elu": h_elu, "Where": h_where, "Cast": h_cast, "CastLike": h_cast,
    "Identity": _identity, "Dropout": h_dropout, "Trilu": h_trilu,
    # normalisation, softmax
    "Softmax": _softmax("softmax"), "LogSoftmax": _softmax("log_softmax"), "LayerNormalization": h_layernorm,
    "RMSNormalization": h_rmsnorm, "BatchNormalization": h_batchnorm, "InstanceNormalization": h_instancenorm,
    "GroupNormalization": h_groupnorm,
    # pooling, resize
    "MaxPool": _pool("max"), "AveragePool": _pool("avg"), "GlobalAveragePool": _global("avg"),
    "GlobalMaxPool": _global("max"), "MaxUnpool": h_max_unpool, "Resize": h_resize,
    # shapes and indexing
    "Flatten": h_flatten, "Reshape": h_reshape, "Unsqueeze": h_unsqueeze, "Squeeze": h_squeeze,
    "Transpose": h_transpose, "Concat": h_concat, "Slice": h_slice, "Split": h_split, "Gather": h_gather,
    "GatherElements": h_gather_elements, "GatherND": h_gather_nd, "Expand": h_expand, "Tile": h_tile, "Pad": h_pad,
    "DepthToSpace": h_depth_space, "SpaceToDepth": h_depth_space,
    # reductions
    "ReduceMean": _reduce("mean"), "ReduceSum": _reduce("sum"), "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"), "ReduceSumSquare": _reduce("sum", pre="square"),
    "ReduceL2": _reduce("sum", pre="square", post="sqrt"), "ArgMax": _arg("argmax"), "ArgMin": _arg("argmin"),
    "CumSum": h_cumsum,
}
PLANE_OPS = {"Reshape": _plane_reshape(h_reshape), "Unsqueeze": _plane_reshape(h_unsqueeze),
             "Squeeze": _plane_reshape(h_squeeze), "Flatten": _plane_reshape(h_flatten), "Slice": _plane_slice,
             "Sub": _plane_sub, "Identity": lambda cv, node, at, p: p}

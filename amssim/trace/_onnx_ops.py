"""ONNX operator handlers of :mod:`.import_onnx` (one function per operator family)."""

from __future__ import annotations

import math

import numpy as np

from .import_onnx import _C


def _is_act(cv, node, i):
    return i < len(node.input) and isinstance(cv.vals.get(node.input[i]), str)


def h_conv(cv, node, at):
    x, w = cv.act(node, 0), cv.const(node, 1)
    b = cv.const(node, 2)
    nd = w.ndim - 2
    if nd not in (1, 2):
        cv.fail(node, f"only 1-d and 2-d convolutions are supported (got {nd}-d)")
    if at.get("group", 1) != 1:
        cv.fail(node, f"grouped convolution (group={at['group']}) is not supported")
    stride = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    pads = list(at.get("pads", [0] * (2 * nd)))
    ap = at.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    if ap in ("SAME_UPPER", "SAME_LOWER"):
        sp = cv.s1[x][2:]
        pads = [0] * (2 * nd)
        for i in range(nd):
            out = -(-sp[i] // stride[i])
            tot = max(0, (out - 1) * stride[i] + dil[i] * (w.shape[2 + i] - 1) + 1 - sp[i])
            small, big = tot // 2, tot - tot // 2
            pads[i], pads[nd + i] = (small, big) if ap == "SAME_UPPER" else (big, small)
    elif ap == "VALID":
        pads = [0] * (2 * nd)
    return cv.emit(node, f"conv{nd}d", [x], {"weight": w, "bias": b},
                   {"stride": stride, "padding": pads, "dilation": dil})


def h_gemm(cv, node, at):
    x = cv.act(node, 0)
    if at.get("transA", 0):
        cv.fail(node, "Gemm with transA=1 is not supported")
    w = cv.const(node, 1).astype(np.float32)
    w = w if at.get("transB", 0) else w.T
    w = w * np.float32(at.get("alpha", 1.0))
    c = cv.const(node, 2)
    bias = None if c is None else np.broadcast_to(np.float32(at.get("beta", 1.0)) * c, (w.shape[0],))
    return cv.emit(node, "linear", [x], {"weight": np.ascontiguousarray(w), "bias": bias})


def h_matmul(cv, node, at):
    a = cv.act(node, 0)
    if _is_act(cv, node, 1):
        return cv.emit(node, "matmul", [a, cv.act(node, 1)])
    w = cv.const(node, 1)
    if w.ndim != 2:
        cv.fail(node, "MatMul with a constant of rank != 2 is not supported")
    return cv.emit(node, "linear", [a], {"weight": np.ascontiguousarray(w.T)})


def _fval(v):
    v = float(np.asarray(v).reshape(-1)[0])
    return ("inf" if v > 0 else "-inf") if math.isinf(v) else v


def _binary(kind):
    def h(cv, node, at):
        if _is_act(cv, node, 0) and _is_act(cv, node, 1):
            return cv.emit(node, kind, [cv.act(node, 0), cv.act(node, 1)])
        if _is_act(cv, node, 0):
            x, c = cv.act(node, 0), cv.const(node, 1)
        else:
            x, c = cv.act(node, 1), cv.const(node, 0)
            if kind == "sub":
                neg = cv.emit(node, "mul", [x], attrs={"scalar": -1.0}, name=(node.name or node.output[0]) + "_neg")
                return _emit_const(cv, node, "add", neg, c)
            if kind == "div":
                cv.fail(node, "division of a constant by an activation is not supported")
        return _emit_const(cv, node, kind, x, c)
    return h


def _emit_const(cv, node, kind, x, c):
    c = np.asarray(c, np.float32)
    if c.size == 1:
        return cv.emit(node, kind, [x], attrs={"scalar": _fval(c)})
    return cv.emit(node, kind, [x], params={"other": c})


def _simple(kind):
    return lambda cv, node, at: cv.emit(node, kind, [cv.act(node, 0)])


def h_gelu(cv, node, at):
    ap = at.get("approximate", b"none")
    return cv.emit(node, "gelu", [cv.act(node, 0)], attrs={"approximate": ap.decode() if isinstance(ap, bytes) else ap})


def _softmax(kind):
    def h(cv, node, at):
        axis = at.get("axis", -1)
        return cv.emit(node, kind, [cv.act(node, 0)], attrs={"axis": int(axis)})
    return h


def h_layernorm(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", -1)) % len(cv.s1[x])
    shape = list(cv.s1[x][axis:])
    w, b = cv.const(node, 1), cv.const(node, 2)
    return cv.emit(node, "layernorm", [x], {"weight": None if w is None else np.reshape(w, shape),
                                            "bias": None if b is None else np.reshape(b, shape)},
                   {"normalized_shape": shape, "eps": float(at.get("epsilon", 1e-5))})


def h_batchnorm(cv, node, at):
    x = cv.act(node, 0)
    return cv.emit(node, "batchnorm", [x], {"weight": cv.const(node, 1), "bias": cv.const(node, 2),
                                            "mean": cv.const(node, 3), "var": cv.const(node, 4)},
                   {"eps": float(at.get("epsilon", 1e-5))})


def _pool(mode):
    def h(cv, node, at):
        x = cv.act(node, 0)
        k = list(at["kernel_shape"])
        nd = len(k)
        if any(d != 1 for d in at.get("dilations", [1] * nd)):
            cv.fail(node, "dilated pooling is not supported")
        ap = at.get("auto_pad", b"NOTSET")
        if (ap.decode() if isinstance(ap, bytes) else ap) != "NOTSET":
            cv.fail(node, "pooling with auto_pad is not supported")
        attrs = {"mode": mode, "kernel": k, "stride": list(at.get("strides", [1] * nd)),
                 "padding": list(at.get("pads", [0] * (2 * nd))), "ceil_mode": bool(at.get("ceil_mode", 0))}
        if mode == "avg":
            attrs["count_include_pad"] = bool(at.get("count_include_pad", 0))
        return cv.emit(node, "pool", [x], attrs=attrs)
    return h


def _global(mode):
    return lambda cv, node, at: cv.emit(node, "pool", [cv.act(node, 0)], attrs={"mode": mode, "global": True})


def h_flatten(cv, node, at):
    if int(at.get("axis", 1)) != 1:
        cv.fail(node, "Flatten with axis != 1 is not supported")
    return cv.emit(node, "flatten", [cv.act(node, 0)], attrs={"start_dim": 1, "end_dim": -1})


def h_reshape(cv, node, at):
    x = cv.act(node, 0)
    c = cv.vals.get(node.input[1])
    if not isinstance(c, _C):
        cv.fail(node, "the target shape must be computable without values")
    return cv.emit(node, "reshape", [x], attrs={"shape": cv.target(node, x, c)})


def _reshape_to(cv, node, x, new1, new2):
    tgt = [int(d) for d in new1]
    dep = [i for i, (a, b) in enumerate(zip(new1, new2)) if a != b]
    if len(dep) != 1:
        cv.fail(node, f"cannot place the batch axis in shape {list(new1)}")
    tgt[dep[0]] = -1
    return cv.emit(node, "reshape", [x], attrs={"shape": tgt})


def h_unsqueeze(cv, node, at):
    x = cv.act(node, 0)
    axes = list(at["axes"]) if "axes" in at else [int(a) for a in cv.const(node, 1).reshape(-1)]
    n = len(cv.s1[x]) + len(axes)
    s1, s2 = list(cv.s1[x]), list(cv.s2[x])
    for a in sorted(a % n for a in axes):
        s1.insert(a, 1)
        s2.insert(a, 1)
    return _reshape_to(cv, node, x, s1, s2)


def h_squeeze(cv, node, at):
    x = cv.act(node, 0)
    nd = len(cv.s1[x])
    if "axes" in at or len(node.input) > 1:
        axes = list(at["axes"]) if "axes" in at else [int(a) for a in cv.const(node, 1).reshape(-1)]
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
    return cv.emit(node, "concat", [cv.act(node, i) for i in range(len(node.input))], attrs={"axis": int(at["axis"])})


def h_slice(cv, node, at):
    x = cv.act(node, 0)
    starts, ends = cv.const(node, 1), cv.const(node, 2)
    axes = cv.const(node, 3, np.arange(len(starts)))
    steps = cv.const(node, 4, np.ones(len(starts), np.int64))
    out = x
    for j, (a, s, e, st) in enumerate(zip(axes, starts, ends, steps)):
        out = cv.emit(node, "slice", [out], attrs={"axis": int(a), "start": int(s), "end": int(min(e, 2**62)),
                                                   "step": int(st)},
                      name=(node.name or node.output[0]) + (f"_{j}" if j else ""))
    return out


def h_split(cv, node, at):
    x = cv.act(node, 0)
    axis = int(at.get("axis", 0))
    size = cv.s1[x][axis]
    n = len(node.output)
    sizes = cv.const(node, 1) if len(node.input) > 1 and node.input[1] else at.get("split")
    if sizes is None:
        sizes = [-(-size // n)] * (n - 1) + [size - (n - 1) * -(-size // n)]
    outs, start = [], 0
    for j, k in enumerate(int(v) for v in np.asarray(sizes).reshape(-1)):
        outs.append(cv.emit(node, "slice", [x], attrs={"axis": axis, "start": start, "end": start + k, "step": 1},
                            name=node.output[j]))
        start += k
    return tuple(outs)


def h_gather(cv, node, at):
    axis = int(at.get("axis", 0))
    if not _is_act(cv, node, 0):
        table = cv.const(node, 0)
        if axis != 0 or table.ndim != 2:
            cv.fail(node, "Gather from a constant must be a 2-d table lookup on axis 0 (embedding)")
        return cv.emit(node, "embedding", [cv.act(node, 1)], {"weight": table})
    idx = cv.const(node, 1)
    if idx.ndim != 0:
        cv.fail(node, "Gather of an activation needs a scalar constant index")
    return cv.emit(node, "select", [cv.act(node, 0)], attrs={"axis": axis, "index": int(idx)})


def _reduce(kind):
    def h(cv, node, at):
        x = cv.act(node, 0)
        axes = list(at["axes"]) if "axes" in at else (
            [int(a) for a in cv.const(node, 1).reshape(-1)] if len(node.input) > 1 and node.input[1] else None)
        if not axes:
            cv.fail(node, "reduction over all axes would mix samples")
        return cv.emit(node, kind, [x], attrs={"axes": axes, "keepdims": bool(at.get("keepdims", 1))})
    return h


def h_equal(cv, node, at):
    c = cv.const(node, 1)
    if c.size != 1:
        cv.fail(node, "Equal needs a scalar constant second operand")
    return cv.emit(node, "eq", [cv.act(node, 0)], attrs={"scalar": float(c.reshape(-1)[0])})


def h_not(cv, node, at):
    return cv.emit(node, "eq", [cv.act(node, 0)], attrs={"scalar": 0.0})


def _materialize(cv, node, i, like):
    """A batch-sized uniform constant (e.g. zeros of a computed shape) -> full_like(like)."""
    c = cv.vals.get(node.input[i])
    if isinstance(c, _C) and not c.static and c.v1.size and c.v1.shape == cv.s1[like] \
            and np.all(c.v1 == c.v1.reshape(-1)[0]) and c.v2.shape == cv.s2[like]:
        out = cv.emit(node, "full_like", [like], attrs={"value": _fval(c.v1.reshape(-1)[0])},
                      name=(node.name or node.output[0]) + f"_fill{i}")
        cv.vals[node.input[i] + "#act"] = out
        return out
    return None


def h_where(cv, node, at):
    cond = cv.act(node, 0)
    for i in (1, 2):
        m = _materialize(cv, node, i, cond)
        if m is not None:
            other = 3 - i
            v = cv.const(node, other)
            if v.size == 1:
                if i == 2:  # where(cond, value, x) -> x filled where cond
                    return cv.emit(node, "masked_fill", [m, cond], attrs={"value": _fval(v)})
                inv = cv.emit(node, "eq", [cond], attrs={"scalar": 0.0}, name=(node.name or node.output[0]) + "_not")
                return cv.emit(node, "masked_fill", [m, inv], attrs={"value": _fval(v)})
    if _is_act(cv, node, 2) and not _is_act(cv, node, 1):
        v = cv.const(node, 1)
        if v.size == 1:
            return cv.emit(node, "masked_fill", [cv.act(node, 2), cond], attrs={"value": _fval(v)})
    if _is_act(cv, node, 1) and not _is_act(cv, node, 2):
        v = cv.const(node, 2)
        if v.size == 1:
            inv = cv.emit(node, "eq", [cond], attrs={"scalar": 0.0}, name=(node.name or node.output[0]) + "_not")
            return cv.emit(node, "masked_fill", [cv.act(node, 1), inv], attrs={"value": _fval(v)})
    cv.fail(node, "Where is supported as a mask with one scalar constant branch only")


def h_expand(cv, node, at):
    x = cv.act(node, 0)
    c = cv.vals.get(node.input[1])
    if not isinstance(c, _C):
        cv.fail(node, "the target shape must be computable without values")
    t1 = [int(d) for d in c.v1]
    if len(t1) != len(cv.s1[x]):
        cv.fail(node, "Expand that changes the rank is not supported")
    shape = [-1 if (a == 1 and s != 1) or s != s2 else max(a, s) for a, s, s2 in zip(t1, cv.s1[x], cv.s2[x])]
    return cv.emit(node, "expand", [x], attrs={"shape": shape})


def _identity(cv, node, at):
    return cv.act(node, 0)


def h_cast(cv, node, at):
    from .import_onnx import _onnx_dtype

    if _onnx_dtype(at["to"]).kind not in "fb":
        cv.fail(node, "cast of an activation to an integer type is not supported")
    return cv.act(node, 0)


def h_dropout(cv, node, at):
    return (cv.act(node, 0), None)


HANDLERS = {
    "Conv": h_conv, "Gemm": h_gemm, "MatMul": h_matmul, "Add": _binary("add"), "Sub": _binary("sub"),
    "Mul": _binary("mul"), "Div": _binary("div"), "Relu": _simple("relu"), "Tanh": _simple("tanh"),
    "Sigmoid": _simple("sigmoid"), "Erf": _simple("erf"), "Gelu": h_gelu, "Softmax": _softmax("softmax"),
    "LogSoftmax": _softmax("log_softmax"), "LayerNormalization": h_layernorm, "BatchNormalization": h_batchnorm,
    "MaxPool": _pool("max"), "AveragePool": _pool("avg"), "GlobalAveragePool": _global("avg"),
    "GlobalMaxPool": _global("max"), "Flatten": h_flatten, "Reshape": h_reshape, "Unsqueeze": h_unsqueeze,
    "Squeeze": h_squeeze, "Transpose": h_transpose, "Concat": h_concat, "Slice": h_slice, "Split": h_split, "Gather": h_gather,
    "ReduceMean": _reduce("mean"), "ReduceSum": _reduce("sum"), "Equal": h_equal, "Not": h_not,
    "Where": h_where, "Expand": h_expand, "Identity": _identity, "Cast": h_cast, "Dropout": h_dropout,
}

"""aten operator handlers of :mod:`.import_torch` (one function per aten op family)."""

from __future__ import annotations

import math

import numpy as np

from .import_torch import _Act


def _get(args, kwargs, i, key, default=None):
    if key in kwargs:
        return kwargs[key]
    return args[i] if len(args) > i else default


def _list(v, n):
    if isinstance(v, (list, tuple)):
        v = list(v)
        return v * n if len(v) == 1 else v
    return [v] * n


def _is_const(v):
    import torch

    return isinstance(v, torch.Tensor)


def _np(v):
    return None if v is None else v.detach().cpu().numpy().astype(np.float32)


def _out(c, node, kind, inputs, params=None, attrs=None, name=None):
    return _Act(c.b.add(kind, [c.act(node, x) if not isinstance(x, str) else x for x in inputs],
                        name=name or node.name, params=params, attrs=attrs))


def _fval(v):
    v = float(v.item() if hasattr(v, "item") else v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def h_linear(c, node, args, kw):
    x, w, b = args[0], args[1], _get(args, kw, 2, "bias")
    if not _is_const(w):
        c.fail(node, "linear weight must be a constant")
    return _out(c, node, "linear", [x], {"weight": _np(w), "bias": _np(b)})


def _conv(c, node, x, w, b, stride, padding, dilation, groups):
    if not _is_const(w):
        c.fail(node, "convolution weight must be a constant")
    nd = w.dim() - 2
    if nd not in (1, 2):
        c.fail(node, f"only 1-d and 2-d convolutions are supported (got {nd}-d)")
    if groups != 1:
        c.fail(node, f"grouped convolution (groups={groups}) is not supported")
    stride, dilation = _list(stride, nd), _list(dilation, nd)
    k = list(w.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = [0] * nd
        else:
            tot = [dilation[i] * (k[i] - 1) for i in range(nd)]
            lo = [t // 2 for t in tot]
            hi = [t - t // 2 for t in tot]
    else:
        lo = hi = _list(padding, nd)
    attrs = {"stride": stride, "padding": list(lo) + list(hi), "dilation": dilation}
    return _out(c, node, f"conv{nd}d", [x], {"weight": _np(w), "bias": _np(b)}, attrs)


def h_conv(c, node, args, kw):
    g = lambda i, k, d: _get(args, kw, i, k, d)  # noqa: E731
    return _conv(c, node, args[0], args[1], g(2, "bias", None), g(3, "stride", 1), g(4, "padding", 0),
                 g(5, "dilation", 1), g(6, "groups", 1))


def h_convolution(c, node, args, kw):
    x, w, b, stride, padding, dilation, transposed, _, groups = args[:9]
    if transposed:
        c.fail(node, "transposed convolution is not supported")
    return _conv(c, node, x, w, b, stride, padding, dilation, groups)


def _bn(c, node, x, w, b, mean, var, eps):
    if not all(v is None or _is_const(v) for v in (w, b, mean, var)):
        c.fail(node, "batch_norm statistics and affine parameters must be constants")
    if mean is None or var is None:
        c.fail(node, "batch_norm without running statistics (training mode) is not supported")
    return _out(c, node, "batchnorm", [x], {"mean": _np(mean), "var": _np(var), "weight": _np(w), "bias": _np(b)},
                {"eps": float(eps)})


def h_batch_norm(c, node, args, kw):
    x, w, b, mean, var, training, _, eps = args[:8]
    if training:
        c.fail(node, "batch_norm in training mode (call model.eval())")
    return _bn(c, node, x, w, b, mean, var, eps)


def h_bn_no_training(c, node, args, kw):
    x, w, b, mean, var, _, eps = args[:7]
    return (_bn(c, node, x, w, b, mean, var, eps), None, None)


def h_layer_norm(c, node, args, kw):
    x, shape = args[0], list(args[1])
    w, b = _get(args, kw, 2, "weight"), _get(args, kw, 3, "bias")
    eps = _get(args, kw, 4, "eps", 1e-5)
    y = _out(c, node, "layernorm", [x], {"weight": _np(w), "bias": _np(b)},
             {"normalized_shape": shape, "eps": float(eps)})
    return (y, None, None) if "native" in str(node.target) else y


def h_embedding(c, node, args, kw):
    w, ids = args[0], args[1]
    if not _is_const(w):
        c.fail(node, "embedding table must be a constant")
    return _out(c, node, "embedding", [ids], {"weight": _np(w)})


def _simple(kind):
    return lambda c, node, args, kw: _out(c, node, kind, [args[0]])


def h_gelu(c, node, args, kw):
    return _out(c, node, "gelu", [args[0]], attrs={"approximate": _get(args, kw, 1, "approximate", "none")})


def _softmax(kind):
    return lambda c, node, args, kw: _out(c, node, kind, [args[0]], attrs={"axis": int(args[1])})


def _pool(mode, nd):
    def h(c, node, args, kw):
        x, k = args[0], _list(args[1], nd)
        stride = _get(args, kw, 2, "stride", None) or k
        padding = _list(_get(args, kw, 3, "padding", 0), nd)
        if mode == "max":
            dil = _list(_get(args, kw, 4, "dilation", 1), nd)
            if any(d != 1 for d in dil):
                c.fail(node, "dilated pooling is not supported")
            ceil = bool(_get(args, kw, 5, "ceil_mode", False))
            attrs = {"mode": "max", "kernel": k, "stride": _list(stride, nd), "padding": padding * 2,
                     "ceil_mode": ceil}
        else:
            ceil = bool(_get(args, kw, 4, "ceil_mode", False))
            attrs = {"mode": "avg", "kernel": k, "stride": _list(stride, nd), "padding": padding * 2,
                     "ceil_mode": ceil, "count_include_pad": bool(_get(args, kw, 5, "count_include_pad", True))}
            if _get(args, kw, 6, "divisor_override", None) is not None:
                c.fail(node, "avg_pool divisor_override is not supported")
        y = _out(c, node, "pool", [x], attrs=attrs)
        return (y, None) if "indices" in str(node.target) else y
    return h


def h_adaptive_avg(c, node, args, kw):
    size = _list(args[1], 1)
    if any(s != 1 for s in size):
        c.fail(node, f"adaptive average pooling to {list(size)} (only output size 1 = global) is not supported")
    return _out(c, node, "pool", [args[0]], attrs={"mode": "avg", "global": True})


def _reduce(kind):
    def h(c, node, args, kw):
        dims = _get(args, kw, 1, "dim", None)
        if dims is None:
            c.fail(node, f"{kind} over all axes would mix samples")
        dims = [int(d) for d in _list(dims, 1)]
        return _out(c, node, kind, [args[0]], attrs={"axes": dims, "keepdims": bool(_get(args, kw, 2, "keepdim", False))})
    return h


def h_flatten(c, node, args, kw):
    return _out(c, node, "flatten", [args[0]], attrs={"start_dim": int(_get(args, kw, 1, "start_dim", 0)),
                                                      "end_dim": int(_get(args, kw, 2, "end_dim", -1))})


def h_reshape(c, node, args, kw):
    return _out(c, node, "reshape", [args[0]], attrs={"shape": c._shape(node)})


def h_expand(c, node, args, kw):
    return _out(c, node, "expand", [args[0]], attrs={"shape": c._shape(node)})


def h_permute(c, node, args, kw):
    return _out(c, node, "transpose", [args[0]], attrs={"perm": [int(p) for p in args[1]]})


def h_transpose(c, node, args, kw):
    nd = len(node.meta["val"].shape)
    perm = list(range(nd))
    if "int" in str(node.target):
        a, b = int(args[1]) % nd, int(args[2]) % nd
        perm[a], perm[b] = perm[b], perm[a]
    else:
        perm = perm[::-1]
    return _out(c, node, "transpose", [args[0]], attrs={"perm": perm})


def h_cat(c, node, args, kw):
    return _out(c, node, "concat", list(args[0]), attrs={"axis": int(_get(args, kw, 1, "dim", 0))})


def h_slice(c, node, args, kw):
    dim = int(_get(args, kw, 1, "dim", 0))
    start = _get(args, kw, 2, "start", None)
    end = _get(args, kw, 3, "end", None)
    if (start or 0) == 0 and (end is None or end >= 2**62) and _get(args, kw, 4, "step", 1) == 1:
        return args[0]  # a full slice (e.g. x[:, None]) is the identity
    attrs = {"axis": dim, "start": int(start or 0), "end": int(min(end, 2**62)) if end is not None else 2**62,
             "step": int(_get(args, kw, 4, "step", 1))}
    return _out(c, node, "slice", [args[0]], attrs=attrs)


def h_select(c, node, args, kw):
    return _out(c, node, "select", [args[0]], attrs={"axis": int(args[1]), "index": int(args[2])})


def h_unbind(c, node, args, kw):
    dim = int(_get(args, kw, 1, "dim", 0))
    return tuple(_out(c, node, "select", [args[0]], attrs={"axis": dim, "index": i}, name=f"{node.name}_{i}")
                 for i in range(len(node.meta["val"])))


def h_split(c, node, args, kw):
    dim = int(_get(args, kw, 2, "dim", 0))
    outs, start = [], 0
    for i, v in enumerate(node.meta["val"]):
        n = int(v.shape[dim])
        outs.append(_out(c, node, "slice", [args[0]], attrs={"axis": dim, "start": start, "end": start + n, "step": 1},
                         name=f"{node.name}_{i}"))
        start += n
    return tuple(outs)


def h_eq(c, node, args, kw):
    s = args[1]
    if _is_const(s):
        if s.dim() != 0:
            c.fail(node, "eq with a non-scalar constant is not supported")
        s = s.item()
    if isinstance(s, _Act):
        c.fail(node, "eq between two activations is not supported")
    return _out(c, node, "eq", [args[0]], attrs={"scalar": float(s)})


def h_logical_not(c, node, args, kw):
    import torch

    if node.meta["val"].dtype != torch.bool:
        c.fail(node, "bitwise operations on non-boolean tensors are not supported")
    return _out(c, node, "eq", [args[0]], attrs={"scalar": 0.0})


def h_masked_fill(c, node, args, kw):
    return _out(c, node, "masked_fill", [args[0], args[1]], attrs={"value": _fval(args[2])})


def _full_like(value):
    def h(c, node, args, kw):
        v = value if value is not None else _get(args, kw, 1, "fill_value")
        return _out(c, node, "full_like", [args[0]], attrs={"value": _fval(v)})
    return h


def h_to(c, node, args, kw):
    import torch

    dt = node.meta["val"].dtype
    if dt not in (torch.float32, torch.bool):
        c.fail(node, f"cast to {dt} is not supported")
    return args[0]


def _binary(kind):
    def h(c, node, args, kw):
        a, b = args[0], args[1]
        alpha = _get(args, kw, 2, "alpha", 1)
        if kind == "div" and kw.get("rounding_mode") is not None:
            c.fail(node, "div with a rounding mode is not supported")
        if alpha != 1:
            if isinstance(b, _Act):
                c.fail(node, f"{kind} with alpha={alpha} between activations is not supported")
            b = b * alpha
        if not isinstance(a, _Act):
            if kind in ("add", "mul"):
                a, b = b, a
            elif kind == "sub":  # c - x = (-1 * x) + c
                neg = _out(c, node, "mul", [b], attrs={"scalar": -1.0}, name=node.name + "_neg")
                a, b, kind2 = neg, a, "add"
                return _bin_emit(c, node, "add", a, b)
            else:
                c.fail(node, "division of a constant by an activation is not supported")
        return _bin_emit(c, node, kind, a, b)
    return h


def _bin_emit(c, node, kind, a, b):
    if isinstance(b, _Act):
        return _out(c, node, kind, [a, b])
    if _is_const(b) and b.dim() > 0:
        return _out(c, node, kind, [a], params={"other": _np(b)})
    return _out(c, node, kind, [a], attrs={"scalar": _fval(b)})


def h_matmul(c, node, args, kw):
    a, b = args[0], args[1]
    if isinstance(a, _Act) and isinstance(b, _Act):
        return _out(c, node, "matmul", [a, b])
    if isinstance(a, _Act) and _is_const(b) and b.dim() == 2:
        return _out(c, node, "linear", [a], {"weight": _np(b).T.copy()})
    c.fail(node, "matmul with a constant left operand or a >2-d constant is not supported")


def h_addmm(c, node, args, kw):
    bias, x, w = args[:3]
    if not (_is_const(w) and (bias is None or _is_const(bias))):
        c.fail(node, "addmm needs constant weight and bias")
    if _get(args, kw, 3, "beta", 1) != 1 or _get(args, kw, 4, "alpha", 1) != 1:
        c.fail(node, "addmm with alpha/beta != 1 is not supported")
    return _out(c, node, "linear", [x], {"weight": _np(w).T.copy(), "bias": _np(bias)})


def h_sdpa(c, node, args, kw):
    q, k, v = args[:3]
    mask = _get(args, kw, 3, "attn_mask")
    if float(_get(args, kw, 4, "dropout_p", 0.0)) != 0.0:
        c.fail(node, "attention dropout must be 0 (eval mode)")
    if _get(args, kw, 5, "is_causal", False):
        c.fail(node, "is_causal attention is not supported (pass an explicit mask)")
    if kw.get("enable_gqa", False):
        c.fail(node, "grouped-query attention is not supported")
    e = node.args[0].meta["val"].shape[-1]
    scale = kw.get("scale") or 1.0 / math.sqrt(int(e))
    s = _out(c, node, "matmul", [q, k], attrs={"transpose_b": True}, name=node.name + "_qk")
    s = _out(c, node, "mul", [s], attrs={"scalar": float(scale)}, name=node.name + "_scale")
    if mask is not None:
        import torch

        if isinstance(mask, _Act):
            if node.args[3].meta["val"].dtype == torch.bool:
                keep_not = _out(c, node, "eq", [mask], attrs={"scalar": 0.0}, name=node.name + "_maskinv")
                s = _out(c, node, "masked_fill", [s, keep_not], attrs={"value": "-inf"}, name=node.name + "_mask")
            else:
                s = _out(c, node, "add", [s, mask], name=node.name + "_mask")
        else:
            if mask.dtype == torch.bool or not torch.isfinite(mask).all():
                c.fail(node, "a constant boolean or infinite attention mask is not supported")
            s = _out(c, node, "add", [s], params={"other": _np(mask)}, name=node.name + "_mask")
    p = _out(c, node, "softmax", [s], attrs={"axis": -1}, name=node.name + "_softmax")
    return _out(c, node, "matmul", [p, v])


HANDLERS = {
    "linear": h_linear, "conv1d": h_conv, "conv2d": h_conv, "convolution": h_convolution,
    "_convolution": h_convolution, "batch_norm": h_batch_norm,
    "_native_batch_norm_legit_no_training": h_bn_no_training, "layer_norm": h_layer_norm,
    "native_layer_norm": h_layer_norm, "embedding": h_embedding, "relu": _simple("relu"),
    "tanh": _simple("tanh"), "sigmoid": _simple("sigmoid"), "erf": _simple("erf"), "gelu": h_gelu,
    "softmax": _softmax("softmax"), "_softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "_log_softmax": _softmax("log_softmax"), "max_pool1d": _pool("max", 1), "max_pool2d": _pool("max", 2),
    "max_pool2d_with_indices": _pool("max", 2), "avg_pool1d": _pool("avg", 1), "avg_pool2d": _pool("avg", 2),
    "adaptive_avg_pool1d": h_adaptive_avg, "adaptive_avg_pool2d": h_adaptive_avg,
    "_adaptive_avg_pool2d": h_adaptive_avg, "mean": _reduce("mean"), "sum": _reduce("sum"),
    "flatten": h_flatten, "view": h_reshape, "reshape": h_reshape, "_unsafe_view": h_reshape,
    "unflatten": h_reshape, "unsqueeze": h_reshape, "squeeze": h_reshape, "expand": h_expand,
    "permute": h_permute, "transpose": h_transpose, "t": h_transpose, "numpy_T": h_transpose,
    "cat": h_cat, "unbind": h_unbind, "split": h_split, "split_with_sizes": h_split, "chunk": h_split, "slice": h_slice, "select": h_select, "eq": h_eq, "logical_not": h_logical_not, "bitwise_not": h_logical_not,
    "masked_fill": h_masked_fill, "zeros_like": _full_like(0.0), "ones_like": _full_like(1.0),
    "full_like": _full_like(None), "to": h_to, "_to_copy": h_to, "type_as": h_to,
    "add": _binary("add"), "sub": _binary("sub"), "mul": _binary("mul"), "div": _binary("div"),
    "matmul": h_matmul, "bmm": h_matmul, "mm": h_matmul, "addmm": h_addmm,
    "scaled_dot_product_attention": h_sdpa,
}

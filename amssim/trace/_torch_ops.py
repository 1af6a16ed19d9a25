"""aten operator handlers of :mod:`.import_torch`: translate each aten op into the op
table (:mod:`amssim.trace.ops`). One function per aten op family; constants that reach
an activation position become ``constant`` ops (:meth:`_Converter.act`)."""

from __future__ import annotations

import math

import numpy as np

from .import_torch import _Act, _BConst
from .ops.attention import emit_sdpa
from .ops.gemm import conv_transpose_as_conv


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
    """float32 numpy view of a constant (no copy when it already is float32 on the CPU)."""
    return None if v is None else v.detach().cpu().numpy().astype(np.float32, copy=False)


def _out(c, node, kind, inputs, params=None, attrs=None, name=None):
    return _Act(c.b.add(kind, [c.act(node, x) if not isinstance(x, str) else x for x in inputs],
                        name=name or node.name, params=params, attrs=attrs))


def _fval(v):
    v = float(v.item() if hasattr(v, "item") else v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _rank(node):
    return len(node.meta["val"].shape)


def _in_dtype(node, i):
    a = node.args[i]
    return a.meta["val"].dtype if hasattr(a, "meta") and "val" in a.meta else None


# ---------------------------------------------------------------- GEMMs

def h_linear(c, node, args, kw):
    x, w, b = args[0], args[1], _get(args, kw, 2, "bias")
    if not _is_const(w):
        c.fail(node, "linear weight must be a constant")
    return _out(c, node, "linear", [x], {"weight": _np(w), "bias": _np(b)})


def _conv(c, node, x, w, b, stride, padding, dilation, groups, transposed=False, output_padding=0):
    if not _is_const(w):
        c.fail(node, "convolution weight must be a constant")
    nd = w.dim() - 2
    if nd not in (1, 2):
        c.fail(node, f"only 1-d and 2-d convolutions are supported (got {nd}-d)")
    stride, dilation = _list(stride, nd), _list(dilation, nd)
    k = list(w.shape[2:])
    if transposed:
        try:
            wc, attrs = conv_transpose_as_conv(_np(w), stride, _list(padding, nd), _list(output_padding, nd),
                                               dilation, int(groups))
        except ValueError as exc:
            c.fail(node, str(exc))
        return _out(c, node, f"conv{nd}d", [x], {"weight": wc, "bias": _np(b)}, attrs)
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
    if int(groups) != 1:
        attrs["groups"] = int(groups)
    return _out(c, node, f"conv{nd}d", [x], {"weight": _np(w), "bias": _np(b)}, attrs)


def h_conv(c, node, args, kw):
    g = lambda i, k, d: _get(args, kw, i, k, d)  # noqa: E731
    return _conv(c, node, args[0], args[1], g(2, "bias", None), g(3, "stride", 1), g(4, "padding", 0),
                 g(5, "dilation", 1), g(6, "groups", 1))


def h_conv_transpose(c, node, args, kw):
    g = lambda i, k, d: _get(args, kw, i, k, d)  # noqa: E731
    return _conv(c, node, args[0], args[1], g(2, "bias", None), g(3, "stride", 1), g(4, "padding", 0),
                 g(7, "dilation", 1), g(6, "groups", 1), transposed=True, output_padding=g(5, "output_padding", 0))


def h_convolution(c, node, args, kw):
    x, w, b, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    return _conv(c, node, x, w, b, stride, padding, dilation, groups, bool(transposed), output_padding)


def h_matmul(c, node, args, kw):
    a, b = args[0], args[1]
    if isinstance(a, _Act) and _is_const(b) and b.dim() == 2:
        return _out(c, node, "linear", [a], {"weight": _np(b).T.copy()})
    if isinstance(a, _Act) or isinstance(b, _Act):
        return _out(c, node, "matmul", [a, b])
    c.fail(node, "matmul of constants should have been folded")


def h_baddbmm(c, node, args, kw):  # beta * input + alpha * (b1 @ b2)
    inp, b1, b2 = args[:3]
    beta, alpha = _get(args, kw, 3, "beta", 1), _get(args, kw, 4, "alpha", 1)
    y = _out(c, node, "matmul", [b1, b2], name=node.name + "_mm")
    if alpha != 1:
        y = _out(c, node, "mul", [y], attrs={"scalar": float(alpha)}, name=node.name + "_alpha")
    if beta == 0:
        return y
    if beta != 1:
        inp = _out(c, node, "mul", [inp], attrs={"scalar": float(beta)}, name=node.name + "_beta")
    return _out(c, node, "add", [y, inp])


def h_vector_norm(c, node, args, kw):  # linalg_vector_norm(x, ord, dim, keepdim)
    order = float(_get(args, kw, 1, "ord", 2))
    dims = _get(args, kw, 2, "dim", None)
    if dims is None:
        c.fail(node, "a norm over all axes would mix samples")
    attrs = {"axes": [int(d) for d in _list(dims, 1)], "keepdims": bool(_get(args, kw, 3, "keepdim", False))}
    if order == 2:
        sq = _out(c, node, "mul", [args[0], args[0]], name=node.name + "_sq")
        return _out(c, node, "sqrt", [_out(c, node, "sum", [sq], attrs=attrs, name=node.name + "_sum")])
    if order == 1:
        return _out(c, node, "sum", [_out(c, node, "abs", [args[0]], name=node.name + "_abs")], attrs=attrs)
    c.fail(node, f"vector norm of order {order} is not supported (1, 2)")


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
    causal = bool(_get(args, kw, 5, "is_causal", False))
    qs, ks = node.args[0].meta["val"].shape, node.args[1].meta["val"].shape
    mask_name, mask_bool = None, False
    if mask is not None:
        mdt = node.args[3].meta["val"].dtype if len(node.args) > 3 else node.kwargs["attn_mask"].meta["val"].dtype
        import torch

        mask_bool = mdt == torch.bool
        if not mask_bool and isinstance(mask, (_BConst,)) or (_is_const(mask) and not mask_bool):
            t = mask.t if isinstance(mask, _BConst) else mask
            if not bool(torch.isfinite(t).all()):  # -inf entries: a boolean mask in disguise
                mask = _BConst(torch.isfinite(t), torch.isfinite(mask.t2), mask.axes) \
                    if isinstance(mask, _BConst) else torch.isfinite(t)
                mask_bool = True
        mask_name = c.act(node, mask)
    q, k, v = (c.act(node, t) for t in (q, k, v))
    try:
        return _Act(emit_sdpa(c.b, q, k, v, q_shape=[int(d) if isinstance(d, int) else 1 for d in qs],
                              k_shape=[int(d) if isinstance(d, int) else 1 for d in ks], name=node.name,
                              mask=mask_name, mask_is_bool=mask_bool, causal=causal,
                              scale=kw.get("scale"), gqa=bool(kw.get("enable_gqa", False))))
    except ValueError as exc:
        c.fail(node, str(exc))


# ---------------------------------------------------------------- normalisation

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


def h_rms_norm(c, node, args, kw):
    x, shape = args[0], list(args[1])
    w, eps = _get(args, kw, 2, "weight"), _get(args, kw, 3, "eps", None)
    if eps is None:
        eps = float(np.finfo(np.float32).eps)
    return _out(c, node, "rmsnorm", [x], {"weight": _np(w)}, {"normalized_shape": shape, "eps": float(eps)})


def h_group_norm(c, node, args, kw):
    # group_norm(input, num_groups, weight, bias, eps) | native_group_norm(input, w, b, N, C, HxW, group, eps)
    if "native" in str(node.target):
        x, w, b, _, _, _, g, eps = args[:8]
    else:
        x, g = args[0], _get(args, kw, 1, "num_groups")
        w, b, eps = _get(args, kw, 2, "weight"), _get(args, kw, 3, "bias"), _get(args, kw, 4, "eps", 1e-5)
    y = _out(c, node, "groupnorm", [x], {"weight": _np(w), "bias": _np(b)}, {"groups": int(g), "eps": float(eps)})
    return (y, None, None) if "native" in str(node.target) else y


def h_instance_norm(c, node, args, kw):
    x, w, b, rm, rv, use_input_stats = args[:6]
    eps = _get(args, kw, 7, "eps", 1e-5)
    if not use_input_stats:
        return _bn(c, node, x, w, b, rm, rv, eps)
    ch = int(node.meta["val"].shape[1])
    return _out(c, node, "groupnorm", [x], {"weight": _np(w), "bias": _np(b)}, {"groups": ch, "eps": float(eps)})


# ---------------------------------------------------------------- elementwise

def _simple(kind, **fixed):
    return lambda c, node, args, kw: _out(c, node, kind, [args[0]], attrs=dict(fixed) or None)


def h_gelu(c, node, args, kw):
    return _out(c, node, "gelu", [args[0]], attrs={"approximate": _get(args, kw, 1, "approximate", "none")})


def h_clamp(c, node, args, kw):
    lo, hi = _get(args, kw, 1, "min"), _get(args, kw, 2, "max")
    if isinstance(lo, _Act) or isinstance(hi, _Act) or _is_const(lo) or _is_const(hi):
        x = args[0]
        y = x
        if lo is not None:
            y = _out(c, node, "maximum", [y, lo], name=node.name + "_lo")
        if hi is not None:
            y = _out(c, node, "minimum", [y, hi])
        return y
    attrs = {}
    if lo is not None:
        attrs["min"] = _fval(lo)
    if hi is not None:
        attrs["max"] = _fval(hi)
    return _out(c, node, "clamp", [args[0]], attrs=attrs)


def h_hardtanh(c, node, args, kw):
    return _out(c, node, "clamp", [args[0]], attrs={"min": _fval(_get(args, kw, 1, "min_val", -1.0)),
                                                    "max": _fval(_get(args, kw, 2, "max_val", 1.0))})


def h_softplus(c, node, args, kw):
    return _out(c, node, "softplus", [args[0]], attrs={"beta": float(_get(args, kw, 1, "beta", 1.0)),
                                                       "threshold": float(_get(args, kw, 2, "threshold", 20.0))})


def h_leaky_relu(c, node, args, kw):
    return _out(c, node, "leaky_relu", [args[0]], attrs={"negative_slope": float(_get(args, kw, 1, "negative_slope", 0.01))})


def h_elu(c, node, args, kw):
    if float(_get(args, kw, 2, "scale", 1.0)) != 1.0 or float(_get(args, kw, 3, "input_scale", 1.0)) != 1.0:
        c.fail(node, "elu with scale/input_scale != 1 (selu) is not supported")
    return _out(c, node, "elu", [args[0]], attrs={"alpha": float(_get(args, kw, 1, "alpha", 1.0))})


def _softmax(kind):
    return lambda c, node, args, kw: _out(c, node, kind, [args[0]], attrs={"axis": int(args[1])})


def _bin_emit(c, node, kind, a, b):
    """``kind(a, b)`` with ``a`` an activation; ``b`` an activation, constant or scalar."""
    if isinstance(b, _Act):
        return _out(c, node, kind, [a, b])
    if isinstance(b, (_BConst,)) or (_is_const(b) and b.dim() > 0):
        t = b.t if isinstance(b, _BConst) else b
        tiled = isinstance(b, _BConst) and any(t.shape[a] != 1 for a in b.axes)
        same = not tiled and tuple(node.meta["val"].shape) == tuple(node.args[0].meta["val"].shape) \
            if hasattr(node.args[0], "meta") else False
        if same and t.is_floating_point() and t.dim() <= _rank(node):
            return _out(c, node, kind, [a], params={"other": _np(t)})
        return _out(c, node, kind, [a, b])
    return _out(c, node, kind, [a], attrs={"scalar": _fval(b)})


_SWAP = {"add": "add", "mul": "mul", "maximum": "maximum", "minimum": "minimum", "eq": "eq", "ne": "ne",
         "lt": "gt", "gt": "lt", "le": "ge", "ge": "le"}


def _binary(kind):
    def h(c, node, args, kw):
        a, b = args[0], args[1]
        alpha = _get(args, kw, 2, "alpha", 1)
        if kind == "div" and kw.get("rounding_mode") is not None:
            c.fail(node, "div with a rounding mode is not supported")
        if alpha != 1:
            if isinstance(b, _Act):
                b = _out(c, node, "mul", [b], attrs={"scalar": float(alpha)}, name=node.name + "_alpha")
            else:
                b = b * alpha
        if not isinstance(a, _Act):
            if kind in _SWAP and isinstance(b, _Act):
                return _bin_emit(c, node, _SWAP[kind], b, a)
            # constant (op) activation: bring the constant in as a tensor
            return _out(c, node, kind, [a, b])
        return _bin_emit(c, node, kind, a, b)
    return h


def h_rsub(c, node, args, kw):  # other - alpha * self
    x, other = args[0], args[1]
    alpha = _get(args, kw, 2, "alpha", 1)
    neg = _out(c, node, "mul", [x], attrs={"scalar": -float(alpha)}, name=node.name + "_neg")
    return _bin_emit(c, node, "add", neg, other)


def h_pow(c, node, args, kw):
    a, b = args[0], args[1]
    if isinstance(a, _Act):
        return _bin_emit(c, node, "pow", a, b)
    return _out(c, node, "pow", [a, b])  # scalar/constant base, activation exponent


def h_logical_not(c, node, args, kw):
    import torch

    if node.meta["val"].dtype != torch.bool:
        c.fail(node, "bitwise operations on non-boolean tensors are not supported")
    return _out(c, node, "eq", [args[0]], attrs={"scalar": 0.0})


def _logical(kind):
    def h(c, node, args, kw):
        import torch

        if node.meta["val"].dtype != torch.bool:
            c.fail(node, "bitwise operations on non-boolean tensors are not supported")
        a, b = args[0], args[1]
        if not isinstance(a, _Act):
            a, b = b, a
        an = _out(c, node, "ne", [a], attrs={"scalar": 0.0}, name=node.name + "_a")
        bn = _out(c, node, "ne", [b], attrs={"scalar": 0.0}, name=node.name + "_b") if isinstance(b, _Act) else b
        return _bin_emit(c, node, kind, an, bn)
    return h


def h_where(c, node, args, kw):
    cond, x, y = args[:3]
    return _out(c, node, "where", [cond, x, y])


def h_masked_fill(c, node, args, kw):
    x, mask, val = args[0], args[1], args[2]
    if isinstance(val, _Act):
        return _out(c, node, "where", [mask, val, x])
    if not isinstance(x, _Act):
        x = c.act(node, x)
    return _out(c, node, "masked_fill", [x, mask], attrs={"value": _fval(val)})


def _full_like(value):
    def h(c, node, args, kw):
        v = value if value is not None else _get(args, kw, 1, "fill_value")
        return _out(c, node, "full_like", [args[0]], attrs={"value": _fval(v)})
    return h


def h_to(c, node, args, kw):
    import torch

    dt = node.meta["val"].dtype
    src = _in_dtype(node, 0)
    if dt == src or src is None:
        return args[0]
    if dt in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        if src is not None and src.is_floating_point:
            return args[0]  # float -> float: the trace computes in float32
        return _out(c, node, "cast", [args[0]], attrs={"dtype": "float32"})
    if dt == torch.bool:
        return _out(c, node, "cast", [args[0]], attrs={"dtype": "bool"})
    if dt in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        return _out(c, node, "cast", [args[0]], attrs={"dtype": "int64"})
    c.fail(node, f"cast to {dt} is not supported")


# ---------------------------------------------------------------- pooling and resizing

def _pool_attrs(c, node, args, kw, mode, nd):
    k = _list(args[1], nd)
    stride = _get(args, kw, 2, "stride", None) or k
    padding = _list(_get(args, kw, 3, "padding", 0), nd)
    if mode == "max":
        dil = _list(_get(args, kw, 4, "dilation", 1), nd)
        if any(d != 1 for d in dil):
            c.fail(node, "dilated pooling is not supported")
        return {"mode": "max", "kernel": k, "stride": _list(stride, nd), "padding": padding * 2,
                "ceil_mode": bool(_get(args, kw, 5, "ceil_mode", False))}
    if _get(args, kw, 6, "divisor_override", None) is not None:
        c.fail(node, "avg_pool divisor_override is not supported")
    return {"mode": "avg", "kernel": k, "stride": _list(stride, nd), "padding": padding * 2,
            "ceil_mode": bool(_get(args, kw, 4, "ceil_mode", False)),
            "count_include_pad": bool(_get(args, kw, 5, "count_include_pad", True))}


def _pool(mode, nd):
    def h(c, node, args, kw):
        attrs = _pool_attrs(c, node, args, kw, mode, nd)
        y = _out(c, node, "pool", [args[0]], attrs=attrs)
        if "indices" not in str(node.target):
            return y
        ia = {k: v for k, v in attrs.items() if k != "mode"}
        return y, _out(c, node, "max_pool_indices", [args[0]], attrs=ia, name=node.name + "_indices")
    return h


def h_adaptive_avg(c, node, args, kw):
    x = node.args[0].meta["val"].shape
    nd = len(x) - 2
    size = _list(args[1], nd)
    if all(s == 1 for s in size):
        return _out(c, node, "pool", [args[0]], attrs={"mode": "avg", "global": True})
    sp = [int(d) for d in x[2:]]
    if any(s is None for s in size):
        size = [sp[i] if s is None else s for i, s in enumerate(size)]
    if all(sp[i] % size[i] == 0 for i in range(nd)):  # uniform windows: a plain average pool
        k = [sp[i] // size[i] for i in range(nd)]
        if all(v == 1 for v in k):
            return args[0]
        return _out(c, node, "pool", [args[0]], attrs={"mode": "avg", "kernel": k, "stride": k})
    c.fail(node, f"adaptive average pooling from {sp} to {list(size)} (non-uniform windows) is not supported")


def h_max_unpool(c, node, args, kw):
    x, idx, size = args[0], args[1], _get(args, kw, 2, "output_size")
    return _out(c, node, "max_unpool", [x, idx], attrs={"output_size": [int(s) for s in size]})


def _upsample(mode):
    def h(c, node, args, kw):
        size = [int(d) for d in node.meta["val"].shape[2:]]
        attrs = {"mode": mode, "size": size}
        if mode == "linear":
            attrs["align_corners"] = bool(_get(args, kw, 2, "align_corners", False))
        return _out(c, node, "resize", [args[0]], attrs=attrs)
    return h


# ---------------------------------------------------------------- reductions

def _reduce(kind):
    def h(c, node, args, kw):
        dims = _get(args, kw, 1, "dim", None)
        if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
            c.fail(node, f"{kind} over all axes would mix samples")
        dims = [int(d) for d in _list(dims, 1)]
        return _out(c, node, kind, [args[0]], attrs={"axes": dims, "keepdims": bool(_get(args, kw, 2, "keepdim", False))})
    return h


def _minmax_dim(kind):
    def h(c, node, args, kw):
        dim, keep = int(_get(args, kw, 1, "dim")), bool(_get(args, kw, 2, "keepdim", False))
        v = _out(c, node, kind, [args[0]], attrs={"axes": [dim], "keepdims": keep})
        i = _out(c, node, "arg" + kind, [args[0]], attrs={"axis": dim, "keepdims": keep}, name=node.name + "_idx")
        return v, i
    return h


def _arg(kind):
    def h(c, node, args, kw):
        dim = _get(args, kw, 1, "dim", None)
        if dim is None:
            c.fail(node, f"{kind} over all axes would mix samples")
        return _out(c, node, kind, [args[0]], attrs={"axis": int(dim),
                                                     "keepdims": bool(_get(args, kw, 2, "keepdim", False))})
    return h


# ---------------------------------------------------------------- shapes

def h_flatten(c, node, args, kw):
    return _out(c, node, "flatten", [args[0]], attrs={"start_dim": int(_get(args, kw, 1, "start_dim", 0)),
                                                      "end_dim": int(_get(args, kw, 2, "end_dim", -1))})


def h_reshape(c, node, args, kw):
    return _out(c, node, "reshape", [args[0]], attrs={"shape": c._shape(node)})


def h_expand(c, node, args, kw):
    return _out(c, node, "expand", [args[0]], attrs={"shape": c._shape(node)})


def h_repeat(c, node, args, kw):
    reps = list(args[1])
    x = node.args[0].meta["val"].shape
    if len(reps) != len(x) or not all(isinstance(r, int) for r in reps) or any(
            not isinstance(d, int) and r != 1 for d, r in zip(x, reps)):
        c.fail(node, "repeat along the batch axis or with a rank change is not supported")
    # tile = unsqueeze each axis, expand it, merge: (.., d, ..) -> (.., r, d, ..) -> (.., r*d, ..)
    shp = [int(d) if isinstance(d, int) else -1 for d in x]
    big = []
    for d, r in zip(shp, reps):
        big += [1, d]
    y = _out(c, node, "reshape", [args[0]], attrs={"shape": big}, name=node.name + "_r1")
    ex = []
    for d, r in zip(shp, reps):
        ex += [r, -1]
    y = _out(c, node, "expand", [y], attrs={"shape": ex}, name=node.name + "_ex")
    return _out(c, node, "reshape", [y], attrs={"shape": c._shape(node)})


def h_permute(c, node, args, kw):
    return _out(c, node, "transpose", [args[0]], attrs={"perm": [int(p) for p in args[1]]})


def h_transpose(c, node, args, kw):
    nd = _rank(node)
    perm = list(range(nd))
    if "int" in str(node.target):
        a, b = int(args[1]) % nd, int(args[2]) % nd
        perm[a], perm[b] = perm[b], perm[a]
    else:
        perm = perm[::-1]
    return _out(c, node, "transpose", [args[0]], attrs={"perm": perm})


def h_cat(c, node, args, kw):
    parts = [t for t in args[0] if not (_is_const(t) and t.numel() == 0)]  # empty caches
    if len(parts) == 1:
        return parts[0]
    return _out(c, node, "concat", parts, attrs={"axis": int(_get(args, kw, 1, "dim", 0))})


def h_slice(c, node, args, kw):
    dim = int(_get(args, kw, 1, "dim", 0))
    start = _get(args, kw, 2, "start", None)
    end = _get(args, kw, 3, "end", None)
    step = _get(args, kw, 4, "step", 1)
    if (start or 0) == 0 and (end is None or end >= 2**62) and step == 1:
        return args[0]  # a full slice (e.g. x[:, None]) is the identity
    attrs = {"axis": dim, "start": int(start or 0), "end": int(min(end, 2**62)) if end is not None else 2**62,
             "step": int(step)}
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


def h_pad(c, node, args, kw):
    x = node.args[0].meta["val"].shape
    nd = len(x)
    flat = [int(p) for p in args[1]]
    mode = _get(args, kw, 2, "mode", "constant")
    value = _get(args, kw, 3, "value", None)
    if "constant_pad_nd" in str(node.target):
        mode, value = "constant", _get(args, kw, 2, "value", 0)
    elif "reflection_pad" in str(node.target):
        mode = "reflect"
    elif "replication_pad" in str(node.target):
        mode = "replicate"
    if mode not in ("constant", "reflect", "replicate"):
        c.fail(node, f"padding mode {mode!r} is not supported (constant, reflect, replicate)")
    lo, hi = [0] * nd, [0] * nd
    for i in range(len(flat) // 2):  # torch order: last axis first
        lo[nd - 1 - i], hi[nd - 1 - i] = flat[2 * i], flat[2 * i + 1]
    if min(lo + hi) < 0:
        c.fail(node, "negative padding (cropping) is not supported")
    attrs = {"pads": lo + hi, "mode": mode}
    if mode == "constant" and value:
        attrs["value"] = float(value)
    return _out(c, node, "pad", [args[0]], attrs=attrs)


def h_roll(c, node, args, kw):
    shifts = _list(args[1], 1)
    dims = _get(args, kw, 2, "dims", [])
    dims = _list(dims, len(shifts)) if dims != [] else []
    if not dims:
        c.fail(node, "roll over the flattened tensor would mix samples")
    return _out(c, node, "roll", [args[0]], attrs={"shifts": [int(s) for s in shifts], "axes": [int(d) for d in dims]})


# ---------------------------------------------------------------- indexing

def h_embedding(c, node, args, kw):
    w, ids = args[0], args[1]
    if not _is_const(w):
        c.fail(node, "embedding table must be a constant")
    return _out(c, node, "embedding", [ids], {"weight": _np(w)})


def h_gather(c, node, args, kw):
    return _out(c, node, "gather", [args[0], args[2]], attrs={"axis": int(args[1])})


def h_index_select(c, node, args, kw):
    return _out(c, node, "take", [args[0], args[2]], attrs={"axis": int(args[1])})


def h_index(c, node, args, kw):
    idx = list(args[1])
    pos = [i for i, t in enumerate(idx) if t is not None]
    if len(pos) != 1:
        c.fail(node, "indexing with more than one index tensor is not supported")
    return _out(c, node, "take", [args[0], idx[pos[0]]], attrs={"axis": pos[0]})


def h_cumsum(c, node, args, kw):
    return _out(c, node, "cumsum", [args[0]], attrs={"axis": int(_get(args, kw, 1, "dim"))})


HANDLERS = {
    # GEMMs
    "linear": h_linear, "conv1d": h_conv, "conv2d": h_conv, "convolution": h_convolution,
    "_convolution": h_convolution, "conv_transpose1d": h_conv_transpose, "conv_transpose2d": h_conv_transpose,
    "matmul": h_matmul, "bmm": h_matmul, "mm": h_matmul, "addmm": h_addmm, "baddbmm": h_baddbmm,
    "scaled_dot_product_attention": h_sdpa,
    # normalisation
    "batch_norm": h_batch_norm, "_native_batch_norm_legit_no_training": h_bn_no_training,
    "layer_norm": h_layer_norm, "native_layer_norm": h_layer_norm, "rms_norm": h_rms_norm,
    "group_norm": h_group_norm, "native_group_norm": h_group_norm, "instance_norm": h_instance_norm,
    # elementwise
    "relu": _simple("relu"), "tanh": _simple("tanh"), "sigmoid": _simple("sigmoid"), "erf": _simple("erf"),
    "exp": _simple("exp"), "log": _simple("log"), "sqrt": _simple("sqrt"), "rsqrt": _simple("rsqrt"),
    "neg": _simple("neg"), "abs": _simple("abs"), "sin": _simple("sin"), "cos": _simple("cos"),
    "reciprocal": _simple("reciprocal"), "silu": _simple("silu"), "hardswish": _simple("hardswish"),
    "hardsigmoid": _simple("hardsigmoid"), "relu6": _simple("clamp", min=0.0, max=6.0),
    "gelu": h_gelu, "clamp": h_clamp, "clip": h_clamp, "clamp_min": lambda c, n, a, k: h_clamp(c, n, [a[0], a[1], None], {}),
    "clamp_max": lambda c, n, a, k: h_clamp(c, n, [a[0], None, a[1]], {}), "hardtanh": h_hardtanh,
    "softplus": h_softplus, "leaky_relu": h_leaky_relu, "elu": h_elu,
    "softmax": _softmax("softmax"), "_softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "_log_softmax": _softmax("log_softmax"),
    "add": _binary("add"), "sub": _binary("sub"), "mul": _binary("mul"), "div": _binary("div"),
    "rsub": h_rsub, "pow": h_pow, "maximum": _binary("maximum"), "minimum": _binary("minimum"),
    "eq": _binary("eq"), "ne": _binary("ne"), "lt": _binary("lt"), "le": _binary("le"), "gt": _binary("gt"),
    "ge": _binary("ge"), "logical_not": h_logical_not, "bitwise_not": h_logical_not,
    "logical_and": _logical("mul"), "bitwise_and": _logical("mul"), "logical_or": _logical("maximum"),
    "bitwise_or": _logical("maximum"), "where": h_where, "masked_fill": h_masked_fill,
    "zeros_like": _full_like(0.0), "ones_like": _full_like(1.0), "full_like": _full_like(None),
    "to": h_to, "_to_copy": h_to, "type_as": h_to,
    # pooling
    "max_pool1d": _pool("max", 1), "max_pool2d": _pool("max", 2), "max_pool2d_with_indices": _pool("max", 2),
    "max_pool1d_with_indices": _pool("max", 1), "avg_pool1d": _pool("avg", 1), "avg_pool2d": _pool("avg", 2),
    "adaptive_avg_pool1d": h_adaptive_avg, "adaptive_avg_pool2d": h_adaptive_avg,
    "_adaptive_avg_pool2d": h_adaptive_avg, "max_unpool2d": h_max_unpool, "max_unpool1d": h_max_unpool,
    "upsample_nearest1d": _upsample("nearest"), "upsample_nearest2d": _upsample("nearest"),
    "upsample_bilinear2d": _upsample("linear"), "upsample_linear1d": _upsample("linear"),
    # reductions
    "mean": _reduce("mean"), "sum": _reduce("sum"), "linalg_vector_norm": h_vector_norm, "amax": _reduce("max"), "amin": _reduce("min"),
    "max": _minmax_dim("max"), "min": _minmax_dim("min"), "argmax": _arg("argmax"), "argmin": _arg("argmin"),
    # shapes
    "flatten": h_flatten, "view": h_reshape, "reshape": h_reshape, "_unsafe_view": h_reshape,
    "unflatten": h_reshape, "unsqueeze": h_reshape, "squeeze": h_reshape, "expand": h_expand, "repeat": h_repeat,
    "permute": h_permute, "transpose": h_transpose, "t": h_transpose, "numpy_T": h_transpose,
    "cat": h_cat, "unbind": h_unbind, "split": h_split, "split_with_sizes": h_split, "chunk": h_split,
    "slice": h_slice, "select": h_select, "pad": h_pad, "constant_pad_nd": h_pad, "reflection_pad1d": h_pad,
    "reflection_pad2d": h_pad, "replication_pad1d": h_pad, "replication_pad2d": h_pad, "roll": h_roll,
    # indexing
    "embedding": h_embedding, "gather": h_gather, "index_select": h_index_select, "index": h_index,
    "cumsum": h_cumsum,
}

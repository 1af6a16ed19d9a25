"""Every op kind of the trace table: numpy ``run`` (executor) vs ``torch`` (finetune
interpreter), shape and dtype rules vs actual outputs, and independent oracles.

Tolerance (stated): float32 kinds agree within rtol = atol = 1e-5 (a few float32 ulps of
O(1) values: the two sides may sum in different orders or use different libm calls);
integer outputs and pure data-movement / selection kinds (EXACT_KINDS) agree exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amssim.trace import AbfpBackend, Float32Backend, build_trace, evaluate, round_bf16
from amssim.trace.ops import SPECS
from amssim.trace.ops.gemm import conv_transpose_as_conv, group_layer

TOL = dict(rtol=1e-5, atol=1e-5)
EXACT_KINDS = {
    # data movement and selection: no arithmetic, so bit-identical
    "flatten", "reshape", "transpose", "expand", "concat", "slice", "select", "pad", "roll", "constant",
    "relu", "neg", "abs", "maximum", "minimum", "clamp", "where", "masked_fill", "full_like", "cast",
    "eq", "ne", "lt", "le", "gt", "ge", "embedding", "gather", "take", "max", "min", "argmax", "argmin",
    "max_pool_indices", "max_unpool",
}

_R = np.random.default_rng(20261202)


def fl(*shape, lo=-3.0, hi=3.0):
    return _R.uniform(lo, hi, shape).astype(np.float32)


def nrm(*shape, scale=1.0):
    return (_R.standard_normal(shape) * scale).astype(np.float32)


def ints(*shape, lo=-5, hi=6):
    return _R.integers(lo, hi, shape).astype(np.int64)


def ties(*shape, levels=3):
    """Float32 values from a few levels: many exact ties (max pooling, argmax, comparisons)."""
    return _R.integers(0, levels, shape).astype(np.float32)


CASES = []


def case(kind, ins, attrs=None, params=None, id=None, exact=None):
    CASES.append(pytest.param(kind, list(ins), dict(attrs or {}), dict(params or {}), exact,
                              id=f"{kind}-{id or len([c for c in CASES if c.values[0] == kind])}"))


# ---------------------------------------------------------------- elementwise: binary
for k in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
    base = (lambda *s: fl(*s, lo=0.5, hi=2.0)) if k == "pow" else fl
    case(k, [base(2, 3, 4), fl(3, 1)], id="broadcast")
    case(k, [base(2, 3, 4), fl(1, 4)], id="broadcast2")
    case(k, [base(2, 3, 4)], {"scalar": 1.5}, id="scalar")
    case(k, [base(2, 3, 4)], {"scalar": -2}, id="int_scalar_on_float")
    case(k, [base(2, 3, 4)], params={"other": fl(4, lo=0.5, hi=2.0)}, id="param_other")
    ia = ints(2, 3, 4, lo=0, hi=4) if k == "pow" else ints(2, 3, 4)
    ib = ints(3, 1, lo=0, hi=3) if k == "pow" else (ints(3, 1, lo=1, hi=4) * np.array([[1], [-1], [1]]))
    case(k, [ia, ib], id="int64")
    case(k, [ia], {"scalar": 2.0}, id="int64_scalar")
    case(k, [ia], {"scalar": 0.5}, id="int64_frac_scalar")
    case(k, [ia.astype(np.float32) + 0.25, ib], id="float_int_mixed")
    case(k, [ia], params={"other": fl(4, lo=0.5, hi=2.0)}, id="int64_param_other")

for k in ("eq", "ne", "lt", "le", "gt", "ge"):
    case(k, [ties(2, 3, 4), ties(3, 1)], id="broadcast_ties")
    case(k, [ints(2, 5, lo=-2, hi=3)], {"scalar": 1}, id="int64_scalar")
    case(k, [ties(2, 3, 4)], params={"other": ties(4)}, id="param_other")
    case(k, [ints(2, 4, lo=0, hi=3), ties(2, 4)], id="int_vs_float")
    case(k, [fl(3, 4)], {"scalar": "-inf"}, id="vs_minus_inf")

# ---------------------------------------------------------------- elementwise: unary
_edges = np.array([-4, -3, -1, -0.5, 0, 0.5, 1, 3, 4, 25, -25], np.float32)
for k in ("relu", "tanh", "sigmoid", "erf", "exp", "neg", "abs", "sin", "cos", "silu", "hardswish",
          "hardsigmoid", "gelu", "softplus", "clamp", "leaky_relu", "elu"):
    case(k, [nrm(2, 3, 5, scale=3)], id="random")
    case(k, [_edges.reshape(1, -1)], id="edges")
for k in ("log", "sqrt", "rsqrt", "reciprocal"):
    case(k, [fl(2, 3, 5, lo=0.05, hi=9)], id="positive")
    case(k, [np.array([[1e-30, 1e-3, 1.0, 2.0, 1e30]], np.float32)], id="wide_range")
case("reciprocal", [nrm(4, 3)], id="signed")
case("gelu", [nrm(2, 7, scale=3)], {"approximate": "tanh"}, id="tanh")
case("softplus", [nrm(2, 7, scale=4)], {"beta": 2.0, "threshold": 5.0}, id="beta_threshold")
case("softplus", [_edges.reshape(1, -1)], {"beta": 0.5, "threshold": 1.0}, id="edges_beta")
case("clamp", [nrm(3, 8, scale=5)], {"min": 0, "max": 6}, id="relu6")
case("clamp", [nrm(3, 8, scale=5)], {"min": -1.0}, id="min_only")
case("clamp", [nrm(3, 8, scale=5)], {"max": "inf", "min": "-inf"}, id="inf_bounds")
case("clamp", [nrm(3, 8, scale=5)], {"max": 0.5}, id="max_only")
case("leaky_relu", [nrm(3, 8)], {"negative_slope": 0.2}, id="slope")
case("elu", [nrm(3, 8, scale=3)], {"alpha": 0.5}, id="alpha")

# ---------------------------------------------------------------- where, fills, casts
case("where", [ties(2, 1, 4, levels=2), fl(2, 3, 4), fl(1,)], id="broadcast")
case("where", [ints(3, 4, lo=0, hi=2), ints(3, 4), ints(4)], id="int64")
case("where", [ties(3, 4, levels=2), ints(3, 4), fl(3, 4)], id="int_float_mixed")
case("masked_fill", [fl(2, 3, 4), ties(3, 1, levels=2)], {"value": "-inf"}, id="minus_inf")
case("masked_fill", [fl(2, 3, 4), ints(4, lo=0, hi=2)], {"value": 2.5}, id="int_mask")
case("full_like", [fl(2, 3)], {"value": -1.5}, id="float")
case("full_like", [ints(2, 3)], {"value": "inf"}, id="int_input_inf")
_castv = np.array([[-2.7, -2.5, -0.5, -0.0, 0.0, 0.49, 0.5, 2.5, 2.7, -3.0, 1e6 + 0.5]], np.float32)
for d in ("int64", "float32", "bool"):
    case("cast", [_castv], {"dtype": d}, id=f"float_to_{d}")
    case("cast", [ints(2, 5)], {"dtype": d}, id=f"int_to_{d}")

# ---------------------------------------------------------------- gemm
case("linear", [nrm(2, 5, 8)], params={"weight": nrm(6, 8), "bias": nrm(6)}, id="bias_3d")
case("linear", [nrm(4, 8)], params={"weight": nrm(3, 8)}, id="nobias")
for nd in (1, 2):
    sp = (11,) if nd == 1 else (9, 8)
    k = (3,) if nd == 1 else (3, 2)
    kw = lambda o, c: nrm(o, c, *k, scale=0.5)  # noqa: E731
    conv = f"conv{nd}d"
    case(conv, [nrm(2, 4, *sp)], params={"weight": kw(6, 4), "bias": nrm(6)}, id="plain")
    case(conv, [nrm(2, 4, *sp)], {"stride": [2] * nd, "padding": [1] * nd + [2] * nd, "dilation": [2] * nd},
         params={"weight": kw(6, 4)}, id="strided_asym_pad_dilated")
    case(conv, [nrm(2, 4, *sp)], {"groups": 2, "padding": [1] * (2 * nd)},
         params={"weight": kw(6, 2), "bias": nrm(6)}, id="groups2")
    case(conv, [nrm(2, 4, *sp)], {"groups": 4, "padding": [1] * (2 * nd), "stride": [2] * nd},
         params={"weight": kw(8, 1), "bias": nrm(8)}, id="depthwise_x2")
    case(conv, [nrm(2, 4, *sp)], {"groups": 4}, params={"weight": kw(4, 1)}, id="depthwise")
    case(conv, [nrm(2, 4, *sp)], {"input_dilation": [2] * nd, "padding": [2] * nd + [1] * nd, "groups": 2},
         params={"weight": kw(6, 2)}, id="input_dilation")
case("matmul", [nrm(2, 3, 4, 5), nrm(2, 3, 5, 6)], id="plain")
case("matmul", [nrm(2, 3, 4, 5), nrm(2, 3, 6, 5)], {"transpose_b": True}, id="transpose_b")
case("matmul", [nrm(4, 5), nrm(5, 2)], {"transpose_b": False}, id="2d")

# ---------------------------------------------------------------- index
case("embedding", [_R.integers(0, 10, (2, 5)).astype(np.int64)], params={"weight": nrm(10, 4)}, id="ids")
case("embedding", [np.array([[0, 9, 9, 0]], np.int64)], params={"weight": nrm(10, 3)}, id="ends_repeated")
case("gather", [nrm(3, 5, 4), _R.integers(-4, 4, (3, 5, 2)).astype(np.int64)], {"axis": -1}, id="neg_axis_neg_idx")
case("gather", [nrm(3, 5, 4), _R.integers(0, 5, (2, 7, 3)).astype(np.int64)], {"axis": 1}, id="smaller_index")
case("gather", [ints(3, 5), _R.integers(0, 3, (4, 5)).astype(np.int64)], {"axis": 0}, id="int64_data")
case("take", [nrm(3, 5, 4), _R.integers(0, 5, (2, 3)).astype(np.int64)], {"axis": 1}, id="2d_index")
case("take", [nrm(3, 5, 4), np.array([-1, 0, -4, 3], np.int64)], {"axis": -1}, id="neg_axis_neg_idx")
case("take", [ints(6, 2), np.array(4, np.int64)], {"axis": 0}, id="int64_scalar_index")
case("cumsum", [nrm(3, 6, 4)], {"axis": -2}, id="float_neg_axis")
case("cumsum", [ints(4, 7)], {"axis": 1}, id="int64")
case("cumsum", [fl(2, 50, lo=0, hi=1)], {"axis": -1}, id="long")

# ---------------------------------------------------------------- norm
case("layernorm", [nrm(2, 3, 4, 5, scale=3)], {"normalized_shape": [4, 5]},
     params={"weight": nrm(4, 5), "bias": nrm(4, 5)}, id="affine_2dims")
case("layernorm", [nrm(2, 6, 8) + 5], {"normalized_shape": [8], "eps": 1e-3}, id="plain")
case("rmsnorm", [nrm(2, 6, 8, scale=2)], {"normalized_shape": [8]}, params={"weight": nrm(8)}, id="weight")
case("rmsnorm", [nrm(2, 3, 4, 5)], {"normalized_shape": [4, 5], "eps": 1e-2}, id="2dims_eps")
case("batchnorm", [nrm(2, 4, 5, 6)], {"eps": 1e-3}, params={"mean": nrm(4), "var": fl(4, lo=0.5, hi=2),
                                                         "weight": nrm(4), "bias": nrm(4)}, id="2d")
case("batchnorm", [nrm(2, 4, 7)], params={"mean": nrm(4), "var": fl(4, lo=0.5, hi=2)}, id="1d_noaffine")
case("groupnorm", [nrm(2, 6, 5, 4, scale=2) + 1], {"groups": 3}, params={"weight": nrm(6), "bias": nrm(6)},
     id="groups3")
case("groupnorm", [nrm(2, 6, 9) + 1], {"groups": 6, "eps": 1e-3}, id="instance")
case("groupnorm", [nrm(3, 4, 3, 3)], {"groups": 1}, params={"weight": nrm(4)}, id="layer_like")

# ---------------------------------------------------------------- pool
X4 = nrm(2, 3, 9, 8)
case("pool", [X4], {"mode": "max", "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1], "ceil_mode": True},
     id="max_ceil")
case("pool", [ties(2, 3, 8, 8)], {"mode": "max", "kernel": [2, 2]}, id="max_ties")
case("pool", [X4], {"mode": "max", "kernel": [3, 2], "stride": [2, 1], "padding": [0, 1, 2, 0]}, id="max_asym_pad")
case("pool", [X4], {"mode": "avg", "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1],
                    "count_include_pad": False}, id="avg_exclude_pad")
case("pool", [X4], {"mode": "avg", "kernel": [2, 3], "padding": [1, 0, 0, 2]}, id="avg_asym_pad")
case("pool", [X4], {"mode": "avg", "global": True}, id="global_avg")
case("pool", [X4], {"mode": "max", "global": True}, id="global_max")
case("pool", [nrm(2, 3, 11)], {"mode": "max", "kernel": [3], "stride": [2], "padding": [1, 1], "ceil_mode": True},
     id="max1d_ceil")
case("pool", [nrm(2, 3, 11)], {"mode": "avg", "kernel": [4], "stride": [3]}, id="avg1d")
case("max_pool_indices", [ties(2, 3, 8, 8)], {"kernel": [2, 2]}, id="ties")
case("max_pool_indices", [ties(2, 2, 9, 7, levels=2)], {"kernel": [3, 3], "stride": [2, 2],
                                                       "padding": [1, 1, 1, 1], "ceil_mode": True}, id="ties_ceil_pad")
case("max_pool_indices", [nrm(2, 3, 10)], {"kernel": [3], "stride": [2], "padding": [1, 1]}, id="1d")
_pv = nrm(2, 3, 4, 3)
_pi = SPECS["max_pool_indices"].run([nrm(2, 3, 8, 7)], {}, {"kernel": [2, 2]})[0]
case("max_unpool", [_pv, _pi], {"output_size": [8, 7]}, id="2d")
_pi1 = SPECS["max_pool_indices"].run([ties(2, 3, 9, levels=2)], {}, {"kernel": [3], "stride": [2], "padding": [1, 1]})[0]
case("max_unpool", [nrm(2, 3, 5), _pi1], {"output_size": [9]}, id="1d_overlap")
for mode in ("nearest", "linear"):
    for al in ((False,) if mode == "nearest" else (False, True)):
        a = {"mode": mode, **({"align_corners": al} if mode == "linear" else {})}
        case("resize", [nrm(2, 3, 4, 5)], dict(a, size=[8, 10]), id=f"{mode}_{al}_up2")
        case("resize", [nrm(2, 3, 5, 7)], dict(a, size=[3, 11]), id=f"{mode}_{al}_mixed")
        case("resize", [nrm(2, 3, 6)], dict(a, size=[13]), id=f"{mode}_{al}_1d")
        case("resize", [nrm(1, 2, 4, 4)], dict(a, size=[1, 1]), id=f"{mode}_{al}_to1")

# ---------------------------------------------------------------- reduce
for k in ("mean", "sum", "max", "min"):
    case(k, [nrm(2, 3, 4, 5)], {"axes": [-1, 1]}, id="neg_axes")
    case(k, [nrm(2, 3, 4)], {"axes": [2], "keepdims": True}, id="keepdims")
    case(k, [ints(3, 4, 5)], {"axes": [-2]}, id="int64")
for k in ("argmax", "argmin"):
    case(k, [ties(3, 4, 5)], {"axis": -1}, id="ties_neg_axis")
    case(k, [ties(3, 4, 5)], {"axis": 1, "keepdims": True}, id="ties_keepdims")
    case(k, [nrm(3, 4, 5)], {"axis": -2, "keepdims": True}, id="keepdims_neg")
for k in ("softmax", "log_softmax"):
    case(k, [nrm(2, 3, 7, scale=4)], {"axis": -1}, id="last")
    case(k, [nrm(2, 3, 7, scale=4)], {"axis": 1}, id="axis1")
    case(k, [np.where(np.eye(3, 6, 1) > 0, np.float32(-np.inf), nrm(3, 6))], {}, id="masked_minus_inf")

# ---------------------------------------------------------------- shape
case("flatten", [nrm(2, 3, 4, 5)], {}, id="default")
case("flatten", [ints(2, 3, 4, 5)], {"start_dim": -3, "end_dim": -2}, id="neg_int64")
case("reshape", [nrm(2, 3, 4)], {"shape": [-1, 4, 3]}, id="minus1")
case("reshape", [ints(2, 6)], {"shape": [2, 1, 3, 2]}, id="int64")
case("transpose", [nrm(2, 3, 4, 5)], {"perm": [0, 2, 3, 1]}, id="float")
case("transpose", [ints(2, 3, 4)], {"perm": [2, 0, 1]}, id="int64")
case("expand", [nrm(2, 1, 4, 1)], {"shape": [-1, 3, -1, 5]}, id="float")
case("expand", [ints(1, 3)], {"shape": [4, -1]}, id="int64")
case("concat", [nrm(2, 3, 4), nrm(2, 3, 1), nrm(2, 3, 2)], {"axis": -1}, id="neg_axis")
case("concat", [ints(2, 3), ints(1, 3)], {"axis": 0}, id="int64")
case("slice", [nrm(2, 9, 4)], {"axis": 1, "start": -7, "end": -1, "step": 2}, id="neg_bounds")
case("slice", [ints(3, 5)], {"axis": -1, "start": 2}, id="int64_open_end")
case("slice", [nrm(3, 5)], {"axis": 1, "start": 1, "end": 2**62}, id="huge_end")
case("select", [nrm(2, 3, 4)], {"axis": -1, "index": -2}, id="neg")
case("select", [ints(2, 3, 4)], {"axis": 1, "index": 0}, id="int64")
X4p = nrm(2, 3, 5, 6)
case("pad", [X4p], {"pads": [0, 0, 1, 2, 0, 0, 3, 0], "value": 1.5}, id="constant_asym")
case("pad", [ints(2, 3, 4)], {"pads": [0, 1, 0, 0, 2, 1]}, id="constant_int64")
for mode in ("reflect", "replicate"):
    case("pad", [X4p], {"pads": [0, 0, 2, 1, 0, 0, 1, 3], "mode": mode}, id=f"{mode}_2d_asym")
    case("pad", [nrm(2, 3, 6)], {"pads": [0, 0, 3, 0, 0, 2], "mode": mode}, id=f"{mode}_1d")
    case("pad", [X4p], {"pads": [0, 1, 0, 0, 0, 2, 0, 0], "mode": mode}, id=f"{mode}_channel_axis")
    case("pad", [nrm(2, 4)], {"pads": [0, 0, 0, 0], "mode": mode}, id=f"{mode}_none")
    case("pad", [nrm(2, 3, 4, 5, 6)], {"pads": [0, 0, 1, 1, 2, 0, 0, 1, 2, 3], "mode": mode}, id=f"{mode}_3d")
    case("pad", [nrm(2, 3, 4, 5, 6)], {"pads": [0, 1, 1, 1, 1, 0, 2, 0, 1, 2], "mode": mode}, id=f"{mode}_4_axes")
case("roll", [nrm(2, 5, 4)], {"shifts": [2, -1], "axes": [1, -1]}, id="two_axes")
case("roll", [ints(3, 7)], {"shifts": [9], "axes": [1]}, id="int64_wrap")
case("constant", [], params={"value": nrm(3, 4)}, id="float")
case("constant", [], params={"value": np.arange(6, dtype=np.int64).reshape(1, 6)}, id="int64")
case("constant", [nrm(5, 2)], {"batch_axes": [0]}, params={"value": nrm(1, 3, 4)}, id="batch0")
case("constant", [nrm(5, 2)], {"batch_axes": [-2]}, params={"value": np.arange(4, dtype=np.int64).reshape(2, 1, 2)},
     id="batch_neg_int64")


def test_case_table_covers_every_kind():
    covered = {c.values[0] for c in CASES}
    missing = sorted(set(SPECS) - covered)
    assert not missing, f"op kinds without a parity case: {missing}"
    assert not covered - set(SPECS)
    for k in SPECS:  # several cases per kind
        assert sum(c.values[0] == k for c in CASES) >= 2, k


def _dtype_name(a):
    kind = np.asarray(a).dtype.kind
    return "float32" if kind == "f" else "int64"


def _torch_in(a):
    return torch.from_numpy(np.array(a))


@pytest.mark.parametrize("kind, ins, attrs, params, exact", CASES)
def test_numpy_torch_parity(kind, ins, attrs, params, exact):
    spec = SPECS[kind]
    in_dts = [_dtype_name(a) for a in ins]
    pdts = {r: _dtype_name(v) for r, v in params.items()}
    want_dt = spec.dtype(in_dts, pdts, attrs)
    want_shape = tuple(spec.shape([tuple(a.shape) for a in ins], {r: tuple(v.shape) for r, v in params.items()},
                                  attrs)[0])
    y = spec.run([np.array(a) for a in ins], {r: np.array(v) for r, v in params.items()}, attrs)[0]
    y = np.asarray(y)
    assert y.shape == want_shape, "shape rule vs numpy"
    assert y.dtype == np.dtype(want_dt), f"dtype rule {want_dt} vs numpy {y.dtype}"
    t = spec.torch([_torch_in(a) for a in ins], {r: _torch_in(v) for r, v in params.items()}, attrs)
    assert tuple(t.shape) == want_shape, "shape rule vs torch"
    assert t.dtype == {"float32": torch.float32, "int64": torch.int64}[want_dt], f"torch dtype {t.dtype}"
    tn = t.detach().numpy()
    if want_dt == "int64" or kind in EXACT_KINDS or exact:
        np.testing.assert_array_equal(y, tn)
    else:
        np.testing.assert_allclose(y, tn, **TOL)
    # no case is meant to produce NaN (NaN == NaN would hide a disagreement)
    assert not np.isnan(np.asarray(y, np.float64)).any()

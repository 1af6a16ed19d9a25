"""Every op kind of the trace table: numpy ``run`` (executor) vs ``torch`` (finetune
interpreter), shape and dtype rules vs actual outputs, and independent oracles.

Tolerance (stated): float32 kinds agree within rtol = atol = 1e-5 (a few float32 ulps of
O(1) values: the two sides may sum in different orders or use different libm calls);
integer outputs and pure data-movement / selection kinds (EXACT_KINDS) agree exactly.
"""

from __future__ import annotations

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
for _inc in (True, False):
    case("pool", [X4], {"mode": "avg", "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1], "ceil_mode": True,
                        "count_include_pad": _inc}, id=f"avg_ceil_pad_include{_inc}")
    case("pool", [nrm(2, 3, 10)], {"mode": "avg", "kernel": [3], "stride": [2], "ceil_mode": True,
                                   "count_include_pad": _inc}, id=f"avg1d_ceil_include{_inc}")
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
case("constant", [nrm(3, 2)], {"batch_axes": [0]}, params={"value": nrm(2, 4)}, id="tiled")
case("constant", [nrm(3, 2)], {"batch_axes": [1]}, params={"value": np.arange(6, dtype=np.int64).reshape(1, 2, 3)},
     id="tiled_int64")


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


# ================================================================ independent oracles
def T(a):
    return torch.from_numpy(np.array(a))


def run(kind, ins, attrs=None, params=None):
    return SPECS[kind].run(list(ins), dict(params or {}), dict(attrs or {}))[0]


@pytest.mark.parametrize("nd, groups, stride, pad, dil", [
    (1, 1, 1, 0, 1), (1, 2, 2, 1, 2), (1, 6, 1, 2, 1), (1, 3, 3, 0, 3),
    (2, 1, 1, 1, 1), (2, 2, 2, 1, 2), (2, 6, 1, 1, 1), (2, 6, 2, 2, 3), (2, 3, 1, 0, 2),
])
def test_conv_matches_torch_functional(rng, nd, groups, stride, pad, dil):
    """Grouped, depthwise (groups = C = 6), dilated and strided convs vs F.conv1d/2d."""
    sp = (17,) if nd == 1 else (11, 10)
    k = (3,) if nd == 1 else (3, 2)
    mult = 2 if groups == 6 and stride == 2 else 1  # depthwise with a channel multiplier
    x = rng.standard_normal((3, 6) + sp).astype(np.float32)
    w = rng.standard_normal((6 * mult, 6 // groups) + k).astype(np.float32)
    b = rng.standard_normal(6 * mult).astype(np.float32)
    at = {"stride": [stride] * nd, "padding": [pad] * (2 * nd), "dilation": [dil] * nd, "groups": groups}
    y = run(f"conv{nd}d", [x], at, {"weight": w, "bias": b})
    conv = F.conv1d if nd == 1 else F.conv2d
    want = conv(T(x), T(w), T(b), stride=stride, padding=pad, dilation=dil, groups=groups).numpy()
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, **TOL)


@pytest.mark.parametrize("nd, groups, stride, pad, out_pad, dil", [
    (1, 1, 2, 0, 0, 1), (1, 2, 3, 1, 2, 1), (1, 4, 2, 2, 1, 2),
    (2, 1, 2, 1, 1, 1), (2, 2, 2, 0, 0, 2), (2, 4, 3, 1, 2, 1), (2, 1, 1, 2, 0, 1),
])
def test_conv_transpose_lowering_matches_torch(rng, nd, groups, stride, pad, out_pad, dil):
    """conv_transpose_as_conv + the table's conv == F.conv_transpose1d/2d (zero insertion)."""
    sp = (7,) if nd == 1 else (5, 6)
    k = (3,) if nd == 1 else (3, 4)
    x = rng.standard_normal((2, 4) + sp).astype(np.float32)
    wt = rng.standard_normal((4, {1: 6, 2: 3, 4: 2}[groups]) + k).astype(np.float32)  # (C_in, C_out/g, *k)
    b = rng.standard_normal(wt.shape[1] * groups).astype(np.float32)
    wc, at = conv_transpose_as_conv(wt, [stride] * nd, [pad] * nd, [out_pad] * nd, [dil] * nd, groups)
    y = run(f"conv{nd}d", [x], at, {"weight": wc, "bias": b})
    tconv = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    want = tconv(T(x), T(wt), T(b), stride=stride, padding=pad, output_padding=out_pad, groups=groups,
                 dilation=dil).numpy()
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, **TOL)
    shp = SPECS[f"conv{nd}d"].shape([x.shape], {"weight": wc.shape, "bias": b.shape}, at)[0]
    assert shp == want.shape


def test_conv_transpose_lowering_refuses_cropping_padding():
    with pytest.raises(ValueError, match="exceeds dilation"):
        conv_transpose_as_conv(np.zeros((2, 2, 3), np.float32), [2], [3], [0], [1])


@pytest.mark.parametrize("kernel, stride, pad, ceil", [
    (2, 2, 0, False), (3, 2, 1, False), (3, 2, 1, True), (3, 3, 0, True), (2, 1, 1, False), ((3, 2), (2, 1), (1, 0), True),
])
def test_max_pool_indices_and_unpool_match_torch(rng, kernel, stride, pad, ceil):
    """Values and argmax positions (first maximum on ties) vs F.max_pool2d(return_indices=True);
    max_unpool vs F.max_unpool2d on those indices."""
    x = rng.integers(0, 3, (2, 3, 9, 8)).astype(np.float32)  # many ties
    ks = list(kernel) if isinstance(kernel, tuple) else [kernel] * 2
    ss = list(stride) if isinstance(stride, tuple) else [stride] * 2
    ps = list(pad) if isinstance(pad, tuple) else [pad] * 2
    at = {"kernel": ks, "stride": ss, "padding": ps + ps, "ceil_mode": ceil}
    want_v, want_i = F.max_pool2d(T(x), ks, ss, ps, ceil_mode=ceil, return_indices=True)
    idx = run("max_pool_indices", [x], at)
    np.testing.assert_array_equal(idx, want_i.numpy())
    np.testing.assert_array_equal(run("pool", [x], dict(at, mode="max")), want_v.numpy())
    v = rng.standard_normal(idx.shape).astype(np.float32)
    up = run("max_unpool", [v, idx], {"output_size": [9, 8]})
    np.testing.assert_array_equal(up, F.max_unpool2d(T(v), want_i, ks, ss, ps, output_size=[9, 8]).numpy())


@pytest.mark.parametrize("kernel, stride, pad, ceil, include", [
    (3, 2, 1, True, True), (3, 2, 1, True, False), (2, 2, 0, True, True), (3, 3, 1, False, False), (4, 3, 2, True, True),
])
def test_avg_pool_matches_torch(rng, kernel, stride, pad, ceil, include):
    """Divisors at borders: count_include_pad and ceil_mode windows, vs F.avg_pool2d."""
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    at = {"mode": "avg", "kernel": [kernel] * 2, "stride": [stride] * 2, "padding": [pad] * 4, "ceil_mode": ceil,
          "count_include_pad": include}
    want = F.avg_pool2d(T(x), kernel, stride, pad, ceil_mode=ceil, count_include_pad=include).numpy()
    y = run("pool", [x], at)
    assert y.shape == want.shape == SPECS["pool"].shape([x.shape], {}, at)[0]
    np.testing.assert_allclose(y, want, **TOL)


def test_constant_tiles_along_batch_axes():
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = run("constant", [np.zeros((4, 1), np.float32)], {"batch_axes": [0]}, {"value": v})
    np.testing.assert_array_equal(y, torch.from_numpy(v).repeat(4, 1).numpy())
    y1 = run("constant", [np.zeros((3, 1), np.float32)], {"batch_axes": [0]}, {"value": v[:1]})
    np.testing.assert_array_equal(y1, np.broadcast_to(v[:1], (3, 3)))


def test_max_unpool_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match="out of range"):
        run("max_unpool", [np.ones((1, 1, 2), np.float32), np.array([[[0, 4]]], np.int64)], {"output_size": [4]})


@pytest.mark.parametrize("mode, align", [("nearest", False), ("linear", False), ("linear", True)])
def test_resize_matches_interpolate_every_size(rng, mode, align):
    """1-d: every (in, out) size in 1..9 x 1..20; 2-d: a grid of shapes; vs F.interpolate."""
    for n_in in range(1, 10):
        x = rng.standard_normal((1, 2, n_in)).astype(np.float32)
        for n_out in range(1, 21):
            at = {"mode": mode, "size": [n_out], "align_corners": align}
            kw = {} if mode == "nearest" else {"align_corners": align}
            want = F.interpolate(T(x), size=[n_out], mode=mode, **kw).numpy()
            y = run("resize", [x], at)
            if mode == "nearest":
                np.testing.assert_array_equal(y, want, err_msg=f"{n_in}->{n_out}")
            else:
                np.testing.assert_allclose(y, want, **TOL, err_msg=f"{n_in}->{n_out}")
    for hin, win, hout, wout in [(4, 5, 8, 10), (5, 7, 3, 11), (3, 3, 7, 2), (6, 4, 6, 9), (1, 4, 3, 1)]:
        x = rng.standard_normal((2, 3, hin, win)).astype(np.float32)
        m2 = "nearest" if mode == "nearest" else "bilinear"
        kw = {} if mode == "nearest" else {"align_corners": align}
        want = F.interpolate(T(x), size=[hout, wout], mode=m2, **kw).numpy()
        y = run("resize", [x], {"mode": mode, "size": [hout, wout], "align_corners": align})
        np.testing.assert_allclose(y, want, **(dict(rtol=0, atol=0) if mode == "nearest" else TOL))


def test_group_and_instance_norm_match_torch(rng):
    x = (rng.standard_normal((3, 6, 5, 4)) * 2 + 1).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    for g in (1, 2, 3, 6):
        y = run("groupnorm", [x], {"groups": g, "eps": 1e-5}, {"weight": w, "bias": b})
        np.testing.assert_allclose(y, F.group_norm(T(x), g, T(w), T(b), eps=1e-5).numpy(), **TOL)
    y = run("groupnorm", [x], {"groups": 6, "eps": 1e-3})
    np.testing.assert_allclose(y, F.instance_norm(T(x), eps=1e-3).numpy(), **TOL)
    x1 = x.reshape(3, 6, 20)
    y = run("groupnorm", [x1], {"groups": 6}, {"weight": w, "bias": b})
    np.testing.assert_allclose(y, F.instance_norm(T(x1), weight=T(w), bias=T(b)).numpy(), **TOL)


def test_rmsnorm_matches_float64_formula(rng):
    x = (rng.standard_normal((2, 5, 3, 8)) * 3).astype(np.float32)
    w = rng.standard_normal((3, 8)).astype(np.float32)
    for eps in (1e-6, 1e-2):
        y = run("rmsnorm", [x], {"normalized_shape": [3, 8], "eps": eps}, {"weight": w})
        x64 = x.astype(np.float64)
        want = x64 / np.sqrt(np.mean(x64 ** 2, axis=(-2, -1), keepdims=True) + eps) * w
        np.testing.assert_allclose(y, want, **TOL)
    y = run("rmsnorm", [x], {"normalized_shape": [8]})
    np.testing.assert_allclose(y, x / np.sqrt(np.mean(x.astype(np.float64) ** 2, -1, keepdims=True) + 1e-6), **TOL)


@pytest.mark.parametrize("kind, attrs, fn", [
    ("softplus", {}, lambda x: F.softplus(x)),
    ("softplus", {"beta": 2.0, "threshold": 3.0}, lambda x: F.softplus(x, beta=2.0, threshold=3.0)),
    ("hardswish", {}, F.hardswish),
    ("hardsigmoid", {}, F.hardsigmoid),
    ("silu", {}, F.silu),
    ("elu", {}, F.elu),
    ("elu", {"alpha": 0.3}, lambda x: F.elu(x, alpha=0.3)),
    ("leaky_relu", {}, F.leaky_relu),
    ("leaky_relu", {"negative_slope": 0.25}, lambda x: F.leaky_relu(x, 0.25)),
    ("clamp", {"min": 0, "max": 6}, F.relu6),
    ("clamp", {"min": -1, "max": 1}, F.hardtanh),
    ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
])
def test_activations_match_torch_functional(kind, attrs, fn):
    x = np.concatenate([np.linspace(-30, 30, 1201), [-3, 3, 0, -1e-7, 1e-7]]).astype(np.float32)
    np.testing.assert_allclose(run(kind, [x], attrs), fn(T(x)).numpy(), **TOL)


def test_gather_and_take_match_torch(rng):
    x = rng.standard_normal((4, 6, 5)).astype(np.float32)
    idx = rng.integers(0, 6, (3, 9, 5))
    np.testing.assert_array_equal(run("gather", [x, idx], {"axis": 1}), torch.gather(T(x), 1, T(idx)).numpy())
    # negative indices count from the end (ONNX GatherElements)
    np.testing.assert_array_equal(run("gather", [x, idx - 6], {"axis": -2}), torch.gather(T(x), 1, T(idx)).numpy())
    sel = np.array([4, 0, 0, 2], np.int64)
    np.testing.assert_array_equal(run("take", [x, sel], {"axis": 1}), torch.index_select(T(x), 1, T(sel)).numpy())
    np.testing.assert_array_equal(run("take", [x, sel - 5], {"axis": -1}),
                                  torch.index_select(T(x), 2, T(sel)).numpy())
    sel2 = rng.integers(0, 4, (2, 3))
    np.testing.assert_array_equal(run("take", [x, sel2], {"axis": 0}), T(x)[T(sel2)].numpy())
    with pytest.raises(ValueError, match="out of range"):
        run("take", [x, np.array([6])], {"axis": 1})
    with pytest.raises(ValueError, match="out of range"):
        run("gather", [x, np.full((4, 1, 5), -7)], {"axis": 1})


def test_cumsum_roll_where_match_references(rng):
    x = rng.standard_normal((3, 40, 2)).astype(np.float32)
    np.testing.assert_allclose(run("cumsum", [x], {"axis": 1}), np.cumsum(x.astype(np.float64), axis=1), **TOL)
    xi = rng.integers(-9, 9, (3, 7))
    np.testing.assert_array_equal(run("cumsum", [xi], {"axis": -1}), torch.cumsum(T(xi), -1).numpy())
    np.testing.assert_array_equal(run("roll", [x], {"shifts": [-3, 1], "axes": [1, 2]}),
                                  torch.roll(T(x), (-3, 1), (1, 2)).numpy())
    c = rng.integers(0, 2, (3, 1, 2)).astype(np.float32)
    np.testing.assert_array_equal(run("where", [c, x, np.float32([7])]),
                                  torch.where(T(c) != 0, T(x), torch.tensor([7.0])).numpy())


@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
def test_pad_matches_torch(rng, mode):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    at = {"pads": [0, 0, 3, 1, 0, 0, 2, 4], "mode": mode}
    want = F.pad(T(x), [1, 4, 3, 2], mode=mode)
    np.testing.assert_array_equal(run("pad", [x], at), want.numpy())
    x1 = rng.standard_normal((2, 3, 6)).astype(np.float32)
    np.testing.assert_array_equal(run("pad", [x1], {"pads": [0, 0, 5, 0, 0, 2], "mode": mode}),
                                  F.pad(T(x1), [5, 2], mode=mode).numpy())
    if mode == "reflect":
        with pytest.raises(ValueError, match="smaller than the input"):
            SPECS["pad"].shape([(2, 3, 6)], {}, {"pads": [0, 0, 6, 0, 0, 0], "mode": mode})


def test_cast_truncates_toward_zero_and_comparisons():
    v = np.array([-2.7, -2.5, -0.5, 0.5, 2.5, 2.7, -3.0, 3.0], np.float32)
    np.testing.assert_array_equal(run("cast", [v], {"dtype": "int64"}), [-2, -2, 0, 0, 2, 2, -3, 3])
    np.testing.assert_array_equal(run("cast", [v], {"dtype": "bool"}), np.ones(8, np.float32))
    a = np.array([1.0, 2.0, 3.0, np.inf], np.float32)
    b = np.array([2.0, 2.0, 2.0, np.inf], np.float32)
    for kind, op in [("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"), ("gt", "__gt__"),
                     ("ge", "__ge__")]:
        want = [float(getattr(float(p), op)(float(q))) for p, q in zip(a, b)]
        y = run(kind, [a, b])
        assert y.dtype == np.float32 and y.tolist() == want, kind
        assert run(kind, [a], {"scalar": 2}).tolist() == [float(getattr(float(p), op)(2.0)) for p in a]


# ================================================================ executor: grouped conv on ABFP tiles
def _grouped_trace(rng, n=9):
    """relu -> conv2d (groups=2, bias, pad 1) -> depthwise conv2d (groups=4, x2 multiplier, stride 2).

    Group 1 of the first conv sees the same input channels, weights and bias as group 0,
    so only the random-stream key can tell them apart."""
    x = rng.standard_normal((n, 4, 6, 5)).astype(np.float32)
    x[:, 2:] = x[:, :2]
    w1 = (rng.standard_normal((6, 2, 3, 3)) * 0.5).astype(np.float32)
    w1[3:] = w1[:3]
    b1 = rng.standard_normal(6).astype(np.float32)
    b1[3:] = b1[:3]
    w2 = (rng.standard_normal((12, 1, 3, 3)) * 0.5).astype(np.float32)
    arrays = {"tensors/w1.npy": w1, "tensors/b1.npy": b1, "tensors/w2.npy": w2, "data/x.npy": x}
    ops = [
        {"name": "r", "kind": "relu", "inputs": ["x"], "outputs": ["r"]},
        {"name": "c1", "kind": "conv2d", "inputs": ["r"], "outputs": ["c1"],
         "params": {"weight": "tensors/w1.npy", "bias": "tensors/b1.npy"}, "attrs": {"padding": [1, 1, 1, 1], "groups": 2}},
        {"name": "c2", "kind": "conv2d", "inputs": ["c1"], "outputs": ["y"], "params": {"weight": "tensors/w2.npy"},
         "attrs": {"groups": 6, "stride": [2, 2], "padding": [1, 0, 1, 1]}},
    ]
    m = {"format": "amssim-trace", "version": 1, "name": "grouped", "kind": "graph", "metric": None,
         "inputs": [{"name": "x", "shape": [4, 6, 5], "dtype": "float32"}], "outputs": ["y"], "ops": ops,
         "files": {p: {"shape": list(a.shape), "dtype": "float32"} for p, a in arrays.items()},
         "data": {"num_samples": n, "inputs": {"x": "data/x.npy"}, "labels": None}}
    return build_trace(m, arrays), arrays


def _oracle_conv(x, w, b, groups, stride, pad_lrtb, gemm):
    """Per-group GEMMs on torch.nn.functional.unfold rows (sample-major, then output position)."""
    n, c, h, wd = x.shape
    xp = F.pad(T(x), pad_lrtb)
    og, cg = w.shape[0] // groups, c // groups
    outs = []
    for g in range(groups):
        cols = F.unfold(xp[:, g * cg:(g + 1) * cg], w.shape[2:], stride=stride)  # (N, cg*kh*kw, L)
        L = cols.shape[-1]
        rows = cols.transpose(1, 2).reshape(n * L, -1).numpy()
        y = gemm(rows, w[g * og:(g + 1) * og].reshape(og, -1), g)
        if b is not None:
            y = y + b[g * og:(g + 1) * og]
        outs.append(y)
    y = np.concatenate(outs, axis=1)
    ho = (h + pad_lrtb[2] + pad_lrtb[3] - w.shape[2]) // stride + 1
    wo = (wd + pad_lrtb[0] + pad_lrtb[1] - w.shape[3]) // stride + 1
    return np.ascontiguousarray(y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2))


def test_grouped_conv_through_abfp_is_keyed_per_group_and_batch_split_invariant(rng):
    from amssim.signal import AbfpConfig, abfp_matmul

    cfg = AbfpConfig(tile_width=8, input_bits=6, weight_bits=6, adc_bits=6, gain=2.0, noise="uniform",
                     noise_lsb=0.5)
    seed = 11
    t, a = _grouped_trace(rng)

    def abfp(index):
        return lambda rows, w, g: round_bf16(abfp_matmul(np.ascontiguousarray(rows), np.ascontiguousarray(w), cfg,
                                                         seed, layer=group_layer(index, g), row_offset=0))

    def bf16_out(fn):  # the executor rounds each GEMM op's output (after the bias) to bfloat16
        return lambda *args: round_bf16(fn(*args))

    xr = round_bf16(np.maximum(round_bf16(a["data/x.npy"]), 0))
    c1 = bf16_out(_oracle_conv)(xr, a["tensors/w1.npy"], a["tensors/b1.npy"], 2, 1, [1, 1, 1, 1], abfp(1))
    want = bf16_out(_oracle_conv)(c1, a["tensors/w2.npy"], None, 6, 2, [0, 1, 1, 1], abfp(2))
    # groups keyed independently: identical group inputs/weights, different noise
    assert not np.array_equal(c1[:, :3], c1[:, 3:])
    same_key = bf16_out(_oracle_conv)(xr, a["tensors/w1.npy"], a["tensors/b1.npy"], 2, 1, [1, 1, 1, 1],
                                      lambda r, w, g: abfp(1)(r, w, 0))
    np.testing.assert_array_equal(same_key[:, :3], same_key[:, 3:])  # (the check above can fail)
    outs = {}
    for bs in (1, 7, 9):
        r = evaluate(t, AbfpBackend(cfg, seed=seed), batch_size=bs, keep_outputs=True)
        outs[bs] = r.outputs
        np.testing.assert_array_equal(r.outputs, want, err_msg=f"batch_size {bs}")
        assert [e.name for e in r.layers] == ["c1", "c2"] and all(e.rel_rms_error > 0 for e in r.layers)
    assert [(g.m, g.k, g.n, g.count) for g in t.gemm_ops()] == [(30, 18, 3, 2), (6, 9, 2, 6)]


def test_grouped_conv_float32_executor_matches_torch(rng):
    t, a = _grouped_trace(rng)
    r = evaluate(t, Float32Backend(), batch_size=4, keep_outputs=True)
    h = F.conv2d(F.relu(T(a["data/x.npy"])), T(a["tensors/w1.npy"]), T(a["tensors/b1.npy"]), padding=1, groups=2)
    want = F.conv2d(F.pad(h, [0, 1, 1, 1]), T(a["tensors/w2.npy"]), stride=2, groups=6).numpy()
    np.testing.assert_allclose(r.outputs, want, **TOL)

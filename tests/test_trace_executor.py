"""Executor: ops against oracles, batch-size independence, differential error, bf16 rules."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amssim._rng import hash3_np, stream_key, to_unit_open_np
from amssim.errors import TraceError
from amssim.trace import (AbfpBackend, Float32Backend, SPECS, build_trace, evaluate, round_bf16)
from amssim.trace.executor import Executor
from reference.conv_ref import conv2d_ref


def T(a):
    return torch.from_numpy(np.asarray(a, np.float32))


def test_conv2d_matches_loop_reference(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    at = {"stride": [2, 1], "padding": [1, 0, 2, 1], "dilation": [1, 2]}
    y = SPECS["conv2d"].run([x], {"weight": w, "bias": b}, at)[0]
    np.testing.assert_allclose(y, conv2d_ref(x, w, b, at["stride"], at["padding"], at["dilation"]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, attrs, tfn", [
    ("conv1d", {"stride": [2], "padding": [1, 1], "dilation": [2]},
     lambda x, p: F.conv1d(x, p["weight"], p["bias"], stride=2, padding=1, dilation=2)),
    ("pool", {"mode": "max", "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1], "ceil_mode": True},
     lambda x, p: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("pool", {"mode": "avg", "kernel": [3, 2], "stride": [2, 2], "padding": [1, 1, 1, 1], "count_include_pad": False},
     lambda x, p: F.avg_pool2d(x, (3, 2), 2, 1, count_include_pad=False)),
    ("pool", {"mode": "avg", "kernel": [2, 2], "padding": [1, 0, 1, 0]},
     lambda x, p: F.avg_pool2d(x, 2, 2, (1, 0))),
    ("pool", {"mode": "avg", "global": True}, lambda x, p: F.adaptive_avg_pool2d(x, 1)),
    ("gelu", {}, lambda x, p: F.gelu(x)),
    ("gelu", {"approximate": "tanh"}, lambda x, p: F.gelu(x, approximate="tanh")),
    ("softmax", {"axis": 1}, lambda x, p: F.softmax(x, 1)),
    ("log_softmax", {"axis": -1}, lambda x, p: F.log_softmax(x, -1)),
    ("layernorm", {"normalized_shape": [5, 6], "eps": 1e-5},
     lambda x, p: F.layer_norm(x, [5, 6], p["weight"], p["bias"])),
    ("batchnorm", {"eps": 1e-3}, lambda x, p: F.batch_norm(x, p["mean"], p["var"], p["weight"], p["bias"], eps=1e-3)),
    ("sigmoid", {}, lambda x, p: torch.sigmoid(x)),
    ("tanh", {}, lambda x, p: torch.tanh(x)),
    ("erf", {}, lambda x, p: torch.erf(x)),
    ("mean", {"axes": [2, -1], "keepdims": True}, lambda x, p: x.mean((2, 3), keepdim=True)),
    ("sum", {"axes": [1]}, lambda x, p: x.sum(1)),
    ("flatten", {"start_dim": 1, "end_dim": 2}, lambda x, p: x.flatten(1, 2)),
    ("transpose", {"perm": [0, 2, 3, 1]}, lambda x, p: x.permute(0, 2, 3, 1)),
    ("slice", {"axis": 2, "start": 1, "end": 4, "step": 2}, lambda x, p: x[:, :, 1:4:2]),
    ("select", {"axis": -1, "index": -2}, lambda x, p: x[..., -2]),
])
def test_ops_match_torch(rng, kind, attrs, tfn):
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32) * 3
    params = {}
    if kind == "conv1d":
        x = x.reshape(2, 4, 30)
        params = {"weight": rng.standard_normal((3, 4, 3)).astype(np.float32), "bias": rng.standard_normal(3).astype(np.float32)}
    if kind == "layernorm":
        params = {"weight": rng.standard_normal((5, 6)).astype(np.float32), "bias": rng.standard_normal((5, 6)).astype(np.float32)}
    if kind == "batchnorm":
        params = {k: rng.uniform(0.5, 2, 4).astype(np.float32) for k in ("mean", "var", "weight", "bias")}
    shp = SPECS[kind].shape([x.shape], {k: v.shape for k, v in params.items()}, attrs)[0]
    y = SPECS[kind].run([x], params, attrs)[0]
    want = tfn(T(x), {k: T(v) for k, v in params.items()}).numpy()
    assert y.shape == shp == want.shape
    np.testing.assert_allclose(y, want, rtol=2e-6, atol=2e-6)


# ------------------------------------------------------------------ a small graph
def _graph(rng, n=10):
    """conv -> relu -> flatten -> linear -> reshape to tokens -> attention matmuls -> linear."""
    arrays = {
        "tensors/c.w.npy": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
        "tensors/c.b.npy": rng.standard_normal(4).astype(np.float32),
        "tensors/f.w.npy": rng.standard_normal((24, 4 * 6 * 6)).astype(np.float32) * 0.1,
        "tensors/o.w.npy": rng.standard_normal((3, 24)).astype(np.float32),
        "data/x.npy": rng.standard_normal((n, 2, 6, 6)).astype(np.float32),
        "data/y.npy": rng.integers(0, 3, n).astype(np.int64),
    }
    ops = [
        {"name": "c", "kind": "conv2d", "inputs": ["x"], "outputs": ["c"],
         "params": {"weight": "tensors/c.w.npy", "bias": "tensors/c.b.npy"}, "attrs": {"padding": [1, 1, 1, 1]}},
        {"name": "r", "kind": "relu", "inputs": ["c"], "outputs": ["r"]},
        {"name": "fl", "kind": "flatten", "inputs": ["r"], "outputs": ["fl"]},
        {"name": "f", "kind": "linear", "inputs": ["fl"], "outputs": ["f"], "params": {"weight": "tensors/f.w.npy"}},
        {"name": "tok", "kind": "reshape", "inputs": ["f"], "outputs": ["tok"], "attrs": {"shape": [-1, 2, 4, 3]}},
        {"name": "qk", "kind": "matmul", "inputs": ["tok", "tok"], "outputs": ["s"], "attrs": {"transpose_b": True}},
        {"name": "sm", "kind": "softmax", "inputs": ["s"], "outputs": ["p"], "attrs": {"axis": -1}},
        {"name": "av", "kind": "matmul", "inputs": ["p", "tok"], "outputs": ["a"]},
        {"name": "fl2", "kind": "flatten", "inputs": ["a"], "outputs": ["fl2"]},
        {"name": "o", "kind": "linear", "inputs": ["fl2"], "outputs": ["y"], "params": {"weight": "tensors/o.w.npy"}},
    ]
    m = {"format": "amssim-trace", "version": 1, "name": "g", "kind": "graph", "metric": "top1",
         "inputs": [{"name": "x", "shape": [2, 6, 6], "dtype": "float32"}], "outputs": ["y"], "ops": ops,
         "files": {p: {"shape": list(a.shape), "dtype": str(a.dtype)} for p, a in arrays.items()},
         "data": {"num_samples": n, "inputs": {"x": "data/x.npy"}, "labels": "data/y.npy"}}
    return build_trace(m, arrays), arrays


def _numpy_forward(a):
    x = torch.from_numpy(a["data/x.npy"])
    h = F.relu(F.conv2d(x, T(a["tensors/c.w.npy"]), T(a["tensors/c.b.npy"]), padding=1)).flatten(1)
    tok = (h @ T(a["tensors/f.w.npy"]).T).reshape(-1, 2, 4, 3)
    att = F.softmax(tok @ tok.transpose(-1, -2), -1) @ tok
    return (att.flatten(1) @ T(a["tensors/o.w.npy"]).T).numpy()


def test_float32_run_matches_torch_and_reports_metric(rng):
    t, a = _graph(rng)
    assert [(g.name, g.m, g.k, g.n, g.count, g.weights_static) for g in t.gemm_ops()] == [
        ("c", 36, 18, 4, 1, True), ("f", 1, 144, 24, 1, True), ("qk", 4, 3, 4, 2, False),
        ("av", 4, 4, 3, 2, False), ("o", 1, 24, 3, 1, True)]
    r = evaluate(t, Float32Backend(), batch_size=3, keep_outputs=True)
    want = _numpy_forward(a)
    np.testing.assert_allclose(r.outputs, want, rtol=1e-5, atol=1e-5)
    assert r.accuracy == np.mean(np.argmax(want, 1) == a["data/y.npy"])
    assert r.num_samples == 10 and all(e.rel_rms_error == 0 for e in r.layers)
    assert evaluate(t, Float32Backend(), limit=4).num_samples == 4


class HashNoiseBackend:
    """Exact GEMM plus noise keyed by (layer, GLOBAL row, column): exposes row numbering."""

    name = "hashnoise"
    bf16_activations = True

    def __init__(self):
        self.calls = []

    def gemm(self, x, w, *, layer, row_offset, op_name):
        self.calls.append((op_name, row_offset, x.shape[0]))
        k0, k1 = stream_key(1, 7, layer)
        rows = np.arange(row_offset, row_offset + x.shape[0])[:, None]
        cols = np.arange(w.shape[0])[None, :]
        u = to_unit_open_np(hash3_np(k0, k1, rows, cols, 0)) - 0.5
        return (x @ w.T + 0.01 * u).astype(np.float32)


def test_results_do_not_depend_on_batch_size(rng):
    t, _ = _graph(rng)
    outs = [evaluate(t, HashNoiseBackend(), batch_size=bs, keep_outputs=True) for bs in (1, 4, 10)]
    for r in outs[1:]:
        np.testing.assert_array_equal(r.outputs, outs[0].outputs)
        for a, b in zip(r.layers, outs[0].layers):
            # the float32 reference GEMM may round differently with the BLAS blocking
            assert a.dy_mean == pytest.approx(b.dy_mean, rel=1e-3, abs=1e-6)
            assert a.rel_rms_error == pytest.approx(b.rel_rms_error, rel=1e-4)


def test_row_offsets_are_global(rng):
    t, _ = _graph(rng)
    be = HashNoiseBackend()
    ex = Executor(t, be)
    ex.run({"x": np.zeros((3, 2, 6, 6), np.float32)}, start=5)
    calls = {}
    for name, off, m in be.calls:
        calls.setdefault(name, []).append((off, m))
    assert calls["c"] == [(5 * 36, 3 * 36)]
    assert calls["f"] == [(5, 3)]
    # matmul: (sample, head) folded into the row index: ((5+s)*2 + h) * 4
    assert calls["qk"] == [((5 * 2 + g) * 4, 4) for g in range(6)]


class ShiftBackend:
    name = "shift"
    bf16_activations = False

    def gemm(self, x, w, *, layer, row_offset, op_name):
        return (x @ w.T + np.float32(0.25)).astype(np.float32)


def test_differential_error_statistics(rng):
    t, a = _graph(rng)
    r = evaluate(t, ShiftBackend(), batch_size=4)
    e = {x.name: x for x in r.layers}
    # first op: same input as the float32 run, so the statistics are closed-form
    x = torch.from_numpy(a["data/x.npy"])
    ref = F.conv2d(x, T(a["tensors/c.w.npy"]), T(a["tensors/c.b.npy"]), padding=1).double().numpy()
    assert e["c"].dy_mean == pytest.approx(0.25, rel=1e-5)
    assert e["c"].dy_std == pytest.approx(0.0, abs=1e-5)
    assert e["c"].rel_rms_error == pytest.approx(0.25 / math.sqrt(np.mean(ref ** 2)), rel=1e-5)
    assert e["c"].macs == 36 * 18 * 4 and e["qk"].macs == 4 * 3 * 4 * 2


def test_abfp_backend_first_layer_error_matches_direct_call(rng):
    from amssim.signal import AbfpConfig, abfp_matmul

    cfg = AbfpConfig(tile_width=8, input_bits=6, weight_bits=6, adc_bits=6, gain=2.0, noise="uniform", noise_lsb=0.5)
    t, a = _graph(rng)
    r = evaluate(t, AbfpBackend(cfg, seed=4), batch_size=4, keep_outputs=True)
    # direct: im2col of the bf16-rounded input through abfp_matmul with global rows
    x = round_bf16(a["data/x.npy"])
    from amssim.trace.im2col import im2col
    cols, _ = im2col(x, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1])
    w = a["tensors/c.w.npy"].reshape(4, -1)
    y = round_bf16(abfp_matmul(cols, w, cfg, 4, layer=0, row_offset=0) + a["tensors/c.b.npy"])
    ref = cols @ w.T + a["tensors/c.b.npy"]
    d = y.astype(np.float64) - ref
    e = r.layers[0]
    assert e.dy_mean == pytest.approx(d.mean(), rel=1e-3, abs=1e-6)
    assert e.dy_std == pytest.approx(d.std(), rel=1e-5)
    assert e.rel_rms_error == pytest.approx(math.sqrt(np.mean(d ** 2) / np.mean(ref.astype(np.float64) ** 2)), rel=1e-5)
    assert e.rel_rms_error > 0.001
    # non-GEMM outputs are bf16 values: the final outputs of a linear+bias-free op are bf16
    np.testing.assert_array_equal(r.outputs, round_bf16(r.outputs))
    # per-layer override: an ideal config for op "c" leaves only the bf16 output rounding
    from dataclasses import replace
    r2 = evaluate(t, AbfpBackend(cfg, seed=4, layer_cfgs={"c": replace(cfg, ideal=True)}), batch_size=5)
    assert 0 < r2.layers[0].rel_rms_error < 2.0 ** -8 < e.rel_rms_error
    assert r2.layers[1].rel_rms_error > 0


def test_layer_trace_reports_errors_only(rng):
    arrays = {"tensors/w.npy": rng.standard_normal((6, 16)).astype(np.float32),
              "data/x.npy": rng.standard_normal((3, 5, 16)).astype(np.float32)}
    m = {"format": "amssim-trace", "version": 1, "name": "l", "kind": "layer", "metric": None,
         "inputs": [{"name": "x", "shape": [5, 16], "dtype": "float32"}], "outputs": ["y"],
         "ops": [{"name": "fc", "kind": "linear", "inputs": ["x"], "outputs": ["y"], "params": {"weight": "tensors/w.npy"}}],
         "files": {p: {"shape": list(a.shape), "dtype": "float32"} for p, a in arrays.items()},
         "data": {"num_samples": 3, "inputs": {"x": "data/x.npy"}, "labels": None}}
    t = build_trace(m, arrays)
    assert t.gemm_ops()[0].m == 5
    r = evaluate(t, ShiftBackend(), batch_size=2)
    assert r.accuracy is None and r.metric is None and r.layers[0].dy_mean == pytest.approx(0.25, rel=1e-5)
    m2 = dict(m, ops=m["ops"] + [{"name": "r", "kind": "relu", "inputs": ["y"], "outputs": ["z"]}], outputs=["z"])
    with pytest.raises(TraceError, match=r"ops\[1\] \(r\).kind: a layer trace holds GEMM ops only"):
        build_trace(m2, arrays)


def test_shape_only_trace_cannot_execute():
    m = {"format": "amssim-trace", "version": 1, "name": "s", "kind": "shape", "metric": None,
         "inputs": [{"name": "x", "shape": [3, 4], "dtype": "float32"}], "outputs": ["y"],
         "ops": [{"name": "fc", "kind": "linear", "inputs": ["x"], "outputs": ["y"], "params": {"weight": "tensors/w.npy"}}],
         "files": {"tensors/w.npy": {"shape": [2, 4], "dtype": "float32"}}}
    t = build_trace(m, {})
    assert t.gemm_ops()[0].macs == 3 * 4 * 2
    with pytest.raises(TraceError, match="shape-only"):
        evaluate(t, Float32Backend())


def test_bad_batch_size_and_embedding_range(rng):
    t, _ = _graph(rng)
    with pytest.raises(TraceError, match="batch_size"):
        evaluate(t, Float32Backend(), batch_size=0)
    with pytest.raises(ValueError, match="out of range"):
        SPECS["embedding"].run([np.array([[0, 5]])], {"weight": np.zeros((5, 2), np.float32)}, {})


def test_progress_bar_runs(rng, capsys):
    t, _ = _graph(rng)
    assert evaluate(t, Float32Backend(), batch_size=2, progress=True).num_samples == 10


def test_diff_sums_kernel_matches_reference_exactly(rng):
    from amssim.trace._kernels import diff_sums
    from reference.diff_sums_ref import diff_sums_ref

    y = rng.standard_normal(1001).astype(np.float32)
    r = (y + rng.standard_normal(1001).astype(np.float32) * 1e-3).astype(np.float32)
    assert diff_sums(y, r) == diff_sums_ref(y, r)

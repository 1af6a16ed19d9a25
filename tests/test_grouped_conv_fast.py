"""Grouped and depthwise convolutions in one backend call == one GEMM per group, bit for bit.

The oracles: ``prepare_weights`` / ``accumulate`` / ``finalize`` per group (and the numpy
reference ``abfp_matmul_ref``) for the fused kernel; one ``gemm`` per group for the
backends; and the executor's former per-group convolution (``_old_run_conv`` below: an
im2col of each group's channels and one ``Executor._gemm`` per group, statistics added
group by group) for whole traces, outputs and differential statistics.
"""

import math

import numpy as np
import pytest

import amssim.trace.executor as executor_mod
from amssim.config import load_device
from amssim.errors import ConfigError
from amssim.signal import AbfpConfig, finalize, prepare_weights
from amssim.signal import _kernels as K
from amssim.signal.abfp_groups import AbfpGroupsPrepared, groups_fusable, prepare_weight_groups
from amssim.timing.backend import TimedAbfpBackend
from amssim.trace import AbfpBackend, DigitalBackend, Float32Backend, build_trace, evaluate
from amssim.trace import im2col as _im
from amssim.trace.backends import MixedBackend, gemm_call, gemm_static_groups
from amssim.trace.executor import Executor
from amssim.trace.ops import conv_geometry
from amssim.trace.ops.gemm import dilate_input, group_layer, input_dilation
from reference.abfp_ref import abfp_matmul_ref

INL = tuple(np.linspace(-0.3, 0.3, 255))
#: configurations the fused kernel covers (every noise kind, scale format, general epilogue)
FUSED = {
    "uniform": dict(noise="uniform"),
    "none": dict(noise="none"),
    "gaussian": dict(noise="gaussian", noise_lsb=2.0),
    "logistic": dict(noise="logistic", noise_lsb=0.7),
    "laplace": dict(noise="laplace", noise_lsb=0.7),
    "student_t": dict(noise="student_t", noise_dof=3.0),
    "empirical": dict(noise="empirical", noise_edges_lsb=(-2.0, 0.0, 1.0), noise_probs=(0.4, 0.6)),
    "adc_inl": dict(adc_inl_lsb=INL, noise="uniform"),
    "signal_noise": dict(signal_noise_var_lsb2=0.3, noise="gaussian"),
    "channels": dict(channel_gain_error=(0.01, -0.02, 0.03), channel_offset_lsb=(0.3, -0.2)),
    "fp32_scales": dict(scale_format="fp32", noise="uniform"),
    "pow2_scales": dict(scale_format="pow2", noise="none"),
}
#: configurations that run group by group inside the backend
OTHER = {
    "dac_inl": dict(dac_inl_lsb=INL),
    "weight_noise": dict(weight_noise_rel=0.02),
    "wide_f64": dict(input_bits=12, weight_bits=12, adc_bits=12),
    "ideal": dict(ideal=True),
}
#: (groups, rows, K per group, N per group): depthwise, K > tile, N >= 8 (column-innermost dots)
SHAPES = [(5, 37, 9, 1), (4, 11, 25, 1), (3, 20, 36, 4), (2, 9, 300, 3), (2, 15, 20, 9)]


def _cfg(tile, **kw):
    base = dict(tile_width=tile, input_bits=8, weight_bits=8, adc_bits=8, gain=4.0, noise_lsb=0.5)
    base.update(kw)
    return AbfpConfig(**base)


def _per_group(x3, w3, cfg, seed, layers, row_offset):
    """One prepare_weights / accumulate / finalize per group: (G, M, N)."""
    out = []
    for g in range(x3.shape[0]):
        p = prepare_weights(w3[g], cfg, seed, layers[g])
        acc = np.zeros((x3.shape[1], w3.shape[1]), np.float32)
        p.accumulate(np.ascontiguousarray(x3[g]), acc, 0, p.num_blocks, row_offset=row_offset, col_start=0,
                     col_stop=p.num_rows)
        out.append(finalize(acc))
    return np.stack(out)


def _operands(rng, G, M, Kg, N, scale=1.0):
    x = (rng.standard_normal((M, G, Kg)) * scale).astype(np.float32)
    x[0, 0, : min(Kg, 4)] = 0.0  # a partly zero block
    if M > 1 and G > 1:
        x[1, 1] = 0.0  # an all-zero block (scale 1)
    w = rng.standard_normal((G, N, Kg)).astype(np.float32)
    return x, w


def _bits(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


# ------------------------------------------------------------------ fused kernel
@pytest.mark.parametrize("tile", [8, 32, 128])
@pytest.mark.parametrize("case", sorted(FUSED))
def test_fused_kernel_equals_per_group_path(case, tile, rng):
    cfg = _cfg(tile, **FUSED[case])
    assert groups_fusable(cfg)
    for G, M, Kg, N in SHAPES:
        x, w = _operands(rng, G, M, Kg, N, scale=4.0 if case == "adc_inl" else 1.0)
        layers = [group_layer(7, g) for g in range(G)]
        for row_offset in (0, 1000, 2**31 + 5):
            y = prepare_weight_groups(w, cfg, 3, layers).run(x, row_offset=row_offset)
            want = _per_group(x.swapaxes(0, 1), w, cfg, 3, layers, row_offset)
            np.testing.assert_array_equal(_bits(y.swapaxes(0, 1)), _bits(want),
                                          err_msg=f"{case} tile {tile} shape {(G, M, Kg, N)} rows +{row_offset}")


@pytest.mark.parametrize("case", ["uniform", "gaussian", "student_t", "signal_noise", "channels"])
def test_fused_kernel_equals_numpy_reference(case, rng):
    cfg = _cfg(8, **FUSED[case])
    x, w = _operands(rng, 3, 6, 20, 2)
    layers = [group_layer(2, g) for g in range(3)]
    y = prepare_weight_groups(w, cfg, 5, layers).run(x, row_offset=40)
    for g in range(3):
        want = abfp_matmul_ref(x[:, g], w[g], cfg, seed=5, layer=layers[g], row_offset=40)
        np.testing.assert_array_equal(_bits(y[:, g]), _bits(want))


def test_programmed_groups_equal_per_group_programming(rng):
    cfg = _cfg(32, noise="uniform", channel_gain_error=(0.01, 0.02), channel_offset_lsb=(0.1,))
    x, w = _operands(rng, 3, 4, 70, 5)
    layers = [group_layer(9, g) for g in range(3)]
    gp = prepare_weight_groups(w, cfg, 2, layers)
    for g in range(3):
        p = prepare_weights(w[g], cfg, 2, layers[g])
        assert np.array_equal(gp._wq[g], p._wT) and np.array_equal(gp.weight_scales[g], p.weight_scales)
        assert np.array_equal(gp._num[g], p._num) and np.array_equal(gp._off[g], p._off)
        assert np.array_equal(gp._keys[g], p._keys)
        assert (gp._den, gp._kappa) == (p._den, p._kappa)


@pytest.mark.parametrize("rb", [1, 5, 64])
def test_parallel_kernel_equals_serial(rb, rng):
    cfg = _cfg(16, noise="gaussian")
    x, w = _operands(rng, 6, 150, 40, 2)
    gp = prepare_weight_groups(w, cfg, 1, [group_layer(3, g) for g in range(6)])
    outs = []
    for kern in (K.groups_products, K.groups_products_serial):
        out = np.empty((150, 6, 2), np.float32)
        kern(x, gp._wq, gp.weight_scales, gp._num, gp._off, gp._keys, gp.n, gp.Lx, int(cfg.scale_kind),
             gp._den, gp._kappa, gp.Ly, 11, int(cfg.noise_kind), float(cfg.noise_lsb), float(cfg.noise_dof),
             gp._cdf, gp._edges, float(cfg.signal_noise_var_lsb2), gp._adc_inl, out, rb)
        outs.append(out)
    np.testing.assert_array_equal(_bits(outs[0]), _bits(outs[1]))
    np.testing.assert_array_equal(_bits(outs[0]), _bits(gp.run(x, row_offset=11)))


def test_fused_kernel_validation(rng):
    x, w = _operands(rng, 2, 3, 9, 1)
    cfg = _cfg(8)
    with pytest.raises(ConfigError, match="ideal"):
        prepare_weight_groups(w, _cfg(8, ideal=True), 0, [0, 1])
    with pytest.raises(ConfigError, match="one entry per group"):
        prepare_weight_groups(w, cfg, 0, [0])
    with pytest.raises(ConfigError, match="3-D"):
        prepare_weight_groups(w[0], cfg, 0, [0])
    gp = prepare_weight_groups(w, cfg, 0, [0, 1])
    with pytest.raises(ConfigError, match="shape"):
        gp.run(x[:, :1], row_offset=0)
    bad = x.copy()
    bad[2, 1, 3] = np.inf
    with pytest.raises(ConfigError, match="non-finite"):
        gp.run(bad, row_offset=0)
    with pytest.raises(ConfigError, match="2\\*\\*32"):
        gp.run(x, row_offset=2**32 - 2)
    assert isinstance(gp, AbfpGroupsPrepared) and gp.run(x[:0], row_offset=0).shape == (0, 2, 1)


# ------------------------------------------------------------------ backends
@pytest.mark.parametrize("case", sorted(FUSED) + sorted(OTHER))
def test_abfp_backend_static_groups_equal_gemm_calls(case, rng):
    cfg = _cfg(8, **{**FUSED, **OTHER}[case])
    for G, M, Kg, N in SHAPES[:3]:
        x, w = _operands(rng, G, M, Kg, N)
        x3 = x.swapaxes(0, 1)  # a strided view, as the executor passes it
        layers = [group_layer(4, g) for g in range(G)]
        b, ref = AbfpBackend(cfg, seed=6), AbfpBackend(cfg, seed=6)
        for row_offset in (0, 3 * M):
            y = b.gemm_static_groups(x3, w, layers=layers, row_offset=row_offset, op_name="dw")
            want = [ref.gemm(np.ascontiguousarray(x3[g]), np.ascontiguousarray(w[g]), layer=layers[g],
                             row_offset=row_offset, op_name="dw") for g in range(G)]
            np.testing.assert_array_equal(_bits(y), _bits(np.stack(want)), err_msg=f"{case} {(G, M, Kg, N)}")


def test_abfp_backend_caches_programmed_groups(rng):
    cfg = _cfg(16, noise="uniform")
    x, w = _operands(rng, 4, 10, 9, 1)
    layers = [group_layer(1, g) for g in range(4)]
    shared: dict = {}
    a = AbfpBackend(cfg, seed=2, prepared_cache=shared)
    ya = a.gemm_static_groups(x.swapaxes(0, 1), w, layers=layers, row_offset=0, op_name="dw")
    prep = a._groups[("dw", tuple(layers))][2]
    a.gemm_static_groups(x.swapaxes(0, 1), w, layers=layers, row_offset=0, op_name="dw")
    assert a._groups[("dw", tuple(layers))][2] is prep  # same weights object: programmed once
    assert list(shared.values()) == [prep]
    b = AbfpBackend(cfg, seed=2, prepared_cache=shared)  # another backend on the same trace
    yb = b.gemm_static_groups(x.swapaxes(0, 1), w.copy(), layers=layers, row_offset=0, op_name="dw")
    assert b._groups[("dw", tuple(layers))][2] is prep
    np.testing.assert_array_equal(_bits(ya), _bits(yb))
    c = AbfpBackend(cfg, seed=3, prepared_cache=shared)  # another seed: programmed again
    c.gemm_static_groups(x.swapaxes(0, 1), w, layers=layers, row_offset=0, op_name="dw")
    assert len(shared) == 2


def test_abfp_backend_layer_override_applies_to_groups(rng):
    base, special = _cfg(128, noise="uniform"), _cfg(8, noise="gaussian")
    x, w = _operands(rng, 3, 12, 25, 2)
    layers = [group_layer(5, g) for g in range(3)]
    b = AbfpBackend(base, seed=1, layer_cfgs={"dw": special})
    y = b.gemm_static_groups(x.swapaxes(0, 1), w, layers=layers, row_offset=24, op_name="dw")
    np.testing.assert_array_equal(_bits(y), _bits(_per_group(x.swapaxes(0, 1), w, special, 1, layers, 24)))
    y2 = b.gemm_static_groups(x.swapaxes(0, 1), w, layers=layers, row_offset=24, op_name="other")
    np.testing.assert_array_equal(_bits(y2), _bits(_per_group(x.swapaxes(0, 1), w, base, 1, layers, 24)))


def test_float32_backend_static_groups_equal_per_group_blas(rng):
    for G, M, Kg, N in SHAPES + [(96, 300, 9, 1), (8, 513, 72, 16)]:
        cols = rng.standard_normal((M, G * Kg)).astype(np.float32)
        w = rng.standard_normal((G, N, Kg)).astype(np.float32)
        x3 = cols.reshape(M, G, Kg).swapaxes(0, 1)
        y = Float32Backend().gemm_static_groups(x3, w, layers=list(range(G)), row_offset=0, op_name="c")
        for g in range(G):
            want = np.ascontiguousarray(cols[:, g * Kg:(g + 1) * Kg]) @ np.ascontiguousarray(w[g]).T
            np.testing.assert_array_equal(_bits(y[g]), _bits(want))


class _Recorder:
    """A backend without gemm_static_groups that records its calls."""

    name = "rec"
    bf16_activations = False

    def __init__(self):
        self.calls = []

    def gemm(self, x, w, *, layer, row_offset, op_name):
        self.calls.append((x.flags.c_contiguous, id(w), layer, row_offset, op_name))
        return np.matmul(x, w.T)


def test_fallback_loops_over_gemm_with_the_given_weights(rng):
    x, w = _operands(rng, 3, 5, 9, 2)
    ws = [np.ascontiguousarray(w[g]) for g in range(3)]
    r = _Recorder()
    y = gemm_static_groups(r, x.swapaxes(0, 1), w, layers=[7, 8, 9], row_offset=50, op_name="c", weights=ws)
    assert r.calls == [(True, id(ws[g]), 7 + g, 50, "c") for g in range(3)]
    for g in range(3):
        np.testing.assert_array_equal(y[g], np.ascontiguousarray(x[:, g]) @ ws[g].T)
    # a mixed backend resolves to the op's backend (here one with the method, there the fallback)
    r2 = _Recorder()
    mixed = MixedBackend(r2, {"fast": Float32Backend()})
    gemm_static_groups(mixed, x.swapaxes(0, 1), w, layers=[1, 2, 3], row_offset=0, op_name="fast")
    assert r2.calls == []
    gemm_static_groups(mixed, x.swapaxes(0, 1), w, layers=[1, 2, 3], row_offset=0, op_name="slow")
    assert [c[2] for c in r2.calls] == [1, 2, 3]


def test_fallback_passes_sample_rows_to_digital_backend(rng):
    x, w = _operands(rng, 2, 12, 9, 3)
    b = DigitalBackend("int8", seed=1)
    y = gemm_static_groups(b, x.swapaxes(0, 1), w, layers=[3, 4], row_offset=24, op_name="c", sample_rows=4)
    ref = DigitalBackend("int8", seed=1)
    for g in range(2):
        want = gemm_call(ref, np.ascontiguousarray(x[:, g]), w[g], layer=3 + g, row_offset=24, op_name="c",
                         sample_rows=4)
        np.testing.assert_array_equal(_bits(y[g]), _bits(want))


# ------------------------------------------------------------------ executor
def _old_run_conv(self, op, x, p, start, batch, bias):
    """The executor's convolution before grouped calls: one im2col and one _gemm per group."""
    w = p["weight"]
    nd = w.ndim - 2
    stride, padding, dilation = conv_geometry(nd, op.attrs)
    x = dilate_input(x, input_dilation(nd, op.attrs))
    ws = self.w2d[op.name]
    g = len(ws)
    cg, og = x.shape[1] // g, w.shape[0] // g
    ys = []
    outs = None
    for j in range(g):
        xj = x if g == 1 else x[:, j * cg:(j + 1) * cg]
        cols, outs = _im.im2col(xj, w.shape[2:], stride, padding, dilation)
        bj = None if bias is None else bias[j * og:(j + 1) * og]
        ys.append(self._gemm(op, cols, ws[j], start * math.prod(outs), bj, layer=group_layer(op.index, j),
                             sample_rows=math.prod(outs)))
    y = ys[0] if g == 1 else np.concatenate(ys, axis=1)
    return _im.cols_to_output(y, batch, outs)


def _conv_trace(rng, nd, cin, cout, groups, kernel, attrs, n=7, bias=True, spatial=9):
    """dense conv -> grouped conv -> relu -> flatten -> linear (top1 over 3 classes)."""
    sp = (spatial,) * nd
    kind = f"conv{nd}d"
    arrays = {
        "tensors/a.w.npy": (rng.standard_normal((cin, 2) + (3,) * nd) * 0.5).astype(np.float32),
        "tensors/g.w.npy": rng.standard_normal((cout, cin // groups) + (kernel,) * nd).astype(np.float32),
        "data/x.npy": rng.standard_normal((n, 2) + sp).astype(np.float32),
        "data/y.npy": rng.integers(0, 3, n).astype(np.int64),
    }
    gparams = {"weight": "tensors/g.w.npy"}
    if bias:
        arrays["tensors/g.b.npy"] = rng.standard_normal(cout).astype(np.float32)
        gparams["bias"] = "tensors/g.b.npy"
    x = np.zeros((1, 2) + sp, np.float32)
    from amssim.trace.ops import SPECS
    h = SPECS[kind].run([x], {"weight": arrays["tensors/a.w.npy"]}, {"padding": [1] * (2 * nd)})[0]
    h = SPECS[kind].run([h], {"weight": arrays["tensors/g.w.npy"]}, {"groups": groups, **attrs})[0]
    arrays["tensors/f.w.npy"] = (rng.standard_normal((3, h.size)) * 0.1).astype(np.float32)
    ops = [
        {"name": "a", "kind": kind, "inputs": ["x"], "outputs": ["a"], "params": {"weight": "tensors/a.w.npy"},
         "attrs": {"padding": [1] * (2 * nd)}},
        {"name": "g", "kind": kind, "inputs": ["a"], "outputs": ["g"], "params": gparams,
         "attrs": {"groups": groups, **attrs}},
        {"name": "r", "kind": "relu", "inputs": ["g"], "outputs": ["r"]},
        {"name": "fl", "kind": "flatten", "inputs": ["r"], "outputs": ["fl"]},
        {"name": "f", "kind": "linear", "inputs": ["fl"], "outputs": ["y"], "params": {"weight": "tensors/f.w.npy"}},
    ]
    m = {"format": "amssim-trace", "version": 1, "name": "gc", "kind": "graph", "metric": "top1",
         "inputs": [{"name": "x", "shape": [2, *sp], "dtype": "float32"}], "outputs": ["y"], "ops": ops,
         "files": {p: {"shape": list(a.shape), "dtype": str(a.dtype)} for p, a in arrays.items()},
         "data": {"num_samples": n, "inputs": {"x": "data/x.npy"}, "labels": "data/y.npy"}}
    return build_trace(m, arrays)


#: (nd, cin, cout, groups, kernel, attrs)
GEOMETRIES = {
    "depthwise3x3": (2, 8, 8, 8, 3, {"padding": [1, 1, 1, 1]}),
    "depthwise5x5_stride2": (2, 6, 6, 6, 5, {"padding": [2, 2, 2, 2], "stride": [2, 2]}),
    "depthwise_multiplier": (2, 4, 8, 4, 3, {"padding": [1, 0, 1, 0], "dilation": [2, 1]}),
    "grouped_cg3_og2": (2, 6, 4, 2, 3, {"padding": [1, 1, 1, 1]}),
    "grouped_wide_k": (2, 40, 8, 2, 3, {"padding": [1, 1, 1, 1]}),  # K per group 180 > tile
    "grouped_og8": (2, 4, 16, 2, 3, {"padding": [1, 1, 1, 1]}),  # 8 columns per group
    "conv1d_grouped": (1, 6, 9, 3, 4, {"padding": [2, 1], "stride": [2], "dilation": [2]}),
    "transposed": (2, 4, 6, 2, 3, {"input_dilation": [2, 2], "padding": [2, 2, 1, 1]}),
}


def _backends():
    return {
        "abfp8_uniform": lambda: AbfpBackend(_cfg(8, noise="uniform"), seed=3),
        "abfp32_gaussian": lambda: AbfpBackend(_cfg(32, noise="gaussian", noise_lsb=1.0), seed=4),
        "abfp128_empirical": lambda: AbfpBackend(_cfg(128, noise="empirical", noise_edges_lsb=(-1.0, 0.5, 2.0),
                                                      noise_probs=(0.7, 0.3)), seed=5),
        "abfp_weight_noise": lambda: AbfpBackend(_cfg(8, noise="uniform", weight_noise_rel=0.05), seed=1),
        "abfp_override": lambda: AbfpBackend(_cfg(128, noise="none"), seed=2,
                                             layer_cfgs={"g": _cfg(8, noise="student_t", noise_dof=3.0)}),
        "fp32": Float32Backend,
        "digital_int8": lambda: DigitalBackend("int8", seed=2),
        "mixed": lambda: MixedBackend(Float32Backend(), {"g": AbfpBackend(_cfg(32, noise="uniform"), seed=7)}),
    }


def _old_and_new(monkeypatch, trace, make, **kw):
    new = evaluate(trace, make(), keep_outputs=True, **kw)
    with monkeypatch.context() as mp:
        mp.setattr(Executor, "_run_conv", _old_run_conv)
        old = evaluate(trace, make(), keep_outputs=True, **kw)
    return new, old


def _assert_same(a, b):
    np.testing.assert_array_equal(_bits(a.outputs), _bits(b.outputs))
    assert a.layers == b.layers  # differential statistics, bit for bit
    assert a.accuracy == b.accuracy


@pytest.mark.parametrize("geom", sorted(GEOMETRIES))
@pytest.mark.parametrize("backend", sorted(_backends()))
def test_executor_grouped_conv_equals_per_group_path(geom, backend, monkeypatch, rng):
    nd, cin, cout, groups, kernel, attrs = GEOMETRIES[geom]
    t = _conv_trace(rng, nd, cin, cout, groups, kernel, attrs, bias=geom != "grouped_cg3_og2")
    new, old = _old_and_new(monkeypatch, t, _backends()[backend], batch_size=3)
    _assert_same(new, old)
    if not backend.startswith(("fp32", "mixed")):
        assert new.layers[1].rel_rms_error > 0  # the grouped op was really simulated


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_executor_results_do_not_depend_on_batch(batch, monkeypatch, rng):
    t = _conv_trace(rng, 2, 8, 8, 8, 3, {"padding": [1, 1, 1, 1], "stride": [2, 2]}, n=7)
    make = _backends()["abfp8_uniform"]
    new, old = _old_and_new(monkeypatch, t, make, batch_size=batch)
    _assert_same(new, old)
    one = evaluate(t, make(), batch_size=7, keep_outputs=True)
    np.testing.assert_array_equal(_bits(new.outputs), _bits(one.outputs))


def test_executor_chunks_of_groups_equal_one_call(monkeypatch, rng):
    t = _conv_trace(rng, 2, 12, 12, 12, 3, {"padding": [1, 1, 1, 1]})
    make = _backends()["abfp32_gaussian"]
    whole = evaluate(t, make(), batch_size=4, keep_outputs=True)
    calls = []
    orig = executor_mod.gemm_static_groups

    def spy(backend, x3, w3, **kw):
        calls.append(x3.shape[0])
        return orig(backend, x3, w3, **kw)

    monkeypatch.setattr(executor_mod, "gemm_static_groups", spy)
    monkeypatch.setattr(executor_mod, "_GROUP_COLS_ELEMS", 4 * 81 * 9 * 5)  # 5 groups per chunk
    chunked = evaluate(t, make(), batch_size=4, keep_outputs=True)
    assert calls[:3] == [5, 5, 2]
    _assert_same(chunked, whole)


def test_timed_backend_keeps_per_group_calls_and_timing(monkeypatch, rng):
    dev = load_device("abfp-paper")
    t = _conv_trace(rng, 2, 4, 8, 4, 3, {"padding": [1, 1, 1, 1]}, n=4)
    a = TimedAbfpBackend(dev, seed=3, gemm_shapes=t.gemm_ops())
    ra = evaluate(t, a, batch_size=2, keep_outputs=True)
    with monkeypatch.context() as mp:
        mp.setattr(Executor, "_run_conv", _old_run_conv)
        b = TimedAbfpBackend(dev, seed=3, gemm_shapes=t.gemm_ops())
        rb = evaluate(t, b, batch_size=2, keep_outputs=True)
    _assert_same(ra, rb)
    assert [c[:6] for c in a.calls] == [c[:6] for c in b.calls]
    assert a.timing_result(2).cycles == b.timing_result(2).cycles

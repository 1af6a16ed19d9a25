"""Per-tensor INT activation scales are per sample, so digital runs do not depend on the batch.

Before: ``DigitalBackend("int8")`` took one max-abs scale over the whole (batch x rows)
activation of a GEMM, so a sample's result changed with the samples batched beside it
(docs/architecture.md §4 requires the same bits for any batch split). Oracles: one
``quantize`` call per sample (the definition), and evaluations with different batch sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amssim.errors import ConfigError
from amssim.formats import digital_matmul, get_format, quantize
from amssim.trace import load_trace
from amssim.trace.backends import AbfpBackend, DigitalBackend, Float32Backend, MixedBackend, gemm_call
from amssim.trace.executor import evaluate

ROOT = Path(__file__).resolve().parents[1]


def _xw(rng, samples=4, rows=3, k=24, n=5):
    x = rng.standard_normal((samples * rows, k)).astype(np.float32)
    x[rows:2 * rows] *= 50  # one sample with a much larger range than the others
    w = rng.standard_normal((n, k)).astype(np.float32)
    return x, w


def test_tensor_scaled_flag():
    assert get_format("int8").tensor_scaled and get_format("int4").tensor_scaled
    for name in ("int8_pc", "mxfp8_e4m3", "bfp_m4_g16", "fp8_e4m3", "bf16", "posit8_1", "abfp_8_n128"):
        assert not get_format(name).tensor_scaled, name


@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_sample_rows_is_one_quantisation_per_sample(rng, rounding):
    x, w = _xw(rng)
    r, off = 3, 17
    got = digital_matmul(x, w, "int8", "int8_pc", accumulate="fp64", seed=5, layer=2, row_offset=off,
                         rounding=rounding, sample_rows=r)
    k = x.shape[1]
    qx = np.concatenate([quantize(x[s:s + r], "int8", rounding=rounding, seed=5, layer=2,
                                  index_offset=(off + s) * k, salt=1) for s in range(0, x.shape[0], r)])
    qw = quantize(w, "int8_pc", rounding=rounding, seed=5, layer=2, salt=2)
    want = (qx.astype(np.float64) @ qw.T.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    # the scale really is per sample: one scale over all rows gives other numbers
    whole = digital_matmul(x, w, "int8", "int8_pc", accumulate="fp64", seed=5, layer=2, row_offset=off,
                           rounding=rounding)
    assert not np.array_equal(got, whole)


def test_row_local_formats_ignore_sample_rows(rng):
    x, w = _xw(rng)
    for fmt in ("mxfp8_e4m3", "int8_pc", "fp8_e4m3"):
        np.testing.assert_array_equal(digital_matmul(x, w, fmt, fmt, sample_rows=3),
                                      digital_matmul(x, w, fmt, fmt))


def test_split_calls_equal_one_call(rng):
    x, w = _xw(rng, samples=6, rows=4)
    b = DigitalBackend("int4", "int8", seed=9)
    one = b.gemm(x, w, layer=1, row_offset=40, op_name="a", sample_rows=4)
    parts = [b.gemm(x[i:i + 8], w, layer=1, row_offset=40 + i, op_name="a", sample_rows=4)
             for i in range(0, 24, 8)]
    np.testing.assert_array_equal(one, np.concatenate(parts))


@pytest.mark.parametrize("bad", [0, -3, 5, True, 2.0])
def test_bad_sample_rows(rng, bad):
    x, w = _xw(rng)
    with pytest.raises(ConfigError, match="sample_rows"):
        digital_matmul(x, w, "int8", "int8", sample_rows=bad)


def test_gemm_call_passes_sample_rows_only_to_backends_that_take_it(rng):
    x, w = _xw(rng)
    kw = dict(layer=0, row_offset=0, op_name="a", sample_rows=3)
    # Float32Backend.gemm has no sample_rows parameter: gemm_call must not pass it
    np.testing.assert_array_equal(gemm_call(Float32Backend(), x, w, **kw), x @ w.T)
    mixed = MixedBackend(Float32Backend(), {"a": DigitalBackend("int8")})
    assert mixed.uses_sample_rows
    np.testing.assert_array_equal(gemm_call(mixed, x, w, **kw), DigitalBackend("int8").gemm(x, w, **kw))
    assert not MixedBackend(Float32Backend(), {"a": Float32Backend()}).uses_sample_rows


@pytest.mark.parametrize("workload", ["fsdd-cnn", "sst2-transformer"])
def test_evaluation_does_not_depend_on_batch_size(workload):
    t = load_trace(ROOT / "workloads" / workload)
    outs = {}
    for bs in (1, 3, 7):
        for name, backend in (("int8", DigitalBackend("int8", "int8", seed=1)),
                              ("mixed", MixedBackend(AbfpBackend(_cfg(), seed=1),
                                                     {t.gemm_ops()[0].name: DigitalBackend("int4", seed=1)}))):
            r = evaluate(t, backend, batch_size=bs, limit=7, keep_outputs=True, differential=False)
            outs.setdefault(name, []).append(np.asarray(r.outputs))
    for name, runs in outs.items():
        for other in runs[1:]:
            np.testing.assert_array_equal(runs[0], other, err_msg=name)


def _cfg():
    from amssim.signal import AbfpConfig

    return AbfpConfig(tile_width=32, input_bits=8, weight_bits=8, adc_bits=8, gain=2.0, noise="uniform",
                      noise_lsb=0.5)


def test_static_weights_are_quantised_once_and_bit_identical(rng, monkeypatch):
    import amssim.formats as F

    x, w = _xw(rng)
    calls = []
    real = F.quantize_weights
    monkeypatch.setattr(F, "quantize_weights", lambda *a, **k: calls.append(1) or real(*a, **k))
    b = DigitalBackend("mxfp8_e4m3", "int8_pc", seed=4)
    ys = [b.gemm(x[i:i + 3], w, layer=2, row_offset=i, op_name="a", sample_rows=3) for i in range(0, 12, 3)]
    assert len(calls) == 1  # the same weight object: quantised once
    want = digital_matmul(x, w, "mxfp8_e4m3", "int8_pc", accumulate="fp64", seed=4, layer=2)
    np.testing.assert_array_equal(np.concatenate(ys), want)
    b.gemm(x, w.copy(), layer=2, row_offset=0, op_name="a")  # another object: quantised again
    assert len(calls) == 2
    with pytest.raises(ConfigError, match="qw"):
        digital_matmul(x, w, "int8", "int8", qw=np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("fmt", ["int8", "int4", "int8_pc", "mxfp8_e4m3"])
@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_quantize_tensor_rows_equals_quantising_each_tensor_alone(rng, fmt, rounding):
    """One call with tensor_rows = R is bit-identical to one call per stack of R rows (the oracle:
    separate per-tensor scales and the same stochastic-rounding indices); a sample with NaN-free
    zeros gets scale 1 as alone."""
    x = rng.standard_normal((12, 7)).astype(np.float32) * np.repeat(rng.uniform(0.01, 100, 4), 3)[:, None]
    x[3:6] = 0
    got = quantize(x, fmt, rounding=rounding, seed=3, layer=1, index_offset=70, salt=1, tensor_rows=3)
    want = np.concatenate([quantize(x[s:s + 3], fmt, rounding=rounding, seed=3, layer=1, index_offset=70 + s * 7,
                                    salt=1) for s in range(0, 12, 3)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bad", [0, 5, True, 2.5])
def test_quantize_bad_tensor_rows(rng, bad):
    with pytest.raises(ConfigError, match="tensor_rows"):
        quantize(rng.standard_normal((12, 7)).astype(np.float32), "int8", tensor_rows=bad)
    with pytest.raises(ConfigError, match="tensor_rows"):
        quantize(rng.standard_normal((2, 3, 4)).astype(np.float32), "int8", tensor_rows=1)

"""Stochastic rounding (unbiased, reproducible, batch-invariant) and digital_matmul."""

from __future__ import annotations

import numpy as np
import pytest

from amssim.errors import ConfigError
from amssim.formats import digital_matmul, quantize
from reference import formats_ref as R

F32 = np.float32
FORMATS = ["fp_e4m3", "fp8_e5m2", "bf16", "int4", "int8_pc", "bfp_m4_g16", "mxfp4_e2m1",
           "mxint8", "posit8_1", "lp8_1_3_2", "abfp_4_n32"]


@pytest.mark.parametrize("name", FORMATS)
def test_stochastic_rounding_is_unbiased(name):
    """Mean error over N = 200k draws of values strictly between grid points is within
    4 standard errors of zero (false-alarm rate ~6e-5 per check)."""
    rng = np.random.default_rng(1)
    n = 200_000
    # block formats see the same block max (first element 1.0) so the grid is fixed
    x = rng.uniform(0.05, 0.95, n).astype(F32)
    x[::32] = 1.0
    keep = np.ones(n, bool)
    keep[::32] = False
    q = quantize(x, name, rounding="stochastic", seed=7).astype(np.float64)
    err = (q - x)[keep]
    assert np.std(err) > 0  # the format does round these values
    se = np.std(err) / np.sqrt(err.size)
    assert abs(err.mean()) < 4 * se, (err.mean(), se)
    # nearest rounding of the same values is biased on this grid for at least some
    # formats, but stochastic draws are at least as spread as nearest ones
    qn = quantize(x, name).astype(np.float64)
    assert np.mean(np.abs(q - x)[keep]) >= np.mean(np.abs(qn - x)[keep])


def test_stochastic_single_value_probability():
    # 1 + 0.25 ulp of fp_e4m3 at [1, 2): rounds up with probability 1/4
    x = np.full(100_000, 1.0 + 0.25 / 8, F32)
    q = quantize(x, "fp_e4m3", rounding="stochastic", seed=3)
    up = np.mean(q > 1.0)
    assert set(np.unique(q)) <= {1.0, 1.125}
    assert abs(up - 0.25) < 4 * np.sqrt(0.25 * 0.75 / x.size)


def test_stochastic_reproducible_and_keyed():
    x = np.random.default_rng(0).standard_normal((64, 96)).astype(F32)
    a = quantize(x, "mxfp4_e2m1", rounding="stochastic", seed=5)
    np.testing.assert_array_equal(a, quantize(x, "mxfp4_e2m1", rounding="stochastic", seed=5))
    assert np.any(a != quantize(x, "mxfp4_e2m1", rounding="stochastic", seed=6))
    assert np.any(a != quantize(x, "mxfp4_e2m1", rounding="stochastic", seed=5, layer=1))
    # rows split into batches with the matching index offset draw the same numbers
    top = quantize(x[:40], "mxfp4_e2m1", rounding="stochastic", seed=5)
    bot = quantize(x[40:], "mxfp4_e2m1", rounding="stochastic", seed=5, index_offset=40 * 96)
    np.testing.assert_array_equal(np.vstack([top, bot]), a)


def test_stochastic_needs_a_seed():
    x = np.ones(4, F32)
    with pytest.raises(ConfigError, match="seed"):
        quantize(x, "int8", rounding="stochastic")
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ConfigError, match="seed"):
            quantize(x, "int8", rounding="stochastic", seed=bad)
    with pytest.raises(ConfigError, match="layer"):
        quantize(x, "int8", rounding="stochastic", seed=1, layer=-2)


@pytest.mark.parametrize("fx,fw,qx,qw", [
    ("int8", "int8_pc", lambda a: R.quantize_int(a, 8, False), lambda a: R.quantize_int(a, 8, True)),
    ("mxfp8_e4m3", "mxfp4_e2m1", lambda a: R.quantize_mx(a, "fp8_e4m3"), lambda a: R.quantize_mx(a, "fp4_e2m1")),
    ("bfp_m4_g16", "abfp_6_n32", lambda a: R.quantize_bfp(a, 4, 16), lambda a: R.quantize_abfp(a, 6, 32)),
    ("posit8_1", "fp8_e4m3", lambda a: R.quantize_posit(a, 8, 1),
     lambda a: R.quantize_set(a, *R.float_format(4, 3, ocp="e4m3")[:2])),
])
def test_digital_matmul_matches_reference(fx, fw, qx, qw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 45)).astype(F32)
    w = rng.laplace(size=(5, 45)).astype(F32)
    y = digital_matmul(x, w, fx, fw)
    assert y.shape == (7, 5) and y.dtype == F32
    np.testing.assert_array_equal(y, R.digital_matmul_ref(x, w, qx, qw))
    y64 = digital_matmul(x, w, fx, fw, accumulate="fp64")
    ref64 = (qx(x).astype(np.float64) @ qw(w).astype(np.float64).T).astype(F32)
    np.testing.assert_array_equal(y64, ref64)


def test_digital_matmul_fp32_formats_is_plain_matmul_and_batches_agree():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 33)).astype(F32)
    w = rng.standard_normal((4, 33)).astype(F32)
    np.testing.assert_array_equal(digital_matmul(x, w, "fp32", "fp32"), x @ w.T)
    full = digital_matmul(x, w, "bfp_m3_g8", "mxint8", seed=9, layer=2, rounding="stochastic",
                          accumulate="fp64")
    parts = [digital_matmul(x[a:b], w, "bfp_m3_g8", "mxint8", seed=9, layer=2, row_offset=a,
                            rounding="stochastic", accumulate="fp64") for a, b in ((0, 5), (5, 12))]
    np.testing.assert_array_equal(np.vstack(parts), full)
    # x and w use different draws (salts): quantising w like x would differ
    qx = quantize(x, "bfp_m3_g8", rounding="stochastic", seed=9, layer=2, salt=1)
    qw = quantize(w, "mxint8", rounding="stochastic", seed=9, layer=2, salt=2)
    np.testing.assert_array_equal(full, (qx.astype(np.float64) @ qw.T.astype(np.float64)).astype(F32))


def test_digital_matmul_errors():
    x = np.ones((3, 4), F32)
    w = np.ones((2, 4), F32)
    with pytest.raises(ConfigError, match="accumulate"):
        digital_matmul(x, w, "int8", "int8", accumulate="bf16")
    with pytest.raises(ConfigError, match="2-D"):
        digital_matmul(x[0], w, "int8", "int8")
    with pytest.raises(ConfigError, match="K=4"):
        digital_matmul(x, np.ones((2, 5), F32), "int8", "int8")
    with pytest.raises(ConfigError, match="row_offset"):
        digital_matmul(x, w, "int8", "int8", row_offset=-1)
    bad = w.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ConfigError, match=r"w contains 1 non-finite value.*\(1, 2\)"):
        digital_matmul(x, bad, "int8", "int8")

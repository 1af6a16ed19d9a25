"""Block and scaled formats (INT, BFP, MX, ABFP): reference agreement, axis handling,
tail padding, zero blocks, OCP MX scale rule, ml_dtypes elements."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from amssim.formats import abfp_encode, get_format, quantize
from reference import formats_ref as R

F32 = np.float32


def _data(shape, seed=0, spread=6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-spread, spread, shape))
    return x.astype(F32)


@pytest.mark.parametrize("mode", R.MODES)
def test_block_formats_match_reference(mode):
    x = _data((5, 70), seed=3)
    x[1, :] = 0.0  # an all-zero row
    x[2, 32:64] = 0.0  # an all-zero block
    seed = 21 if mode == "stochastic" else None
    kw = dict(mode=mode, seed=seed)
    for el in R.MX_ELEMENTS:
        for g in (32, 8):
            name = f"mx{el}" + ("" if g == 32 else f"_g{g}")
            np.testing.assert_array_equal(quantize(x, name, rounding=mode, seed=seed),
                                          R.quantize_mx(x, el, g, **kw), err_msg=name)
    for m, g in ((4, 16), (1, 4), (8, 32), (2, 1)):
        np.testing.assert_array_equal(quantize(x, f"bfp_m{m}_g{g}", rounding=mode, seed=seed),
                                      R.quantize_bfp(x, m, g, **kw), err_msg=f"bfp_m{m}_g{g}")
    for b, t in ((8, 32), (6, 16), (4, 128), (2, 7)):
        np.testing.assert_array_equal(quantize(x, f"abfp_{b}_n{t}", rounding=mode, seed=seed),
                                      R.quantize_abfp(x, b, t, **kw), err_msg=f"abfp_{b}_n{t}")
    for b in (8, 4, 2):
        np.testing.assert_array_equal(quantize(x, f"int{b}", rounding=mode, seed=seed),
                                      R.quantize_int(x, b, False, **kw))
        np.testing.assert_array_equal(quantize(x, f"int{b}_pc", rounding=mode, seed=seed),
                                      R.quantize_int(x, b, True, **kw))


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxint8_g8", "bfp_m4_g16", "abfp_8_n32", "int8_pc"])
def test_blocks_follow_the_axis(name):
    x = _data((6, 40, 3), seed=5)
    for axis in (0, 1, 2, -1, -2):
        moved = np.moveaxis(x, axis, -1)
        ref = quantize(np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]), name)
        got = quantize(x, name, axis=axis)
        assert got.shape == x.shape and got.dtype == F32
        np.testing.assert_array_equal(np.moveaxis(got, axis, -1).reshape(ref.shape), ref)
    # stochastic draws are keyed by the element's flat index in x, whatever the axis
    # (unit axes do not change flat indices, so the draws must not change either)
    a = quantize(x, name, axis=1, rounding="stochastic", seed=2)
    b = quantize(x[None, ..., None], name, axis=2, rounding="stochastic", seed=2)[0, ..., 0]
    np.testing.assert_array_equal(a, b)
    c = quantize(x, name, axis=1, rounding="stochastic", seed=3)
    assert np.any(a != c)


def test_tail_block_is_zero_padded_and_zero_blocks_stay_zero():
    x = _data((3, 37), seed=8)
    for name, g in (("mxfp6_e2m3", 32), ("bfp_m3_g16", 16), ("abfp_6_n16", 16)):
        padded = np.zeros((3, 64), F32)
        padded[:, :37] = x
        np.testing.assert_array_equal(quantize(x, name), quantize(padded, name)[:, :37])
        z = x.copy()
        z[:, :g] = 0.0
        q = quantize(z, name)
        assert np.all(q[:, :g] == 0) and np.all(np.isfinite(q))
    np.testing.assert_array_equal(quantize(np.zeros((2, 5), F32), "mxfp4_e2m1"), 0.0)


def test_mx_scale_rule_and_element_max():
    # block max 448 * 2^k maps to element max 448 exactly; scale = floor(log2 amax) - 8
    for k in (-20, 0, 7, 100):
        x = np.zeros(32, F32)
        x[0] = F32(448 * 2.0**k)
        x[1] = F32(2.0**k)
        np.testing.assert_array_equal(quantize(x, "mxfp8_e4m3")[:2], x[:2])
    # E8M0 clamp: a block of tiny values uses scale 2^-127
    x = np.full(32, 2.0**-140, F32)
    q = quantize(x, "mxfp8_e4m3")  # 2^-140 / 2^-127 = 2^-13 < E4M3 min subnormal 2^-9 / 2
    np.testing.assert_array_equal(q, 0.0)
    # elements agree with ml_dtypes element casts after dividing by the shared scale
    x = _data((64, 32), seed=9, spread=3)
    for name, dt, emax, emaxv in (("mxfp8_e4m3", ml_dtypes.float8_e4m3fn, 8, 448.0),
                                  ("mxfp6_e3m2", ml_dtypes.float6_e3m2fn, 4, 28.0),
                                  ("mxfp6_e2m3", ml_dtypes.float6_e2m3fn, 2, 7.5),
                                  ("mxfp4_e2m1", ml_dtypes.float4_e2m1fn, 2, 6.0)):
        amax = np.abs(x).max(axis=1, keepdims=True)
        scale = np.exp2(np.floor(np.log2(amax)) - emax)
        scale_e8m0 = scale.astype(ml_dtypes.float8_e8m0fnu).astype(np.float64)
        np.testing.assert_array_equal(scale_e8m0, scale)
        elem = np.clip(x / scale, -emaxv, emaxv)  # MX conversion clamps to the element max
        ref = (elem.astype(dt).astype(np.float64) * scale).astype(F32)
        np.testing.assert_array_equal(quantize(x, name), ref, err_msg=name)


def test_bfp_shared_exponent_definition():
    # group max 0.75 -> S = -1; M = 3 bits: quantum 2^(S - M + 1) = 2^-3
    x = np.array([0.75, 0.3, -0.07, 0.0625], F32)  # 0.0625 is a tie between 0 and 0.125
    np.testing.assert_array_equal(quantize(x, "bfp_m3_g4"), [0.75, 0.25, -0.125, 0.0])
    np.testing.assert_array_equal(quantize(x, "bfp_m3_g4", rounding="nearest_away"), [0.75, 0.25, -0.125, 0.125])
    np.testing.assert_array_equal(quantize(x, "bfp_m3_g4", rounding="toward_zero"), [0.75, 0.25, -0.0, 0.0])
    # rounding the max up past 2^M - 1 saturates
    np.testing.assert_array_equal(quantize(np.array([0.99], F32), "bfp_m2_g1"), [0.75])


def test_int_levels_and_scales():
    x = np.array([[1.0, -0.5, 0.25, 0.0], [4.0, 2.0, -1.0, 0.1]], F32)
    s = F32(4.0 / 127)
    q = quantize(x, "int8")
    np.testing.assert_array_equal(q, (np.clip(np.rint(x.astype(np.float64) / s), -127, 127) * s).astype(F32))
    qpc = quantize(x, "int2_pc")  # levels -1, 0, 1 per row: scale = row max
    np.testing.assert_array_equal(qpc, [[1.0, -0.0, 0.0, 0.0], [4.0, 0.0, -0.0, 0.0]])  # 0.5: tie -> even 0
    np.testing.assert_array_equal(quantize(np.zeros(3, F32), "int8"), 0.0)


def test_abfp_encode_returns_codes_and_bf16_scales():
    x = _data((4, 50), seed=11)
    vals, codes, scales = abfp_encode(x, 8, 16)
    np.testing.assert_array_equal(vals, quantize(x, "abfp_8_n16"))
    assert scales.shape == (4, 4)
    np.testing.assert_array_equal(scales, scales.astype(ml_dtypes.bfloat16).astype(F32))
    assert np.all(np.abs(codes) <= 127) and np.all(codes == np.rint(codes))
    expand = np.repeat(scales, 16, axis=1)[:, :50].astype(np.float64)
    np.testing.assert_array_equal(vals, (codes * expand / 127).astype(F32))
    # the block max maps to code +-127 unless bf16 rounded the scale below it
    amax = np.abs(x[:, :16]).max(axis=1)
    assert np.all(np.abs(codes[:, :16]).max(axis=1) == 127) or np.any(scales[:, 0] < amax)


def test_bits_per_element():
    assert get_format("mxfp8_e4m3").bits_per_element == 8.25
    assert get_format("mxfp4_e2m1_g16").bits_per_element == 4.5
    assert get_format("bfp_m4_g16").bits_per_element == 5.5
    assert get_format("abfp_8_n128").bits_per_element == 8.125
    assert get_format("int4_pc").bits_per_element == 4

"""Float grids (ExMy, OCP FP8, bf16, fp32): exhaustive code points, ties, saturation,
ml_dtypes bit-exactness and agreement with the rational reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from amssim.formats import get_format, quantize
from reference import formats_ref as R

F32 = np.float32


def _f32_sweep(drop_bits=13, seed=0):
    """Every float32 whose low ``drop_bits`` mantissa bits are zero (all exponents,
    both signs; includes every tie of <= 9 fraction bits) plus random low bits."""
    hi = np.arange(0, 0x7F800000 >> drop_bits, dtype=np.uint32) << drop_bits
    rng = np.random.default_rng(seed)
    noisy = hi | rng.integers(0, 1 << drop_bits, hi.size, dtype=np.uint32)
    pos = np.concatenate([hi, noisy]).view(np.float32)
    return np.concatenate([pos, -pos])


def _codes_values(e, m, bias, drop=()):
    vals = []
    for code in range(1 << (1 + e + m)):
        if code in drop:
            continue
        vals.append(float(R.decode_minifloat(code, e, m, bias)))
    return np.array(vals, dtype=np.float32)


SMALL_FLOATS = [(e, m) for e in range(1, 8) for m in range(0, 16 - e) if 1 + e + m <= 16
                and (1 << e) - 1 - ((1 << (e - 1)) - 1) < 128]


@pytest.mark.parametrize("e,m", SMALL_FLOATS)
def test_every_code_point_round_trips(e, m):
    name = f"fp_e{e}m{m}"
    vals = _codes_values(e, m, (1 << (e - 1)) - 1)
    for mode in ("nearest_even", "nearest_away", "toward_zero"):
        np.testing.assert_array_equal(quantize(vals, name, rounding=mode), vals)
    np.testing.assert_array_equal(quantize(vals, name, rounding="stochastic", seed=5), vals)


@pytest.mark.parametrize("name,e,m,drop", [
    ("fp8_e4m3", 4, 3, (0x7F, 0xFF)),
    ("fp8_e5m2", 5, 2, tuple(c for c in range(256) if (c >> 2) & 31 == 31)),
    ("bf16", 8, 7, tuple(c for c in range(1 << 16) if (c >> 7) & 255 == 255)),
])
def test_standard_code_points_round_trip(name, e, m, drop):
    vals = _codes_values(e, m, (1 << (e - 1)) - 1, set(drop))
    np.testing.assert_array_equal(quantize(vals, name), vals)


@pytest.mark.parametrize("e,m,bias", [(4, 3, 7), (3, 4, 3), (2, 5, 1), (5, 6, 20), (6, 7, 31)])
def test_ties_follow_the_mode(e, m, bias):
    name = f"fp_e{e}m{m}_b{bias}"
    vals = _codes_values(e, m, bias)[: 1 << (e + m)]  # non-negative codes, code order
    lo, hi = vals[:-1].astype(np.float64), vals[1:].astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32)
    assert np.all(mid.astype(np.float64) == (lo + hi) / 2)  # midpoints exact in float32
    even_is_lo = (np.arange(lo.size) % 2) == 0
    np.testing.assert_array_equal(quantize(mid, name), np.where(even_is_lo, lo, hi).astype(F32))
    np.testing.assert_array_equal(quantize(mid, name, rounding="nearest_away"), hi.astype(F32))
    np.testing.assert_array_equal(quantize(mid, name, rounding="toward_zero"), lo.astype(F32))
    np.testing.assert_array_equal(quantize(-mid, name, rounding="nearest_away"), -hi.astype(F32))


def test_saturation_and_specials():
    big = np.array([1e3, 449.0, 464.0, 480.0, 1e30, -1e30], dtype=F32)
    np.testing.assert_array_equal(quantize(big, "fp8_e4m3"), [448, 448, 448, 448, 448, -448])
    np.testing.assert_array_equal(quantize(big, "fp8_e5m2"), [1024, 448, 448, 512, 57344, -57344])
    np.testing.assert_array_equal(quantize(np.array([1e6], F32), "fp_e4m3"), [480])  # no reserved codes
    assert get_format("fp_e4m3").max_value == 480.0
    assert get_format("fp8_e4m3").max_value == 448.0 and get_format("fp8_e5m2").max_value == 57344.0
    # bf16 is IEEE: overflow under nearest modes -> inf, toward zero -> max
    f32max = np.array([np.finfo(F32).max], F32)
    assert np.isposinf(quantize(f32max, "bf16")[0])
    assert quantize(f32max, "bf16", rounding="toward_zero")[0] == get_format("bf16").max_value
    # zero and signed zero, subnormals
    z = quantize(np.array([0.0, -0.0], F32), "fp8_e4m3")
    assert z[0] == 0 and z[1] == 0 and np.signbit(z[1])
    assert quantize(np.array([2.0**-10], F32), "fp8_e4m3")[0] == 0  # half of min subnormal: tie -> 0
    assert quantize(np.array([2.0**-10], F32), "fp8_e4m3", rounding="nearest_away")[0] == 2.0**-9
    x = np.random.default_rng(0).standard_normal(1000).astype(F32)
    np.testing.assert_array_equal(quantize(x, "fp32"), x)


ML = [
    ("fp8_e4m3", ml_dtypes.float8_e4m3fn, 464.0),
    ("fp8_e5m2", ml_dtypes.float8_e5m2, 61440.0),
    ("bf16", ml_dtypes.bfloat16, np.inf),
    ("fp_e3m2", ml_dtypes.float6_e3m2fn, np.inf),
    ("fp_e2m3", ml_dtypes.float6_e2m3fn, np.inf),
    ("fp_e2m1", ml_dtypes.float4_e2m1fn, np.inf),
    ("fp_e4m3", ml_dtypes.float8_e4m3, 248.0),  # IEEE e4m3: top exponent reserved
    ("fp_e3m4", ml_dtypes.float8_e3m4, 15.75),
    ("fp_e4m3_b8", ml_dtypes.float8_e4m3fnuz, 248.0),
    ("fp_e5m2_b16", ml_dtypes.float8_e5m2fnuz, 61440.0),
    ("fp_e4m3_b11", ml_dtypes.float8_e4m3b11fnuz, 31.0),
]


@pytest.mark.parametrize("name,dtype,limit", ML, ids=[m[0] for m in ML])
def test_bit_exact_with_ml_dtypes(name, dtype, limit):
    """Round-to-nearest-even agrees with ml_dtypes on every float32 of a 2^20-point
    sweep inside ml_dtypes' finite range (beyond it ml_dtypes gives inf/NaN where the
    saturating formats clamp, tested above)."""
    x = _f32_sweep()
    x = x[np.abs(x) < limit]
    ref = x.astype(dtype).astype(F32)
    got = quantize(x, name)
    if "fnuz" in dtype.__name__:  # no negative zero in fnuz types: compare values
        mism = np.flatnonzero(ref != got)
    else:
        mism = np.flatnonzero(ref.view(np.uint32) != got.view(np.uint32))
    assert mism.size == 0, (x[mism[:5]], ref[mism[:5]], got[mism[:5]])


def test_ml_dtypes_saturating_formats_agree_beyond_max():
    x = np.array([7.6, 100.0, 1e9, -7.75], F32)
    np.testing.assert_array_equal(quantize(x, "fp_e2m3"), x.astype(ml_dtypes.float6_e2m3fn).astype(F32))
    np.testing.assert_array_equal(quantize(x, "fp_e2m1"), x.astype(ml_dtypes.float4_e2m1fn).astype(F32))


@pytest.mark.parametrize("mode", R.MODES)
def test_matches_rational_reference(mode):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(400) * np.exp2(rng.integers(-12, 12, 400))).astype(F32)
    x[:4] = [0.0, 1e-40, -3e38, 448.0]
    seed = 11 if mode == "stochastic" else None
    for name, args in {"fp_e4m3": (4, 3, None, None), "fp8_e4m3": (4, 3, None, "e4m3"),
                       "fp8_e5m2": (5, 2, None, "e5m2"), "fp_e3m2_b1": (3, 2, 1, None),
                       "fp_e5m10": (5, 10, None, None), "bf16": (8, 7, None, "bf16")}.items():
        e, m, b, ocp = args
        vals, t, ov = R.float_format(e, m, b, ocp=ocp)
        ref = R.quantize_set(x, vals, t, mode, seed=seed, overflow=ov)
        got = quantize(x, name, rounding=mode, seed=seed)
        np.testing.assert_array_equal(got, ref, err_msg=name)
        assert np.any(got != x)  # the format actually rounds

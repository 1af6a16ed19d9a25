"""Posits and logarithmic posits: exhaustive code points, the standard's rounding
(bit-string ties, saturation at minpos/maxpos), published constants, reference."""

from __future__ import annotations


import numpy as np
import pytest

from amssim.errors import FormatError
from amssim.formats import get_format, quantize
from reference import formats_ref as R

F32 = np.float32
POSITS = [(n, es) for n in range(2, 17) for es in range(0, min(n, 4)) if (n - 2) * 2**es <= 126]


def _posit_values(n, es):
    """Positive posit values in pattern order, decoded by the standard's definition."""
    return np.array([float(R.decode_posit(p, n, es)) for p in range(1, 1 << (n - 1))], dtype=F32)


@pytest.mark.parametrize("n,es", POSITS, ids=[f"posit{n}_{es}" for n, es in POSITS])
def test_every_posit_code_round_trips(n, es):
    v = _posit_values(n, es)
    x = np.concatenate([v, -v])
    for mode in ("nearest_even", "nearest_away", "toward_zero"):
        np.testing.assert_array_equal(quantize(x, f"posit{n}_{es}", rounding=mode), x)
    np.testing.assert_array_equal(quantize(x, f"posit{n}_{es}", rounding="stochastic", seed=1), x)
    np.testing.assert_array_equal(get_format(f"posit{n}_{es}").table()[1:], v)


def test_published_posit_constants():
    # Posit Standard 2022 (es = 2): minpos = 2^(-4n+8), maxpos = 2^(4n-8)
    for n in (8, 16):
        s = get_format(f"posit{n}_2")
        assert s.maxpos == 2.0 ** (4 * n - 8) and s.minpos == 2.0 ** (-4 * n + 8)
    # Gustafson's original posit<8,0>: maxpos 64, minpos 1/64; posit<16,1>: 2^28
    assert get_format("posit8_0").maxpos == 64 and get_format("posit8_0").minpos == 1 / 64
    assert get_format("posit16_1").maxpos == 2.0**28
    # 1 + one ulp in posit8_2 (3 fraction bits at scale 0) is 1.125
    assert quantize(np.array([1.1], F32), "posit8_2")[0] == 1.125


@pytest.mark.parametrize("n,es", [(6, 0), (8, 0), (8, 1), (8, 2), (10, 1), (12, 2), (14, 3)])
def test_ties_round_on_the_bit_string(n, es):
    """Midpoint between patterns u, u+1 is the (n+1)-bit posit "u1"; ties -> even pattern."""
    name = f"posit{n}_{es}"
    v = _posit_values(n, es).astype(np.float64)
    p = np.arange(1, v.size)  # lower pattern of each adjacent pair (u = p, w = p+1)
    mids = np.array([float(R.decode_posit(2 * q + 1, n + 1, es)) for q in p])
    lo, hi = v[:-1], v[1:]
    assert np.all(mids.astype(F32) == mids)
    even = np.where(p % 2 == 0, lo, hi)
    np.testing.assert_array_equal(quantize(mids.astype(F32), name), even.astype(F32))
    np.testing.assert_array_equal(quantize(mids.astype(F32), name, rounding="nearest_away"), hi.astype(F32))
    np.testing.assert_array_equal(quantize(mids.astype(F32), name, rounding="toward_zero"), lo.astype(F32))
    # where exponent bits are cut, the midpoint is geometric, not arithmetic
    assert es == 0 or np.any(mids != (lo + hi) / 2)


def test_posit_saturation_never_zero_or_nar():
    s = get_format("posit8_2")
    x = np.array([1e-30, -1e-30, 1e-45, 1e30, -3e38, 0.0], F32)
    q = quantize(x, "posit8_2", rounding="toward_zero")
    np.testing.assert_array_equal(q, [s.minpos, -s.minpos, s.minpos, s.maxpos, -s.maxpos, 0.0])
    np.testing.assert_array_equal(quantize(x, "posit8_2"), q)


@pytest.mark.parametrize("mode", R.MODES)
@pytest.mark.parametrize("n,es", [(8, 0), (8, 1), (8, 2), (6, 3), (12, 1), (16, 2)])
def test_posit_matches_reference(n, es, mode):
    rng = np.random.default_rng(n * 10 + es)
    x = (rng.standard_normal(300) * np.exp2(rng.integers(-20, 20, 300))).astype(F32)
    seed = 4 if mode == "stochastic" else None
    ref = R.quantize_posit(x, n, es, mode, seed=seed)
    np.testing.assert_array_equal(quantize(x, f"posit{n}_{es}", rounding=mode, seed=seed), ref)


LPS = [(8, 1, 3, 2), (8, 0, 7, 0), (6, 2, 2, -1), (10, 1, 4, 5), (5, 0, 2, 0), (8, 3, 2, 4)]


def _lp_codes(n, es, rs, sf):
    return np.array([R.f32_nearest_pow2(R.logposit_exponent(p, n, es, rs, sf))
                     for p in range(1, 1 << (n - 1))], dtype=F32)


@pytest.mark.parametrize("n,es,rs,sf", LPS + [(12, 1, 5, 3), (16, 1, 6, 0)])
def test_every_logposit_code_round_trips(n, es, rs, sf):
    name = f"lp{n}_{es}_{rs}_{sf}"
    v = _lp_codes(n, es, rs, sf) if n <= 12 else get_format(name).table()[1:]
    x = np.concatenate([v, -v])
    np.testing.assert_array_equal(quantize(x, name), x)
    np.testing.assert_array_equal(quantize(x, name, rounding="toward_zero"), x)
    assert np.all(np.diff(v.astype(np.float64)) > 0)  # monotone in the pattern
    if n <= 12:  # table is the correctly rounded float32 of the definition
        np.testing.assert_array_equal(get_format(name).table()[1:], v)


def test_logposit_definition_values():
    s = get_format("lp8_1_3_2")
    # pattern 0 1 0 0 0 0 0 0 -> regime "10": k = 0; e = 0; f = 0 -> 2^(0 - 2)
    assert s.table()[0b1000000] == 0.25
    # pattern 0 1 0 1 0 0 0 0 -> k = 0, e = 1, f = 0 -> 2^(1 - 2)
    assert s.table()[0b1010000] == 0.5
    # pattern 0 1 0 0 1 0 0 0 -> k = 0, e = 0, f = 0b1000 / 16 -> 2^(0.5 - 2)
    assert s.table()[0b1001000] == F32(2.0**-1.5)
    # rs = 3 caps the regime: 0 111 1111 -> k = 2, e = 1, f = 7/8 -> 2^(4 + 1 + 7/8 - 2)
    assert s.table()[0b1111111] == F32(2.0 ** (3 + 7 / 8))


@pytest.mark.parametrize("mode", R.MODES)
@pytest.mark.parametrize("n,es,rs,sf", LPS)
def test_logposit_matches_exact_reference(n, es, rs, sf, mode):
    rng = np.random.default_rng(n + es + rs)
    x = (rng.standard_normal(60) * np.exp2(rng.integers(-10, 10, 60))).astype(F32)
    x[:6] = [1.0, 2.0, 0.5, 2.0**-9, 2.0**12, 3.0]  # powers of two: exact bit-string ties
    seed = 9 if mode == "stochastic" else None
    ref = R.quantize_logposit(x, n, es, rs, sf, mode, seed=seed)
    np.testing.assert_array_equal(quantize(x, f"lp{n}_{es}_{rs}_{sf}", rounding=mode, seed=seed), ref)


def test_logposit_rounds_in_the_log_domain():
    # lp5_0_2_0 at scale 0: regime "10", two log-fraction bits: 1, 2^0.25, 2^0.5, 2^0.75;
    # the threshold between 1 and 2^0.25 is the geometric point 2^0.125 (< arithmetic mean)
    t = get_format("lp5_0_2_0").table()
    assert t[8] == 1.0 and t[9] == F32(2**0.25) and t[10] == F32(2**0.5)
    thr = F32(2**0.125)
    x = np.array([np.nextafter(thr, F32(0)), np.nextafter(thr, F32(9)), (1 + 2**0.25) / 2], F32)
    np.testing.assert_array_equal(quantize(x, "lp5_0_2_0"), [1.0, t[9], t[9]])


@pytest.mark.parametrize("name", ["posit16_4", "posit8_5", "posit17_1", "posit8_8", "posit4_9",
                                  "lp8_1_0_0", "lp8_1_8_0", "lp8_9_3_0", "lp8_1_3_2000", "lp16_4_15_0"])
def test_impossible_tapered_formats(name):
    with pytest.raises(FormatError):
        get_format(name)

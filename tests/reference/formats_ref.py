"""Slow, obviously-correct references for amssim.formats (pure python / numpy).

Every format is reduced to (a) the sorted list of its non-negative code values,
decoded from bit patterns by the published definition, and (b) the rounding
threshold between neighbouring codes. Rounding then is "find the bracket, compare
with the threshold", done with exact rational arithmetic (fractions.Fraction).
Nothing here shares code with the kernels.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from amssim._rng import Stream, hash3_np, stream_key

MODES = ("nearest_even", "nearest_away", "toward_zero", "stochastic")


# ----------------------------------------------------------------------------- decoders
def decode_minifloat(code: int, e_bits: int, m_bits: int, bias: int) -> Fraction:
    """Value of a sign/exponent/fraction code, IEEE-style with subnormals, every
    exponent code finite (callers drop reserved codes)."""
    sign = -1 if (code >> (e_bits + m_bits)) & 1 else 1
    ef = (code >> m_bits) & ((1 << e_bits) - 1)
    f = code & ((1 << m_bits) - 1)
    if ef == 0:
        mag = Fraction(f, 1 << m_bits) * Fraction(2) ** (1 - bias)
    else:
        mag = (1 + Fraction(f, 1 << m_bits)) * Fraction(2) ** (ef - bias)
    return sign * mag


def minifloat_positive_values(e_bits, m_bits, bias, max_value=None, reserve_top_exponent=False,
                              reserve_top_code=False):
    """Sorted non-negative values (code order) of a float grid."""
    out = []
    for code in range(1 << (e_bits + m_bits)):
        ef = code >> m_bits
        if reserve_top_exponent and ef == (1 << e_bits) - 1:
            continue
        if reserve_top_code and code == (1 << (e_bits + m_bits)) - 1:
            continue
        v = decode_minifloat(code, e_bits, m_bits, bias)
        if max_value is not None and v > max_value:
            continue
        out.append(v)
    return out


def _posit_fields(bits: str, es: int, rs: int):
    """Parse a magnitude bit string (after the sign) -> (k, e, frac_bits_string)."""
    r0 = bits[0]
    run = 0
    while run < len(bits) and run < rs and bits[run] == r0:
        run += 1
    pos = run
    if run < rs and pos < len(bits):
        pos += 1  # terminator
    k = run - 1 if r0 == "1" else -run
    ebits = bits[pos:pos + es]
    pos += len(ebits)
    e = int((ebits + "0" * (es - len(ebits))) or "0", 2)
    return k, e, bits[pos:]


def decode_posit(pattern: int, n: int, es: int) -> Fraction | None:
    """Posit Standard 2022 decoding (es free); None for NaR."""
    if pattern == 0:
        return Fraction(0)
    if pattern == 1 << (n - 1):
        return None
    neg = pattern >> (n - 1)
    if neg:
        pattern = (-pattern) & ((1 << n) - 1)
    bits = format(pattern, f"0{n}b")[1:]
    k, e, fbits = _posit_fields(bits, es, n - 1)
    f = Fraction(int(fbits, 2), 1 << len(fbits)) if fbits else Fraction(0)
    v = Fraction(2) ** (k * (1 << es) + e) * (1 + f)
    return -v if neg else v


def logposit_exponent(pattern: int, n: int, es: int, rs: int, sf: int) -> Fraction:
    """log2 of a positive log-posit pattern's magnitude: 2^es k + e + f - sf."""
    bits = format(pattern, f"0{n}b")[1:]
    k, e, fbits = _posit_fields(bits, es, rs)
    f = Fraction(int(fbits, 2), 1 << len(fbits)) if fbits else Fraction(0)
    return k * (1 << es) + e + f - sf


def pow2_leq(a: Fraction, q: Fraction) -> int:
    """sign(a - 2^q) exactly (a > 0 rational, q rational): -1, 0 or 1."""
    # a ? 2^(p/d)  <=>  a^d ? 2^p
    p, d = q.numerator, q.denominator
    lhs = a**d
    rhs = Fraction(2) ** p
    return (lhs > rhs) - (lhs < rhs)


def f32_nearest_pow2(q: Fraction) -> np.float32:
    """Correctly rounded float32 of 2^q (bisection over float32 neighbours)."""
    f = np.float32(2.0 ** float(q))
    cands = sorted({float(np.nextafter(f, np.float32(0))), float(f), float(np.nextafter(f, np.float32(np.inf)))})
    # pick c with 2^q in [mid(c-), mid(c+)]
    for i, c in enumerate(cands):
        lo = Fraction(cands[i - 1] + 0) if i else None
        hi = Fraction(cands[i + 1]) if i + 1 < len(cands) else None
        cf = Fraction(c)
        ok_lo = lo is None or pow2_leq((lo + cf) / 2, q) <= 0
        ok_hi = hi is None or pow2_leq((hi + cf) / 2, q) >= 0
        if ok_lo and ok_hi:
            return np.float32(c)
    raise AssertionError("no float32 candidate")


# ----------------------------------------------------------------------------- rounding
def _draw_u(seed, layer, flat_index, salt) -> Fraction:
    k0, k1 = stream_key(seed, Stream.STOCHASTIC_ROUNDING, layer)
    h = int(hash3_np(k0, k1, np.uint32(flat_index & 0xFFFFFFFF), np.uint32(flat_index >> 32),
                     np.uint32(salt)))
    return Fraction(h, 1 << 32)


def round_to_set(a: Fraction, values, thresholds, mode: str, u: Fraction | None = None,
                 stochastic_float=False, floor_value=None):
    """Round a >= 0 onto sorted ``values`` (index = code; code parity decides ties).

    thresholds[i] is a callable t(a) -> sign(a - midpoint_i) between values[i] and
    values[i+1]. Saturates at both ends (a below values[0] -> values[0]).
    """
    if a >= values[-1]:
        return values[-1]
    if a <= values[0]:
        return values[0]
    lo, hi = 0, len(values) - 1
    while hi - lo > 1:  # values[lo] <= a < values[hi]
        mid = (lo + hi) // 2
        if values[mid] <= a:
            lo = mid
        else:
            hi = mid
    i = lo
    if values[i] == a:
        return values[i]
    if mode == "toward_zero":
        return values[i]
    if mode == "stochastic":
        gap = values[i + 1] - values[i]
        if stochastic_float:
            p = (float(a) - float(values[i])) / (float(values[i + 1]) - float(values[i]))
            return values[i + 1] if float(u) < p else values[i]
        frac = (a - values[i]) / gap
        return values[i + 1] if frac + u >= 1 else values[i]
    c = thresholds(i, a)
    if c > 0:
        return values[i + 1]
    if c < 0:
        return values[i]
    if mode == "nearest_away":
        return values[i + 1]
    return values[i] if i % 2 == 0 else values[i + 1]


def arithmetic_midpoints(values):
    def t(i, a):
        m = (values[i] + values[i + 1]) / 2
        return (a > m) - (a < m)

    return t


def quantize_set(x, values, thresholds, mode="nearest_even", seed=None, layer=0, salt=0,
                 index_offset=0, stochastic_float=False, overflow=None):
    """Elementwise reference: x float32 array -> float32, sign-magnitude rounding.

    overflow: (max_value, inf_limit) for IEEE formats: magnitudes rounding above
    max_value under nearest modes give inf."""
    xs = np.asarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(xs.size, dtype=np.float32)
    for idx, v in enumerate(xs):
        a = Fraction(float(abs(v)))
        if a == 0:
            out[idx] = 0.0
            continue
        u = _draw_u(seed, layer, idx + index_offset, salt) if mode == "stochastic" else None
        vals = values
        if overflow is not None and mode in ("nearest_even", "nearest_away"):
            vals = list(values) + [overflow]  # the next grid point beyond max: inf
        q = round_to_set(a, vals, thresholds, mode, u, stochastic_float)
        qf = np.float32(np.inf) if (overflow is not None and q == overflow) else np.float32(float(q))
        out[idx] = -qf if v < 0 else qf
    return out.reshape(np.shape(x))


# ----------------------------------------------------------------------------- formats
def float_format(e_bits, m_bits, bias=None, *, ocp=None):
    """(values, thresholds, overflow) of fp_e{E}m{M}[_b], OCP e4m3/e5m2 or bf16."""
    bias = (1 << (e_bits - 1)) - 1 if bias is None else bias
    overflow = None
    if ocp == "e4m3":
        vals = minifloat_positive_values(4, 3, 7, reserve_top_code=True)
    elif ocp == "e5m2":
        vals = minifloat_positive_values(5, 2, 15, reserve_top_exponent=True)
    elif ocp == "bf16":
        vals = minifloat_positive_values(8, 7, 127, reserve_top_exponent=True)
        overflow = Fraction(2) ** 128  # next grid point: rounding onto it means inf
    else:
        vals = minifloat_positive_values(e_bits, m_bits, bias)
    thresholds = arithmetic_midpoints(vals + ([overflow] if overflow is not None else []))
    return vals, thresholds, overflow


def posit_format(n, es):
    """(values, thresholds) of posit(n, es): thresholds from (n+1)-bit patterns."""
    vals = [decode_posit(p, n, es) for p in range(1, 1 << (n - 1))]
    mids = [decode_posit(2 * p + 1, n + 1, es) for p in range(1, (1 << (n - 1)) - 1)]

    def t(i, a):
        m = mids[i]
        return (a > m) - (a < m)

    return vals, t


def quantize_posit(x, n, es, mode="nearest_even", seed=None, layer=0):
    vals, t = posit_format(n, es)
    # index i <-> pattern i+1: the tie rule wants an even pattern, i.e. odd index
    return _quantize_tapered(x, vals, t, mode, seed, layer)


def _quantize_tapered(x, vals, t, mode, seed, layer, f32_vals=None):
    xs = np.asarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(xs.size, dtype=np.float32)
    for idx, v in enumerate(xs):
        a = Fraction(float(abs(v)))
        if a == 0:
            out[idx] = 0.0
            continue
        if a >= vals[-1]:
            i = len(vals) - 1
        elif a <= vals[0]:
            i = 0
        else:
            lo, hi = 0, len(vals) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if vals[mid] <= a:
                    lo = mid
                else:
                    hi = mid
            i = lo
            if vals[i] != a:
                if mode == "toward_zero":
                    pass
                elif mode == "stochastic":
                    u = _draw_u(seed, layer, idx, 0)
                    lo_f = float(f32_vals[i]) if f32_vals is not None else float(vals[i])
                    hi_f = float(f32_vals[i + 1]) if f32_vals is not None else float(vals[i + 1])
                    if float(u) < (float(a) - lo_f) / (hi_f - lo_f):
                        i += 1
                else:
                    c = t(i, a)
                    pattern_even = (i + 1) % 2 == 0
                    if c > 0 or (c == 0 and (mode == "nearest_away" or not pattern_even)):
                        i += 1
        q = f32_vals[i] if f32_vals is not None else np.float32(float(vals[i]))
        out[idx] = -q if v < 0 else q
    return out.reshape(np.shape(x))


def logposit_format(n, es, rs, sf):
    """(log2-exponents, thresholds on a, float32 values) of lp(n, es, rs, sf)."""
    exps = [logposit_exponent(p, n, es, rs, sf) for p in range(1, 1 << (n - 1))]
    f32 = [f32_nearest_pow2(q) for q in exps]
    return exps, f32


def quantize_logposit(x, n, es, rs, sf, mode="nearest_even", seed=None, layer=0):
    exps, f32 = logposit_format(n, es, rs, sf)

    xs = np.asarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(xs.size, dtype=np.float32)
    for idx, v in enumerate(xs):
        a = Fraction(float(abs(v)))
        if a == 0:
            out[idx] = 0.0
            continue
        if pow2_leq(a, exps[-1]) >= 0:
            i = len(exps) - 1
        elif pow2_leq(a, exps[0]) <= 0:
            i = 0
        else:
            lo, hi = 0, len(exps) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if pow2_leq(a, exps[mid]) >= 0:
                    lo = mid
                else:
                    hi = mid
            i = lo
            if Fraction(float(f32[i + 1])) == a:
                i += 1  # a code's float32 stand-in maps to that code
            elif pow2_leq(a, exps[i]) != 0:
                if mode == "toward_zero":
                    pass
                elif mode == "stochastic":
                    u = _draw_u(seed, layer, idx, 0)
                    lo_f, hi_f = float(f32[i]), float(f32[i + 1])
                    if float(u) < (float(a) - lo_f) / (hi_f - lo_f):
                        i += 1
                else:
                    c = pow2_leq(a, logposit_exponent(2 * (i + 1) + 1, n + 1, es, rs, sf))
                    pattern_even = (i + 1) % 2 == 0
                    if c > 0 or (c == 0 and (mode == "nearest_away" or not pattern_even)):
                        i += 1
        q = f32[i]
        out[idx] = -q if v < 0 else q
    return out.reshape(np.shape(x))


# ----------------------------------------------------------------------------- block formats
MX_ELEMENTS = {  # element -> (values builder, emax)
    "fp8_e4m3": (lambda: minifloat_positive_values(4, 3, 7, reserve_top_code=True), 8),
    "fp8_e5m2": (lambda: minifloat_positive_values(5, 2, 15, reserve_top_exponent=True), 15),
    "fp6_e3m2": (lambda: minifloat_positive_values(3, 2, 3), 4),
    "fp6_e2m3": (lambda: minifloat_positive_values(2, 3, 1), 2),
    "fp4_e2m1": (lambda: minifloat_positive_values(2, 1, 1), 2),
    "int8": (lambda: [Fraction(k, 64) for k in range(128)], 0),
}


def floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def quantize_blocks(x, group, elem_values, emax, smin, smax, mode="nearest_even", seed=None,
                    layer=0, salt=0):
    """2-D x (rows, cols), blocks of ``group`` along axis 1, power-of-two scale
    2^clamp(floor(log2 amax) - emax, smin, smax); element values sorted non-negative."""
    x = np.asarray(x, dtype=np.float32)
    rows, cols = x.shape
    out = np.zeros_like(x)
    t = arithmetic_midpoints(elem_values)
    for r in range(rows):
        for c0 in range(0, cols, group):
            blk = x[r, c0:c0 + group]
            amax = max(Fraction(float(abs(v))) for v in blk)
            if amax == 0:
                continue
            se = min(max(floor_log2(amax) - emax, smin), smax)
            scale = Fraction(2) ** se
            for j, v in enumerate(blk):
                a = Fraction(float(abs(v))) / scale
                if a == 0:
                    continue
                u = _draw_u(seed, layer, r * cols + c0 + j, salt) if mode == "stochastic" else None
                q = round_to_set(a, elem_values, t, mode, u) * scale
                out[r, c0 + j] = -float(q) if v < 0 else float(q)
    return out


def quantize_bfp(x, man_bits, group, **kw):
    vals = [Fraction(m, 1 << (man_bits - 1)) for m in range(1 << man_bits)]
    return quantize_blocks(x, group, vals, 0, -126, 127, **kw)


def quantize_mx(x, element, group=32, **kw):
    build, emax = MX_ELEMENTS[element]
    return quantize_blocks(x, group, build(), emax, -127, 127, **kw)


def bf16_round_f32(a: float) -> np.float32:
    f = Fraction(a)
    if f == 0:
        return np.float32(0)
    e = max(floor_log2(f), -126)
    q = Fraction(2) ** (e - 7)
    y = f / q
    r = math.floor(y)
    rem = y - r
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and r % 2 == 1):
        r += 1
    return np.float32(float(r * q))


def _round_int(y: Fraction, mode: str, u: Fraction | None) -> int:
    r = math.floor(y)
    rem = y - r
    if mode == "toward_zero" or rem == 0:
        return r
    if mode == "stochastic":
        return r + 1 if rem + u >= 1 else r
    if rem > Fraction(1, 2):
        return r + 1
    if rem < Fraction(1, 2):
        return r
    if mode == "nearest_away":
        return r + 1
    return r + (r % 2)


def quantize_abfp(x, bits, tile, mode="nearest_even", seed=None, layer=0):
    """docs/architecture.md §3 quantiser, per row of a 2-D x, blocks along axis 1."""
    x = np.asarray(x, dtype=np.float32)
    L = (1 << (bits - 1)) - 1
    out = np.zeros_like(x)
    rows, cols = x.shape
    for r in range(rows):
        for c0 in range(0, cols, tile):
            blk = x[r, c0:c0 + tile]
            amax = float(np.max(np.abs(blk)))
            s = 1.0 if amax == 0 else float(bf16_round_f32(amax))
            for j, v in enumerate(blk):
                if v == 0:
                    continue
                y = Fraction(float(abs(v))) * L / Fraction(s)  # exact v / s / d, d = 1/L
                u = _draw_u(seed, layer, r * cols + c0 + j, 0) if mode == "stochastic" else None
                c = min(_round_int(y, mode, u), L)
                val = np.float32(c * s / L)
                out[r, c0 + j] = -val if v < 0 else val
    return out


def quantize_int(x, bits, per_channel=False, mode="nearest_even", seed=None, layer=0):
    """Symmetric INT along axis 1 of a 2-D x (per-channel = per row)."""
    x = np.asarray(x, dtype=np.float32)
    qmax = (1 << (bits - 1)) - 1
    out = np.zeros_like(x)
    rows, cols = x.shape
    amax_all = float(np.max(np.abs(x))) if x.size else 0.0
    for r in range(rows):
        amax = float(np.max(np.abs(x[r]))) if per_channel else amax_all
        s = 1.0 if amax == 0 else float(np.float32(amax / qmax))
        for c in range(cols):
            v = x[r, c]
            if v == 0:
                continue
            u = _draw_u(seed, layer, r * cols + c, 0) if mode == "stochastic" else None
            q = min(_round_int(Fraction(abs(float(v))) / Fraction(s), mode, u), qmax)
            val = np.float32(q * s)
            out[r, c] = -val if v < 0 else val
    return out


def digital_matmul_ref(x, w, qx_fn, qw_fn):
    """Quantise both operands with reference functions, accumulate in float32."""
    qx = qx_fn(x).astype(np.float32)
    qw = qw_fn(w).astype(np.float32)
    return np.matmul(qx, qw.T)

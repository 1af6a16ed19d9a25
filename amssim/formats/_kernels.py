"""numba kernels of the number formats (docs/architecture.md §12: arrays and scalars only).

Every kernel takes float32 input, writes float32 output and returns the number of
non-finite inputs it met (the Python wrappers in :mod:`amssim.formats.registry`
turn a non-zero count into an error). Rounding works on magnitudes in float64,
where multiplying a float32 by a power of two and rounding to an integer are exact;
powers of two come from a lookup table (:data:`_P2`). Modes are the integer values
of :class:`amssim.formats.rounding.RoundingMode`.

Stochastic rounding draws ``h = hash3(k0, k1, lo32(idx), hi32(idx), salt)`` where
``idx = base[row] + col * col_stride`` is the element's flat index in the caller's
array (plus any offset the caller folds into ``base``).

Slow numpy/python references: tests/reference/formats_ref.py.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit, njit_parallel, prange
from .._rng import hash3

_P2_OFF = 1074
#: 2**e for e in [-1074, 1074] (inf at the top end is never reached)
with np.errstate(over="ignore"):
    _P2 = np.ldexp(1.0, np.arange(-_P2_OFF, _P2_OFF + 1)).astype(np.float64)
_TWO_M32 = 2.0**-32

NEAREST_EVEN = 0
NEAREST_AWAY = 1
TOWARD_ZERO = 2
STOCHASTIC = 3


@njit
def _p2(e):
    return _P2[e + _P2_OFF]


@njit
def _draw(k0, k1, idx, salt):
    return hash3(k0, k1, np.uint32(idx & 0xFFFFFFFF), np.uint32((idx >> 32) & 0xFFFFFFFF),
                 np.uint32(salt))


@njit
def _floor_log2_f32(a):
    """floor(log2(a)) for a finite float32 magnitude a > 0 (exact, subnormals too)."""
    m, e = math.frexp(np.float64(a))
    return e - 1


@njit
def _s_of(bits, v):
    """floor(log2|v|) of a finite nonzero float32 v from its bit pattern ``bits``."""
    ef = np.int64((bits >> np.uint32(23)) & np.uint32(0xFF))
    if ef == 0:
        return _floor_log2_f32(v)
    return ef - 127


@njit
def _round_int(y, mode, h):
    """Round y >= 0 to an integer (float64) under ``mode``; h: uint32 draw."""
    if mode == NEAREST_EVEN:
        return np.rint(y)
    if mode == NEAREST_AWAY:
        return math.floor(y + 0.5)
    fl = math.floor(y)
    if mode == TOWARD_ZERO:
        return fl
    frac = y - fl
    if frac > 0.0 and np.float64(h) * _TWO_M32 >= 1.0 - frac:
        return fl + 1.0
    return fl


@njit
def _grid_round(a, s, man_bits, emin, maxv, ovf, mode, h):
    """Round magnitude a (float64 > 0, floor(log2 a) = s) onto the grid of a float
    with ``man_bits`` fraction bits and smallest normal exponent ``emin``
    (subnormals below it); results above ``maxv`` become ``ovf``."""
    e = s if s > emin else emin
    y = a * _p2(man_bits - e)
    r = _round_int(y, mode, h)
    out = r * _p2(e - man_bits)
    if out > maxv:
        return ovf
    return out


@njit_parallel
def minifloat_kernel(x, xb, out, man_bits, emin, maxv, ovf_nearest, mode, k0, k1, index_offset, salt):
    """Elementwise float grid (ExMy, OCP FP8, bf16). x, out: 1-D float32; xb = x.view(uint32)."""
    nbad = 0
    ovf = ovf_nearest if (mode == NEAREST_EVEN or mode == NEAREST_AWAY) else maxv
    for i in prange(x.size):
        v = x[i]
        if not np.isfinite(v):
            nbad += 1
            out[i] = 0.0
            continue
        if v == 0.0:
            out[i] = v
            continue
        h = np.uint32(0)
        if mode == STOCHASTIC:
            h = _draw(k0, k1, np.int64(i) + index_offset, salt)
        q = _grid_round(abs(np.float64(v)), _s_of(xb[i], v), man_bits, emin, maxv, ovf, mode, h)
        out[i] = -q if v < 0 else q
    return nbad


@njit
def _p2_bits(k):
    """2**k as float64 from its bit pattern (exact for -1022 <= k <= 1023, = _p2(k))."""
    return np.int64((k + 1023) << 52).view(np.float64)


@njit
def _block_nearest_fast(xr, xbr, outr, c0, c1, man_bits, emin_x, maxv_x):
    """Nearest-even rounding of one block of finite normal (or zero) float32 values: the
    arithmetic of ``_grid_round`` (NEAREST_EVEN, ovf = maxv_x) with powers of two built
    from bits instead of table lookups, branch-free so it vectorises."""
    for c in range(c0, c1):
        v = xr[c]
        a = abs(np.float64(v))
        s = np.int64((xbr[c] >> np.uint32(23)) & np.uint32(0xFF)) - 127
        e = s if s > emin_x else emin_x
        r = np.rint(a * _p2_bits(man_bits - e))
        q = r * _p2_bits(e - man_bits)
        if q > maxv_x:
            q = maxv_x
        outr[c] = -q if v < 0 else q


@njit_parallel
def block_kernel(x, xb, out, group, man_bits, emin, maxv, emax_elem, smin, smax, mode, k0, k1,
                 base, col_stride, salt):
    """Shared power-of-two scale per block of ``group`` along axis 1 (BFP, MX).

    scale exponent = clamp(floor(log2 max|block|) - emax_elem, smin, smax); elements
    x / 2^scale are rounded onto the element grid (man_bits, emin, maxv, saturating)
    and multiplied back. All-zero blocks stay zero; the tail block is zero-padded
    (it is simply shorter: padding never changes the max). x, out: 2-D float32,
    xb = x.view(uint32). Nearest-even blocks of finite normal values take a
    vectorised path with the same arithmetic.
    """
    rows, cols = x.shape
    nb = (cols + group - 1) // group
    nbad = 0
    for r in prange(rows):
        xr = x[r]
        xbr = xb[r]
        outr = out[r]
        rbase = base[r]
        for blk in range(nb):
            c0 = blk * group
            c1 = min(c0 + group, cols)
            amax = np.float32(0.0)
            ia = c0
            odd = 0  # non-finite or subnormal elements
            for c in range(c0, c1):
                v = xr[c]
                ef = (xbr[c] >> np.uint32(23)) & np.uint32(0xFF)
                if ef == np.uint32(0xFF) or (ef == np.uint32(0) and v != 0.0):
                    odd += 1
                if not np.isfinite(v):
                    nbad += 1
                elif abs(v) > amax:
                    amax = abs(v)
                    ia = c
            if amax == 0.0:
                for c in range(c0, c1):
                    outr[c] = 0.0
                continue
            se = _s_of(xbr[ia], amax) - emax_elem
            se = min(max(se, smin), smax)
            # x's own grid: smallest normal exponent emin + se, max maxv * 2^se
            emin_x = emin + se
            maxv_x = maxv * _p2(se)
            ehi = max(127, emin_x)  # exponents e of the fast path lie in [emin_x, ehi]
            if (mode == NEAREST_EVEN and odd == 0 and man_bits - emin_x <= 1023
                    and man_bits - ehi >= -1022 and emin_x - man_bits >= -1022
                    and ehi - man_bits <= 1023):
                _block_nearest_fast(xr, xbr, outr, c0, c1, man_bits, emin_x, maxv_x)
                continue
            for c in range(c0, c1):
                v = xr[c]
                if not np.isfinite(v) or v == 0.0:
                    outr[c] = 0.0
                    continue
                h = np.uint32(0)
                if mode == STOCHASTIC:
                    h = _draw(k0, k1, rbase + np.int64(c) * col_stride, salt)
                q = _grid_round(abs(np.float64(v)), _s_of(xbr[c], v), man_bits, emin_x, maxv_x,
                                maxv_x, mode, h)
                outr[c] = -q if v < 0 else q
    return nbad


@njit_parallel
def scaled_int_kernel(x, out, scales, qmax, mode, k0, k1, base, col_stride, salt):
    """Symmetric integer grid with one float32 scale per row (INT per-tensor uses a
    single row): q = clamp(round(|x| / s), 0, qmax) * s, s > 0. x, out: 2-D float32."""
    rows, cols = x.shape
    nbad = 0
    for r in prange(rows):
        s = np.float64(scales[r])
        for c in range(cols):
            v = x[r, c]
            if not np.isfinite(v):
                nbad += 1
                out[r, c] = 0.0
                continue
            if v == 0.0:
                out[r, c] = 0.0
                continue
            h = np.uint32(0)
            if mode == STOCHASTIC:
                h = _draw(k0, k1, base[r] + np.int64(c) * col_stride, salt)
            q = _round_int(abs(np.float64(v)) / s, mode, h)
            if q > qmax:
                q = np.float64(qmax)
            q = q * s
            out[r, c] = -q if v < 0 else q
    return nbad


_BF16_MAX = (2.0 - 2.0**-7) * 2.0**127


@njit
def _bf16_round(a):
    """Round a float32 magnitude a > 0 to bfloat16, nearest even (IEEE overflow: inf)."""
    return np.float32(_grid_round(np.float64(a), _floor_log2_f32(a), 7, -126, _BF16_MAX,
                                  np.inf, NEAREST_EVEN, np.uint32(0)))


@njit_parallel
def abfp_kernel(x, out, codes, scales, tile, levels, mode, k0, k1, base, col_stride, salt):
    """ABFP digital encoding per block of ``tile`` along axis 1 (docs/architecture.md §3).

    s = bf16(max|block|) (zero block: s = 1); c = clamp(round((x * L) / s), -L, L),
    L = levels = 2^(b-1) - 1 (x * L exact in float64, one rounded division); output
    value = float32(c * s / L). ``codes`` (float32, same shape) receives c and
    ``scales`` (rows, blocks) receives s.
    """
    rows, cols = x.shape
    nb = (cols + tile - 1) // tile
    nbad = 0
    lv = np.float64(levels)
    for r in prange(rows):
        xr = x[r]
        outr = out[r]
        codesr = codes[r]
        rbase = base[r]
        for blk in range(nb):
            c0 = blk * tile
            c1 = min(c0 + tile, cols)
            amax = np.float32(0.0)
            for c in range(c0, c1):
                v = xr[c]
                if not np.isfinite(v):
                    nbad += 1
                else:
                    amax = max(amax, abs(v))
            s32 = np.float32(1.0) if amax == 0.0 else _bf16_round(amax)
            scales[r, blk] = s32
            s = np.float64(s32)
            for c in range(c0, c1):
                v = xr[c]
                if not np.isfinite(v) or v == 0.0:
                    outr[c] = 0.0
                    codesr[c] = 0.0
                    continue
                h = np.uint32(0)
                if mode == STOCHASTIC:
                    h = _draw(k0, k1, rbase + np.int64(c) * col_stride, salt)
                q = _round_int((abs(np.float64(v)) * lv) / s, mode, h)
                if q > lv:
                    q = lv
                if v < 0:
                    q = -q
                codesr[c] = q
                outr[c] = q * s / lv
    return nbad


@njit_parallel
def tapered_kernel(x, xb, out, maxpat, is_log, vals, valc, thr, exact, lut, off, shf, mode, k0, k1,
                   index_offset, salt):
    """Posit / log-posit rounding by table lookup, elementwise. x, out: 1-D float32.

    Tables (built by :func:`amssim.formats.posit.kernel_tables`), indexed by the
    positive pattern p in [0, maxpat]:
    vals[p]   float32 value of pattern p (nearest float32 for log-posits),
              vals[maxpat + 1] = inf (sentinel);
    valc[p]   smallest float32 >= the exact value (valc[maxpat + 1] = inf);
    thr[p]    rounding threshold between p and p+1: the value of the (n+1)-bit
              pattern "p followed by 1" (smallest float32 >= it when inexact);
    exact[p]  1 if thr[p] is exact (ties possible), else 0;
    lut       floor pattern of the start of each bucket: bucket of a float32
              magnitude with bits b is off[b >> 23] + ((b & 0x7FFFFF) >> shf[b >> 23]);
              buckets are fine enough to hold at most one code.
    """
    nbad = 0
    away = mode == NEAREST_AWAY
    tz = mode == TOWARD_ZERO
    for i in prange(x.size):
        v = x[i]
        b = np.int64(xb[i]) & 0x7FFFFFFF
        if b >= 0x7F800000:
            nbad += 1
            out[i] = 0.0
            continue
        if b == 0:
            out[i] = 0.0
            continue
        ef = b >> 23
        a = abs(np.float64(v))
        # floor pattern: largest p with exact value <= a (branch-free from here on)
        p = np.int64(lut[off[ef] + ((b & 0x7FFFFF) >> shf[ef])])
        p += np.int64(a >= valc[p + 1])
        if is_log:  # the float32 stand-in of a code maps to that code
            p += np.int64(vals[p + 1] == a)
        if mode == STOCHASTIC:
            lo = np.float64(vals[p])
            hi = np.float64(vals[p + 1])
            u = np.float64(_draw(k0, k1, np.int64(i) + index_offset, salt)) * _TWO_M32
            up = u < (a - lo) / (hi - lo)
        else:
            t = thr[p]
            tie_up = (exact[p] == 0) | away | ((p & 1) == 1)
            up = ((a > t) | ((a == t) & tie_up)) & (not tz)
        p += np.int64(up)
        p = max(p, np.int64(1))  # below minpos: minpos (never 0)
        q = vals[p]
        out[i] = -q if v < 0 else q
    return nbad

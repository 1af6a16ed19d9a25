"""numba kernels of the number formats (DESIGN 12: arrays and scalars only).

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

_P2_OFF = 1100
#: 2**e for e in [-1100, 1100] (0 and inf at the ends are never reached)
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
def minifloat_kernel(x, out, man_bits, emin, maxv, ovf_nearest, mode, k0, k1, index_offset, salt):
    """Elementwise float grid (ExMy, OCP FP8, bf16). x, out: 1-D float32."""
    nbad = 0
    ovf_other = maxv
    for i in prange(x.size):
        v = x[i]
        if not np.isfinite(v):
            nbad += 1
            out[i] = 0.0
            continue
        a = abs(np.float64(v))
        if a == 0.0:
            out[i] = v
            continue
        h = np.uint32(0)
        if mode == STOCHASTIC:
            h = _draw(k0, k1, np.int64(i) + index_offset, salt)
        ovf = ovf_nearest if (mode == NEAREST_EVEN or mode == NEAREST_AWAY) else ovf_other
        q = _grid_round(a, _floor_log2_f32(v), man_bits, emin, maxv, ovf, mode, h)
        out[i] = -q if v < 0 else q
    return nbad


@njit_parallel
def block_kernel(x, out, group, man_bits, emin, maxv, emax_elem, smin, smax, mode, k0, k1,
                 base, col_stride, salt):
    """Shared power-of-two scale per block of ``group`` along axis 1 (BFP, MX).

    scale exponent = clamp(floor(log2 max|block|) - emax_elem, smin, smax); elements
    x / 2^scale are rounded onto the element grid (man_bits, emin, maxv, saturating)
    and multiplied back. All-zero blocks stay zero; the tail block is zero-padded
    (it is simply shorter: padding never changes the max). x, out: 2-D float32.
    """
    rows, cols = x.shape
    nb = (cols + group - 1) // group
    nbad = 0
    for job in prange(rows * nb):
        r = job // nb
        c0 = (job - r * nb) * group
        c1 = min(c0 + group, cols)
        amax = 0.0
        for c in range(c0, c1):
            v = x[r, c]
            if not np.isfinite(v):
                nbad += 1
            else:
                amax = max(amax, abs(np.float64(v)))
        if amax == 0.0:
            for c in range(c0, c1):
                out[r, c] = 0.0
            continue
        se = _floor_log2_f32(amax) - emax_elem
        se = min(max(se, smin), smax)
        inv = _p2(-se)
        sc = _p2(se)
        for c in range(c0, c1):
            v = x[r, c]
            if not np.isfinite(v) or v == 0.0:
                out[r, c] = 0.0
                continue
            h = np.uint32(0)
            if mode == STOCHASTIC:
                h = _draw(k0, k1, base[r] + np.int64(c) * col_stride, salt)
            a = abs(np.float64(v)) * inv
            q = _grid_round(a, _floor_log2_f32(v) - se, man_bits, emin, maxv, maxv, mode, h) * sc
            out[r, c] = -q if v < 0 else q
    return nbad


@njit_parallel
def scaled_int_kernel(x, out, scales, qmax, mode, k0, k1, base, col_stride, salt):
    """Symmetric integer grid with one float32 scale per row (INT per-tensor uses a
    single row): q = clamp(round(|x| / s), 0, qmax) * s, s > 0. x, out: 2-D float32."""
    rows, cols = x.shape
    nbad = 0
    for job in prange(rows * cols):
        r = job // cols
        c = job - r * cols
        v = x[r, c]
        if not np.isfinite(v):
            nbad += 1
            out[r, c] = 0.0
            continue
        if v == 0.0:
            out[r, c] = 0.0
            continue
        s = np.float64(scales[r])
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
    """ABFP digital encoding per block of ``tile`` along axis 1 (DESIGN 3).

    s = bf16(max|block|) (zero block: s = 1); c = clamp(round(x / s * L), -L, L),
    L = levels = 2^(b-1) - 1 (x / s in float64, then * L in float64); output
    value = float32(c * s / L). ``codes`` (float32, same shape) receives c and
    ``scales`` (rows, blocks) receives s.
    """
    rows, cols = x.shape
    nb = (cols + tile - 1) // tile
    nbad = 0
    lv = np.float64(levels)
    for job in prange(rows * nb):
        r = job // nb
        b = job - r * nb
        c0 = b * tile
        c1 = min(c0 + tile, cols)
        amax = np.float32(0.0)
        for c in range(c0, c1):
            v = x[r, c]
            if not np.isfinite(v):
                nbad += 1
            else:
                amax = max(amax, abs(v))
        s32 = np.float32(1.0) if amax == 0.0 else _bf16_round(amax)
        scales[r, b] = s32
        s = np.float64(s32)
        for c in range(c0, c1):
            v = x[r, c]
            if not np.isfinite(v) or v == 0.0:
                out[r, c] = 0.0
                codes[r, c] = 0.0
                continue
            h = np.uint32(0)
            if mode == STOCHASTIC:
                h = _draw(k0, k1, base[r] + np.int64(c) * col_stride, salt)
            q = _round_int(abs(np.float64(v)) / s * lv, mode, h)
            if q > lv:
                q = lv
            if v < 0:
                q = -q
            codes[r, c] = q
            out[r, c] = q * s / lv
    return nbad


@njit_parallel
def tapered_kernel(x, out, n, es, rs, sf, is_log, values, bounds, wmax, mode, k0, k1,
                   index_offset, salt):
    """Posit (is_log=0) and logarithmic posit (is_log=1) rounding, elementwise.

    Builds the unbounded bit string (regime capped at ``rs``, ``es`` exponent bits,
    fraction bits: the 23 float32 mantissa bits for posits, ``wmax`` log-domain
    fraction bits plus a sticky bit for log-posits), rounds it to n-1 bits on the bit
    string (Posit Standard 2022 rule), clamps to [minpos, maxpos] and decodes with the
    ``values`` table (pattern -> float32 magnitude). ``bounds[j]`` is the smallest
    float32 >= 2^(j / 2^wmax) (log-posits only). x, out: 1-D float32.
    """
    maxpat = (np.int64(1) << (n - 1)) - 1
    nbad = 0
    for i in prange(x.size):
        v = x[i]
        if not np.isfinite(v):
            nbad += 1
            out[i] = 0.0
            continue
        if v == 0.0:
            out[i] = 0.0
            continue
        a = abs(np.float64(v))
        m, ex = math.frexp(a)
        s = ex - 1
        m = m * 2.0  # in [1, 2)
        if s < -126:  # float32 subnormal input: below minpos (validated range)
            p = np.int64(1)
        else:
            sticky = False
            if is_log:
                big = np.int64(1) << wmax
                j = np.int64(math.floor(math.log2(m) * big))
                if j < 0:
                    j = 0
                if j >= big:
                    j = big - 1
                while bounds[j] > m:
                    j -= 1
                while bounds[j + 1] <= m:
                    j += 1
                frac = j
                w = wmax
                sticky = m != 1.0
                scale = np.int64(s + sf)
            else:
                frac = np.int64(math.floor((m - 1.0) * 8388608.0))
                w = 23
                scale = np.int64(s)
            k = scale >> es
            e = scale - (k << es)
            if k >= rs:
                p = maxpat
            elif k < -rs:
                p = np.int64(1)
            else:
                run = k + 1 if k >= 0 else -k
                term = 1 if run < rs else 0
                rlen = run + term
                if k >= 0:
                    reg = ((np.int64(1) << run) - 1) << term
                else:
                    reg = np.int64(term)
                body = (((reg << es) | e) << w) | frac
                sh = rlen + es + w - (n - 1)
                if sh <= 0:
                    p = body << (-sh)
                else:
                    p = body >> sh
                    rem = body & ((np.int64(1) << sh) - 1)
                    half = np.int64(1) << (sh - 1)
                    up = False
                    if mode == NEAREST_EVEN:
                        up = rem > half or (rem == half and (sticky or (p & 1) == 1))
                    elif mode == NEAREST_AWAY:
                        up = rem >= half
                    elif mode == STOCHASTIC:
                        if (rem != 0 or sticky) and p >= 1 and p < maxpat:
                            lo = np.float64(values[p])
                            hi = np.float64(values[p + 1])
                            u = np.float64(_draw(k0, k1, np.int64(i) + index_offset, salt)) * _TWO_M32
                            up = u < (a - lo) / (hi - lo)
                    if up:
                        p += 1
                if p < 1:
                    p = np.int64(1)
                if p > maxpat:
                    p = maxpat
        q = values[p]
        out[i] = -q if v < 0 else q
    return nbad

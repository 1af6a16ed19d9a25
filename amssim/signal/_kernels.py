"""numba kernels of the ABFP signal chain (arrays and scalars only; see abfp.py).

Arithmetic, element by element (the reference tests/reference/abfp_ref.py
follows the same order; all in float64 unless stated):

* block scale s = fmt(max|v| over the block) (bf16 RNE / fp32 / pow2 up; 0 -> 1)
* input/weight code c = clamp(rint((v * L) / s), -L, L), L = 2**(b-1) - 1
  (== Q(v/s; 1/L, 1) / d: the product v*L is exact, one rounding in the division)
* S = sum of c_x * c_w over the block (exact integer on BLAS), or, with DAC INL
  or weight noise, a float64 sum in increasing k order
* q = (S * num_i) / den with num_i = G (1 + g_i) L_y and den = n L_x L_w
  (= G_i p / LSB; one rounding, so ties of the noise-free ADC input are exact)
* v0 = q + offset_i;  v = v0 + E  [+ sqrt(b |v0|) z]  [v += adc_inl[clamp(rint(v))]]
* code_y = clamp(rint(v), -L_y, L_y)
* partial = bf16(float32((code_y * kappa) * (s_w * s_x))), kappa = n / (L_y G)
  (s_w * s_x is exact in float64)
* acc (float32) += partial, blocks in increasing t.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit, njit_parallel, prange
from .noise import (K_EMPIRICAL, K_GAUSSIAN, K_NONE, K_STUDENT_T, K_UNIFORM, box_muller, col_hashes,
                    fill_noise, fill_noise_cols, row_hash, signal_normal, u01_col, u01_row)

FMT_BF16 = 0
FMT_FP32 = 1
FMT_POW2 = 2


@njit
def bf16_round32(f):
    """float32 -> nearest-even bfloat16 value, as float32 (bit trick, inf/finite safe)."""
    b = np.float32(f).view(np.uint32)
    b = np.uint32(b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1)))
    b = np.uint32(b & np.uint32(0xFFFF0000))
    return np.uint32(b).view(np.float32)


@njit
def block_scale(amax, fmt):
    """Scale (float64) of a block with max-abs ``amax`` (float32 >= 0)."""
    if amax == 0:
        return 1.0
    if fmt == FMT_BF16:
        return np.float64(bf16_round32(np.float32(amax)))
    if fmt == FMT_FP32:
        return np.float64(amax)
    m, e = math.frexp(np.float64(amax))
    if m == 0.5:
        return np.float64(amax)
    return math.ldexp(1.0, e)


@njit
def _quantize_job(x, r, tt, n, t0, Lf, fmt, codes, scales):
    """Block t0 + tt of row r: scale and codes (one job of :func:`quantize_blocks`)."""
    K = x.shape[1]
    k0 = (t0 + tt) * n
    k1 = min(k0 + n, K)
    amax = np.float32(0.0)
    for k in range(k0, k1):
        a = abs(x[r, k])
        if a > amax:
            amax = a
    s = block_scale(amax, fmt)
    scales[r, tt] = s
    kr = k1 - k0
    for j in range(kr):  # the real columns (a branch-free loop the compiler vectorises) ...
        c = np.rint((np.float64(x[r, k0 + j]) * Lf) / s)
        if c > Lf:
            c = Lf
        elif c < -Lf:
            c = -Lf
        codes[tt, r, j] = c
    for j in range(kr, n):  # ... then the zero padding of a last, partial block
        codes[tt, r, j] = 0.0


@njit_parallel
def quantize_blocks(x, n, t0, L, fmt, codes, scales):
    """Codes of blocks t0 .. t0 + codes.shape[0] of each row of ``x`` (R, K) float32.

    codes (Tq, R, n) float32/float64 out; scales (R, Tq) float64 out.
    """
    tq = codes.shape[0]
    R = x.shape[0]
    Lf = np.float64(L)
    for job in prange(R * tq):
        r = job // tq
        _quantize_job(x, r, job - r * tq, n, t0, Lf, fmt, codes, scales)


@njit
def quantize_blocks_serial(x, n, t0, L, fmt, codes, scales):
    """:func:`quantize_blocks` on the calling thread (for callers that run their own threads)."""
    tq = codes.shape[0]
    Lf = np.float64(L)
    for r in range(x.shape[0]):
        for tt in range(tq):
            _quantize_job(x, r, tt, n, t0, Lf, fmt, codes, scales)


@njit_parallel
def weight_effective(codes_w, rel, k0, k1, n):
    """Programmed weights with relative noise, transposed: (T, N, n) codes -> (T, n, N) float64.

    we = c * (1 + rel * z), z = Box-Muller of WEIGHT_PROGRAMMING at (i, k, 0) and (i, k, 1).
    """
    T, N, nn = codes_w.shape
    out = np.empty((T, nn, N))
    for i in prange(N):
        h = row_hash(k0, np.uint32(i))
        for t in range(T):
            for j in range(nn):
                c = np.float64(codes_w[t, i, j])
                if rel > 0.0:
                    kk = np.uint32(t * n + j)
                    z = box_muller(u01_row(h, k1, kk, np.uint32(0)), u01_row(h, k1, kk, np.uint32(1)))
                    c = c * (1.0 + rel * z)
                out[t, j, i] = c
    return out


@njit_parallel
def input_effective(codes_x, inl, L):
    """DAC INL: codes (Tq, R, n) -> float64 c + inl[c + L] (inl empty: plain copy)."""
    Tq, R, n = codes_x.shape
    out = np.empty((Tq, R, n))
    has = inl.shape[0] > 0
    for job in prange(Tq * R):
        t = job // R
        r = job - t * R
        for j in range(n):
            c = np.float64(codes_x[t, r, j])
            if has:
                c = c + inl[np.int64(c) + L]
            out[t, r, j] = c
    return out


@njit_parallel
def dot_f64(xe, xt0, weT, t0, c0, S):
    """S[tt, r, i] = sum_k xe[xt0+tt, r, k] * weT[t0+tt, k, c0+i], float64, k increasing."""
    Tc, R, nc = S.shape
    n = xe.shape[2]
    for job in prange(Tc * R):
        tt = job // R
        r = job - tt * R
        row = S[tt, r]
        for i in range(nc):
            row[i] = 0.0
        for k in range(n):
            a = xe[xt0 + tt, r, k]
            wrow = weT[t0 + tt, k]
            for i in range(nc):
                row[i] += a * wrow[c0 + i]


@njit
def _adc_partial(s, num, off, e, sw, den, kappa, Lyf, sxr):
    """bf16 partial of one (row, column, block) without signal noise or ADC INL: gain and
    ADC input q = (S num) / den, offset, noise e, ADC, exponent unit (module docstring)."""
    q = (np.float64(s) * num) / den
    v = (q + off) + e
    y = np.rint(v)
    if y > Lyf:
        y = Lyf
    if y < -Lyf:
        y = -Lyf
    return bf16_round32(np.float32((y * kappa) * (sw * sxr)))


@njit
def _uniform_e(hb, ck1, scale):
    """Uniform output noise in ADC LSB from a hoisted column hash (:func:`fill_noise_cols`)."""
    return scale * (2.0 * u01_col(hb, ck1) - 1.0)


@njit
def _row_simple(Srow, num, off, E, sw, accrow, den, kappa, Lyf, sxr):
    for i in range(Srow.shape[0]):
        accrow[i] += _adc_partial(Srow[i], num[i], off[i], E[i], sw[i], den, kappa, Lyf, sxr)


@njit
def _row_general(Srow, num, off, E, sw, accrow, den, kappa, Lyf, Ly, sxr,
                 sig_b, hs, ks1, c0, t, adc_inl):
    has_inl = adc_inl.shape[0] > 0
    for i in range(Srow.shape[0]):
        q = (np.float64(Srow[i]) * num[i]) / den
        v0 = q + off[i]
        v = v0 + E[i]
        if sig_b > 0.0:
            z = signal_normal(hs, ks1, np.uint32(c0 + i), np.uint32(t))
            v = v + math.sqrt(sig_b * abs(v0)) * z
        if has_inl:
            y0 = min(max(np.rint(v), -Lyf), Lyf)
            v = v + adc_inl[np.int64(y0) + Ly]
        y = np.rint(v)
        if y > Lyf:
            y = Lyf
        if y < -Lyf:
            y = -Lyf
        p = np.float32((y * kappa) * (sw[i] * sxr))
        accrow[i] += bf16_round32(p)


@njit
def _row_uniform(Srow, num, off, hb, ck1, scale, sw, accrow, den, kappa, Lyf, sxr):
    """_row_simple with uniform noise drawn inline from hoisted column hashes (one pass)."""
    for i in range(Srow.shape[0]):
        accrow[i] += _adc_partial(Srow[i], num[i], off[i], _uniform_e(hb[i], ck1, scale), sw[i], den, kappa,
                                  Lyf, sxr)


@njit
def _row_none(Srow, num, off, sw, accrow, den, kappa, Lyf, sxr):
    """_row_simple with E = 0 (noise "none")."""
    for i in range(Srow.shape[0]):
        accrow[i] += _adc_partial(Srow[i], num[i], off[i], 0.0, sw[i], den, kappa, Lyf, sxr)


@njit
def _row_hashes(kind, keys, a, c0, hb1, hb2):
    """Hoisted column hashes of row ``a`` for the noise kinds that use them."""
    if kind != K_NONE and kind != K_STUDENT_T:
        col_hashes(keys[0], a, c0, hb1)
        if kind == K_GAUSSIAN or kind == K_EMPIRICAL:
            col_hashes(keys[2], a, c0, hb2)


@njit
def _epilogue_row(Srow, numv, offv, E, hb1, hb2, swv, accrow, den, kappa, Lyf, Ly, sxr, simple,
                  kind, scale, dof, cdf, edges, keys, a, c0, t, sig_b, hs, adc_inl):
    """Epilogue of one (row, block): noise E, gain, ADC, exponent unit, accumulate."""
    if simple and kind == K_UNIFORM:
        _row_uniform(Srow, numv, offv, hb1, np.uint32(np.uint32(t) ^ keys[1]), scale, swv, accrow,
                     den, kappa, Lyf, sxr)
        return
    if simple and kind == K_NONE:
        _row_none(Srow, numv, offv, swv, accrow, den, kappa, Lyf, sxr)
        return
    if kind == K_STUDENT_T:
        fill_noise(kind, scale, dof, cdf, edges, keys, a, c0, t, E)
    elif kind != K_NONE:
        fill_noise_cols(kind, scale, cdf, edges, hb1, hb2, np.uint32(np.uint32(t) ^ keys[1]),
                        np.uint32(np.uint32(t) ^ keys[3]), E)
    if simple:
        _row_simple(Srow, numv, offv, E, swv, accrow, den, kappa, Lyf, sxr)
    else:
        _row_general(Srow, numv, offv, E, swv, accrow, den, kappa, Lyf, Ly, sxr,
                     sig_b, hs, keys[5], c0, t, adc_inl)


@njit_parallel
def row_col_hashes(kind, keys, row0, c0, hb1, hb2):
    """Hoisted hashes of rows row0 .. row0 + R and columns c0 .. c0 + nc: hb1/hb2 (R, nc)
    uint32 (hb2 only for the two-stream kinds; otherwise hb2 may have 0 columns)."""
    for r in prange(hb1.shape[0]):
        _row_hashes(kind, keys, np.uint32(row0 + r), c0, hb1[r], hb2[r])


@njit
def row_col_hashes_serial(kind, keys, row0, c0, hb1, hb2):
    """:func:`row_col_hashes` on the calling thread."""
    for r in range(hb1.shape[0]):
        _row_hashes(kind, keys, np.uint32(row0 + r), c0, hb1[r], hb2[r])


@njit
def _epilogue_r(r, S, sx, sx_t0, swT, t0, c0, numv, offv, den, kappa, Ly, Lyf, simple, acc, acc_c0,
                row0, kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2, hb_c0):
    Tc, R, nc = S.shape
    E = np.zeros(nc)
    a = np.uint32(row0 + r)
    hs = row_hash(keys[4], a)
    accrow = acc[r, acc_c0:acc_c0 + nc]
    h1 = hb1[r, hb_c0:hb_c0 + nc]
    h2 = hb2[r, hb_c0:hb_c0 + nc] if hb2.shape[1] > 0 else hb2[r]
    for tt in range(Tc):
        t = t0 + tt
        _epilogue_row(S[tt, r], numv, offv, E, h1, h2, swT[t, c0:c0 + nc], accrow, den, kappa,
                      Lyf, Ly, sx[r, sx_t0 + tt], simple, kind, scale, dof, cdf, edges, keys, a,
                      c0, t, sig_b, hs, adc_inl)


@njit_parallel
def epilogue(S, sx, sx_t0, swT, t0, c0, num, off, den, kappa, Ly, acc, acc_c0, row0,
             kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2, hb_c0):
    """Gain, noise, ADC, exponent unit and float32 accumulation of blocks t0 .. t0+Tc.

    S (Tc, R, Nc) integer dot products (float32/float64); sx (R, *) input scales
    (block t at column sx_t0 + tt); swT (T, N) weight scales; num/off (N,) per
    column; acc (R, *) float32, column i of S goes to acc[:, acc_c0 + i];
    hb1/hb2 (R, *) hoisted hashes (:func:`row_col_hashes`), column i at hb_c0 + i.
    """
    Tc, R, nc = S.shape
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    numv = num[c0:c0 + nc]
    offv = off[c0:c0 + nc]
    for r in prange(R):
        _epilogue_r(r, S, sx, sx_t0, swT, t0, c0, numv, offv, den, kappa, Ly, Lyf, simple, acc,
                    acc_c0, row0, kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2, hb_c0)


@njit
def epilogue_serial(S, sx, sx_t0, swT, t0, c0, num, off, den, kappa, Ly, acc, acc_c0, row0,
                    kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2, hb_c0):
    """:func:`epilogue` on the calling thread."""
    Tc, R, nc = S.shape
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    numv = num[c0:c0 + nc]
    offv = off[c0:c0 + nc]
    for r in range(R):
        _epilogue_r(r, S, sx, sx_t0, swT, t0, c0, numv, offv, den, kappa, Ly, Lyf, simple, acc,
                    acc_c0, row0, kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2, hb_c0)


@njit_parallel
def row_col_hashes_rows(kind, keys, arow, c0, hb1, hb2):
    """:func:`row_col_hashes` for rows with global indices ``arow`` (R,) uint32."""
    for r in prange(hb1.shape[0]):
        _row_hashes(kind, keys, arow[r], c0, hb1[r], hb2[r])


@njit
def row_col_hashes_rows_serial(kind, keys, arow, c0, hb1, hb2):
    """:func:`row_col_hashes_rows` on the calling thread."""
    for r in range(hb1.shape[0]):
        _row_hashes(kind, keys, arow[r], c0, hb1[r], hb2[r])


@njit
def _epilogue_group_row(r, S, sx, swG, gm, num, off, den, kappa, Ly, Lyf, simple, acc, arow,
                        kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2):
    T, R, nc = S.shape
    E = np.zeros(nc)
    a = arow[r]
    hs = row_hash(keys[4], a)
    swT = swG[r // gm]
    accrow = acc[r]
    for t in range(T):
        _epilogue_row(S[t, r], num, off, E, hb1[r], hb2[r], swT[t], accrow, den, kappa,
                      Lyf, Ly, sx[r, t], simple, kind, scale, dof, cdf, edges, keys, a,
                      0, t, sig_b, hs, adc_inl)


@njit_parallel
def epilogue_groups(S, sx, swG, gm, num, off, den, kappa, Ly, acc, arow,
                    kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2):
    """:func:`epilogue` of independent products stacked along rows (all blocks, all columns).

    S (T, R, N) integer dot products; row r belongs to product r // gm, whose weight
    scales are swG[r // gm] (T, N), and has global row index arow[r]; sx (R, T);
    acc (R, N) float32; hb1/hb2 (R, N or 0) from :func:`row_col_hashes_rows`.
    """
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    for r in prange(S.shape[1]):
        _epilogue_group_row(r, S, sx, swG, gm, num, off, den, kappa, Ly, Lyf, simple, acc, arow,
                            kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2)


@njit
def epilogue_groups_serial(S, sx, swG, gm, num, off, den, kappa, Ly, acc, arow,
                           kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2):
    """:func:`epilogue_groups` on the calling thread."""
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    for r in range(S.shape[1]):
        _epilogue_group_row(r, S, sx, swG, gm, num, off, den, kappa, Ly, Lyf, simple, acc, arow,
                            kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, hb1, hb2)


@njit_parallel
def fused(xc, sx, wT, swT, t0, c0, nc, num, off, den, kappa, Ly, acc, acc_c0, row0,
          kind, scale, dof, cdf, edges, keys, sig_b, adc_inl, rb):
    """Block dot products (float32 integer codes, exact) fused with the epilogue.

    xc (Tq, R, n) input codes of blocks t0 .. t0+Tq; wT (T, n, N) weight codes;
    tiles of ``rb`` rows share each weight row. Used for narrow tiles where one
    BLAS call per block costs more than it saves.
    """
    Tq, R, n = xc.shape
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    numv = num[c0:c0 + nc]
    offv = off[c0:c0 + nc]
    nblk = (R + rb - 1) // rb
    for bi in prange(nblk):
        r0 = bi * rb
        r1 = min(R, r0 + rb)
        S = np.empty((rb, nc), np.float32)
        E = np.zeros(nc)
        hb1 = np.empty((rb, nc), np.uint32)
        hb2 = np.empty((rb, nc), np.uint32)
        for j in range(r1 - r0):
            _row_hashes(kind, keys, np.uint32(row0 + r0 + j), c0, hb1[j], hb2[j])
        for tt in range(Tq):
            t = t0 + tt
            for j in range(r1 - r0):
                for i in range(nc):
                    S[j, i] = 0.0
            for k in range(n):
                wrow = wT[t, k, c0:c0 + nc]
                for j in range(r1 - r0):
                    a = xc[tt, r0 + j, k]
                    if a != 0.0:
                        Sj = S[j]
                        for i in range(nc):
                            Sj[i] += a * wrow[i]
            swv = swT[t, c0:c0 + nc]
            for j in range(r1 - r0):
                r = r0 + j
                a32 = np.uint32(row0 + r)
                _epilogue_row(S[j], numv, offv, E, hb1[j], hb2[j], swv, acc[r, acc_c0:acc_c0 + nc],
                              den, kappa, Lyf, Ly, sx[r, tt], simple, kind, scale, dof, cdf, edges,
                              keys, a32, c0, t, sig_b, row_hash(keys[4], a32), adc_inl)


@njit_parallel
def bf16_inplace(a):
    """Round a float32 array (any shape, C order) to bfloat16 values in place."""
    flat = a.reshape(-1)
    for i in prange(flat.shape[0]):
        flat[i] = bf16_round32(flat[i])


@njit
def bf16_inplace_serial(a):
    """:func:`bf16_inplace` on the calling thread."""
    flat = a.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = bf16_round32(flat[i])




#: columns per group from which the grouped kernel's dot products run column-innermost
_GROUPS_WIDE_N = 8


@njit
def _groups_rows(r0, r1, x, wq, sw, num, off, keys, n, Lf, fmt, den, kappa, Ly, row0,
                 kind, scale, dof, cdf, edges, sig_b, adc_inl, out):
    """Rows r0 .. r1 of :func:`groups_products` (one body for the serial and parallel kernels).

    Per (row, group): the group's blocks are quantised by :func:`_quantize_job` (a single
    block over its real columns only: same scale and codes, the padding codes are 0),
    dotted with the group's weight codes (exact integers below 2**24, so the summation
    order is irrelevant) and run through the epilogue with the group's keys, scales and
    channel constants, blocks in increasing t. Without signal noise or ADC INL the steps
    of :func:`_epilogue_row` run inline (its call costs more than one depthwise column's
    work): :func:`_uniform_e` / no noise / :func:`fill_noise_cols`, then
    :func:`_adc_partial` per column; student_t, signal noise and ADC INL call
    :func:`_epilogue_row`. The float32 accumulator is then rounded to bfloat16 as
    :func:`bf16_inplace` does. Groups are the outer loop so per-group views are made
    once per row range (a view costs reference counting).
    """
    G, T, nn, og = wq.shape
    Kg = x.shape[2]
    rr = r1 - r0
    Lyf = np.float64(Ly)
    simple = sig_b == 0.0 and adc_inl.shape[0] == 0
    inline = simple and (kind == K_UNIFORM or kind == K_NONE)
    nq = n if T > 1 else Kg
    xc = np.empty((T, rr, nq), wq.dtype)
    sx = np.empty((rr, T))
    S = np.empty(og, wq.dtype)
    E = np.zeros(og)
    hb1 = np.empty(og, np.uint32)
    hb2 = np.empty(og, np.uint32)
    acc = np.empty(og, np.float32)
    for g in range(G):
        kg = keys[g]
        numg = num[g]
        offg = off[g]
        swg = sw[g]
        wg = wq[g]
        xg = x[r0:r1, g]
        for j in range(rr):
            for t in range(T):
                _quantize_job(xg, j, t, nq, 0, Lf, fmt, xc, sx)
        for j in range(rr):
            a = np.uint32(row0 + r0 + j)
            _row_hashes(kind, kg, a, 0, hb1, hb2)
            for i in range(og):
                acc[i] = 0.0
            for t in range(T):
                kw = min(n, Kg - t * n)
                if og < _GROUPS_WIDE_N:  # few columns (depthwise): one running sum per column
                    for i in range(og):
                        si = S.dtype.type(0.0)
                        for k in range(kw):
                            si += xc[t, j, k] * wg[t, k, i]
                        S[i] = si
                else:  # many columns: the column loop innermost (vectorised)
                    for i in range(og):
                        S[i] = 0.0
                    for k in range(kw):
                        c = xc[t, j, k]
                        if c != 0.0:
                            for i in range(og):
                                S[i] += c * wg[t, k, i]
                sxr = sx[j, t]
                if inline:
                    ck1 = np.uint32(np.uint32(t) ^ kg[1])
                    for i in range(og):
                        e = _uniform_e(hb1[i], ck1, scale) if kind == K_UNIFORM else 0.0
                        acc[i] += _adc_partial(S[i], numg[i], offg[i], e, swg[t, i], den, kappa, Lyf, sxr)
                elif simple and kind != K_STUDENT_T:  # _epilogue_row's steps for these kinds
                    fill_noise_cols(kind, scale, cdf, edges, hb1, hb2, np.uint32(np.uint32(t) ^ kg[1]),
                                    np.uint32(np.uint32(t) ^ kg[3]), E)
                    for i in range(og):
                        acc[i] += _adc_partial(S[i], numg[i], offg[i], E[i], swg[t, i], den, kappa, Lyf, sxr)
                else:
                    _epilogue_row(S, numg, offg, E, hb1, hb2, swg[t], acc, den, kappa, Lyf, Ly, sxr, simple,
                                  kind, scale, dof, cdf, edges, kg, a, 0, t, sig_b, row_hash(kg[4], a),
                                  adc_inl)
            for i in range(og):
                out[r0 + j, g, i] = bf16_round32(acc[i])


@njit_parallel
def groups_products(x, wq, sw, num, off, keys, n, L, fmt, den, kappa, Ly, row0,
                    kind, scale, dof, cdf, edges, sig_b, adc_inl, out, rb):
    """G products with static weights sharing input rows (grouped convolutions), all blocks.

    x (M, G, Kg) float32 input rows (group g's columns at x[:, g]); wq (G, T, n, og)
    float32 integer weight codes (block t of group g is the B matrix of x_t @ B); sw
    (G, T, og) weight scales; num/off (G, og) channel constants; keys (G, 6) noise keys
    of each group's layer; row r has global index row0 + r; out (M, G, og) float32,
    overwritten with bfloat16 values. Chunks of ``rb`` rows run in parallel.
    """
    M = x.shape[0]
    Lf = np.float64(L)
    nblk = (M + rb - 1) // rb
    for bi in prange(nblk):
        _groups_rows(bi * rb, min(M, bi * rb + rb), x, wq, sw, num, off, keys, n, Lf, fmt, den,
                     kappa, Ly, row0, kind, scale, dof, cdf, edges, sig_b, adc_inl, out)


@njit
def groups_products_serial(x, wq, sw, num, off, keys, n, L, fmt, den, kappa, Ly, row0,
                           kind, scale, dof, cdf, edges, sig_b, adc_inl, out, rb):
    """:func:`groups_products` on the calling thread."""
    M = x.shape[0]
    for r0 in range(0, M, rb):
        _groups_rows(r0, min(M, r0 + rb), x, wq, sw, num, off, keys, n, np.float64(L), fmt, den, kappa,
                     Ly, row0, kind, scale, dof, cdf, edges, sig_b, adc_inl, out)

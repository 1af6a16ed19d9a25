"""Slow, obviously-correct numpy reference of the ABFP signal chain (docs/architecture.md §3).

Follows the equations line by line with whole-array float64 numpy operations,
in the arithmetic order documented in amssim/signal/_kernels.py. Random draws use
the numpy hash oracle ``hash3_np`` and the C-library transcendentals through
Python's ``math`` module (the numba kernels call the same functions).
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from amssim._rng import Stream, hash3_np, stream_key, to_unit_open_np

_vlog = np.frompyfunc(math.log, 1, 1)
_vcos = np.frompyfunc(math.cos, 1, 1)
_vsqrt = np.frompyfunc(math.sqrt, 1, 1)
_vpow = np.frompyfunc(lambda a, b: a**b, 2, 1)


def _f(a):
    return np.asarray(a, dtype=np.float64)


def log(a):
    return _f(_vlog(a))


def bf16(a):
    """float32 -> nearest-even bfloat16 value (ml_dtypes is the oracle), as float32."""
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def scale(amax, fmt):
    """amax (float32 max-abs) -> float64 scale; zero blocks get scale 1."""
    amax = np.asarray(amax, np.float32)
    if fmt == "bf16":
        s = bf16(amax).astype(np.float64)
    elif fmt == "fp32":
        s = amax.astype(np.float64)
    else:  # pow2: smallest power of two >= amax
        s = np.array([2.0 ** math.ceil(math.log2(float(a))) if a > 0 else 1.0
                      for a in amax.ravel()]).reshape(amax.shape)
    return np.where(amax == 0, 1.0, s)


def quantize(v, bits, fmt, n):
    """v (R, K) float32 -> codes (R, T, n) float64 integers, scales (R, T) float64."""
    R, K = v.shape
    T = -(-K // n)
    vp = np.zeros((R, T * n), np.float32)
    vp[:, :K] = v
    vb = vp.reshape(R, T, n)
    s = scale(np.abs(vb).max(axis=2), fmt)
    L = 2 ** (bits - 1) - 1
    d = 1.0 / L                                      # d_b = 1 / (2^(b-1) - 1)
    # Q(v/s; d, 1) = clamp(round(v/s/d) d, -1, 1): code = round((v L) / s) clamped to +-L
    c = np.rint((vb.astype(np.float64) * L) / s[:, :, None])
    c = np.clip(c, -L, L)
    assert np.all(np.abs(c * d) <= 1.0 + 1e-15)
    return c, s


def uniform(seed, stream, layer, a, b, c, key_add=0):
    k0, k1 = stream_key(seed, stream, layer)
    k0 = np.uint32((int(k0) + key_add) & 0xFFFFFFFF)
    return to_unit_open_np(hash3_np(k0, k1, a, b, c))


def box_muller(u1, u2):
    return _f(_vsqrt(-2.0 * log(u1))) * _f(_vcos(2.0 * math.pi * u2))


def output_noise(cfg, seed, layer, a, b, c):
    """E in ADC LSB at broadcast coordinates (a, b, c)."""
    kind, s = cfg.noise, cfg.noise_lsb
    a, b, c = np.broadcast_arrays(a, b, c)
    u1 = uniform(seed, Stream.OUTPUT_NOISE, layer, a, b, c)
    if kind == "none":
        return np.zeros(a.shape)
    if kind == "uniform":
        return s * (2.0 * u1 - 1.0)
    u2 = uniform(seed, Stream.OUTPUT_NOISE_2, layer, a, b, c)
    if kind == "gaussian":
        return s * box_muller(u1, u2)
    if kind == "logistic":
        return s * log(u1 / (1.0 - u1))
    if kind == "laplace":
        return s * np.where(u1 < 0.5, log(2.0 * u1), -log(2.0 - 2.0 * u1))
    if kind == "student_t":  # Bailey's polar method, attempt j offsets k0 by j * golden
        out = np.full(a.shape, np.nan)
        for j in range(64):
            todo = np.isnan(out)
            if not todo.any():
                break
            g = (j * 0x9E3779B9) & 0xFFFFFFFF
            U = 2.0 * uniform(seed, Stream.OUTPUT_NOISE, layer, a, b, c, g) - 1.0
            V = 2.0 * uniform(seed, Stream.OUTPUT_NOISE_2, layer, a, b, c, g) - 1.0
            W = U * U + V * V
            ok = todo & (W <= 1.0)
            Wk = W[ok]
            nu = cfg.noise_dof
            out[ok] = U[ok] * _f(_vsqrt(nu * (_f(_vpow(Wk, -2.0 / nu)) - 1.0) / Wk))
        return s * np.nan_to_num(out, nan=0.0)
    if kind == "empirical":
        e = np.asarray(cfg.noise_edges_lsb)
        cdf = np.cumsum(cfg.noise_probs)
        cdf[-1] = 1.0
        j = np.searchsorted(cdf, u1, side="right")  # first j with u1 < cdf[j]
        return e[j] + u2 * (e[j + 1] - e[j])
    raise ValueError(kind)


def abfp_matmul_ref(x, w, cfg, seed=0, layer=0, row_offset=0):
    """Y = X W^T per docs/architecture.md §3 (x (M, K), w (N, K) float32) -> (M, N) float32."""
    x = np.asarray(x, np.float32)
    w = np.asarray(w, np.float32)
    if cfg.ideal:
        return (x.astype(np.float64) @ w.astype(np.float64).T).astype(np.float32)
    n = cfg.tile_width
    M, K = x.shape
    N = w.shape[0]
    T = -(-K // n)
    Lx, Lw, Ly = (2 ** (b - 1) - 1 for b in (cfg.input_bits, cfg.weight_bits, cfg.adc_bits))
    cx, sx = quantize(x, cfg.input_bits, cfg.scale_format, n)     # (M, T, n), (M, T)
    cw, sw = quantize(w, cfg.weight_bits, cfg.scale_format, n)     # (N, T, n), (N, T)

    # beyond the paper: DAC INL and weight programming noise make operands non-integer
    float_path = bool(cfg.dac_inl_lsb) or cfg.weight_noise_rel > 0
    if cfg.dac_inl_lsb:
        inl = np.asarray(cfg.dac_inl_lsb)
        cx = cx + inl[cx.astype(np.int64) + Lx]
    if cfg.weight_noise_rel > 0:
        i = np.arange(N)[:, None]
        k = np.arange(T * n)[None, :]
        z = box_muller(uniform(seed, Stream.WEIGHT_PROGRAMMING, layer, i, k, 0),
                       uniform(seed, Stream.WEIGHT_PROGRAMMING, layer, i, k, 1))
        cw = cw * (1.0 + cfg.weight_noise_rel * z.reshape(N, T, n))

    # p[m, i, t] / (d_bx d_bw): exact integer dot products (or float64, k increasing)
    if float_path:
        S = np.zeros((M, N, T))
        for j in range(n):
            S = S + cx[:, None, :, j] * cw[None, :, :, j]
    else:
        S = np.einsum("mtk,itk->mit", cx, cw)
        assert np.all(S == np.round(S))

    G = cfg.gain
    g = np.zeros(N) if not cfg.channel_gain_error else \
        np.asarray(cfg.channel_gain_error)[np.arange(N) % len(cfg.channel_gain_error)]
    off = np.zeros(N) if not cfg.channel_offset_lsb else \
        np.asarray(cfg.channel_offset_lsb)[np.arange(N) % len(cfg.channel_offset_lsb)]
    num = (G * (1.0 + g) if cfg.channel_gain_error else np.full(N, G)) * Ly
    den = float(n * Lx * Lw)
    # ADC input in LSB: G p / (n d_by) = G Ly S / (n Lx Lw)
    q = (S * num[None, :, None]) / den
    v0 = q + off[None, :, None]
    m_idx = (row_offset + np.arange(M))[:, None, None]
    i_idx = np.arange(N)[None, :, None]
    t_idx = np.arange(T)[None, None, :]
    v = v0 + output_noise(cfg, seed, layer, m_idx, i_idx, t_idx)
    if cfg.signal_noise_var_lsb2 > 0:
        z = box_muller(uniform(seed, Stream.SIGNAL_NOISE, layer, m_idx, i_idx, t_idx),
                       uniform(seed, Stream.SIGNAL_NOISE, layer, m_idx, i_idx,
                               t_idx + 0x80000000))
        v = v + _f(_vsqrt(cfg.signal_noise_var_lsb2 * np.abs(v0))) * z
    if cfg.adc_inl_lsb:
        y0 = np.clip(np.rint(v), -Ly, Ly)
        v = v + np.asarray(cfg.adc_inl_lsb)[y0.astype(np.int64) + Ly]
    yc = np.clip(np.rint(v), -Ly, Ly)       # yq / LSB, LSB = n / Ly
    kappa = n / (Ly * G)                    # yq / G = code * LSB / G
    partial = bf16(((yc * kappa) * (sw[None, :, :] * sx[:, None, :])).astype(np.float32))
    acc = np.zeros((M, N), np.float32)
    for t in range(T):                      # float32 accumulation, increasing t
        acc = (acc + partial[:, :, t]).astype(np.float32)
    return bf16(acc)


def saturated_fraction_ref(x, w, cfg):
    """Fraction of partials whose noise-free ADC input exceeds the last code (|rint(v)| > Ly)."""
    n = cfg.tile_width
    Lx, Lw, Ly = (2 ** (b - 1) - 1 for b in (cfg.input_bits, cfg.weight_bits, cfg.adc_bits))
    cx, _ = quantize(np.asarray(x, np.float32), cfg.input_bits, cfg.scale_format, n)
    cw, _ = quantize(np.asarray(w, np.float32), cfg.weight_bits, cfg.scale_format, n)
    S = np.einsum("mtk,itk->mit", cx, cw)
    v = (S * (cfg.gain * Ly)) / float(n * Lx * Lw)
    return float(np.mean(np.abs(np.rint(v)) > Ly))

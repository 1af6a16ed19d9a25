"""Closed-form ABFP error variance (docs/architecture.md §3) and the ADC saturation fraction.

For each output (m, i), assuming no saturation and uniformly distributed
rounding errors, the error Y - X W^T has variance

    sum_t (s_w s_x)^2 [ LSB^2 (1 + 12 var(E)) / (12 G^2)
                        + d_bx^2 / 12 sum_k wq^2 + d_bw^2 / 12 sum_k xq^2 ]

with LSB = n d_by (in units of the normalised partial p), var(E) the output
noise variance in LSB^2 (``AbfpConfig.noise_variance_lsb2``), and wq, xq the
normalised quantised values of block t. With ``signal_noise_var_lsb2 = b`` the
term var(E) of each partial gains b |G p| (its noise-free ADC input in LSB).

``include_bf16=True`` (default) adds what the paper's formula leaves out: the
bfloat16 rounding of each partial and of the result, each ulp^2 / 12 with the
ulp of the exact value (8 significant bits). These matter when the ABFP error
is below ~1 %.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from . import _kernels as K
from .abfp import _check_cfg, _check_matrix
from .config import AbfpConfig


def _codes(a, cfg: AbfpConfig, bits: int):
    n = cfg.tile_width
    R, Kd = a.shape
    T = -(-Kd // n)
    codes = np.empty((T, R, n), np.float64)
    s = np.empty((R, T), np.float64)
    K.quantize_blocks(a, n, 0, 2 ** (bits - 1) - 1, int(cfg.scale_kind), codes, s)
    return codes, s


def _bf16_ulp2(v):
    """ulp^2 of bfloat16 (8 significant bits) at the magnitude of v (0 where v == 0)."""
    _, e = np.frexp(v)
    return np.where(v == 0, 0.0, np.ldexp(1.0, 2 * (e.astype(np.int64) - 8)))


def _blocks(x, w, cfg):
    _check_cfg(cfg)
    if cfg.ideal:
        raise ConfigError("cfg.ideal=True: the ideal product has no ABFP error to predict")
    x = _check_matrix("x", x)
    w = _check_matrix("w", w)
    if x.shape[1] != w.shape[1]:
        raise ConfigError(f"x and w must share K: x {x.shape}, w {w.shape}")
    cx, sx = _codes(x, cfg, cfg.input_bits)
    cw, sw = _codes(w, cfg, cfg.weight_bits)
    return x, w, cx, sx, cw, sw


def abfp_error_variance(x, w, cfg: AbfpConfig, *, include_bf16: bool = True) -> np.ndarray:
    """Predicted variance of abfp_matmul(x, w, cfg) - x @ w.T per output, (M, N) float64.

    Uses the actual scales and quantised values of ``x`` and ``w``. Raises
    ConfigError for switches the closed form does not cover (per-channel gain or
    offset error, INL tables, weight programming noise, heavy-tailed noise with
    infinite variance).
    """
    for name in ("channel_gain_error", "channel_offset_lsb", "dac_inl_lsb", "adc_inl_lsb"):
        if getattr(cfg, name):
            raise ConfigError(f"abfp_error_variance: {name} is not covered by the closed form")
    if cfg.weight_noise_rel > 0:
        raise ConfigError("abfp_error_variance: weight_noise_rel is not covered by the closed form")
    var_e = cfg.noise_variance_lsb2
    if not np.isfinite(var_e):
        raise ConfigError(
            f"abfp_error_variance: noise {cfg.noise!r} with noise_dof={cfg.noise_dof} has "
            "infinite variance")
    x, w, cx, sx, cw, sw = _blocks(x, w, cfg)
    n, G = cfg.tile_width, cfg.gain
    Lx, Lw, Ly = (2 ** (b - 1) - 1 for b in (cfg.input_bits, cfg.weight_bits, cfg.adc_bits))
    dx, dw = 1.0 / Lx, 1.0 / Lw
    lsb = n / Ly
    sum_xq2 = (cx * cx).sum(axis=2).T * dx * dx  # (M, T)
    sum_wq2 = (cw * cw).sum(axis=2).T * dw * dw  # (N, T)
    M, N, T = x.shape[0], w.shape[0], cx.shape[0]
    var = np.zeros((M, N))
    adc = lsb * lsb * (1.0 + 12.0 * var_e) / (12.0 * G * G)
    for t in range(T):
        ss2 = (sx[:, t, None] * sw[None, :, t]) ** 2
        term = adc + dx * dx / 12.0 * sum_wq2[None, :, t] + dw * dw / 12.0 * sum_xq2[:, t, None]
        if include_bf16 or cfg.signal_noise_var_lsb2 > 0:
            S = cx[t] @ cw[t].T
            if cfg.signal_noise_var_lsb2 > 0:
                v0 = np.abs(S * (G * Ly) / (n * Lx * Lw))
                term = term + lsb * lsb * cfg.signal_noise_var_lsb2 * v0 / (G * G)
            if include_bf16:
                part = S * (dx * dw) * sx[:, t, None] * sw[None, :, t]
                var += _bf16_ulp2(part) / 12.0
        var += ss2 * term
    if include_bf16:
        y = x.astype(np.float64) @ w.astype(np.float64).T
        var += _bf16_ulp2(y) / 12.0
    return var


def saturation_fraction(x, w, cfg: AbfpConfig) -> float:
    """Fraction of partials p[m, i, t] whose noise-free ADC input G p (with channel gain
    error and offset) rounds beyond the last ADC code, i.e. is clipped at +-n."""
    x, w, cx, sx, cw, sw = _blocks(x, w, cfg)
    n, G = cfg.tile_width, cfg.gain
    Lx, Lw, Ly = (2 ** (b - 1) - 1 for b in (cfg.input_bits, cfg.weight_bits, cfg.adc_bits))
    N = w.shape[0]
    g = np.zeros(N)
    if cfg.channel_gain_error:
        g = np.asarray(cfg.channel_gain_error)[np.arange(N) % len(cfg.channel_gain_error)]
    off = np.zeros(N)
    if cfg.channel_offset_lsb:
        off = np.asarray(cfg.channel_offset_lsb)[np.arange(N) % len(cfg.channel_offset_lsb)]
    num = G * (1.0 + g) * Ly if cfg.channel_gain_error else np.full(N, G * Ly)
    den = float(n * Lx * Lw)
    count = 0
    for t in range(cx.shape[0]):
        v = (cx[t] @ cw[t].T) * num[None, :] / den + off[None, :]
        count += int(np.count_nonzero(np.abs(np.rint(v)) > Ly))
    total = x.shape[0] * N * cx.shape[0]
    return count / total if total else 0.0

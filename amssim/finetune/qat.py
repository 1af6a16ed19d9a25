"""ABFP matrix product in PyTorch for quantisation-aware training (docs/architecture.md §3).

:func:`abfp_matmul_torch` follows the arithmetic of :mod:`amssim.signal._kernels`
operation by operation (float64 unless stated): bf16 (RNE) / fp32 / pow2 block scales
of the float32 max-abs, codes ``clamp(rint((v * L) / s), -L, L)`` (round half even),
exact integer block dot products, ``q = (S * num_i) / den``, offset, noise,
``clamp(rint(v), -L_y, L_y)``, ``partial = bf16(float32((y * kappa) * (s_w * s_x)))``,
float32 accumulation over blocks t in increasing order and a final bf16 rounding.
With noise off it equals :func:`amssim.abfp_matmul` bit for bit (tests/test_finetune_qat.py).

Random terms (output noise E, signal-dependent noise, weight programming noise) are
drawn from a ``torch.Generator`` when ``noise=True``: same distributions as the
device, not the same draws (training needs noise, not the simulator's exact stream).

:func:`ste_matmul` is the straight-through estimator ``y = y_fp + (y_abfp - y_fp).detach()``.
"""

from __future__ import annotations


import numpy as np

from ..errors import ConfigError
from ..signal.config import AbfpConfig, NoiseKind, ScaleFormat
from ._torch import require_torch


def bf16_round(t):
    """float32 tensor -> nearest-even bfloat16 values as float32 (torch converts with RNE)."""
    torch = require_torch()
    return t.to(torch.bfloat16).to(torch.float32)


_BF16_STE = None


def bf16_ste(t):
    """bf16 rounding in the forward pass, identity gradient (inf-safe)."""
    global _BF16_STE
    if _BF16_STE is None:
        torch = require_torch()

        class _Bf16Ste(torch.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return bf16_round(a)

            @staticmethod
            def backward(ctx, g):
                return g

        _BF16_STE = _Bf16Ste
    return _BF16_STE.apply(t)


class TorchAbfp:
    """Constants of one :class:`AbfpConfig` for the torch forward."""

    def __init__(self, cfg: AbfpConfig):
        if not isinstance(cfg, AbfpConfig):
            raise ConfigError(f"cfg must be an AbfpConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        n = cfg.tile_width
        self.n = n
        self.Lx = 2 ** (cfg.input_bits - 1) - 1
        self.Lw = 2 ** (cfg.weight_bits - 1) - 1
        self.Ly = 2 ** (cfg.adc_bits - 1) - 1
        if n * self.Lx * self.Lw >= 2**53:
            raise ConfigError(f"tile_width={n}: dot products exceed 2**53 and cannot be exact")
        self.float_path = bool(cfg.dac_inl_lsb) or cfg.weight_noise_rel > 0.0
        self.den = float(n * self.Lx * self.Lw)
        self.kappa = n / (self.Ly * cfg.gain)
        self.fmt = int(cfg.scale_kind)

    def _channel(self, values, N):
        if not values:
            return None
        v = np.asarray(values, np.float64)
        return v[np.arange(N) % len(v)]

    def num_off(self, N, torch):
        G = self.cfg.gain
        gains = self._channel(self.cfg.channel_gain_error, N)
        num = (np.full(N, G) if gains is None else G * (1.0 + gains)) * self.Ly
        off = self._channel(self.cfg.channel_offset_lsb, N)
        return (torch.from_numpy(num), None if off is None else torch.from_numpy(off))


def block_scales(amax, fmt: int):
    """float64 scales of blocks with float32 max-abs ``amax`` (0 -> 1)."""
    torch = require_torch()
    if fmt == ScaleFormat.BF16:
        s = bf16_round(amax).to(torch.float64)
    elif fmt == ScaleFormat.FP32:
        s = amax.to(torch.float64)
    else:
        a = amax.to(torch.float64)
        m, e = torch.frexp(a)
        s = torch.where(m == 0.5, a, torch.ldexp(torch.ones_like(a), e))
    return torch.where(amax == 0, torch.ones_like(s), s)


def quantize_block(v, L: int, fmt: int):
    """One block v (B, R, nb) float32 -> codes (B, R, nb) float64, scales (B, R) float64."""
    torch = require_torch()
    s = block_scales(v.abs().amax(dim=-1), fmt)
    c = torch.round((v.to(torch.float64) * float(L)) / s.unsqueeze(-1))
    return c.clamp_(-float(L), float(L)), s


def _noise(cfg: AbfpConfig, shape, gen, torch):
    """Output noise E in ADC LSB, float64, drawn with ``gen``."""
    kind = cfg.noise_kind
    a = float(cfg.noise_lsb)
    u = lambda: torch.rand(shape, generator=gen, dtype=torch.float64).clamp_(1e-300, 1.0 - 2**-53)  # noqa: E731
    if kind == NoiseKind.UNIFORM:
        return a * (2.0 * u() - 1.0)
    if kind == NoiseKind.GAUSSIAN:
        return a * torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind == NoiseKind.LOGISTIC:
        p = u()
        return a * torch.log(p / (1.0 - p))
    if kind == NoiseKind.LAPLACE:
        p = u()
        return a * torch.where(p < 0.5, torch.log(2.0 * p), -torch.log(2.0 - 2.0 * p))
    if kind == NoiseKind.STUDENT_T:
        from scipy.special import stdtrit
        return a * torch.from_numpy(stdtrit(float(cfg.noise_dof), u().numpy()))
    if kind == NoiseKind.EMPIRICAL:
        edges = torch.tensor(cfg.noise_edges_lsb, dtype=torch.float64)
        cdf = torch.cumsum(torch.tensor(cfg.noise_probs, dtype=torch.float64), 0)
        j = torch.searchsorted(cdf, u() * cdf[-1], right=True).clamp_(max=len(cdf) - 1)
        return edges[j] + u() * (edges[j + 1] - edges[j])
    return None


def abfp_matmul_torch(x, w, cfg: AbfpConfig, *, noise: bool = False, generator=None):
    """Y = X W^T on ABFP tiles in torch (no autograd). x (..., M, K), w (N, K) or (..., N, K)
    float32 -> (..., M, N) float32 holding bf16 values. ``noise=False``: deterministic
    (equals :func:`amssim.abfp_matmul` with the config's random terms switched off)."""
    torch = require_torch()
    p = TorchAbfp(cfg) if not isinstance(cfg, TorchAbfp) else cfg
    cfg = p.cfg
    with torch.no_grad():
        x = x.detach().to(torch.float32)
        w = w.detach().to(torch.float32)
        lead = x.shape[:-2]
        M, K = x.shape[-2:]
        N = w.shape[-2]
        if w.shape[-1] != K:
            raise ConfigError(f"x and w must share K: x {tuple(x.shape)}, w {tuple(w.shape)}")
        if cfg.ideal:
            return torch.matmul(x.double(), w.double().transpose(-1, -2)).float()
        x3 = x.reshape(-1, M, K)
        w3 = w.reshape(-1, N, K) if w.dim() > 2 else w.unsqueeze(0)
        dt = torch.float64 if p.float_path or p.n * p.Lx * p.Lw >= 2**24 else torch.float32
        num, off = p.num_off(N, torch)
        Ly = float(p.Ly)
        adc_inl = torch.tensor(cfg.adc_inl_lsb, dtype=torch.float64) if cfg.adc_inl_lsb else None
        dac_inl = torch.tensor(cfg.dac_inl_lsb, dtype=torch.float64) if cfg.dac_inl_lsb else None
        acc = torch.zeros((x3.shape[0], M, N), dtype=torch.float32)
        for k0 in range(0, K, p.n):  # blocks t in increasing order
            k1 = min(K, k0 + p.n)
            cx, sx = quantize_block(x3[..., k0:k1], p.Lx, p.fmt)  # (B, M, nb), (B, M)
            cw, sw = quantize_block(w3[..., k0:k1], p.Lw, p.fmt)  # (Bw, N, nb), (Bw, N)
            if dac_inl is not None:
                cx = cx + dac_inl[(cx + p.Lx).long()]
            if noise and cfg.weight_noise_rel > 0.0:
                z = torch.randn(cw.shape, generator=generator, dtype=torch.float64)
                cw = cw * (1.0 + cfg.weight_noise_rel * z)
            S = torch.matmul(cx.to(dt), cw.to(dt).transpose(-1, -2)).to(torch.float64)  # (B, M, N)
            v = (S * num) / p.den
            if off is not None:
                v = v + off
            v0 = v
            if noise:
                E = _noise(cfg, v.shape, generator, torch)
                if E is not None:
                    v = v + E
                if cfg.signal_noise_var_lsb2 > 0.0:
                    z = torch.randn(v.shape, generator=generator, dtype=torch.float64)
                    v = v + torch.sqrt(cfg.signal_noise_var_lsb2 * v0.abs()) * z
            if adc_inl is not None:
                y0 = torch.round(v).clamp(-Ly, Ly)
                v = v + adc_inl[(y0 + Ly).long()]
            y = torch.round(v).clamp_(-Ly, Ly)
            part = ((y * p.kappa) * (sw.unsqueeze(1) * sx.unsqueeze(2))).to(torch.float32)
            acc = acc + bf16_round(part)
        return bf16_round(acc).reshape(*lead, M, N)


def ste_matmul(x, w, cfg, *, noise: bool = False, generator=None):
    """Straight-through ABFP product: forward = ABFP, backward = d(x @ w^T).

    x (..., M, K); w (N, K) or (..., N, K) (both may require grad).
    """
    torch = require_torch()
    y_fp = torch.matmul(x, w.transpose(-1, -2))
    y_q = abfp_matmul_torch(x, w, cfg, noise=noise, generator=generator)
    return y_fp + (y_q - y_fp).detach()

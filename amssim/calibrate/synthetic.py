"""Realistic synthetic lab data from a known model (``amssim calibrate --synthetic OUT``).

Model (ADC LSB of an 8-bit symmetric ADC, full scale FS = 127)::

    y   = s (1 + g[c]) * expected + o[c]                 per-channel gain/offset
    obs = clip(rint(y + FS sum_k q[k] (y/FS)^k + E), +-FS)  smooth INL, noise, ADC
    E   ~ Student-t(dof, scale)                           heavy tails
    a fraction of the observed codes replaced by random codes (outliers)

``expected`` is given in units 1/s of the observed code (the global scale between
the two arrays) and spans beyond full scale, so some codes clip.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from .._rng import Stream


@dataclass(frozen=True, kw_only=True)
class SyntheticModel:
    adc_bits: int = 8
    channels: int = 16
    rows: int = 8192  # paired samples per channel
    scale: float = 0.5  # observed code units per expected unit (global scale)
    gain_error_sigma: float = 0.03  # relative
    offset_sigma_lsb: float = 1.5
    poly: tuple = (0.02, -0.03)  # q2, q3 of the smooth INL
    noise: str = "student_t"
    noise_lsb: float = 0.8
    noise_dof: float = 4.0
    outlier_fraction: float = 1e-3
    expected_laplace_scale: float = 60.0  # spread of expected (expected units): ~1 % clip
    sweep_points: int = 64
    gain: float = 8.0
    tile_width: int = 128


def _noise(m: SyntheticModel, rng, size):
    if m.noise == "student_t":
        return m.noise_lsb * rng.standard_t(m.noise_dof, size)
    if m.noise == "gaussian":
        return m.noise_lsb * rng.standard_normal(size)
    if m.noise == "laplace":
        return rng.laplace(0.0, m.noise_lsb, size)
    if m.noise == "logistic":
        return rng.logistic(0.0, m.noise_lsb, size)
    if m.noise == "uniform":
        return rng.uniform(-m.noise_lsb, m.noise_lsb, size)
    raise ValueError(m.noise)


def truth(m: SyntheticModel, seed: int) -> dict:
    rng = np.random.default_rng([seed, int(Stream.SYNTHETIC), 0])
    return {"gain_error": rng.normal(0, m.gain_error_sigma, m.channels),
            "offset_lsb": rng.normal(0, m.offset_sigma_lsb, m.channels)}


def observe(m: SyntheticModel, expected, ch, t: dict, rng, *, outliers=True):
    fs = 2 ** (m.adc_bits - 1) - 1
    y = m.scale * (1 + t["gain_error"][ch]) * expected + t["offset_lsb"][ch]
    h = y + sum(fs * q * (y / fs) ** k for k, q in enumerate(m.poly, 2))
    obs = np.rint(h + _noise(m, rng, y.shape))
    if outliers and m.outlier_fraction > 0:
        bad = rng.random(y.shape) < m.outlier_fraction
        obs[bad] = rng.integers(-fs, fs + 1, int(bad.sum()))
    return np.clip(obs, -fs, fs)


def make_paired(m: SyntheticModel, seed: int = 0):
    t = truth(m, seed)
    rng = np.random.default_rng([seed, int(Stream.SYNTHETIC), 1])
    expected = np.rint(rng.laplace(0.0, m.expected_laplace_scale, (m.rows, m.channels)))
    ch = np.broadcast_to(np.arange(m.channels), expected.shape)
    return expected, observe(m, expected, ch, t, rng), t


def make_sweep(m: SyntheticModel, seed: int = 0):
    t = truth(m, seed)
    rng = np.random.default_rng([seed, int(Stream.SYNTHETIC), 2])
    fs = 2 ** (m.adc_bits - 1) - 1
    codes = np.linspace(-1.1 * fs / m.scale, 1.1 * fs / m.scale, m.sweep_points).round()
    ch = np.broadcast_to(np.arange(m.channels)[:, None], (m.channels, codes.size))
    return codes, observe(m, codes[None, :], ch, t, rng, outliers=False), t


def write_synthetic(out_dir: str, seed: int = 0, model: SyntheticModel | None = None) -> dict:
    """Write paired.npz, transfer.npz, meta.toml and truth.json into ``out_dir``."""
    import json

    m = model or SyntheticModel()
    os.makedirs(out_dir, exist_ok=True)
    expected, observed, t = make_paired(m, seed)
    np.savez_compressed(os.path.join(out_dir, "paired.npz"), expected=expected.astype(np.float32),
                        observed=observed.astype(np.int16))
    codes, sweep, _ = make_sweep(m, seed)
    np.savez_compressed(os.path.join(out_dir, "transfer.npz"), codes=codes.astype(np.int16),
                        observed=sweep.astype(np.int16))
    with open(os.path.join(out_dir, "meta.toml"), "w") as fh:
        fh.write(f'description = "amssim synthetic lab data (seed {seed})"\n'
                 f"adc_bits = {m.adc_bits}\ngain = {m.gain}\ntile_width = {m.tile_width}\n"
                 "channel_axis = -1  # paired arrays are (samples, channels)\n"
                 "# code_scale absent: the global scale is fitted (true value in truth.json)\n")
    tr = {"model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(m).items()},
          "seed": seed, "gain_error": t["gain_error"].tolist(), "offset_lsb": t["offset_lsb"].tolist()}
    with open(os.path.join(out_dir, "truth.json"), "w") as fh:
        json.dump(tr, fh, indent=1)
    return {"paired": os.path.join(out_dir, "paired.npz"),
            "transfer": os.path.join(out_dir, "transfer.npz"),
            "meta": os.path.join(out_dir, "meta.toml"), "truth": os.path.join(out_dir, "truth.json")}

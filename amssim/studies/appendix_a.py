"""Appendix-A error study of the ABFP paper (Basumallik et al.).

Setup: W (768 x 768) standard Laplace, X (rows x 768, default 400 = 16 x 25
tokens of a BERT-Base projection) standard normal, 8/8/8 bits; sweep tile width
n, gain G and output noise {0, 0.5 LSB} (uniform half-width) and report the
relative RMS error ||Y - X W^T||_F / ||X W^T||_F against the float64 product,
with the closed-form prediction (abfp_error_variance) and the fraction of
saturated partials beside it.

The synthetic data come from amssim's counter-based generator (Stream.SYNTHETIC,
layer 0 for X, 1 for W), so a (rows, seed) pair always gives the same matrices.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .._rng import Stream, hash3_np, stream_key, to_unit_open_np
from ..errors import ConfigError
from ..signal import AbfpConfig, abfp_error_variance, abfp_matmul, saturation_fraction

TILE_WIDTHS = (8, 32, 128)
GAINS = (1.0, 2.0, 4.0, 8.0, 16.0)
NOISES_LSB = (0.0, 0.5)
DIM = 768


#: float64 copies of X the study holds at its peak (index grids, uniforms, products, errors)
BYTES_PER_ELEMENT_COPIES = 12


def _uniforms(seed, layer, rows, cols, c):
    k0, k1 = stream_key(seed, Stream.SYNTHETIC, layer)
    r, q = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return to_unit_open_np(hash3_np(k0, k1, r, q, c))


def appendix_a_data(rows: int = 400, seed: int = 0, dim: int = DIM):
    """(X, W) float32: X (rows, dim) standard normal, W (dim, dim) standard Laplace."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ConfigError(f"rows must be a positive integer, got {rows!r}")
    from ..limits import check_bytes

    # index grids, uniforms, X, products and errors: about a dozen float64 copies of X
    check_bytes(rows * dim * 8 * BYTES_PER_ELEMENT_COPIES, f"--rows {rows}: the study's arrays")
    u1, u2 = _uniforms(seed, 0, rows, dim, 0), _uniforms(seed, 0, rows, dim, 1)
    x = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    u = _uniforms(seed, 1, dim, dim, 0)
    w = np.where(u < 0.5, np.log(2.0 * u), -np.log(2.0 - 2.0 * u))
    return x.astype(np.float32), w.astype(np.float32)


@dataclass(frozen=True)
class StudyPoint:
    tile_width: int
    gain: float
    noise_lsb: float
    rel_rms_error: float  # ||Y - Y64|| / ||Y64||
    predicted_rel_rms_error: float  # sqrt(sum predicted var) / ||Y64||
    saturated_fraction: float  # of partials p[m, i, t]

    def to_dict(self):
        return asdict(self)


def run_appendix_a(rows: int = 400, seed: int = 0, *, tile_widths=TILE_WIDTHS, gains=GAINS,
                   noises_lsb=NOISES_LSB, bits=(8, 8, 8),
                   predict: bool = True) -> list[StudyPoint]:
    """Run the study; one StudyPoint per (n, G, noise) (predicted error NaN if not predict)."""
    x, w = appendix_a_data(rows, seed)
    y64 = x.astype(np.float64) @ w.astype(np.float64).T
    norm = float(np.sqrt(np.sum(y64 * y64)))
    out = []
    for n in tile_widths:
        for g in gains:
            sat = None
            for a in noises_lsb:
                cfg = AbfpConfig(tile_width=n, input_bits=bits[0], weight_bits=bits[1],
                                 adc_bits=bits[2], gain=g,
                                 noise="uniform" if a > 0 else "none", noise_lsb=a)
                y = abfp_matmul(x, w, cfg, seed=seed)
                err = float(np.sqrt(np.sum((y.astype(np.float64) - y64) ** 2))) / norm
                pred = (float(np.sqrt(np.sum(abfp_error_variance(x, w, cfg)))) / norm
                        if predict else float("nan"))
                if sat is None:
                    sat = saturation_fraction(x, w, cfg)
                out.append(StudyPoint(n, float(g), float(a), err, pred, sat))
    return out

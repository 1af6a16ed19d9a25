"""Noise samplers of the analog signal chain (numba, counter-based).

Every sample is a pure function of ``(keys, a, b, c)`` through
:func:`amssim._rng.hash3`; nothing depends on call order or thread count.
The row hash ``_mix32(a ^ k0)`` (the first round of ``hash3``) is hoisted out
of the inner loops: ``_u01_row(hrow, k1, b, c) == to_unit_open(hash3(k0, k1, a, b, c))``.

Samplers (standard forms; the caller multiplies by the scale ``noise_lsb``):

* uniform: ``2u - 1`` on (-1, 1), one uniform from OUTPUT_NOISE.
* gaussian: Box-Muller ``sqrt(-2 ln u1) cos(2 pi u2)`` with u1 from OUTPUT_NOISE and
  u2 from OUTPUT_NOISE_2 at the same coordinates.
* logistic: inverse CDF ``ln(u / (1 - u))``.
* laplace: inverse CDF ``ln(2u)`` if u < 1/2 else ``-ln(2 - 2u)``.
* student_t: Bailey's polar method (exact for any real dof > 0): attempt j uses
  u1, u2 drawn with keys ``(k0 + j * 0x9E3779B9, k1)`` of OUTPUT_NOISE and
  OUTPUT_NOISE_2; U = 2u1 - 1, V = 2u2 - 1, W = U^2 + V^2; accept if W <= 1 and
  return ``U sqrt(dof (W^(-2/dof) - 1) / W)`` (acceptance pi/4; after 64 rejections,
  probability ~1e-43, 0 is returned).
* empirical: bin j = first j with u1 < cdf[j] (cdf[-1] forced to 1), then
  ``edges[j] + u2 (edges[j+1] - edges[j])``.
* signal-dependent noise: Box-Muller from SIGNAL_NOISE with u1 at (a, b, c) and
  u2 at (a, b, c XOR 0x80000000).
* weight programming noise: Box-Muller from WEIGHT_PROGRAMMING with u1 at
  (i, k, 0) and u2 at (i, k, 1).

Transcendentals use the C library (``math.log``, ``math.cos``, ``math.sqrt``,
``**``) so the numpy/Python reference reproduces them bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from .._rng import _mix32
from .config import NoiseKind

GOLDEN32 = 0x9E3779B9
HIGH_BIT = 0x80000000
_TWO_M32 = 2.0**-32
_TWO_PI = 2.0 * math.pi

K_NONE = int(NoiseKind.NONE)
K_UNIFORM = int(NoiseKind.UNIFORM)
K_GAUSSIAN = int(NoiseKind.GAUSSIAN)
K_LOGISTIC = int(NoiseKind.LOGISTIC)
K_LAPLACE = int(NoiseKind.LAPLACE)
K_STUDENT_T = int(NoiseKind.STUDENT_T)
K_EMPIRICAL = int(NoiseKind.EMPIRICAL)


@njit
def row_hash(k0, a):
    """First round of ``hash3``: depends on the key and the first coordinate only."""
    return _mix32(np.uint32(np.uint32(a) ^ np.uint32(k0)))


@njit
def u01_row(hrow, k1, b, c):
    """Uniform in (0, 1): equals ``to_unit_open(hash3(k0, k1, a, b, c))`` for hrow = row_hash(k0, a)."""
    h = _mix32(np.uint32(hrow + np.uint32(b)))
    h = _mix32(np.uint32(h ^ np.uint32(c) ^ np.uint32(k1)))
    return (np.float64(h) + 0.5) * _TWO_M32


@njit
def box_muller(u1, u2):
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@njit
def logistic_icdf(u):
    return math.log(u / (1.0 - u))


@njit
def laplace_icdf(u):
    if u < 0.5:
        return math.log(2.0 * u)
    return -math.log(2.0 - 2.0 * u)


@njit
def student_t_polar(k0, k1, k0b, k1b, a, b, c, dof):
    for j in range(64):
        kj = np.uint32(np.uint32(j) * np.uint32(GOLDEN32))
        u1 = u01_row(row_hash(np.uint32(np.uint32(k0) + kj), a), k1, b, c)
        u2 = u01_row(row_hash(np.uint32(np.uint32(k0b) + kj), a), k1b, b, c)
        uu = 2.0 * u1 - 1.0
        vv = 2.0 * u2 - 1.0
        w = uu * uu + vv * vv
        if w <= 1.0:
            return uu * math.sqrt(dof * (w ** (-2.0 / dof) - 1.0) / w)
    return 0.0


@njit
def empirical_draw(u1, u2, cdf, edges):
    nb = cdf.shape[0]
    j = nb - 1
    for q in range(nb):
        if u1 < cdf[q]:
            j = q
            break
    return edges[j] + u2 * (edges[j + 1] - edges[j])


@njit
def fill_noise(kind, scale, dof, cdf, edges, keys, a, col0, t, out):
    """out[i] = E in ADC LSB for coordinates (a, col0 + i, t); keys = [k0, k1, k0b, k1b, ...]."""
    k0 = keys[0]
    k1 = keys[1]
    k0b = keys[2]
    k1b = keys[3]
    tc = np.uint32(t)
    h1 = row_hash(k0, a)
    nc = out.shape[0]
    if kind == K_UNIFORM:
        for i in range(nc):
            out[i] = scale * (2.0 * u01_row(h1, k1, np.uint32(col0 + i), tc) - 1.0)
    elif kind == K_GAUSSIAN:
        h2 = row_hash(k0b, a)
        for i in range(nc):
            b = np.uint32(col0 + i)
            out[i] = scale * box_muller(u01_row(h1, k1, b, tc), u01_row(h2, k1b, b, tc))
    elif kind == K_LOGISTIC:
        for i in range(nc):
            out[i] = scale * logistic_icdf(u01_row(h1, k1, np.uint32(col0 + i), tc))
    elif kind == K_LAPLACE:
        for i in range(nc):
            out[i] = scale * laplace_icdf(u01_row(h1, k1, np.uint32(col0 + i), tc))
    elif kind == K_STUDENT_T:
        for i in range(nc):
            out[i] = scale * student_t_polar(k0, k1, k0b, k1b, a, np.uint32(col0 + i), tc, dof)
    elif kind == K_EMPIRICAL:
        h2 = row_hash(k0b, a)
        for i in range(nc):
            b = np.uint32(col0 + i)
            out[i] = empirical_draw(u01_row(h1, k1, b, tc), u01_row(h2, k1b, b, tc), cdf, edges)
    else:
        for i in range(nc):
            out[i] = 0.0


@njit
def col_hashes(k0, a, col0, out):
    """out[i] = the first two rounds of ``hash3`` for coordinates (a, col0 + i, .).

    They do not depend on the block index c, so a row's column hashes are computed
    once and every block then needs one round: ``u01_col(out[i], c ^ k1)`` equals
    ``u01_row(row_hash(k0, a), k1, col0 + i, c)`` bit for bit.
    """
    h1 = row_hash(k0, a)
    for i in range(out.shape[0]):
        out[i] = _mix32(np.uint32(h1 + np.uint32(col0 + i)))


@njit
def u01_col(hb, ck1):
    """Uniform in (0, 1) from a hoisted column hash ``hb`` and ``ck1 = c ^ k1``."""
    h = _mix32(np.uint32(hb ^ ck1))
    return (np.float64(h) + 0.5) * _TWO_M32


@njit
def fill_noise_cols(kind, scale, cdf, edges, hb1, hb2, ck1, ck1b, out):
    """:func:`fill_noise` from hoisted column hashes (not student_t, which re-keys).

    hb1/hb2 = col_hashes of OUTPUT_NOISE / OUTPUT_NOISE_2 for the row; ck1 = t ^ k1,
    ck1b = t ^ k1b. Bit-identical to ``fill_noise`` for the same coordinates.
    """
    nc = out.shape[0]
    if kind == K_UNIFORM:
        for i in range(nc):
            out[i] = scale * (2.0 * u01_col(hb1[i], ck1) - 1.0)
    elif kind == K_GAUSSIAN:
        for i in range(nc):
            out[i] = scale * box_muller(u01_col(hb1[i], ck1), u01_col(hb2[i], ck1b))
    elif kind == K_LOGISTIC:
        for i in range(nc):
            out[i] = scale * logistic_icdf(u01_col(hb1[i], ck1))
    elif kind == K_LAPLACE:
        for i in range(nc):
            out[i] = scale * laplace_icdf(u01_col(hb1[i], ck1))
    elif kind == K_EMPIRICAL:
        for i in range(nc):
            out[i] = empirical_draw(u01_col(hb1[i], ck1), u01_col(hb2[i], ck1b), cdf, edges)
    else:
        for i in range(nc):
            out[i] = 0.0


@njit
def signal_normal(hrow, k1, b, c):
    """Standard normal of the SIGNAL_NOISE stream (hrow = row_hash(ks0, a))."""
    u1 = u01_row(hrow, k1, b, c)
    u2 = u01_row(hrow, k1, b, np.uint32(np.uint32(c) ^ np.uint32(HIGH_BIT)))
    return box_muller(u1, u2)


@njit
def sample_noise_grid(kind, scale, dof, cdf, edges, keys, rows, cols, t):
    """Noise E for coordinates (a, b, t), a < rows, b < cols (testing/calibration helper)."""
    out = np.empty((rows, cols))
    for a in range(rows):
        fill_noise(kind, scale, dof, cdf, edges, keys, np.uint32(a), 0, t, out[a])
    return out


def noise_tables(cfg):
    """(cdf, edges) float64 arrays for the kernels (length-1 dummies unless empirical)."""
    if cfg.noise_kind == NoiseKind.EMPIRICAL:
        p = np.asarray(cfg.noise_probs, np.float64)
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        return cdf, np.asarray(cfg.noise_edges_lsb, np.float64)
    return np.ones(1), np.zeros(2)


def sample_noise(cfg, keys, rows: int, cols: int, t: int = 0) -> np.ndarray:
    """Draw the configured output noise (ADC LSB) on a rows x cols grid of coordinates.

    ``keys`` is a uint32 array ``[k0, k1, k0b, k1b]`` (OUTPUT_NOISE, OUTPUT_NOISE_2).
    """
    cdf, edges = noise_tables(cfg)
    return sample_noise_grid(int(cfg.noise_kind), float(cfg.noise_lsb), float(cfg.noise_dof),
                             cdf, edges, np.asarray(keys, np.uint32), rows, cols, t)

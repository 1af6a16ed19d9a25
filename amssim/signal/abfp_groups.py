"""Grouped products with static weights (grouped and depthwise convolutions) in one kernel call.

A grouped convolution with G groups is G independent products Y_g = X_g W_g^T sharing
their input rows: X_g is the g-th slice of K_g columns of the im2col rows, W_g (N_g, K_g)
the group's weights, programmed with the group's own layer key ``layers[g]``. One call
per group makes a depthwise layer (K_g = kernel size, N_g = 1) cost a Python call, a
mostly-padding block of n and a BLAS call per group. :class:`AbfpGroupsPrepared` programs
all groups at once and runs every group of a row in one numba kernel
(``_kernels.groups_products``), over the real width of each block only. It is
bit-identical to ``prepare_weights(W_g, cfg, seed, layers[g])`` followed by
``accumulate`` over all blocks and ``finalize``, for every g (docs/architecture.md §3);
that per-group path is the reference the tests compare with.

Public API::

    gp = prepare_weight_groups(w3, cfg, seed, layers)   # w3 (G, N_g, K_g)
    y = gp.run(x, row_offset=...)      # x (M, G, K_g) -> (M, G, N_g) float32 (bf16 values)

Only the exact integer path is fused (no DAC INL, no weight programming noise, integer
dot products below 2**24): :func:`groups_fusable` says whether a configuration
qualifies; others use the per-group path (``AbfpPrepared.accumulate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .._rng import Stream, stream_key
from ..errors import ConfigError
from . import _kernels as K
from .abfp import _channel, _check_cfg, _check_int, _check_matrix, _describe, _levels, _quantize
from .config import AbfpConfig
from .noise import noise_tables

#: rows per chunk of the grouped kernel (one parallel job; the chunk's input codes of one
#: group stay in L1)
_GROUP_ROWS = 64
#: below this many (row x group x block x column) units the kernel runs on the calling thread
_GROUP_SERIAL_WORK = 1 << 16


def groups_fusable(cfg: AbfpConfig) -> bool:
    """True if :class:`AbfpGroupsPrepared` supports ``cfg``: not ideal, no DAC INL, no weight
    programming noise, and float32 integer dot products (tile_width L_x L_w < 2**24)."""
    _check_cfg(cfg)
    Lx, Lw, _ = _levels(cfg)
    return (not cfg.ideal and not cfg.dac_inl_lsb and cfg.weight_noise_rel == 0.0
            and cfg.tile_width * Lx * Lw < 2**24)


class AbfpGroupsPrepared:
    """The G groups of static weights w3 (G, N_g, K_g) programmed into tiles, layer
    ``layers[g]`` for group g (the same scales, codes and keys as G ``prepare_weights``).

    Attributes: ``cfg``, ``seed``, ``layers``, ``groups`` (G), ``num_rows`` (N_g), ``k``
    (K_g), ``num_blocks`` (T), ``weight_scales`` (G, T, N_g) float64.
    """

    def __init__(self, w3, cfg: AbfpConfig, seed: int = 0, layers: Sequence[int] = ()):
        _check_cfg(cfg)
        if not groups_fusable(cfg):
            raise ConfigError("grouped ABFP kernel: cfg must not be ideal and have no DAC INL, no weight "
                              "programming noise and tile_width * L_x * L_w < 2**24; use prepare_weights per group")
        self.seed = _check_int("seed", seed)
        w3 = np.asarray(w3)
        if w3.ndim != 3:
            raise ConfigError(f"w3 must be 3-D (groups, N, K), got shape {w3.shape}")
        G, N, Kd = w3.shape
        if G == 0 or N == 0 or Kd == 0:
            raise ConfigError(f"w3 must have at least one group, row and column, got shape {w3.shape}")
        self.layers = tuple(_check_int("layers[g]", v) for v in layers)
        if len(self.layers) != G:
            raise ConfigError(f"layers must have one entry per group ({G}), got {len(self.layers)}")
        w2 = _check_matrix("w3", w3.reshape(G * N, Kd))
        self.cfg = cfg
        n = cfg.tile_width
        T = -(-Kd // n)
        self.groups, self.num_rows, self.k, self.num_blocks, self.n = G, N, Kd, T, n
        self.Lx, self.Lw, self.Ly = _levels(cfg)
        # rows are quantised independently, so all groups in one call give each group's codes
        codes = np.empty((T, G * N, n), np.float32)
        sw = np.empty((G * N, T), np.float64)
        _quantize(w2, n, 0, self.Lw, int(cfg.scale_kind), codes, sw)
        self._wq = np.ascontiguousarray(codes.reshape(T, G, N, n).transpose(1, 0, 3, 2))  # (G, T, n, N)
        self.weight_scales = np.ascontiguousarray(sw.reshape(G, N, T).transpose(0, 2, 1))  # (G, T, N)
        # per-group channel constants and keys (what _tile_constants gives each group)
        gains = _channel(cfg.channel_gain_error, N)
        num = (np.full(N, cfg.gain) if gains is None else cfg.gain * (1.0 + gains)) * self.Ly
        off = _channel(cfg.channel_offset_lsb, N)
        off = np.zeros(N) if off is None else off
        self._num = np.ascontiguousarray(np.broadcast_to(num, (G, N)))
        self._off = np.ascontiguousarray(np.broadcast_to(off, (G, N)))
        self._keys = np.array([[*stream_key(self.seed, Stream.OUTPUT_NOISE, layer),
                                *stream_key(self.seed, Stream.OUTPUT_NOISE_2, layer),
                                *stream_key(self.seed, Stream.SIGNAL_NOISE, layer)] for layer in self.layers],
                              np.uint32)
        self._den = float(n * self.Lx * self.Lw)
        self._kappa = n / (self.Ly * cfg.gain)
        self._cdf, self._edges = noise_tables(cfg)
        self._adc_inl = np.asarray(cfg.adc_inl_lsb, np.float64)

    def run(self, x, *, row_offset: int) -> np.ndarray:
        """x (M, G, K_g) float32 rows whose global indices start at ``row_offset`` ->
        (M, G, N_g) float32 bfloat16 values (group g at [:, g])."""
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 3 \
                or x.shape[1:] != (self.groups, self.k):
            raise ConfigError(f"x must be a float32 array of shape (M, {self.groups}, {self.k}), "
                              f"got {_describe(x)}")
        x = np.ascontiguousarray(x)
        if not np.isfinite(x).all():
            bad = tuple(int(b) for b in np.argwhere(~np.isfinite(x))[0])
            raise ConfigError(f"x contains a non-finite value {float(x[bad])!r} at {bad}")
        M = x.shape[0]
        row0 = _check_int("row_offset", row_offset)
        if row0 + M > 2**32:
            raise ConfigError(f"row_offset + rows must be <= 2**32, got {row0 + M}")
        out = np.empty((M, self.groups, self.num_rows), np.float32)
        if M == 0:
            return out
        cfg = self.cfg
        work = M * self.groups * self.num_blocks * max(self.num_rows, 8)
        serial = work < _GROUP_SERIAL_WORK or M <= _GROUP_ROWS or numba.get_num_threads() == 1
        kern = K.groups_products_serial if serial else K.groups_products
        kern(x, self._wq, self.weight_scales, self._num, self._off, self._keys, self.n, self.Lx,
             int(cfg.scale_kind), self._den, self._kappa, self.Ly, row0, int(cfg.noise_kind),
             float(cfg.noise_lsb), float(cfg.noise_dof), self._cdf, self._edges,
             float(cfg.signal_noise_var_lsb2), self._adc_inl, out, _GROUP_ROWS)
        return out


def prepare_weight_groups(w3, cfg: AbfpConfig, seed: int = 0, layers: Sequence[int] = ()) -> AbfpGroupsPrepared:
    """Program the G groups of ``w3`` (G, N_g, K_g), group g with layer ``layers[g]``."""
    return AbfpGroupsPrepared(w3, cfg, seed, layers)

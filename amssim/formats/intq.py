"""Symmetric integer quantisation ``int{b}`` (per-tensor) and ``int{b}_pc`` (per-channel).

Levels are -(2^(b-1)-1) .. 2^(b-1)-1 (symmetric: the code -2^(b-1) is unused).
Scale s = float32(max|x| / (2^(b-1)-1)), computed in float64 and stored as float32;
a zero tensor/channel has s = 1. Value = float32(clamp(round(|x| / s)) * s) with the
sign re-applied (|x| / s in float64). Per-tensor uses one scale for the whole array
and ignores ``axis``; per-channel (``_pc``) uses one scale per slice *along* ``axis``
(for a weight (N, K) quantised along K, one scale per output row). The float32 scale
is not counted in ``bits_per_element`` (amortised over the tensor/channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

_TINY = np.float32(np.finfo(np.float32).smallest_subnormal)


def _scales(amax: np.ndarray, qmax: int) -> np.ndarray:
    s = (amax.astype(np.float64) / qmax).astype(np.float32)
    s = np.where(amax == 0, np.float32(1.0), np.maximum(s, _TINY))
    return s.astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class IntSpec(FormatSpec):
    """Symmetric b-bit integer with a max-abs float32 scale."""

    #: total bits including sign (2..24)
    bits: int
    #: True: one scale per slice along the axis (per channel); False: per tensor
    per_channel: bool = False

    family = "int"
    blocked = True  # per-channel uses the axis; per-tensor ignores it

    def __post_init__(self) -> None:
        if not (2 <= self.bits <= 24):
            raise FormatError(
                f"format {self.name!r}: integer formats need 2..24 bits (got {self.bits}); "
                "int1 has no symmetric nonzero level"
            )

    @property
    def tensor_scaled(self) -> bool:
        return not self.per_channel

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def bits_per_element(self) -> float:
        return float(self.bits)

    def describe(self) -> str:
        kind = "per-channel" if self.per_channel else "per-tensor"
        return f"symmetric {self.bits}-bit integer, levels +-{self.qmax}, {kind} max-abs fp32 scale"

    def _run_rows(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        finite = np.isfinite(x)
        nbad = int(x.size - np.count_nonzero(finite))
        ax = np.abs(np.where(finite, x, np.float32(0))) if nbad else np.abs(x)
        if self.per_channel:
            amax = ax.max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
        elif ctx.group_rows and ax.size:  # one scale per stacked tensor of group_rows rows
            g = ctx.group_rows
            amax = np.repeat(ax.reshape(x.shape[0] // g, g * x.shape[1]).max(axis=1), g)
        else:
            amax = np.full(x.shape[0], ax.max() if ax.size else 0.0, dtype=np.float32)
        scales = _scales(amax, self.qmax)
        out = np.empty_like(x)
        K.scaled_int_kernel(x, out, scales, self.qmax, int(ctx.mode), ctx.k0, ctx.k1,
                            ctx.base, ctx.col_stride, ctx.salt)
        return out, nbad

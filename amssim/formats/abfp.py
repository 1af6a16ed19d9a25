"""ABFP digital encoding ``abfp_{b}_n{tile}`` (docs/architecture.md §3, the analog tile's input quantiser).

Per block of ``tile`` elements along the axis: s = bf16(max|block|) (round to nearest
even; a zero block has s = 1); code c = clamp(round((x * L) / s), -L, L) with
L = 2^(b-1) - 1 (x * L is exact in float64, then one correctly rounded division, then
rounding with the chosen mode; this is round_half_even(v / s / d) with d = 1/L up to
float64 rounding, and the same expression as amssim.signal's input quantiser); value =
float32(c * s / L) in float64. Storage: b + 16/tile bits per element (bf16 scale).
:func:`abfp_encode` also returns the integer codes and the scales so the analog
signal chain can share this exact quantiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

SCALE_BITS = 16


@dataclass(frozen=True, kw_only=True)
class AbfpSpec(FormatSpec):
    """ABFP block encoding: bf16 max-abs scale per tile, symmetric b-bit codes."""

    #: bits per element including sign (2..24)
    bits: int
    #: tile width along the axis, elements (>= 1)
    tile: int

    family = "abfp"
    blocked = True

    def __post_init__(self) -> None:
        if not (2 <= self.bits <= 24):
            raise FormatError(f"format {self.name!r}: ABFP needs 2..24 bits (got {self.bits})")
        if self.tile < 1:
            raise FormatError(f"format {self.name!r}: ABFP tile width must be >= 1 (got {self.tile})")

    @property
    def levels(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def bits_per_element(self) -> float:
        return self.bits + SCALE_BITS / self.tile

    def describe(self) -> str:
        return f"ABFP: bf16 max-abs scale per {self.tile}, symmetric {self.bits}-bit codes (+-{self.levels})"

    def encode_rows(self, x: np.ndarray, ctx: RunContext):
        rows, cols = x.shape
        nb = -(-cols // self.tile)
        out = np.empty_like(x)
        codes = np.empty_like(x)
        scales = np.empty((rows, nb), dtype=np.float32)
        nbad = K.abfp_kernel(x, out, codes, scales, self.tile, self.levels, int(ctx.mode),
                             ctx.k0, ctx.k1, ctx.base, ctx.col_stride, ctx.salt)
        return out, codes, scales, nbad

    def _run_rows(self, x: np.ndarray, ctx: RunContext):
        out, _, _, nbad = self.encode_rows(x, ctx)
        return out, nbad


def abfp_encode(x, bits: int, tile: int, axis: int = -1, rounding="nearest_even", seed=None,
                layer: int = 0):
    """ABFP encoding of ``x`` along ``axis``: ``(values, codes, scales)``.

    values: float32 like ``x`` (identical to ``quantize(x, f"abfp_{bits}_n{tile}")``);
    codes: float32 integers in [-L, L], L = 2^(bits-1)-1, shaped like ``x``;
    scales: float32 (bf16-valued) with ``axis`` moved last and replaced by the number
    of blocks ceil(len / tile).
    """
    from .registry import _as_float32, _keys, get_format
    from .rounding import RoundingMode
    from ..errors import ConfigError

    spec = get_format(f"abfp_{int(bits)}_n{int(tile)}")
    assert isinstance(spec, AbfpSpec)
    mode = RoundingMode.parse(rounding)
    k0, k1 = _keys(mode, seed, layer)
    arr = _as_float32(x, "x")
    if arr.ndim == 0 or isinstance(axis, bool) or not (-arr.ndim <= int(axis) < arr.ndim):
        raise ConfigError(f"axis={axis!r} is out of range for x with shape {arr.shape}")
    ax = int(axis) % arr.ndim
    moved = np.moveaxis(arr, ax, -1)
    length = moved.shape[-1]
    x2 = np.ascontiguousarray(moved).reshape(-1, length)
    outer = int(np.prod(arr.shape[:ax], dtype=np.int64))
    inner = int(np.prod(arr.shape[ax + 1:], dtype=np.int64))
    base = (np.arange(outer, dtype=np.int64)[:, None] * (length * inner)
            + np.arange(inner, dtype=np.int64)[None, :]).reshape(-1)
    ctx = RunContext(mode, k0, k1, base, inner, 0, 0)
    out, codes, scales, nbad = spec.encode_rows(x2, ctx)
    if nbad:
        from .registry import _check_bad

        _check_bad(nbad, "x", arr)
    back = lambda a: np.ascontiguousarray(np.moveaxis(a.reshape(moved.shape), -1, ax))  # noqa: E731
    return back(out), back(codes), scales.reshape(moved.shape[:-1] + (scales.shape[1],))

"""Block floating point ``bfp_m{M}_g{G}`` (FAST, Zhang et al., HPCA 2022).

Each group of G consecutive elements along the axis shares the exponent
S = floor(log2 max|group|) (clamped to [-126, 127], i.e. an 8-bit shared exponent);
each element stores a sign and an M-bit magnitude m in 0 .. 2^M-1 with value
m * 2^(S - M + 1), so the group maximum keeps M significant bits. Rounding up past
2^M - 1 saturates. ``rounding="stochastic"`` is FAST's "add random bits below the
kept LSB, then truncate". The tail group is zero-padded; all-zero groups stay zero.
Storage: 1 + M + 8/G bits per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

SHARED_EXP_BITS = 8


@dataclass(frozen=True, kw_only=True)
class BfpSpec(FormatSpec):
    """Sign + M-bit magnitude per element, one shared exponent per group."""

    #: magnitude bits per element (1..23)
    man_bits: int
    #: group size along the axis, elements (>= 1)
    group: int

    family = "bfp"
    blocked = True

    def __post_init__(self) -> None:
        if not (1 <= self.man_bits <= 23):
            raise FormatError(f"format {self.name!r}: BFP needs 1..23 mantissa bits (got {self.man_bits})")
        if self.group < 1:
            raise FormatError(f"format {self.name!r}: BFP group size must be >= 1 (got {self.group})")

    @property
    def bits_per_element(self) -> float:
        return 1 + self.man_bits + SHARED_EXP_BITS / self.group

    def describe(self) -> str:
        return f"sign + {self.man_bits}-bit magnitude, groups of {self.group} share an 8-bit max exponent"

    def _run_rows(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        out = np.empty_like(x)
        mb = self.man_bits - 1
        maxv = 2.0 - 2.0**-mb
        nbad = K.block_kernel(x, x.view(np.uint32), out, self.group, mb, 0, maxv, 0, -126, 127, int(ctx.mode),
                              ctx.k0, ctx.k1, ctx.base, ctx.col_stride, ctx.salt)
        return out, nbad

"""OCP Microscaling (MX) formats v1.0: ``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e3m2``,
``mxfp6_e2m3``, ``mxfp4_e2m1``, ``mxint8`` (optional ``_g{G}``, default block 32).

Each block of G elements along the axis shares an E8M0 scale
X = 2^(floor(log2 max|block|) - emax_elem), the exponent clamped to E8M0's range
[-127, 127]; elements x / X are rounded to the element format, saturating to its max
(as the OCP spec's reference code, microxcaling, does). All-zero blocks stay zero
(the scale is then irrelevant). MXINT8 elements are 8-bit two's complement with an
implicit 2^-6 (values k/64), used symmetrically |k| <= 127. Storage: element bits +
8/G.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

SCALE_BITS = 8
DEFAULT_BLOCK = 32

#: element -> (fraction bits, emin, max, emax, bits)
ELEMENTS = {
    "fp8_e4m3": (3, -6, 448.0, 8, 8),
    "fp8_e5m2": (2, -14, 57344.0, 15, 8),
    "fp6_e3m2": (2, -2, 28.0, 4, 6),
    "fp6_e2m3": (3, 0, 7.5, 2, 6),
    "fp4_e2m1": (1, 0, 6.0, 2, 4),
    "int8": (6, 0, 127.0 / 64.0, 0, 8),
}


@dataclass(frozen=True, kw_only=True)
class MxSpec(FormatSpec):
    """An MX block format."""

    #: element format key of :data:`ELEMENTS`
    element: str
    #: block size along the axis, elements (>= 1; 32 in the spec)
    group: int = DEFAULT_BLOCK

    family = "mx"
    blocked = True

    def __post_init__(self) -> None:
        if self.element not in ELEMENTS:
            raise FormatError(f"format {self.name!r}: unknown MX element {self.element!r}; "
                              f"valid: {', '.join(ELEMENTS)}")
        if self.group < 1:
            raise FormatError(f"format {self.name!r}: MX block size must be >= 1 (got {self.group})")

    @property
    def element_max(self) -> float:
        return ELEMENTS[self.element][2]

    @property
    def emax_elem(self) -> int:
        return ELEMENTS[self.element][3]

    @property
    def bits_per_element(self) -> float:
        return ELEMENTS[self.element][4] + SCALE_BITS / self.group

    def describe(self) -> str:
        return (f"OCP MX v1.0: {self.element} elements (max {self.element_max:g}), "
                f"E8M0 scale per {self.group}")

    def _run_rows(self, x, ctx: RunContext):
        mb, emin, maxv, emax, _ = ELEMENTS[self.element]
        out = np.empty_like(x)
        nbad = K.block_kernel(x, x.view(np.uint32), out, self.group, mb, emin, maxv, emax, -127, 127,
                              int(ctx.mode), ctx.k0, ctx.k1, ctx.base, ctx.col_stride, ctx.salt)
        return out, nbad

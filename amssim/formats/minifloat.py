"""Floating-point grids: narrow floats ExMy (Hill et al.), OCP FP8, bfloat16, fp32.

``fp_e{E}m{M}[_b{bias}]``: sign, E exponent bits, M fraction bits, bias
2^(E-1)-1 unless given; IEEE-like subnormals; **every** exponent code is a finite
number (no inf/NaN reserved), so max = 2^(2^E-1-bias) (2 - 2^-M); out-of-range
values saturate to +-max.
``fp8_e4m3``: OCP 8-bit E4M3 (bias 7, S.1111.111 is NaN so max = 448, no inf);
saturates to +-448 (OCP "satfinite").
``fp8_e5m2``: OCP 8-bit E5M2 (IEEE-like, bias 15, inf/NaN reserved, max 57344);
saturates to +-57344 (OCP "satfinite" conversion) instead of producing inf.
``bf16``: IEEE-style bfloat16 (E8M7, subnormals, inf): overflow under the nearest
modes gives +-inf exactly as IEEE 754 and ml_dtypes do; other modes saturate.
``fp32``: identity on float32 (the input is already float32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

F32_MAX = float(np.finfo(np.float32).max)


def default_bias(exp_bits: int) -> int:
    return 2 ** (exp_bits - 1) - 1


@dataclass(frozen=True, kw_only=True)
class FloatSpec(FormatSpec):
    """A sign/exponent/fraction float grid with subnormals."""

    #: exponent field width, bits (1..8)
    exp_bits: int
    #: fraction field width, bits (0..23)
    man_bits: int
    #: exponent bias (any integer keeping the range inside float32's normal range)
    bias: int
    #: largest finite magnitude (float; default: every exponent code finite)
    max_value: float
    #: True: overflow under nearest modes gives inf (IEEE); False: saturate
    overflow_to_inf: bool = False
    #: where the definition comes from
    source: str = "Hill et al., arXiv:1808.02513 (narrow floats, free bias)"

    family = "float"

    def __post_init__(self) -> None:
        e, m, b = self.exp_bits, self.man_bits, self.bias
        if not (1 <= e <= 8) or not (0 <= m <= 23):
            raise FormatError(
                f"format {self.name!r}: need 1 <= E <= 8 exponent bits and 0 <= M <= 23 "
                f"fraction bits (got E={e}, M={m}); E0M0 and wider-than-float32 grids are impossible"
            )
        if 1 - b < -126:
            raise FormatError(
                f"format {self.name!r}: smallest normal 2^{1 - b} lies below float32's 2^-126; "
                f"use a smaller bias (got bias={b})"
            )
        if not (0 < self.max_value <= F32_MAX):
            raise FormatError(
                f"format {self.name!r}: max value {self.max_value!r} does not fit float32 "
                f"(bias={b}); use a larger bias (e.g. _b{b + 1}) or bf16"
            )

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.man_bits)

    @property
    def bits_per_element(self) -> float:
        return float(1 + self.exp_bits + self.man_bits)

    def describe(self) -> str:
        return (
            f"E{self.exp_bits}M{self.man_bits} bias {self.bias}, max {self.max_value:g}, "
            f"min subnormal {self.min_subnormal:g}"
        )

    def _run_flat(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        out = np.empty_like(x)
        ovf = np.inf if self.overflow_to_inf else self.max_value
        nbad = K.minifloat_kernel(
            x, x.view(np.uint32), out, self.man_bits, self.emin, self.max_value, ovf, int(ctx.mode),
            ctx.k0, ctx.k1, ctx.index_offset, ctx.salt,
        )
        return out, nbad


@dataclass(frozen=True, kw_only=True)
class Fp32Spec(FormatSpec):
    """IEEE binary32: the identity on float32 input."""

    family = "float"

    @property
    def bits_per_element(self) -> float:
        return 32.0

    def describe(self) -> str:
        return "IEEE binary32 (identity)"

    def _run_flat(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        nbad = int(x.size - np.count_nonzero(np.isfinite(x)))
        return x.copy(), nbad


def make_fp(exp_bits: int, man_bits: int, bias: int | None, name: str) -> FloatSpec:
    b = default_bias(exp_bits) if bias is None else bias
    if not (1 <= exp_bits <= 8) or not (0 <= man_bits <= 23):
        # let __post_init__ produce the message (max value would overflow ldexp here)
        return FloatSpec(name=name, exp_bits=exp_bits, man_bits=man_bits, bias=b, max_value=1.0)
    top = 2**exp_bits - 1 - b
    maxv = float(np.ldexp(2.0 - 2.0**-man_bits, top)) if top < 1100 else float("inf")
    return FloatSpec(name=name, exp_bits=exp_bits, man_bits=man_bits, bias=b, max_value=maxv)


def make_ocp_e4m3(name: str = "fp8_e4m3") -> FloatSpec:
    return FloatSpec(name=name, exp_bits=4, man_bits=3, bias=7, max_value=448.0,
                     source="OCP 8-bit Floating Point Specification (OFP8) rev 1.0, E4M3")


def make_ocp_e5m2(name: str = "fp8_e5m2") -> FloatSpec:
    return FloatSpec(name=name, exp_bits=5, man_bits=2, bias=15, max_value=57344.0,
                     source="OCP 8-bit Floating Point Specification (OFP8) rev 1.0, E5M2 (satfinite)")


def make_bf16(name: str = "bf16") -> FloatSpec:
    return FloatSpec(name=name, exp_bits=8, man_bits=7, bias=127,
                     max_value=float(np.ldexp(2.0 - 2.0**-7, 127)), overflow_to_inf=True,
                     source="bfloat16 (IEEE 754-style, round to nearest even)")

"""Format spec base class and the per-call run context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .rounding import RoundingMode


@dataclass(frozen=True)
class RunContext:
    """What a kernel needs besides the data (built by :func:`quantize`).

    ``base[r]`` is the flat index (in the caller's array, plus ``index_offset``) of
    the first element of row r of the 2-D working view; ``col_stride`` is the flat
    index step along the blocked axis. ``salt`` separates operands that share a
    seed and layer (e.g. the two operands of a digital GEMM). ``group_rows`` (> 0): a
    tensor-scaled format takes one scale per group of that many consecutive rows (a stack
    of tensors) instead of one for all rows.
    """

    mode: RoundingMode
    k0: np.uint32
    k1: np.uint32
    base: np.ndarray  # int64, shape (rows,)
    col_stride: int
    index_offset: int
    salt: int
    group_rows: int = 0


@dataclass(frozen=True, kw_only=True)
class FormatSpec:
    """A number format registered by name. Subclasses are frozen dataclasses.

    ``blocked`` formats (BFP, MX, per-channel INT, ABFP) use the ``axis`` given to
    :func:`amssim.formats.quantize`; elementwise formats ignore it.
    """

    #: canonical format name, e.g. "mxfp8_e4m3" (str)
    name: str

    family: ClassVar[str] = "?"
    blocked: ClassVar[bool] = False

    @property
    def tensor_scaled(self) -> bool:
        """True when one scale covers the whole array (per-tensor INT): the result of a
        row then depends on the other rows quantised with it, so callers that must not
        depend on the batch quantise one sample at a time (``digital_matmul(sample_rows=)``)."""
        return False

    @property
    def bits_per_element(self) -> float:  # pragma: no cover - overridden
        """Storage bits per element including amortised shared scales."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - overridden
        return self.name

    # Elementwise formats implement _run_flat(x1d, ctx); blocked ones _run_rows(x2d, ctx).
    def _run_flat(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def _run_rows(self, x: np.ndarray, ctx: RunContext) -> tuple[np.ndarray, int]:
        raise NotImplementedError

"""The op table of a trace: every op kind, defined once per family.

Families: :mod:`.gemm` (linear, conv1d, conv2d, matmul: sent to the numeric
backend), :mod:`.elementwise`, :mod:`.shape`, :mod:`.norm`, :mod:`.pool`,
:mod:`.index`, :mod:`.reduce`; :mod:`.attention` lowers scaled dot-product
attention onto them. Each kind's :class:`OpSpec` holds its attributes, shape rule,
dtype rule, numpy float32 implementation and torch implementation.
"""

from . import elementwise, gemm, index, norm, pool, reduce, shape  # noqa: F401  (register the kinds)
from ._base import F32, INT_DTYPES, SPECS, OpSpec, attr_float, round_bf16
from .gemm import GEMM_KINDS, conv_f32, conv_geometry, gemm_shape, linear_f32
from .pool import pool_geometry
from .shape import expand_target, reshape_target

__all__ = ["F32", "GEMM_KINDS", "INT_DTYPES", "OpSpec", "SPECS", "attr_float", "conv_f32", "conv_geometry",
           "expand_target", "gemm_shape", "linear_f32", "pool_geometry", "reshape_target", "round_bf16"]

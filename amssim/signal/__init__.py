"""The analog signal chain: DAC -> tile -> gain -> ADC -> exponent unit (docs/architecture.md §3).

Public names: :class:`AbfpConfig`, :func:`abfp_matmul`, :func:`prepare_weights`,
:class:`AbfpPrepared`, :func:`finalize`, :func:`abfp_error_variance`,
:func:`saturation_fraction`, :class:`NoiseKind`, :class:`ScaleFormat`.
"""

from __future__ import annotations

from .abfp import AbfpPrepared, abfp_matmul, abfp_matmul_groups, finalize, prepare_weights
from .config import AbfpConfig, NoiseKind, ScaleFormat
from .noise import sample_noise
from .variance import abfp_error_variance, saturation_fraction

__all__ = [
    "AbfpConfig",
    "AbfpPrepared",
    "NoiseKind",
    "ScaleFormat",
    "abfp_error_variance",
    "abfp_matmul",
    "abfp_matmul_groups",
    "finalize",
    "prepare_weights",
    "sample_noise",
    "saturation_fraction",
]

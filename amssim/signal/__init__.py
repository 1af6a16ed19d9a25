"""The analog signal chain: DAC -> tile -> gain -> ADC -> exponent unit (docs/architecture.md §3).

Public names: :class:`AbfpConfig`, :func:`abfp_matmul`, :func:`prepare_weights`,
:class:`AbfpPrepared`, :func:`finalize`, :func:`abfp_error_variance`,
:func:`saturation_fraction`, :class:`NoiseKind`, :class:`ScaleFormat`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import AbfpConfig, NoiseKind, ScaleFormat

if TYPE_CHECKING:
    from .abfp import AbfpPrepared, abfp_matmul, abfp_matmul_groups, finalize, prepare_weights
    from .noise import sample_noise
    from .variance import abfp_error_variance, saturation_fraction

#: names loaded on first use, so that the device schema can import the enums and bounds of
#: :mod:`.config` without importing numba and compiling kernels
_LAZY = {"AbfpPrepared": "abfp", "abfp_matmul": "abfp", "abfp_matmul_groups": "abfp",
         "finalize": "abfp", "prepare_weights": "abfp", "sample_noise": "noise",
         "abfp_error_variance": "variance", "saturation_fraction": "variance"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)

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

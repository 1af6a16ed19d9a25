"""Calibration of device noise and transfer models from lab data (docs/architecture.md §10).

    from amssim.calibrate import calibrate, write_device, write_report
    res = calibrate("paired.npz", meta="meta.toml")      # or transfer="sweep.npz"
    write_device(res, "my-chip.toml", base_name="abfp-paper")
    write_report(res, "report/")

Modules: loaders (formats, validation, npz streaming), streaming (reservoir,
moments, histogram), transfer (robust per-channel gain/offset/INL), noise_fit
(MLE over families, AIC/BIC, KS, uncertainty), pipeline, device_out, report,
synthetic (example data).
"""

from .config import CalibrateConfig
from .device_out import write_device
from .loaders import Metadata, load_meta
from .pipeline import (ArraySource, CalibrationResult, GeneratorSource, calibrate, reproduce_check,
                       simulate_residuals)
from .fit_report import write_report
from .synthetic import SyntheticModel, write_synthetic

__all__ = ["ArraySource", "CalibrateConfig", "CalibrationResult", "GeneratorSource", "Metadata",
           "SyntheticModel", "calibrate", "load_meta", "reproduce_check", "simulate_residuals",
           "write_device", "write_report", "write_synthetic"]

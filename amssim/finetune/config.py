"""Finetuning configuration and result (frozen keyword-only dataclasses)."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError, short_repr
from ..limits import MAX_COUNT, MAX_DNF_BINS, MAX_FINETUNE_EPOCHS, MAX_SEED, MAX_THREADS

METHODS = ("dnf", "qat")


def _int(name, v, lo, hi=None):
    bad = isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < lo
    if bad or (hi is not None and int(v) > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi:,}"
        raise ConfigError(f"{name} must be an integer {rng}, got {short_repr(v)}")


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """How to finetune. Defaults: DNF constants from Basumallik et al. 2022 (Sec. VI);
    optimiser settings are ours (Adam, constant learning rate, no weight decay)."""

    method: str
    """"dnf" (float32 training with per-layer differential noise) | "qat" (ABFP forward,
    straight-through gradients, device noise on)."""
    epochs: int = 3
    """passes over the training set (>= 1)"""
    lr: float = 1e-4
    """Adam learning rate (> 0), constant"""
    batch_size: int = 64
    """training samples per step (>= 1); also the DNF calibration batch unless calib_samples"""
    seed: int = 0
    """seeds shuffling, the torch noise generators and the device noise of DNF calibration"""
    weight_decay: float = 0.0
    """Adam L2 weight decay (>= 0)"""
    dnf_layers: str = "all"
    """"all" or "topK": noise only on the K GEMM layers with the largest differential std"""
    dnf_bins: int = 100
    """histogram bins per layer (paper: 100)"""
    dnf_bin_offset: float = 0.5
    """added to every bin count before normalising (paper: 0.5)"""
    dnf_refresh_epochs: int = 0
    """recompute the histograms from the current weights every N epochs (0 = never, the paper)"""
    calib_samples: int = 0
    """DNF calibration batch size (0 = batch_size); one batch, as in the paper"""
    threads: int = 0
    """torch CPU threads (0 = leave torch's setting)"""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"method {self.method!r}: expected one of {', '.join(METHODS)}")
        _int("epochs", self.epochs, 1, MAX_FINETUNE_EPOCHS)
        _int("batch_size", self.batch_size, 1, MAX_COUNT)
        _int("seed", self.seed, 0, MAX_SEED)
        _int("dnf_bins", self.dnf_bins, 1, MAX_DNF_BINS)
        _int("dnf_refresh_epochs", self.dnf_refresh_epochs, 0, MAX_FINETUNE_EPOCHS)
        _int("calib_samples", self.calib_samples, 0, MAX_COUNT)
        _int("threads", self.threads, 0, MAX_THREADS)
        for name in ("lr", "weight_decay", "dnf_bin_offset"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0 or v == float("inf"):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        from .dnf import select_layers
        select_layers({}, self.dnf_layers)  # validates the spelling


@dataclass(frozen=True, kw_only=True)
class LayerNoise:
    """DNF histogram summary of one GEMM layer."""

    name: str
    layer: int
    std: float  #: differential std (output units)
    mean: float
    noisy: bool  #: True if noise is injected into this layer


@dataclass(frozen=True, kw_only=True)
class FinetuneResult:
    trace: str  #: source trace name
    method: str
    device: str
    config: dict  #: FinetuneConfig as a dict
    train_samples: int
    train_data: str  #: file name, or "trace evaluation data (optimistic)"
    epochs: int
    epoch_wall_s: list  #: wall time of each epoch (s)
    losses: list  #: mean training loss of each epoch
    calibration_wall_s: float  #: DNF histogram calibration (first time; 0 for QAT)
    total_wall_s: float  #: everything, export included
    out: str | None  #: written trace directory
    fp32_accuracy_before: float | None = None  #: float32 metric of the input trace
    fp32_accuracy_after: float | None = None  #: float32 metric of the finetuned trace
    layers: list = field(default_factory=list)  #: LayerNoise per GEMM op (DNF)
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

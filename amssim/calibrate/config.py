"""Settings of ``amssim calibrate`` (all defaults in one frozen dataclass).

Every number the calibration code uses lives here with its unit and reason; the
CLI exposes the ones a user is likely to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

FAMILIES = ("gaussian", "logistic", "laplace", "student_t", "uniform", "empirical")
CRITERIA = ("aic", "bic")
UNCERTAINTY = ("fisher", "bootstrap", "none")
ROBUST_LOSSES = ("soft_l1", "huber", "cauchy", "linear")
QUANTIZED = ("auto", "yes", "no")


@dataclass(frozen=True, kw_only=True)
class CalibrateConfig:
    """Calibration settings (units in names; LSB = one observed ADC code)."""

    chunk_elements: int = 1_000_000
    """Elements read per chunk when streaming paired data (memory ~ 40 B/element)."""
    reservoir_size: int = 200_000
    """Uniform random subsample kept for the transfer fit, the MLE fits and the KS
    statistics (the histogram and moments use every sample). 2e5 gives KS noise ~0.003."""
    mle_size: int = 50_000
    """Residuals (from the reservoir) used by the maximum-likelihood fits and KS
    statistics: KS sampling noise ~ 1.36 / sqrt(50 000) = 0.006 at 95 %."""
    poly_degree: int = 3
    """Highest power of the shared smooth nonlinearity (terms 2..degree; < 2 = off)."""
    robust_loss: str = "soft_l1"
    """scipy.optimize.least_squares loss of the transfer fit (outlier robust)."""
    robust_scale_lsb: float | None = None
    """least_squares f_scale in LSB; None: 2 x the MAD sigma of a plain first fit."""
    robust_scale_floor_lsb: float = 0.5
    """Smallest automatic f_scale (LSB): half an ADC step, the rounding error bound."""
    clip_guard_lsb: float = 2.0
    """Pairs whose fitted noise-free code is within this of full scale are excluded
    (their noise may be clipped), as are observed codes at +-full scale."""
    families: tuple = FAMILIES
    """Noise families fitted by maximum likelihood (loc fixed at 0: offsets are
    absorbed by the per-channel transfer fit)."""
    criterion: str = "aic"
    """Model choice: AIC = 2k - 2 lnL, BIC = k ln n - 2 lnL."""
    empirical_bins: int = 64
    """Bins of the empirical histogram family (equal-probability edges)."""
    quantized: str = "auto"
    """'yes': observed codes are ADC outputs rint(v + E): fit E by interval-censored
    likelihood on [r - 1/2, r + 1/2]; 'no': residuals are continuous; 'auto': yes if
    every observed code is an integer."""
    outlier_model: bool = True
    """Fit each parametric family as (1 - eps) F + eps U(full ADC range): eps absorbs
    gross outliers (stuck/garbled codes) so they do not distort F. The device gets
    F only; eps is reported."""
    outlier_fraction_init: float = 1e-3
    """Starting outlier fraction of the fit."""
    outlier_fraction_min: float = 1e-9
    outlier_fraction_max: float = 0.2
    """Bounds of the outlier fraction (the mixture is unidentifiable beyond ~0.2)."""
    min_scale_lsb: float = 1e-3
    """Lower bound of every fitted scale (LSB): a noiseless quantised chain has MLE 0."""
    max_dof: float = 1e3
    """Upper bound of the Student-t degrees of freedom (beyond it: Gaussian)."""
    signal_dependent: bool = False
    """Also fit sigma^2 = a + b |signal| (b -> [noise] signal_var_lsb2)."""
    signal_bins: int = 16
    """Bins of |signal| (equal counts) for the signal-dependent variance fit."""
    uncertainty: str = "fisher"
    """Parameter uncertainty: inverse observed Fisher information, bootstrap, none."""
    bootstrap_reps: int = 50
    """Bootstrap refits (each on bootstrap_size resampled residuals)."""
    bootstrap_size: int = 20_000
    """Residuals per bootstrap refit."""
    seed: int = 0
    """Seed of the reservoir sampling, dequantisation jitter and bootstrap."""
    max_nfev: int = 200
    """Function-evaluation budget of the transfer least_squares fit (x number of params)."""

    def __post_init__(self):
        for name in ("chunk_elements", "reservoir_size", "mle_size", "empirical_bins", "signal_bins",
                     "bootstrap_reps", "bootstrap_size", "max_nfev"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"calibrate {name} must be an integer >= 1, got {v!r}")
        if not 0 <= int(self.poly_degree) <= 9:
            raise ConfigError(f"calibrate poly_degree must be in 0..9, got {self.poly_degree!r}")
        for name, choices in (("robust_loss", ROBUST_LOSSES), ("criterion", CRITERIA),
                              ("uncertainty", UNCERTAINTY), ("quantized", QUANTIZED)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"calibrate {name} = {getattr(self, name)!r}: "
                                  f"choose one of {', '.join(choices)}")
        bad = [f for f in self.families if f not in FAMILIES]
        if bad or not self.families:
            raise ConfigError(f"calibrate families {list(self.families)!r}: choose from "
                              f"{', '.join(FAMILIES)}")
        if self.min_scale_lsb <= 0 or self.max_dof <= 0 or self.clip_guard_lsb < 0:
            raise ConfigError("calibrate min_scale_lsb, max_dof must be > 0, clip_guard_lsb >= 0")
        if self.seed < 0:
            raise ConfigError(f"calibrate seed must be >= 0, got {self.seed!r}")

"""Configuration of the ABFP analog signal chain (docs/architecture.md §3).

:class:`AbfpConfig` is a frozen keyword-only dataclass validated on
construction. The switches "beyond the paper" all default to off; their exact
semantics are given in the field docstrings below (the README copies them).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from enum import Enum, IntEnum
from typing import Any, Mapping

from ..errors import ConfigError


class NoiseKind(IntEnum):
    """Additive ADC-referred output noise E (in ADC LSB), one draw per partial p[m, i, t]."""

    NONE = 0
    UNIFORM = 1  # uniform on [-noise_lsb, +noise_lsb]
    GAUSSIAN = 2  # normal, sigma = noise_lsb
    LOGISTIC = 3  # logistic, scale = noise_lsb
    LAPLACE = 4  # Laplace, scale = noise_lsb
    STUDENT_T = 5  # Student t with noise_dof degrees of freedom, scale = noise_lsb
    EMPIRICAL = 6  # histogram noise_edges_lsb / noise_probs (noise_lsb unused)


class ScaleFormat(IntEnum):
    """How a block's max-abs value is stored as its scale."""

    BF16 = 0  # round-to-nearest-even to bfloat16 (the paper)
    FP32 = 1  # float32 max-abs as is
    POW2 = 2  # max-abs rounded UP to a power of two


NOISE_NAMES = {k.name.lower(): k for k in NoiseKind}
SCALE_NAMES = {k.name.lower(): k for k in ScaleFormat}

#: bounds shared with the device schema (amssim/config/device.py declares its keys with these)
TILE_WIDTH_MAX = 4096
BITS_MIN, BITS_MAX = 2, 16


def _as_name(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name.lower()
    return value


@dataclass(frozen=True, kw_only=True)
class AbfpConfig:
    """One ABFP analog tile configuration: Y = X W^T on tiles of width n.

    All noise/INL/offset quantities are in LSB of the converter they refer to;
    the ADC LSB is ``tile_width / (2**(adc_bits-1) - 1)`` in units of the
    normalised partial dot product.
    """

    tile_width: int = 128
    """n: reduction length per analog tile (integer, 1..TILE_WIDTH_MAX = 4096). K is split into
    T = ceil(K/n) blocks, the last zero-padded."""
    input_bits: int = 8
    """b_x: input DAC bits, 2..16 (symmetric grid of 2**b_x - 1 codes)."""
    weight_bits: int = 8
    """b_w: weight bits, 2..16."""
    adc_bits: int = 8
    """b_y: ADC bits, 2..16; full scale +-n, LSB n/(2**(b_y-1)-1)."""
    gain: float = 1.0
    """G: analog gain before the ADC (dimensionless, > 0, finite). Partials with
    |p| > n/G saturate."""
    noise: str = "none"
    """Output noise kind E added after the gain, before ADC rounding, in ADC LSB:
    "none" | "uniform" (half-width noise_lsb) | "gaussian" (sigma noise_lsb) |
    "logistic" (scale noise_lsb) | "laplace" (scale noise_lsb) | "student_t"
    (scale noise_lsb, noise_dof degrees of freedom) | "empirical" (histogram
    noise_edges_lsb/noise_probs: a bin is drawn by probability, then a value
    uniformly inside it; noise_lsb is not used)."""
    noise_lsb: float = 0.5
    """Noise parameter in ADC LSB (>= 0; meaning per ``noise``). Default 0.5 =
    the paper's uniform +-0.5 LSB; ignored when noise == "none"."""
    noise_dof: float = 4.0
    """Degrees of freedom of "student_t" noise (> 0; variance finite only > 2)."""
    noise_edges_lsb: tuple[float, ...] = ()
    """Bin edges of "empirical" noise in ADC LSB, strictly increasing, finite."""
    noise_probs: tuple[float, ...] = ()
    """Bin probabilities of "empirical" noise (>= 0, sum 1, len(edges) - 1)."""
    scale_format: str = "bf16"
    """Block scale format: "bf16" (round-to-nearest-even of the max-abs to
    bfloat16, the paper) | "fp32" (exact float32 max-abs) | "pow2" (max-abs
    rounded UP to a power of two: a cheaper exponent unit, costs up to 1 bit
    of resolution). A zero block always has scale 1."""
    ideal: bool = False
    """If True, abfp_matmul returns the exact float64 product X W^T as float32
    (no quantisation, noise or bf16 rounding): the accuracy upper bound."""
    channel_gain_error: tuple[float, ...] = ()
    """Relative gain error per output channel (each > -1): output column i sees
    gain G * (1 + g[i % len(g)]) while the exponent unit divides by the nominal
    G, so the partial is scaled by (1 + g). () = off."""
    channel_offset_lsb: tuple[float, ...] = ()
    """Offset per output channel in ADC LSB, added to G*p (before noise and
    rounding) of output column i as o[i % len(o)]. () = off."""
    dac_inl_lsb: tuple[float, ...] = ()
    """Input DAC integral nonlinearity in input LSB, indexed by code
    c = -(2**(b_x-1)-1) .. +(2**(b_x-1)-1) (length 2**b_x - 1): the tile sees
    input (c + inl[c]) * d_bx instead of c * d_bx. () = off. Turns the analog
    dot product into a float64 sum in fixed (increasing k) order."""
    adc_inl_lsb: tuple[float, ...] = ()
    """ADC integral nonlinearity in ADC LSB, indexed by output code like
    dac_inl_lsb (length 2**b_y - 1): the pre-rounding value v (after gain,
    offset and noise) becomes v + inl[clamp(rint(v))] before the final
    rounding and clamp. () = off."""
    weight_noise_rel: float = 0.0
    """Weight programming noise, relative sigma (>= 0): each programmed weight
    code becomes c * (1 + sigma * z), z standard normal drawn once per weight
    element (i, k) from the WEIGHT_PROGRAMMING stream (independent of X).
    0 = off. Non-zero makes the dot product a float64 sum in fixed order."""
    signal_noise_var_lsb2: float = 0.0
    """Signal-dependent (shot) noise coefficient b in ADC LSB (>= 0): an extra
    Gaussian term sqrt(b * |v0|) * z is added, where v0 = G*p + offset in ADC
    LSB (noise free) and z is drawn from the SIGNAL_NOISE stream, so the total
    noise variance is var(E) + b * |v0| LSB^2. 0 = off."""

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        _int_field(self, "tile_width", 1, TILE_WIDTH_MAX)
        for name in ("input_bits", "weight_bits", "adc_bits"):
            _int_field(self, name, BITS_MIN, BITS_MAX)
        _float_field(self, "gain", positive=True)
        for name in ("noise_lsb", "weight_noise_rel", "signal_noise_var_lsb2"):
            _float_field(self, name, positive=False)
        _float_field(self, "noise_dof", positive=True)
        if not isinstance(self.ideal, bool):
            raise ConfigError(f"AbfpConfig.ideal must be a bool, got {self.ideal!r}")
        noise = _as_name(self.noise)
        if noise not in NOISE_NAMES:
            raise ConfigError(
                f"AbfpConfig.noise: unknown noise kind {self.noise!r}; valid kinds: "
                + ", ".join(NOISE_NAMES)
            )
        object.__setattr__(self, "noise", noise)
        fmt = _as_name(self.scale_format)
        if fmt not in SCALE_NAMES:
            raise ConfigError(
                f"AbfpConfig.scale_format: unknown format {self.scale_format!r}; valid: "
                + ", ".join(SCALE_NAMES)
            )
        object.__setattr__(self, "scale_format", fmt)
        for name in ("noise_edges_lsb", "noise_probs", "channel_gain_error",
                     "channel_offset_lsb", "dac_inl_lsb", "adc_inl_lsb"):
            _tuple_field(self, name)
        if any(g <= -1.0 for g in self.channel_gain_error):
            raise ConfigError(
                f"AbfpConfig.channel_gain_error: every entry must be > -1, got "
                f"{self.channel_gain_error!r}")
        for name, bits in (("dac_inl_lsb", self.input_bits), ("adc_inl_lsb", self.adc_bits)):
            table = getattr(self, name)
            if table and len(table) != 2**bits - 1:
                raise ConfigError(
                    f"AbfpConfig.{name}: needs one entry per code (2**bits - 1 = "
                    f"{2**bits - 1}), got {len(table)}")
        if self.noise == "empirical":
            e, p = self.noise_edges_lsb, self.noise_probs
            if len(e) < 2 or len(p) != len(e) - 1:
                raise ConfigError(
                    "AbfpConfig.noise_edges_lsb/noise_probs: empirical noise needs >= 2 edges "
                    f"and len(edges) - 1 probabilities, got {len(e)} edges, {len(p)} probs")
            if any(b <= a for a, b in zip(e, e[1:])):
                raise ConfigError(
                    f"AbfpConfig.noise_edges_lsb must be strictly increasing, got {e!r}")
            if any(x < 0 for x in p) or abs(math.fsum(p) - 1.0) > 1e-9:
                raise ConfigError(
                    f"AbfpConfig.noise_probs must be >= 0 and sum to 1, got {p!r}")

    # ------------------------------------------------------------------ helpers
    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], *, where: str = "AbfpConfig") -> "AbfpConfig":
        """Build from a mapping of field values; unknown keys raise ConfigError.

        ``where`` names the source (e.g. a TOML file and section) in messages.
        Lists are accepted for tuple fields.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a mapping of AbfpConfig fields, got {d!r}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown key {key!r}; valid keys: " + ", ".join(sorted(known)))
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of field values (tuples kept), the inverse of from_mapping."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def noise_kind(self) -> NoiseKind:
        return NOISE_NAMES[self.noise]

    @property
    def scale_kind(self) -> ScaleFormat:
        return SCALE_NAMES[self.scale_format]

    @property
    def adc_lsb(self) -> float:
        """ADC LSB in units of the normalised partial p: n / (2**(b_y-1) - 1)."""
        return self.tile_width / (2 ** (self.adc_bits - 1) - 1)

    @property
    def noise_variance_lsb2(self) -> float:
        """Variance of the output noise E in ADC LSB^2 (inf for student_t, dof <= 2)."""
        k, a = self.noise_kind, self.noise_lsb
        if k == NoiseKind.NONE:
            return 0.0
        if k == NoiseKind.UNIFORM:
            return a * a / 3.0
        if k == NoiseKind.GAUSSIAN:
            return a * a
        if k == NoiseKind.LOGISTIC:
            return a * a * math.pi**2 / 3.0
        if k == NoiseKind.LAPLACE:
            return 2.0 * a * a
        if k == NoiseKind.STUDENT_T:
            return a * a * self.noise_dof / (self.noise_dof - 2.0) if self.noise_dof > 2 else math.inf
        e, p = self.noise_edges_lsb, self.noise_probs
        mean = sum(pj * (e[j] + e[j + 1]) / 2 for j, pj in enumerate(p))
        m2 = sum(pj * (e[j] ** 2 + e[j] * e[j + 1] + e[j + 1] ** 2) / 3 for j, pj in enumerate(p))
        return m2 - mean * mean


def _int_field(cfg, name, lo, hi):
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        if not isinstance(v, bool) and isinstance(v, numbers.Real) and float(v).is_integer():
            v = int(v)
            object.__setattr__(cfg, name, v)
        else:
            raise ConfigError(f"AbfpConfig.{name} must be an integer, got {v!r}")
    v = int(v)
    object.__setattr__(cfg, name, v)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ConfigError(f"AbfpConfig.{name} must be {rng}, got {v!r}")


def _float_field(cfg, name, *, positive):
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ConfigError(f"AbfpConfig.{name} must be a number, got {v!r}")
    try:
        v = float(v)
    except OverflowError:  # an integer beyond float range
        v = math.inf
    if not math.isfinite(v) or v < 0 or (positive and v <= 0):
        need = "> 0" if positive else ">= 0"
        raise ConfigError(f"AbfpConfig.{name} must be finite and {need}, got {getattr(cfg, name)!r}")
    object.__setattr__(cfg, name, v)


def _tuple_field(cfg, name):
    v = getattr(cfg, name)
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise ConfigError(f"AbfpConfig.{name} must be a sequence of numbers, got {v!r}")
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or (isinstance(x, int) and abs(x) >= 2**63) \
                or not math.isfinite(float(x)):
            raise ConfigError(f"AbfpConfig.{name}: entries must be finite numbers, got {v!r}")
        out.append(float(x))
    object.__setattr__(cfg, name, tuple(out))

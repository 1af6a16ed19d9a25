"""Device model: frozen dataclasses for the sections of ``device_models/*.toml``.

A device is data (docs/architecture.md §7). Sections: ``[arch]`` (tiles, clock, pipeline depths,
weight programming, memories), ``[numerics]`` (default ABFP settings),
``[converters]`` (converter lanes, ENOB loss, INL and channel tables), ``[noise]``
(ADC-referred noise model in LSB), ``[energy]`` (per-action energies in joules,
static powers in watts) and ``[provenance]``. Every section may carry a ``source``
string and a ``[section.sources]`` table ``key = "citation"``. Units live in the
key names; unknown keys are errors. See device_models/README.md for the meaning of
every key. Tile geometry: a tile has ``numerics.tile_width`` rows (the ABFP block
length along the reduction axis) and ``arch.tile_cols`` output columns, which
defaults to the tile width, so ``--set numerics.tile_width=8`` reshapes the tiles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import DeviceError
from ..signal.config import BITS_MAX, BITS_MIN, NOISE_NAMES, SCALE_NAMES, TILE_WIDTH_MAX
from .abfp_mapping import abfp_config_from_sections
from .schema import section_fields, spec, validate_section

#: allowed ``[noise] kind`` / ``[numerics] scale_format``: the names of the AbfpConfig enums
NOISE_KINDS = tuple(NOISE_NAMES)
SCALE_FORMATS = tuple(SCALE_NAMES)
OPTICAL_REGIMES = ("fixed", "shot", "thermal")
#: unit suffixes an ``[energy]`` key must end with
ENERGY_UNITS = ("_j", "_w", "_j_per_bit", "_j_per_byte", "_j_per_step", "_j_per_step2",
                "_efficiency", "_rel", "_db", "_regime")


@dataclass(frozen=True, kw_only=True)
class ArchConfig:
    """``[arch]``: tiles, clock, pipeline and memories (integer cycles)."""

    tiles: int = spec("int", lo=1, doc="number of analog tiles (>= 1)")
    tile_cols: int | None = spec("int", lo=1, optional=True,
                                 doc="output columns per tile (>= 1; absent: numerics.tile_width)")
    clock_hz: float = spec("float", lo=0, lo_open=True, doc="sustained clock (Hz, > 0)")
    sram_latency_cycles: int = spec("int", lo=1, doc="SRAM read pipeline depth (cycles, >= 1)")
    dac_latency_cycles: int = spec("int", lo=1, doc="input DAC + modulator depth (cycles, >= 1)")
    tile_latency_cycles: int = spec("int", lo=1, doc="analog tile + detection depth (cycles, >= 1)")
    adc_latency_cycles: int = spec("int", lo=1, doc="gain stage + ADC depth (cycles, >= 1)")
    exp_latency_cycles: int = spec("int", lo=1, doc="exponent unit + accumulator depth (cycles, >= 1)")
    weight_interface_hz: float = spec("float", lo=0, lo_open=True,
                                      doc="weight programming interface rate (transfers/s, > 0)")
    weight_rows_per_transfer: int = spec("int", lo=1, doc="tile rows written per interface transfer (>= 1)")
    weight_settle_s: float = spec("float", lo=0, doc="settling time after programming a tile (s, >= 0)")
    weight_buffers: int = spec("int", lo=1, hi=2, doc="weight banks per tile: 1, or 2 = double buffered")
    sram_bytes: int = spec("int", lo=1, doc="on-chip activation SRAM capacity (bytes, >= 1)")
    sram_bytes_per_cycle: int = spec("int", lo=1, doc="SRAM port bandwidth, all tiles (bytes/cycle, >= 1)")
    offchip_bytes_per_s: float = spec("float", lo=0, lo_open=True,
                                      doc="off-chip link bandwidth per direction (bytes/s, > 0)")
    exp_unit_partials_per_cycle: int = spec("int", lo=1,
                                            doc="exponent-unit throughput, all tiles (partials/cycle)")
    activation_bytes: int = spec("int", lo=1, hi=8, doc="bytes per stored activation (2 = bf16)")
    weight_bytes: int = spec("int", lo=1, hi=8, doc="bytes per stored (pre-quantised) weight")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "arch")


@dataclass(frozen=True, kw_only=True)
class NumericsConfig:
    """``[numerics]``: default ABFP settings (docs/architecture.md §3)."""

    tile_width: int = spec("int", lo=1, hi=TILE_WIDTH_MAX,
                           doc=f"ABFP block length n = tile rows (1..{TILE_WIDTH_MAX})")
    input_bits: int = spec("int", lo=BITS_MIN, hi=BITS_MAX, doc=f"input DAC bits b_X ({BITS_MIN}..{BITS_MAX})")
    weight_bits: int = spec("int", lo=BITS_MIN, hi=BITS_MAX, doc=f"weight bits b_W ({BITS_MIN}..{BITS_MAX})")
    adc_bits: int = spec("int", lo=BITS_MIN, hi=BITS_MAX, doc=f"ADC bits b_Y ({BITS_MIN}..{BITS_MAX})")
    gain: float = spec("float", lo=0, lo_open=True, doc="analog gain G before the ADC (> 0)")
    scale_format: str = spec("str", default="bf16", choices=SCALE_FORMATS, doc="block scale format")
    ideal: bool = spec("bool", default=False, doc="true: bypass quantisation (float reference)")
    weight_noise_rel: float = spec("float", default=0.0, lo=0,
                                   doc="weight programming noise, std relative to weight scale (>= 0)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "numerics")


@dataclass(frozen=True, kw_only=True)
class ConvertersConfig:
    """``[converters]``: converter lanes, ENOB loss, INL and per-channel tables."""

    dac_conversions_per_cycle: int | None = spec(
        "int", lo=1, optional=True, doc="input DAC conversions per cycle per tile (absent: tile rows)")
    adc_conversions_per_cycle: int | None = spec(
        "int", lo=1, optional=True, doc="ADC conversions per cycle per tile (absent: tile cols)")
    adc_enob_loss_bits: float = spec("float", default=0.0, lo=0,
                                     doc="ENOB = numerics.adc_bits - this (bits, >= 0), for energy")
    dac_inl_lsb: tuple = spec("floats", default=(), doc="DAC INL per input code (LSB); empty = none")
    adc_inl_lsb: tuple = spec("floats", default=(), doc="ADC INL per output code (LSB); empty = none")
    channel_gain_error: tuple = spec("floats", default=(), lo=-1, lo_open=True,
                                     doc="relative gain error per output channel (each > -1)")
    channel_offset_lsb: tuple = spec("floats", default=(), doc="offset per output channel (LSB)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "converters")


@dataclass(frozen=True, kw_only=True)
class NoiseConfig:
    """``[noise]``: additive ADC-referred output noise (keys fixed by calibration)."""

    kind: str = spec("str", default="none", choices=NOISE_KINDS, doc="noise family")
    lsb: float = spec("float", default=0.0, lo=0,
                      doc="scale in ADC LSB (uniform half-width, gaussian sigma, logistic scale, ...)")
    dof: float | None = spec("float", lo=0, lo_open=True, optional=True, doc="student_t degrees of freedom")
    edges_lsb: tuple = spec("floats", default=(), doc="empirical histogram bin edges (LSB)")
    probs: tuple = spec("floats", default=(), lo=0, doc="empirical bin probabilities")
    signal_var_lsb2: float = spec("float", default=0.0, lo=0,
                                  doc="signal-dependent variance per LSB of |signal| (LSB^2)")
    source: str = spec("str", default="", doc="citation or calibration run")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "noise")
        if self.kind == "empirical" and (len(self.edges_lsb) != len(self.probs) + 1 or not self.probs):
            raise DeviceError(f"[noise] edges_lsb = {list(self.edges_lsb)!r}: needs len(probs) + 1 "
                              f"edges for kind 'empirical' (probs has {len(self.probs)})")
        if self.kind == "student_t" and self.dof is None:
            raise DeviceError("[noise] dof = None: kind 'student_t' needs dof")


@dataclass(frozen=True, kw_only=True)
class EnergyConfig:
    """``[energy]``: per-action energies (J), static powers (W), optics model."""

    dac_energy_j: float = spec("float", lo=0, doc="per input DAC conversion (J)")
    modulator_energy_j_per_bit: float = spec("float", lo=0, doc="per modulated input bit (J/bit)")
    weight_program_energy_j: float = spec("float", lo=0, doc="per weight element programmed (J)")
    adc_energy_j: float | None = spec("float", lo=0, optional=True,
                                      doc="fixed per ADC conversion (J); absent: from the ADC model")
    adc_walden_fom_j_per_step: float = spec("float", lo=0, doc="Walden FOM: E >= fom * 2^ENOB (J/step)")
    adc_thermal_j_per_step2: float = spec("float", lo=0, doc="thermal regime: E >= c * 4^ENOB (J)")
    adc_floor_j: float = spec("float", lo=0, doc="minimum energy per conversion (J)")
    gain_stage_energy_j: float = spec("float", default=0.0, lo=0,
                                      doc="fixed part per gain-stage sample, e.g. a TIA (J)")
    gain_energy_rel: float = spec("float", lo=0,
                                  doc="gain stage per sample = rel * (G - 1) * ADC energy (dimensionless)")
    optical_regime: str = spec("str", choices=OPTICAL_REGIMES,
                               doc="laser power: fixed | shot | thermal (noise-limited detection)")
    laser_optical_w: float = spec("float", default=0.0, lo=0, doc="optical power, regime 'fixed' (W)")
    laser_wall_plug_efficiency: float = spec("float", default=1.0, lo=0, lo_open=True, hi=1,
                                             doc="optical/electrical power (0..1]")
    photon_energy_j: float = spec("float", default=1.28e-19, lo=0, doc="photon energy (J; 1550 nm)")
    shot_photons_per_step2: float = spec("float", default=1.5, lo=0,
                                         doc="detected photons per sample = this * 4^b * G (shot)")
    optical_thermal_j_per_step: float = spec("float", default=0.0, lo=0,
                                             doc="detected energy per sample = this * 2^b * G (thermal)")
    optical_loss_db: float = spec("float", default=0.0, lo=0, doc="laser-to-detector loss (dB)")
    input_scale_energy_j: float = spec("float", lo=0, doc="per input element scaled (max-abs, multiply)")
    scale_multiply_energy_j: float = spec("float", lo=0, doc="per partial product rescale (J)")
    accumulate_energy_j: float = spec("float", lo=0, doc="per fp32 partial accumulate (J)")
    sram_read_energy_j_per_byte: float = spec("float", lo=0, doc="SRAM read (J/byte)")
    sram_write_energy_j_per_byte: float = spec("float", lo=0, doc="SRAM write (J/byte)")
    offchip_energy_j_per_byte: float = spec("float", lo=0, doc="off-chip transfer (J/byte)")
    static_power_w: float = spec("float", lo=0, doc="leakage, control, heaters, host interface (W)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "energy")


@dataclass(frozen=True, kw_only=True)
class ProvenanceConfig:
    """``[provenance]``: where the numbers come from."""

    description: str = spec("str", default="", doc="one line shown by `amssim devices`")
    kind: str = spec("str", default="user",
                     choices=("paper", "measured", "projection", "calibration", "user"),
                     doc="paper | measured | projection | calibration | user")
    source: str = spec("str", default="", doc="paper, dataset or calibration run")
    calibration_run: str = spec("str", default="", doc="calibration data/report, if any")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "provenance")


SECTIONS = {
    "arch": ArchConfig,
    "numerics": NumericsConfig,
    "converters": ConvertersConfig,
    "noise": NoiseConfig,
    "energy": EnergyConfig,
    "provenance": ProvenanceConfig,
}
#: sections that may be omitted from a file (then all defaults)
OPTIONAL_SECTIONS = ("converters", "noise", "provenance")


@dataclass(frozen=True, kw_only=True)
class Device:
    """A resolved device model (all sections validated)."""

    name: str  #: registry name (file stem)
    path: str  #: file it was loaded from ("" if built in code)
    arch: ArchConfig
    numerics: NumericsConfig
    converters: ConvertersConfig = field(default_factory=ConvertersConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    energy: EnergyConfig
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)

    #: device kind (``[arch] kind``; absent in analog files): "analog" | "digital"
    kind = "analog"
    #: the sections of this kind of device file
    SECTIONS = SECTIONS

    @property
    def compute_units(self) -> int:
        """Independent compute units (analog tiles)."""
        return self.arch.tiles

    @property
    def tile_rows(self) -> int:
        """Tile rows = ABFP block length (numerics.tile_width)."""
        return self.numerics.tile_width

    @property
    def tile_cols(self) -> int:
        """Output columns per tile (arch.tile_cols, default the tile width)."""
        return self.arch.tile_cols if self.arch.tile_cols is not None else self.numerics.tile_width

    @property
    def peak_macs_per_s(self) -> float:
        return self.arch.tiles * self.tile_rows * self.tile_cols * self.arch.clock_hz

    def to_dict(self, *, with_sources: bool = True) -> dict:
        """Plain nested dict of all sections (None for absent optional keys)."""
        out = {}
        for sec in SECTIONS:
            d = dataclasses.asdict(getattr(self, sec))
            for k, v in list(d.items()):
                if isinstance(v, tuple):
                    d[k] = list(v)
            if not with_sources:
                d.pop("sources", None)
                d.pop("source", None)
            out[sec] = d
        return out

    def abfp_config(self):
        """The :class:`amssim.AbfpConfig` of [numerics] + [noise] + [converters] (one mapping:
        :func:`amssim.config.abfp_mapping.abfp_config_from_sections`)."""
        sections = {sec: {k: getattr(getattr(self, sec), k) for k in section_fields(SECTIONS[sec])}
                    for sec in ("numerics", "noise", "converters")}
        return abfp_config_from_sections(sections, where=self.path or self.name)

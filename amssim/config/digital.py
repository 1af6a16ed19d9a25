"""Digital device kind: a systolic array of MAC units (``[arch] kind = "digital"``).

A digital device file has the sections ``[arch]`` (array geometry, dataflow, clock,
memories), ``[numerics]`` (the number format its MAC units implement),
``[datapath]`` (the published per-operation energies and areas the parametric MAC
model of :mod:`amssim.energy.digital` is built from, at a stated technology node),
``[energy]`` (SRAM, off-chip and static power) and ``[provenance]``. Like the analog
kind, every number carries a source and units live in the key names
(device_models/README.md documents every key).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import DeviceError
from .device import ProvenanceConfig
from .schema import spec, validate_section

DATAFLOWS = ("ws", "os")
#: unit suffixes a digital ``[energy]`` / ``[datapath]`` key must end with
DIGITAL_UNITS = ("_j", "_w", "_j_per_byte", "_um2", "_nm", "_rel")


@dataclass(frozen=True, kw_only=True)
class DigitalArchConfig:
    """``[arch]`` of a digital device: systolic arrays, dataflow, clock, memories."""

    kind: str = spec("str", choices=("digital",), doc="device kind: digital (absent: analog)")
    arrays: int = spec("int", lo=1, doc="number of systolic arrays (>= 1)")
    array_rows: int = spec("int", lo=1, doc="PE rows R per array (>= 1); WS: reduction axis K")
    array_cols: int = spec("int", lo=1, doc="PE columns C per array (>= 1); output columns N")
    dataflow: str = spec("str", choices=DATAFLOWS,
                         doc="ws = weight stationary (SCALE-Sim WS), os = output stationary")
    clock_hz: float = spec("float", lo=0, lo_open=True, doc="clock (Hz, > 0)")
    weight_buffers: int = spec("int", lo=1, hi=2,
                               doc="WS: weight registers per PE (2 = next fold preloaded while "
                                   "streaming); OS: output buffers per PE")
    weight_load_rows_per_cycle: int = spec("int", lo=1,
                                           doc="WS: weight rows shifted into the array per cycle (>= 1)")
    sram_latency_cycles: int = spec("int", lo=0, doc="SRAM read pipeline depth (cycles, >= 0)")
    accum_latency_cycles: int = spec("int", lo=0,
                                     doc="output accumulator / write-back depth (cycles, >= 0)")
    sram_bytes: int = spec("int", lo=1, doc="on-chip activation SRAM capacity (bytes, >= 1)")
    sram_bytes_per_cycle: int = spec("int", lo=1, doc="SRAM bandwidth, all arrays (bytes/cycle, >= 1)")
    offchip_bytes_per_s: float = spec("float", lo=0, lo_open=True,
                                      doc="off-chip (DRAM) bandwidth per direction (bytes/s, > 0)")
    activation_bytes: int = spec("int", lo=1, hi=8, doc="bytes per stored activation")
    weight_bytes: int = spec("int", lo=1, hi=8, doc="bytes per stored weight")
    accumulator_bytes: int = spec("int", lo=1, hi=8,
                                  doc="bytes per partial sum kept between K folds")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "arch")


@dataclass(frozen=True, kw_only=True)
class DigitalNumericsConfig:
    """``[numerics]`` of a digital device: the MAC units' number format."""

    format: str = spec("str", doc="input (activation) format, an `amssim formats` name or fp32")
    weight_format: str = spec("str", default="", doc="weight format (\"\" = same as format)")
    accumulator_bits: int = spec("int", lo=2, hi=64,
                                 doc="fixed-point accumulator width for integer and block formats (bits)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "numerics")
        for key in ("format", "weight_format"):
            name = getattr(self, key)
            if key == "weight_format" and not name:
                continue
            if name == "fp32":
                continue
            from ..formats import get_format

            try:
                get_format(name)
            except Exception as exc:  # ConfigError from the format registry
                raise DeviceError(f"[numerics] {key} = {name!r}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class DatapathConfig:
    """``[datapath]``: published per-operation energies/areas the MAC model is built from."""

    node_nm: float = spec("float", lo=0, lo_open=True, doc="technology node of the figures (nm)")
    energy_scale_rel: float = spec("float", default=1.0, lo=0, lo_open=True,
                                   doc="multiplies every datapath energy (node scaling; 1 = as published)")
    area_scale_rel: float = spec("float", default=1.0, lo=0, lo_open=True,
                                 doc="multiplies every datapath area (node scaling; 1 = as published)")
    int_add_8b_energy_j: float = spec("float", lo=0, lo_open=True, doc="8-bit integer add (J)")
    int_add_32b_energy_j: float = spec("float", lo=0, lo_open=True, doc="32-bit integer add (J)")
    int_mult_8b_energy_j: float = spec("float", lo=0, lo_open=True, doc="8-bit integer multiply (J)")
    fp_add_32b_energy_j: float = spec("float", lo=0, lo_open=True, doc="fp32 add (J)")
    fp_mult_32b_energy_j: float = spec("float", lo=0, lo_open=True, doc="fp32 multiply (J)")
    int_add_8b_area_um2: float = spec("float", lo=0, lo_open=True, doc="8-bit integer adder area (um^2)")
    int_add_32b_area_um2: float = spec("float", lo=0, lo_open=True, doc="32-bit integer adder area (um^2)")
    int_mult_8b_area_um2: float = spec("float", lo=0, lo_open=True, doc="8-bit multiplier area (um^2)")
    fp_add_32b_area_um2: float = spec("float", lo=0, lo_open=True, doc="fp32 adder area (um^2)")
    fp_mult_32b_area_um2: float = spec("float", lo=0, lo_open=True, doc="fp32 multiplier area (um^2)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "datapath")
        if self.int_add_32b_energy_j <= self.int_add_8b_energy_j:
            raise DeviceError("[datapath] int_add_32b_energy_j must exceed int_add_8b_energy_j "
                              "(adder energy grows with width)")
        if self.int_add_32b_area_um2 <= self.int_add_8b_area_um2:
            raise DeviceError("[datapath] int_add_32b_area_um2 must exceed int_add_8b_area_um2")


@dataclass(frozen=True, kw_only=True)
class DigitalEnergyConfig:
    """``[energy]`` of a digital device: memories and static power."""

    sram_read_energy_j_per_byte: float = spec("float", lo=0, doc="SRAM read (J/byte)")
    sram_write_energy_j_per_byte: float = spec("float", lo=0, doc="SRAM write (J/byte)")
    offchip_energy_j_per_byte: float = spec("float", lo=0, doc="DRAM / off-chip transfer (J/byte)")
    static_power_w: float = spec("float", lo=0, doc="leakage, clock tree, control (W)")
    source: str = spec("str", default="", doc="citation for the section")
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        validate_section(self, "energy")


DIGITAL_SECTIONS = {
    "arch": DigitalArchConfig,
    "numerics": DigitalNumericsConfig,
    "datapath": DatapathConfig,
    "energy": DigitalEnergyConfig,
    "provenance": ProvenanceConfig,
}
DIGITAL_OPTIONAL_SECTIONS = ("provenance",)


@dataclass(frozen=True, kw_only=True)
class DigitalDevice:
    """A resolved digital device model (all sections validated)."""

    name: str
    path: str
    arch: DigitalArchConfig
    numerics: DigitalNumericsConfig
    datapath: DatapathConfig
    energy: DigitalEnergyConfig
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)

    kind = "digital"
    SECTIONS = DIGITAL_SECTIONS

    @property
    def compute_units(self) -> int:
        return self.arch.arrays

    @property
    def tile_rows(self) -> int:
        return self.arch.array_rows

    @property
    def tile_cols(self) -> int:
        return self.arch.array_cols

    @property
    def weight_format(self) -> str:
        return self.numerics.weight_format or self.numerics.format

    @property
    def peak_macs_per_s(self) -> float:
        a = self.arch
        return a.arrays * a.array_rows * a.array_cols * a.clock_hz

    def abfp_config(self):
        """Digital devices have no analog ABFP tile (commands that need one say so)."""
        raise DeviceError(f"{self.path or self.name}: device {self.name!r} is digital "
                          f"([arch] kind = \"digital\"): it has no analog ABFP tile; use an analog device")

    def to_dict(self, *, with_sources: bool = True) -> dict:
        out = {}
        for sec in DIGITAL_SECTIONS:
            d = dataclasses.asdict(getattr(self, sec))
            if not with_sources:
                d.pop("sources", None)
                d.pop("source", None)
            out[sec] = d
        return out

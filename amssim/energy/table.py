"""Energy = action counts x per-action energies + static power x simulated time.

Accelergy-style (docs/architecture.md §9). Components and the actions they are charged for:
``dac`` (input conversions), ``modulator`` (input bits modulated),
``weight_program`` (weight elements programmed), ``adc`` (conversions, energy from
bits), ``gain`` (gain-stage samples), ``exp_unit`` (input scaling per element,
scale multiply and fp32 accumulate per partial product), ``sram`` and ``offchip``
(bytes), ``laser`` and ``static`` (power x time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.device import Device
from .adc import adc_conversion_energy_j, readout_energy_j
from .optics import laser_electrical_w

#: energy components of an analog device (what an EnergyResult breaks joules down into;
#: the timed components are amssim.timing.TIMED_COMPONENTS)
ENERGY_COMPONENTS = ("dac", "modulator", "weight_program", "adc", "gain", "exp_unit", "sram",
                     "offchip", "laser", "static")
#: energy components of a digital device (MAC datapath parts, memories, static)
DIGITAL_ENERGY_COMPONENTS = ("multiplier", "accumulator", "align_norm", "decoder", "block_scale",
                             "output_scale", "sram", "offchip", "static")


@dataclass(frozen=True, kw_only=True)
class EnergyTable:
    """Joules per action and static watts of one device."""

    per_action_j: dict  #: action -> (component, joules per action)
    static_w: dict  #: component -> watts

    @classmethod
    def from_device(cls, device: Device) -> "EnergyTable":
        e = device.energy
        adc_j = adc_conversion_energy_j(device)
        gain_j = readout_energy_j(adc_j, device.numerics.gain, gain_stage_j=e.gain_stage_energy_j,
                                  gain_energy_rel=e.gain_energy_rel)
        per = {
            "dac_conversions": ("dac", e.dac_energy_j),
            "modulator_bits": ("modulator", e.modulator_energy_j_per_bit),
            "weights_programmed": ("weight_program", e.weight_program_energy_j),
            "adc_conversions": ("adc", adc_j),
            "gain_samples": ("gain", gain_j),
            "input_scale_elements": ("exp_unit", e.input_scale_energy_j),
            "partials": ("exp_unit", e.scale_multiply_energy_j + e.accumulate_energy_j),
            "sram_read_bytes": ("sram", e.sram_read_energy_j_per_byte),
            "sram_write_bytes": ("sram", e.sram_write_energy_j_per_byte),
            "offchip_read_bytes": ("offchip", e.offchip_energy_j_per_byte),
            "offchip_write_bytes": ("offchip", e.offchip_energy_j_per_byte),
        }
        return cls(per_action_j=per, static_w={"laser": laser_electrical_w(device),
                                                "static": e.static_power_w})

    def price(self, actions: dict, seconds: float) -> dict:
        """Component -> joules for these action counts over ``seconds``."""
        comps = ENERGY_COMPONENTS if "dac_conversions" in self.per_action_j else DIGITAL_ENERGY_COMPONENTS
        out = dict.fromkeys(comps, 0.0)
        for act, n in actions.items():
            if act in self.per_action_j:
                comp, j = self.per_action_j[act]
                out[comp] += n * j
        for comp, w in self.static_w.items():
            out[comp] += w * seconds
        return out


@dataclass(frozen=True, kw_only=True)
class LayerEnergy:
    name: str
    layer: int
    energy_j: float
    breakdown_j: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EnergyResult:
    """Energy of a whole batch (see ``timing.batch``) with per-component/per-layer splits."""

    batch: int
    energy_j: float
    breakdown_j: dict
    layers: tuple
    macs: int
    latency_s: float
    pj_per_mac: float
    tops: float  #: 2 * macs / latency / 1e12
    tops_per_w: float  #: 2 * macs / energy / 1e12
    power_w: float  #: energy / latency

    @property
    def energy_per_inference_j(self) -> float:
        return self.energy_j / self.batch


def digital_table(device) -> EnergyTable:
    """The energy table of a digital device: the MAC datapath model of its formats
    (:mod:`amssim.energy.digital`) per MAC / block / output, memories per byte, static."""
    from .digital import MAC_COMPONENTS, mac_energy_j

    e = device.energy
    mac = mac_energy_j(device)
    per = {f"mac_{c}": (c, mac[c]) for c in MAC_COMPONENTS}
    per.update({
        "block_ops": ("block_scale", mac["block_scale"] * _block_size(device)),
        "outputs": ("output_scale", mac["output_scale"]),
        "sram_read_bytes": ("sram", e.sram_read_energy_j_per_byte),
        "sram_write_bytes": ("sram", e.sram_write_energy_j_per_byte),
        "offchip_read_bytes": ("offchip", e.offchip_energy_j_per_byte),
        "offchip_write_bytes": ("offchip", e.offchip_energy_j_per_byte),
    })
    return EnergyTable(per_action_j=per, static_w={"static": e.static_power_w})


def _block_size(device) -> int:
    from .digital import operand

    n = device.numerics
    return max(operand(n.format).block, operand(device.weight_format).block, 1)


def _expand_macs(actions: dict) -> dict:
    """A digital layer's ``macs`` count priced once per datapath component."""
    from .digital import MAC_COMPONENTS

    out = dict(actions)
    for c in MAC_COMPONENTS:
        out[f"mac_{c}"] = actions.get("macs", 0)
    return out


def estimate_energy(timing, device: Device) -> EnergyResult:
    """Price a :class:`~amssim.timing.TimingResult` with ``device``'s energy table."""
    digital = getattr(device, "kind", "analog") == "digital"
    table = digital_table(device) if digital else EnergyTable.from_device(device)
    clock = device.arch.clock_hz
    layers = []
    total = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    if digital:
        total = dict.fromkeys(DIGITAL_ENERGY_COMPONENTS, 0.0)
    for L in timing.layers:
        b = table.price(_expand_macs(L.actions) if digital else L.actions, L.cycles / clock)
        for c, v in b.items():
            total[c] = total.get(c, 0.0) + v
        layers.append(LayerEnergy(name=L.name, layer=L.layer, energy_j=sum(b.values()), breakdown_j=b))
    return energy_result(timing.batch, total, layers, timing.macs, timing.latency_s)


def energy_result(batch: int, breakdown_j: dict, layers, macs: int, latency_s: float) -> EnergyResult:
    """An :class:`EnergyResult` with its derived figures (pJ/MAC, TOPS, TOPS/W, power)."""
    energy = sum(breakdown_j.values())
    return EnergyResult(
        batch=batch, energy_j=energy, breakdown_j=breakdown_j, layers=tuple(layers), macs=macs,
        latency_s=latency_s, pj_per_mac=(energy / macs * 1e12 if macs else 0.0),
        tops=(2 * macs / latency_s / 1e12 if latency_s else 0.0),
        tops_per_w=(2 * macs / energy / 1e12 if energy else 0.0),
        power_w=(energy / latency_s if latency_s else 0.0))

"""Structured timing results and the per-plan accounting of busy/stall cycles and actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from .mapping import STAGES, GemmPlan

#: every timed component (busy/stall cycles), for reports; per-tile engines are summed over tiles
#: (the energy components are amssim.energy.ENERGY_COMPONENTS)
TIMED_COMPONENTS = (*STAGES, "program", "offchip_read", "offchip_write")
#: action counters the energy table prices
ACTIONS = ("macs", "dac_conversions", "modulator_bits", "adc_conversions", "gain_samples",
           "partials", "input_scale_elements", "weights_programmed", "sram_read_bytes",
           "sram_write_bytes", "offchip_read_bytes", "offchip_write_bytes")


def component_counts(tiles: int, kind: str = "analog") -> dict[str, int]:
    """How many instances of each component the device has (``tiles``: tiles or arrays)."""
    stages: tuple[str, ...] = STAGES
    if kind == "digital":
        from .systolic import SYSTOLIC_STAGES as stages
    return {**{s: tiles for s in stages}, "program": tiles, "offchip_read": 1, "offchip_write": 1}


@dataclass(frozen=True, kw_only=True)
class LayerTiming:
    """One GEMM op of the trace, all its instances for the whole batch."""

    name: str
    layer: int
    m: int  #: rows per instance
    k: int
    n: int
    instances: int  #: independent GEMM instances (count, x batch when weights are dynamic)
    weights_static: bool
    spilled: bool  #: rows tiled through off-chip memory
    jobs: int  #: tile jobs per instance
    macs: int
    cycles: int
    busy_cycles: dict = field(default_factory=dict)
    stall_cycles: dict = field(default_factory=dict)
    actions: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TimingResult:
    """A whole batch of inferences (ops run one after the other)."""

    batch: int  #: inferences simulated
    clock_hz: float
    cycles: int  #: whole batch
    latency_s: float  #: whole batch
    macs: int  #: whole batch
    busy_cycles: dict  #: component -> cycles (summed over its instances)
    stall_cycles: dict  #: component -> cycles throttled by another engine or waiting
    utilisation: dict  #: component -> busy / (instances x cycles)
    mac_utilisation: float  #: macs / (peak MACs per cycle x cycles)
    counts: dict  #: component -> instances
    actions: dict  #: action -> count (whole batch)
    layers: tuple = ()

    @property
    def cycles_per_inference(self) -> float:
        return self.cycles / self.batch

    @property
    def latency_per_inference_s(self) -> float:
        return self.latency_s / self.batch


def plan_accounting(plan: GemmPlan, *, input_bits: int, stage_starts: dict) -> tuple:
    """(busy, stall, actions) of one instance; waits come from the simulated starts."""
    busy = dict.fromkeys(TIMED_COMPONENTS, 0)
    stall = dict.fromkeys(TIMED_COMPONENTS, 0)
    act = dict.fromkeys(ACTIONS, 0)
    free = [0] * plan.tiles
    for job in plan.jobs:
        v, r, c = job.vectors, job.rows, job.cols
        for s, cyc in zip(STAGES, job.stage_cycles):
            busy[s] += v * cyc
            stall[s] += v * (job.ii - cyc)
        a0 = stage_starts[("sram", job.index)]
        stall["tile"] += a0 - free[job.tile]
        free[job.tile] = a0 + v * job.ii
        busy["program"] += plan.program_cycles
        busy["offchip_read"] += job.fetch_cycles
        act["macs"] += v * r * c
        act["dac_conversions"] += v * r
        act["adc_conversions"] += v * c
        act["partials"] += v * c
        act["weights_programmed"] += r * c
        if job.j == 0:
            act["input_scale_elements"] += v * r
        act["sram_read_bytes"] += v * r * plan.activation_bytes
        if job.last_t:
            act["sram_write_bytes"] += v * c * plan.activation_bytes
        if plan.weights_static:
            act["offchip_read_bytes"] += job.fetch_bytes
        else:
            act["sram_read_bytes"] += job.fetch_bytes
    add_chunk_traffic(plan.chunks, busy, act)
    act["gain_samples"] = act["adc_conversions"]
    act["modulator_bits"] = act["dac_conversions"] * input_bits
    return busy, stall, act



def add_chunk_traffic(chunks, busy: dict, act: dict) -> None:
    """Add the off-chip traffic of spilled row chunks (inputs in, outputs out, both
    through SRAM) to ``busy`` cycles and ``act`` action counts."""
    for ch in chunks:
        busy["offchip_read"] += ch.read_cycles
        busy["offchip_write"] += ch.write_cycles
        act["offchip_read_bytes"] += ch.read_bytes
        act["offchip_write_bytes"] += ch.write_bytes
        act["sram_write_bytes"] += ch.read_bytes
        act["sram_read_bytes"] += ch.write_bytes

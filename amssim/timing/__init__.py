"""Timing: tile mapping, simpy model of the engines, closed-form oracle (docs/architecture.md §8).

Public API::

    from amssim.timing import simulate_timing, GemmShape
    from amssim.energy import estimate_energy
    t = simulate_timing(trace.gemm_ops(), device, batch=1)    # TimingResult
    e = estimate_energy(t, device)                            # EnergyResult
    from amssim.timing import TimedAbfpBackend                # full mode backend
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .closed_form import plan_times, steady_state_cycles
from .mapping import STAGES, Chunk, GemmPlan, TileJob, plan_gemm, program_cycles
from .model import SimLog, simulate_plan
from .result import ACTIONS, TIMED_COMPONENTS, LayerTiming, TimingResult
from .simulate import combine_layers, simulate_timing, time_instance
from .systolic import fold_cycles_closed_form, plan_systolic

__all__ = [
    "ACTIONS", "TIMED_COMPONENTS", "Chunk", "GemmPlan", "GemmShape", "LayerTiming", "STAGES", "SimLog",
    "TileJob", "TimingResult", "TimedAbfpBackend", "combine_layers", "plan_gemm", "plan_times",
    "fold_cycles_closed_form", "plan_systolic", "program_cycles", "simulate_plan", "simulate_timing", "steady_state_cycles", "time_instance",
]


if TYPE_CHECKING:
    from ..trace.loader import GemmShape


def __getattr__(name):  # the backend imports amssim.signal, the trace package numba: on first use
    if name == "GemmShape":  # one GEMM shape type, produced by the trace
        from ..trace.loader import GemmShape
        return GemmShape
    if name == "TimedAbfpBackend":
        from .backend import TimedAbfpBackend
        return TimedAbfpBackend
    raise AttributeError(name)

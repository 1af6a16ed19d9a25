"""RunResult: the structured outcome of one simulation (docs/architecture.md §2 and §13).

``RunResult.to_dict()`` is the JSON object ``amssim simulate --json`` prints and
sweep stores keep, one per (configuration, seed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, kw_only=True)
class LayerResult:
    """Per-GEMM-op figures for one inference."""

    name: str
    kind: str
    macs: int  #: multiply-accumulates per inference
    cycles: int | None  #: accelerator cycles spent on this op per inference (None: no timing)
    energy_j: float | None  #: joules per inference attributed to this op (None: no timing)
    dy_mean: float | None  #: mean of (backend - float32) output, same float32 input
    dy_std: float | None  #: std of that difference
    rel_rms_error: float | None  #: rms(difference) / rms(float32 output)


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """One configuration, one seed: accuracy, latency and energy."""

    trace: str
    device: str
    mode: str  #: "full" | "accuracy" | "timing"
    seed: int
    config_hash: str
    version: str
    backend: str  #: "abfp" (analog tile) or a digital format name, or "fp32"
    device_kind: str = "analog"  #: "analog" | "digital" | "mixed" (per-layer devices of both kinds)
    metric: str | None  #: task metric name, e.g. "top1"
    accuracy: float | None  #: task metric of the simulated run (None in timing mode)
    fp32_accuracy: float | None  #: task metric of float32 execution
    num_samples: int  #: evaluation samples run (0 in timing mode)
    cycles: int | None  #: accelerator cycles per inference
    latency_s: float | None  #: seconds per inference
    energy_j: float | None  #: joules per inference
    energy_breakdown_j: dict[str, float] = field(default_factory=dict)
    macs: int  #: multiply-accumulates per inference
    tops: float | None  #: 2 * macs / latency_s / 1e12
    tops_per_w: float | None  #: 2 * macs / energy_j / 1e12
    utilisation: dict[str, float] = field(default_factory=dict)
    layers: list[LayerResult] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        return _clean(d)


def _clean(obj):
    """Make a dict JSON-safe: non-finite floats become None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

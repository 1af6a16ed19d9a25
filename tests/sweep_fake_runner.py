"""A fake ``run_point`` / ``validate_overrides`` pair for the sweep tests.

Deterministic pure functions of (trace, device, overrides, seed, mode) shaped like
the RunResult of docs/architecture.md §13, with a Table-II-like accuracy surface over tile width
and gain and an energy that falls with tile width and rises with bits and gain.
``AMSSIM_FAKE_RUNNER_DELAY_S`` makes every run sleep (for the SIGKILL resume test);
``fake.fail=1`` makes a run raise.
"""

from __future__ import annotations

import hashlib
import math
import os
import time

from amssim.errors import ConfigError

_TYPES = {
    "numerics.tile_width": int,
    "numerics.gain": float,
    "numerics.adc_bits": int,
    "noise.kind": str,
    "noise.lsb": float,
    "fake.fail": int,
}

#: ranges like the real device schema (the fake model overflows beyond them)
_RANGES = {"numerics.tile_width": (1, 4096), "numerics.gain": (1e-6, 1e6), "numerics.adc_bits": (2, 16),
           "noise.lsb": (0, 1e6)}

CALLS_ENV = "AMSSIM_FAKE_RUNNER_CALLS"  # optional file: one line appended per call


def validate_overrides(device: str, overrides: dict) -> None:
    for key, value in overrides.items():
        if key not in _TYPES:
            raise ConfigError(f"--set {key}={value}: unknown key {key!r}")
        try:
            v = _TYPES[key](value)
            lo, hi = _RANGES.get(key, (-math.inf, math.inf))
            if isinstance(v, (int, float)) and not (math.isfinite(float(v)) and lo <= v <= hi):
                raise ValueError("out of range")
        except (ValueError, OverflowError):
            raise ConfigError(
                f"--set {key}={value}: expected a finite {_TYPES[key].__name__}, got {value!r}"
            ) from None


def _unit(*parts) -> float:
    """Deterministic number in [-1, 1) from the parts."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little") / 2**63 - 1.0


def run_point(trace, device, overrides, seed, mode="accuracy"):
    validate_overrides(device, overrides)
    delay = float(os.environ.get("AMSSIM_FAKE_RUNNER_DELAY_S", "0") or 0)
    if delay:
        time.sleep(delay)
    calls = os.environ.get(CALLS_ENV)
    if calls:
        with open(calls, "a") as fh:
            fh.write(f"{sorted(overrides.items())} {seed}\n")
    if overrides.get("fake.fail") == "1":
        raise RuntimeError("fake failure requested")
    n = int(overrides.get("numerics.tile_width", "32"))
    g = float(overrides.get("numerics.gain", "1"))
    b = int(overrides.get("numerics.adc_bits", "8"))
    ident = (trace, device, tuple(sorted(overrides.items())))
    # accuracy: ADC resolution loss grows as n/(G 2^b); saturation grows as G sqrt(n)/n
    resolution = n / (g * 2.0 ** (b - 1))
    saturation = max(0.0, g * math.sqrt(n) / n * 4 - 4)
    fp32 = 0.95
    acc = fp32 * math.exp(-(resolution**2) * 2) * math.exp(-saturation) + 0.003 * _unit(ident, seed)
    acc = min(fp32, max(0.0, acc))
    macs = 1_000_000
    adc_j = 1e-12 * 2.0 ** (b - 6) * macs / n
    gain_j = 2e-14 * g * macs / n
    dac_j = 5e-13 * macs / n * 2
    exp_j = 3e-13 * macs / n
    sram_j = 2e-7 + 1e-9 * (n % 7)
    breakdown = {"adc": adc_j, "dac": dac_j, "gain": gain_j, "exponent_unit": exp_j, "sram": sram_j}
    energy = sum(breakdown.values())
    cycles = int(macs / (n * 16)) + 100
    latency = cycles / 1e9
    layers = []
    for i, (name, share) in enumerate((("conv1", 0.2), ("conv2", 0.5), ("fc", 0.3))):
        err = resolution * (1 + 0.3 * i) * 0.01 * (1 + 0.05 * _unit(ident, seed, name))
        layers.append(
            {
                "name": name,
                "kind": "conv2d" if i < 2 else "linear",
                "macs": int(macs * share),
                "cycles": int(cycles * share),
                "energy_j": energy * share,
                "dy_mean": 0.001 * _unit(ident, seed, name, "m"),
                "dy_std": err,
                "rel_rms_error": err * 2,
            }
        )
    return {
        "trace": trace,
        "device": device,
        "mode": mode,
        "seed": seed,
        "config_hash": hashlib.sha256(repr(ident).encode()).hexdigest()[:16],
        "version": "0.1.0",
        "backend": "abfp",
        "metric": "top1",
        "accuracy": None if mode == "timing" else acc,
        "fp32_accuracy": None if mode == "timing" else fp32,
        "num_samples": 0 if mode == "timing" else 100,
        "cycles": cycles,
        "latency_s": latency,
        "energy_j": energy,
        "energy_breakdown_j": breakdown,
        "macs": macs,
        "tops": 2 * macs / latency / 1e12,
        "tops_per_w": 2 * macs / energy / 1e12,
        "utilisation": {"tile": 0.5},
        "layers": layers,
        "overrides": dict(overrides),
        "wall_time_s": 0.0,
    }

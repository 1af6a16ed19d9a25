"""Time and energy of a run: the timing model and the energy table on the trace's GEMMs.

A uniform run times every op on the device. With per-layer setups, each group of ops
that share a device is timed with that device and priced with its energy table; ops
still run one after another, so cycles, latency and energy are the sums over ops (the
same accounting as :func:`amssim.timing.simulate_timing`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .layers import LayerSetup


def timing_and_energy(gemms, dev, batch: int, setups: Mapping[str, LayerSetup] | None = None):
    """``(TimingResult, EnergyResult)`` of ``gemms`` on ``dev`` (and per-layer devices)."""
    from ..config import config_hash
    from ..energy import estimate_energy
    from ..energy.table import energy_result
    from ..timing import simulate_timing
    from ..timing.simulate import combine_layers

    if not setups:
        timing = simulate_timing(gemms, dev, batch=batch)
        return timing, estimate_energy(timing, dev)
    base_key = config_hash(dev)
    groups: dict[str, list] = {}
    devices = {base_key: dev}
    for g in gemms:
        s = setups.get(g.name)
        key = s.key if s is not None else base_key
        devices.setdefault(key, s.device if s is not None else dev)
        groups.setdefault(key, []).append(g)
    t_layers, e_layers = {}, {}
    breakdown: dict = {}
    for key, ops in groups.items():
        d = devices[key]
        t = simulate_timing(ops, d, batch=batch)
        e = estimate_energy(t, d)
        for L in t.layers:
            t_layers[L.name] = L
        for L in e.layers:
            e_layers[L.name] = L
        for c, v in e.breakdown_j.items():
            breakdown[c] = breakdown.get(c, 0.0) + v
    timing = combine_layers([t_layers[g.name] for g in gemms], dev, batch)
    energy = energy_result(batch, breakdown, [e_layers[g.name] for g in gemms], timing.macs, timing.latency_s)
    return timing, energy

"""Per-layer devices: backends, timing and energy when layers differ in their numerics.

:func:`resolve_layers` turns per-layer overrides into one :class:`Device` and one
:class:`~amssim.run.RunOptions` per GEMM op. :func:`mixed_timing_energy` times each
group of ops that share a device with that device and prices it with that device's
energy table; ops still run one after another, so cycles, latency and energy are the
sums over ops (the same accounting as :func:`amssim.timing.simulate_timing`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .errors import ConfigError
from .layerconfig import LAYER_DEVICE_KEY, check_layer_key


def _digital(d) -> bool:
    return getattr(d, "kind", "analog") == "digital"


@dataclasses.dataclass(frozen=True, kw_only=True)
class LayerSetup:
    device: object  #: the op's Device (global device + its overrides)
    opts: object  #: the op's RunOptions
    key: str  #: config hash of the op's device (groups ops for timing)


def resolve_layers(dev, opts, gemm_names, layer_overrides: Mapping[str, Mapping] | None,
                   *, where: str = "--config") -> dict[str, LayerSetup]:
    """One :class:`LayerSetup` per op named in ``layer_overrides`` (others use the global device)."""
    from .config import apply_overrides, config_hash, load_device
    from .run import _check_format, with_run_format

    known = set(gemm_names)
    out = {}
    for name, over in (layer_overrides or {}).items():
        if name not in known:
            raise ConfigError(f"{where}: [layers.{name}]: the trace has no GEMM op {name!r} "
                              f"(GEMM ops: {', '.join(gemm_names)})")
        dev_keys, run_keys = {}, {}
        base = dev
        for key, value in over.items():
            check_layer_key(key, f"{where}: [layers.{name}]")
            if key == LAYER_DEVICE_KEY:
                try:
                    base = load_device(str(value))
                except ConfigError as exc:
                    raise ConfigError(f"{where}: [layers.{name}] device: {exc}") from None
            elif key.startswith("run."):
                if str(value) != "abfp":
                    _check_format(str(value), f"[layers.{name}] {key}")
                run_keys[key[4:]] = str(value)
            else:
                dev_keys[key] = value
        lopts = dataclasses.replace(opts, **run_keys)
        try:
            ldev = with_run_format(apply_overrides(base, dev_keys), lopts)
        except ConfigError as exc:
            raise ConfigError(f"{where}: [layers.{name}]: {exc}") from None
        out[name] = LayerSetup(device=ldev, opts=lopts, key=config_hash(ldev))
    return out


def layer_backend(dev, opts, seed: int, setups: Mapping[str, LayerSetup], *,
                  prepared_cache: dict | None = None):
    """The executor backend when ops may differ (accuracy mode)."""
    from .run import digital_backend
    from .trace.backends import AbfpBackend, DigitalBackend, Float32Backend, MixedBackend

    def single(o):
        if o.format == "fp32":
            return Float32Backend()
        return DigitalBackend(o.format, o.weight_format or o.format, seed=seed)

    def formats(d):
        return (d.numerics.format, d.weight_format)

    abfp_cfgs = {n: s.device.abfp_config() for n, s in setups.items()
                 if not _digital(s.device) and s.opts.format == "abfp"}
    if _digital(dev):
        default = digital_backend(dev, seed)
    elif opts.format == "abfp":
        default = AbfpBackend(dev.abfp_config(), seed, layer_cfgs=abfp_cfgs,
                              prepared_cache=prepared_cache)
    else:
        default = single(opts)
    special = {}
    for n, s in setups.items():
        if _digital(s.device):
            if not _digital(dev) or formats(s.device) != formats(dev):
                special[n] = digital_backend(s.device, seed)
        elif s.opts.format == "abfp":
            if _digital(dev) or opts.format != "abfp":
                base = abfp_cfgs[n] if _digital(dev) else dev.abfp_config()
                special[n] = AbfpBackend(base, seed, layer_cfgs={n: abfp_cfgs[n]},
                                         prepared_cache=prepared_cache)
        elif _digital(dev) or (s.opts.format, s.opts.weight_format) != (opts.format, opts.weight_format):
            special[n] = single(s.opts)
    return default if not special else MixedBackend(default, special)


def mixed_timing_energy(gemms, dev, setups: Mapping[str, LayerSetup], batch: int):
    """(TimingResult, EnergyResult) of ``gemms`` when some ops run on per-layer devices."""
    from .config import config_hash
    from .energy import estimate_energy
    from .energy.table import EnergyResult
    from .timing import simulate_timing
    from .timing.simulate import combine_layers

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
    energy_j = sum(breakdown.values())
    lat, macs = timing.latency_s, timing.macs
    energy = EnergyResult(
        batch=batch, energy_j=energy_j, breakdown_j=breakdown,
        layers=tuple(e_layers[g.name] for g in gemms), macs=macs, latency_s=lat,
        pj_per_mac=(energy_j / macs * 1e12 if macs else 0.0),
        tops=(2 * macs / lat / 1e12 if lat else 0.0),
        tops_per_w=(2 * macs / energy_j / 1e12 if energy_j else 0.0),
        power_w=(energy_j / lat if lat else 0.0))
    return timing, energy

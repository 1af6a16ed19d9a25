"""Per-layer settings: run-configuration files (``amssim simulate --config``) and the
per-op devices and run options they resolve to (:func:`resolve_layers`).

Layers of one trace may differ in their numerics (tile width, gain, bits, noise,
converter tables) and in the number format. A run configuration (TOML) holds the
device, the global overrides and the per-layer overrides by GEMM op name::

    # amssim run configuration
    device = "abfp-paper"              # optional; --device on the command line wins

    [set]                              # like --set, for every layer
    "numerics.tile_width" = 128

    [layers.conv2d_1]                  # one table per GEMM op (names: amssim simulate output)
    "numerics.gain" = 4
    "numerics.adc_bits" = 7
    "run.format" = "mxfp8_e4m3"         # this layer digital instead of analog

    [search]                           # free-form provenance (ignored by simulate)

Per-layer keys may come from ``[numerics]``, ``[noise]`` and ``[converters]`` plus
``run.format``/``run.weight_format``. ``[arch]`` and ``[energy]`` describe the whole chip
(one clock, one memory system) and are global only -- unless a layer names its own
device: ``device = "digital-int8-128"`` (a name or a .toml path, relative to this file)
runs and prices that op on that device (its own timing and energy; the global ``[set]``
overrides do not apply to it, the layer's own keys do), so analog and digital layers
mix in one configuration.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config.toml_writer import toml_key, toml_value
from ..errors import ConfigError

#: device sections a single layer may override
LAYER_SECTIONS = ("numerics", "noise", "converters")
#: run keys a single layer may override
LAYER_RUN_KEYS = ("run.format", "run.weight_format")
#: per-layer key naming the op's own device
LAYER_DEVICE_KEY = "device"
TOP_KEYS = ("device", "set", "layers", "search")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A device, global overrides and per-layer overrides (see module docstring)."""

    device: str | None = None
    overrides: dict = field(default_factory=dict)  #: dotted key -> value, every layer
    layers: dict = field(default_factory=dict)  #: op name -> {dotted key -> value}
    meta: dict = field(default_factory=dict)  #: the [search] table, kept for provenance


def check_layer_key(key: str, where: str) -> None:
    """Raise :class:`ConfigError` unless ``key`` may differ per layer."""
    if key in LAYER_RUN_KEYS or key == LAYER_DEVICE_KEY:
        return
    sec = key.split(".", 1)[0]
    if key.startswith("run."):
        raise ConfigError(f"{where}: {key!r} cannot differ per layer (per-layer run keys: "
                          f"{', '.join(LAYER_RUN_KEYS)})")
    if sec not in LAYER_SECTIONS:
        raise ConfigError(f"{where}: {key!r} cannot differ per layer: [{sec}] describes the whole chip "
                          f"(per-layer sections: {', '.join(LAYER_SECTIONS)})")


def _scalar(v, where: str):
    if isinstance(v, bool) or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"{where}: value {v!r} is not finite")
        return v
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return ",".join(repr(float(x)) for x in v)
    raise ConfigError(f"{where}: value {v!r} must be a number, string, boolean or list of numbers")


def _flat(table, where: str) -> dict:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table of \"section.key\" = value")
    out = {}
    for k, v in table.items():
        if isinstance(v, Mapping):  # [set.numerics] style nesting
            for k2, v2 in _flat(v, f"{where}.{k}").items():
                out[f"{k}.{k2}"] = v2
        else:
            out[str(k)] = _scalar(v, f"{where}: {k}")
    return out


def load_run_config(path) -> RunConfig:
    """Read and check a run configuration file (keys are validated against a device later)."""
    path = os.fspath(path)
    from ..io_safety import read_toml

    if not os.path.exists(path):
        raise ConfigError(f"{path}: run configuration not found")
    data = read_toml(path, "run configuration", error=ConfigError)
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(TOP_KEYS)})")
    device = data.get("device")
    if device is not None and (not isinstance(device, str) or not device):
        raise ConfigError(f"{path}: device must be a device name or path, got {device!r}")
    if device is not None and not os.path.isabs(device) and device.endswith(".toml"):
        device = os.path.join(os.path.dirname(os.path.abspath(path)), device)
    overrides = _flat(data.get("set", {}), f"{path}: [set]")
    layers_raw = data.get("layers", {})
    if not isinstance(layers_raw, Mapping):
        raise ConfigError(f"{path}: [layers] must hold one table per GEMM op")
    layers = {}
    for name, table in layers_raw.items():
        flat = _flat(table, f"{path}: [layers.{name}]")
        for key in flat:
            check_layer_key(key, f"{path}: [layers.{name}]")
        ldev = flat.get(LAYER_DEVICE_KEY)
        if ldev is not None:
            if not isinstance(ldev, str) or not ldev:
                raise ConfigError(f"{path}: [layers.{name}] device must be a device name or path, "
                                  f"got {ldev!r}")
            if not os.path.isabs(ldev) and ldev.endswith(".toml"):
                flat[LAYER_DEVICE_KEY] = os.path.join(os.path.dirname(os.path.abspath(path)), ldev)
        layers[str(name)] = flat
    meta = data.get("search", {})
    return RunConfig(device=device, overrides=overrides, layers=layers,
                     meta=dict(meta) if isinstance(meta, Mapping) else {})


def dump_run_config(cfg: RunConfig, *, header: str = "") -> str:
    """TOML text of ``cfg`` that :func:`load_run_config` reads back."""
    lines = [f"# {ln}" if ln else "#" for ln in header.splitlines()]
    lines.append("# amssim run configuration: amssim simulate TRACE --config THIS_FILE")
    if cfg.device:
        lines.append(f"device = {toml_value(cfg.device)}")
    lines += ["", "[set]"]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in cfg.overrides.items()]
    for name, over in cfg.layers.items():
        lines += ["", f"[layers.{toml_key(name)}]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in over.items()]
    if cfg.meta:
        lines += ["", "[search]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in cfg.meta.items()
                  if not isinstance(v, Mapping)]
    return "\n".join(lines) + "\n"


def write_run_config(path, cfg: RunConfig, *, header: str = "") -> None:
    """Write ``cfg`` atomically (a temporary file renamed into place)."""
    path = os.fspath(path)
    text = dump_run_config(cfg, header=header)
    from ..io_safety import atomic_write

    atomic_write(path, text, option="--out")


@dataclass(frozen=True, kw_only=True)
class LayerSetup:
    """What one GEMM op runs on when it differs from the global device."""

    device: object  #: the op's Device (global device + its overrides, or its own device)
    opts: object  #: the op's RunOptions
    key: str  #: config hash of the op's device (groups ops for timing)


def resolve_layers(dev, opts, gemm_names, layer_overrides: Mapping[str, Mapping] | None,
                   *, where: str = "--config") -> dict[str, LayerSetup]:
    """One :class:`LayerSetup` per op named in ``layer_overrides`` (others use the global device)."""
    import dataclasses

    from ..config import apply_overrides, config_hash, load_device
    from .device import with_run_format
    from .options import check_format

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
                    check_format(str(value), f"[layers.{name}] {key}")
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


def flat_layer_overrides(layer_overrides) -> dict:
    """Per-layer overrides as flat ``layers.OP.section.key`` entries (for results and stores)."""
    return {f"layers.{n}.{k}": v for n, over in (layer_overrides or {}).items() for k, v in over.items()}

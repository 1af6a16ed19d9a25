"""Device models: frozen section dataclasses, TOML loading, registry, overrides, hash.

Public API::

    from amssim.config import load_device, list_devices, apply_overrides, config_hash
    dev = load_device("photonic-128-measured")          # or a path to a .toml file
    dev = apply_overrides(dev, {"numerics.gain": "4"})  # --set numerics.gain=4
    cfg = dev.abfp_config()                             # amssim.AbfpConfig
    h = config_hash(dev, {"mode": "timing"})
"""

from __future__ import annotations

from .device import (ArchConfig, ConvertersConfig, Device, EnergyConfig, NoiseConfig,
                     NumericsConfig, ProvenanceConfig, SECTIONS)
from .digital import DigitalDevice
from .dump import device_to_toml
from .overrides import apply_overrides, canonical_json, config_hash
from .registry import device_from_dict, list_devices, load_device, load_device_file, search_dirs

__all__ = [
    "ArchConfig", "ConvertersConfig", "Device", "DigitalDevice", "EnergyConfig", "NoiseConfig",
    "NumericsConfig", "ProvenanceConfig", "SECTIONS", "apply_overrides", "canonical_json",
    "config_hash", "device_from_dict", "device_to_toml", "list_devices", "load_device",
    "load_device_file", "search_dirs",
]

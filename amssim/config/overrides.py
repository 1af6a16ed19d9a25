"""Dotted ``--set`` overrides and the stable configuration hash.

``apply_overrides(device, {"numerics.gain": "4", "noise.kind": "uniform"})``
returns a new :class:`Device` (``dataclasses.replace``; nothing is mutated). Keys
must name an existing ``section.key`` of the device model schema; values are
strings (as typed on the command line) or already-typed values, converted to the
key's kind and validated like a file. Errors are :class:`~amssim.errors.ConfigError`
naming ``--set key=value``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping

from ..errors import ConfigError, DeviceError
from .device import SECTIONS, Device
from .schema import coerce, section_fields


def parse_set(text: str, *, option: str = "--set") -> tuple[str, str]:
    """The one ``--set KEY=VALUE`` parser (simulate, devices, search, finetune, sweep).

    The key must be a dotted name (``numerics.gain``); the value is stripped and may be
    empty: an empty value means the key's empty setting (an empty list, or the derived
    default of an optional key such as ``arch.tile_cols``); a key that needs a value
    rejects it when the override is applied, naming the key.
    """
    where = f"{option} {text!r}"
    if "=" not in text:
        raise ConfigError(f"{where}: expected KEY=VALUE")
    key, _, value = text.partition("=")
    return check_set_key(key, where=where), value.strip()


def check_set_key(key: str, *, where: str) -> str:
    """``key`` stripped; a ConfigError ``"{where}: bad key ..."`` unless it is a dotted name."""
    key = key.strip()
    if not key or any(not part for part in key.split(".")) or any(c.isspace() for c in key):
        raise ConfigError(f"{where}: bad key {key!r} (expected a dotted name like numerics.gain)")
    return key


def parse_sets(items, *, option: str = "--set") -> dict[str, str]:
    """``{key: value}`` of repeated ``--set`` arguments (a later one wins)."""
    return dict(parse_set(item, option=option) for item in items or [])


def _parse(section: str, key: str, raw, sections=SECTIONS):
    fields = section_fields(sections[section])
    if key not in fields:
        raise ConfigError(f"--set {section}.{key}: unknown key in [{section}] "
                          f"(known: {', '.join(sorted(fields))})")
    md = fields[key].metadata
    if md["optional"] and isinstance(raw, str) and raw.strip().lower() in ("", "none", "default"):
        return None
    return coerce(section, key, md["kind"], raw)


def apply_overrides(device: Device, overrides: Mapping[str, object]) -> Device:
    """A new Device with dotted ``section.key`` overrides applied and validated."""
    sections = getattr(device, "SECTIONS", SECTIONS)
    kind = getattr(device, "kind", "analog")
    per_section: dict[str, dict] = {}
    for dotted, raw in overrides.items():
        parts = str(dotted).split(".")
        if len(parts) != 2 or parts[0] not in sections:
            raise ConfigError(f"--set {dotted}={raw}: key must be section.key with section one of "
                              f"{', '.join(sections)}" + (f" ({kind} device {device.name!r})"
                                                          if kind != "analog" else ""))
        sec, key = parts
        if sec == "arch" and key == "kind":
            raise ConfigError(f"--set {dotted}={raw}: the device kind cannot be overridden "
                              f"(choose another --device)")
        try:
            per_section.setdefault(sec, {})[key] = _parse(sec, key, raw, sections)
        except DeviceError as exc:
            raise ConfigError(f"--set {dotted}={raw}: {exc}") from None
    changes = {}
    for sec, kv in per_section.items():
        try:
            changes[sec] = dataclasses.replace(getattr(device, sec), **kv)
        except DeviceError as exc:
            raise ConfigError(f"--set {', '.join(f'{sec}.{k}' for k in kv)}: {exc}") from None
    return dataclasses.replace(device, **changes)


def _canon(obj):
    if isinstance(obj, Mapping):
        return {str(k): _canon(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canon(v) for v in obj]
    if isinstance(obj, float):
        if math.isfinite(obj) and obj.is_integer():
            return float(obj)  # 4 and 4.0 hash alike after coercion by kind anyway
        return obj if math.isfinite(obj) else repr(obj)
    return obj


def canonical_json(device: Device, extra: Mapping | None = None) -> str:
    """Canonical JSON of everything that changes results (no names, sources, provenance)."""
    d = device.to_dict(with_sources=False)
    d.pop("provenance", None)
    payload = {"device": d, "extra": dict(extra or {})}
    return json.dumps(_canon(payload), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(device: Device, extra: Mapping | None = None) -> str:
    """sha256 hex digest of :func:`canonical_json` (stable across runs and machines)."""
    return hashlib.sha256(canonical_json(device, extra).encode("utf-8")).hexdigest()

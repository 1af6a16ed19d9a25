"""Write a :class:`Device` back as TOML (resolved values, sources kept)."""

from __future__ import annotations

from .device import SECTIONS, Device
from .toml_writer import toml_value


def device_to_toml(device: Device, *, header: str = "") -> str:
    """TOML text of every section (absent optional keys are left out)."""
    lines = [f"# {h}" for h in header.splitlines()] if header else []
    d = device.to_dict()
    for sec in getattr(device, "SECTIONS", SECTIONS):
        body = d[sec]
        sources = body.pop("sources", {}) or {}
        if lines:
            lines.append("")
        lines.append(f"[{sec}]")
        for k, v in body.items():
            if v is None:
                continue
            lines.append(f"{k} = {toml_value(v)}")
        if sources:
            lines.append("")
            lines.append(f"[{sec}.sources]")
            for k, v in sources.items():
                lines.append(f"{k} = {toml_value(v)}")
    return "\n".join(lines) + "\n"

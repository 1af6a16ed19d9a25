"""Write a :class:`Device` back as TOML (resolved values, sources kept)."""

from __future__ import annotations

import json

from .device import SECTIONS, Device


def _val(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


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
            lines.append(f"{k} = {_val(v)}")
        if sources:
            lines.append("")
            lines.append(f"[{sec}.sources]")
            for k, v in sources.items():
                lines.append(f"{k} = {_val(v)}")
    return "\n".join(lines) + "\n"

"""Load device model files and find them by name.

``load_device("photonic-128-measured")`` looks for ``<name>.toml`` in the
directories of the ``AMSSIM_DEVICE_PATH`` environment variable (``os.pathsep``
separated), then in the repository's ``device_models/``. ``load_device(path)``
loads a file directly (any argument ending in ``.toml`` or naming an existing
file). Errors are :class:`~amssim.errors.DeviceError` naming the file and key.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DeviceError
from .device import ENERGY_UNITS, OPTIONAL_SECTIONS, SECTIONS, Device
from .digital import DIGITAL_OPTIONAL_SECTIONS, DIGITAL_SECTIONS, DIGITAL_UNITS, DigitalDevice
from .schema import build_section, section_fields

#: device kinds: (sections, optional sections, class)
KINDS = {"analog": (SECTIONS, OPTIONAL_SECTIONS, Device),
         "digital": (DIGITAL_SECTIONS, DIGITAL_OPTIONAL_SECTIONS, DigitalDevice)}


def _builtin_dir() -> Path:
    """The shipped device models: ``amssim/_device_models`` in an installed wheel
    (the repository's ``device_models/`` packaged by setup.py), else the repository's
    ``device_models/`` (source checkout, editable install)."""
    packaged = Path(__file__).resolve().parents[1] / "_device_models"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "device_models"


#: the built-in device models directory
BUILTIN_DIR = _builtin_dir()


def search_dirs() -> list[Path]:
    """Directories searched for ``<name>.toml``, in order."""
    dirs = [Path(p) for p in os.environ.get("AMSSIM_DEVICE_PATH", "").split(os.pathsep) if p]
    dirs.append(BUILTIN_DIR)
    return dirs


def _unit_hint(section: str, key: str, value) -> None:
    if section == "energy" and not key.endswith(ENERGY_UNITS) and key not in ("source", "sources"):
        raise DeviceError(f"[energy] {key} = {value!r}: energy key without a unit suffix "
                          f"(one of {', '.join(ENERGY_UNITS)})")


def _hint_units(section: str, key: str, value, sections=SECTIONS) -> None:
    if sections is DIGITAL_SECTIONS:
        if section in ("energy", "datapath") and not key.endswith(DIGITAL_UNITS):
            raise DeviceError(f"[{section}] {key} = {value!r}: key without a unit suffix "
                              f"(one of {', '.join(DIGITAL_UNITS)})")
    else:
        _unit_hint(section, key, value)
    cls = sections[section]
    cands = [k for k in section_fields(cls) if k.startswith(key + "_")]
    if cands:
        raise DeviceError(f"[{section}] {key} = {value!r}: key without a unit; "
                          f"did you mean {' or '.join(cands)}?")


def device_from_dict(data: dict, *, name: str, path: str = "") -> Device:
    """Build a :class:`Device` from parsed TOML (errors name ``path``)."""
    where = path or name
    try:
        if not isinstance(data, dict):
            raise DeviceError(f"expected a table, got {type(data).__name__}")
        arch = data.get("arch")
        kind = arch.get("kind", "analog") if isinstance(arch, dict) else "analog"
        if kind not in KINDS:
            raise DeviceError(f"[arch] kind = {kind!r}: must be one of {', '.join(KINDS)}")
        sections, optional, dev_cls = KINDS[kind]
        if kind == "analog" and isinstance(arch, dict) and "kind" in arch:
            data = {**data, "arch": {k: v for k, v in arch.items() if k != "kind"}}
        for sec in data:
            if sec not in sections:
                raise DeviceError(f"[{sec}]: unknown section for a {kind} device "
                                  f"(known: {', '.join(sections)})")
        parts = {}
        for sec, cls in sections.items():
            if sec not in data:
                if sec in optional:
                    parts[sec] = cls()
                    continue
                raise DeviceError(f"[{sec}]: missing section")
            parts[sec] = build_section(cls, sec, data[sec],
                                       unit_check=lambda s, k, v: _hint_units(s, k, v, sections))
        return dev_cls(name=name, path=path, **parts)
    except DeviceError as exc:
        raise DeviceError(f"{where}: {exc}") from None


def load_device_file(path: str | os.PathLike) -> Device:
    """Parse and validate one device model file."""
    from ..io_safety import read_toml

    p = Path(path)
    try:
        exists = p.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        exists = False
    if not exists:
        s = str(p)
        raise DeviceError(f"{s if len(s) <= 80 else s[:60] + '...' + s[-12:]}: no such device model file")
    data = read_toml(p, "device model file", error=DeviceError)
    return device_from_dict(data, name=p.stem, path=str(p))


def _device_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in search_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                found.setdefault(f.stem, f)
    return found


def load_device(name_or_path: str | os.PathLike) -> Device:
    """A device by registry name or by path to a ``.toml`` file."""
    s = str(name_or_path)
    try:
        is_file = Path(s).is_file()
    except (OSError, ValueError):  # a name too long for a path, or holding a NUL byte
        is_file = False
    if s.endswith(".toml") or os.sep in s or is_file:
        return load_device_file(s)
    files = _device_files()
    if s not in files:
        shown = s if len(s) <= 80 else s[:60] + "..." + s[-8:]
        raise DeviceError(f"--device {shown!r}: unknown device (known: {', '.join(sorted(files)) or 'none'};"
                          f" or give a path to a .toml file)")
    return load_device_file(files[s])


def list_devices() -> list:
    """Every device found on the search path, sorted by name."""
    return [load_device_file(p) for _, p in sorted(_device_files().items())]

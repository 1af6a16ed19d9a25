"""Field declarations and validation shared by the device model sections.

Each section of a device model file is a frozen keyword-only dataclass whose fields
are declared with :func:`spec`, which records the value kind (int, float, bool, str,
floats = tuple of floats), the allowed range or choices and a one-line doc (unit and
range). :func:`validate_section` checks an instance against those declarations and
raises :class:`~amssim.errors.DeviceError` naming ``[section] key`` and the value;
:func:`coerce` turns TOML values or ``--set`` strings into the declared kind.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from ..errors import DeviceError, short_repr

KINDS = ("int", "float", "bool", "str", "floats")


def spec(kind: str, *, default=dataclasses.MISSING, lo=None, hi=None, lo_open=False,
         choices=None, doc: str = "", optional: bool = False):
    """Declare a section field.

    kind: one of ``int``, ``float``, ``bool``, ``str``, ``floats``; ``lo``/``hi``
    inclusive bounds (``lo_open`` makes ``lo`` exclusive); ``choices`` allowed strings;
    ``optional`` fields may be absent (value ``None``) and then take a documented
    derived value.
    """
    assert kind in KINDS
    if optional and default is dataclasses.MISSING:
        default = None
    md = {"kind": kind, "lo": lo, "hi": hi, "lo_open": lo_open, "choices": choices,
          "doc": doc, "optional": optional}
    if kind == "floats" and default is not dataclasses.MISSING and default is not None:
        d = tuple(default)
        return dataclasses.field(default_factory=lambda: d, metadata=md)
    return dataclasses.field(default=default, metadata=md)


def section_fields(cls) -> dict[str, dataclasses.Field]:
    """Declared value fields of a section class (excludes ``sources``)."""
    return {f.name: f for f in dataclasses.fields(cls) if "kind" in f.metadata}


def _bad(section: str, key: str, value, why: str) -> DeviceError:
    return DeviceError(f"[{section}] {key} = {short_repr(value)}: {why}")


def coerce(section: str, key: str, kind: str, value):
    """Convert a TOML value or an override string to ``kind`` or raise DeviceError."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise _bad(section, key, value, "expected true or false")
    if kind == "str":
        if isinstance(value, str):
            return value
        raise _bad(section, key, value, "expected a string")
    if kind == "int":
        if isinstance(value, bool):
            raise _bad(section, key, value, "expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                raise _bad(section, key, value, "expected an integer") from None
            if f.is_integer():
                return int(f)
        raise _bad(section, key, value, "expected an integer")
    if kind == "float":
        if isinstance(value, bool):
            raise _bad(section, key, value, "expected a number")
        try:
            if isinstance(value, (int, float)):
                return float(value)
            if isinstance(value, str):
                return float(value)
        except (ValueError, OverflowError):  # OverflowError: an integer beyond float's range
            raise _bad(section, key, value, "expected a number") from None
        raise _bad(section, key, value, "expected a number")
    # floats: list/tuple of numbers, or a string "[1, 2]" / "1,2" / ""
    if isinstance(value, str):
        s = value.strip().strip("[]()").strip()
        items = [p for p in (q.strip() for q in s.split(",")) if p] if s else []
        value = items
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.append(coerce(section, key, "float", v))
        return tuple(out)
    raise _bad(section, key, value, "expected a list of numbers")


#: integers in device/run files are refused at this magnitude (a 64-bit range; beyond it
#: float() overflows and no physical quantity or count needs it)
_INT_MAGNITUDE_LIMIT = 2**63


def validate_section(obj, section: str) -> None:
    """Check every declared field of ``obj`` against its kind, range and choices."""
    for name, f in section_fields(type(obj)).items():
        md = f.metadata
        v = getattr(obj, name)
        if v is None:
            if md["optional"]:
                continue
            raise _bad(section, name, v, "missing required key")
        kind = md["kind"]
        if kind == "int" and (isinstance(v, bool) or not isinstance(v, int)):
            raise _bad(section, name, v, "expected an integer")
        if kind == "float" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise _bad(section, name, v, "expected a number")
        if kind == "bool" and not isinstance(v, bool):
            raise _bad(section, name, v, "expected true or false")
        if kind == "str" and not isinstance(v, str):
            raise _bad(section, name, v, "expected a string")
        vals = list(v) if kind == "floats" else [v]
        for x in vals:
            if kind in ("int", "float", "floats"):
                if isinstance(x, int) and not isinstance(x, bool):
                    if abs(x) >= _INT_MAGNITUDE_LIMIT:  # also keeps later float() conversions finite
                        raise _bad(section, name, v, f"magnitude must be below 2^{_INT_MAGNITUDE_LIMIT.bit_length() - 1}")
                elif not isinstance(x, (int, float)):
                    raise _bad(section, name, v, "expected a number")
                elif not math.isfinite(float(x)):
                    raise _bad(section, name, v, "must be finite")
                lo, hi = md["lo"], md["hi"]
                if lo is not None and (x <= lo if md["lo_open"] else x < lo):
                    op = ">" if md["lo_open"] else ">="
                    raise _bad(section, name, v, f"must be {op} {lo}")
                if hi is not None and x > hi:
                    raise _bad(section, name, v, f"must be <= {hi}")
        if md["choices"] is not None and v not in md["choices"]:
            raise _bad(section, name, v, f"must be one of {', '.join(md['choices'])}")
    srcs = getattr(obj, "sources", None)
    if srcs is not None:
        if not isinstance(srcs, Mapping):
            raise _bad(section, "sources", srcs, "expected a table of key = \"source\"")
        known = section_fields(type(obj))
        for k, s in srcs.items():
            if k not in known:
                raise _bad(section, f"sources.{k}", s, "source given for an unknown key")
            if not isinstance(s, str):
                raise _bad(section, f"sources.{k}", s, "expected a string")


def build_section(cls, section: str, table: Mapping, *, unit_check=None):
    """Build a section dataclass from a TOML table, rejecting unknown keys."""
    if not isinstance(table, Mapping):
        raise DeviceError(f"[{section}] must be a table, got {table!r}")
    known = section_fields(cls)
    kwargs = {}
    for key, value in table.items():
        if key == "sources":
            kwargs["sources"] = dict(value) if isinstance(value, Mapping) else value
            continue
        if key not in known:
            if unit_check is not None:
                unit_check(section, key, value)
            raise DeviceError(
                f"[{section}] {key}: unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = coerce(section, key, known[key].metadata["kind"], value)
    missing = [k for k, f in known.items()
               if k not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise DeviceError(f"[{section}] {missing[0]}: missing required key")
    return cls(**kwargs)


def field_docs(cls) -> dict[str, str]:
    """``{key: doc}`` for a section class (used by ``amssim devices`` and docs)."""
    return {k: f.metadata["doc"] for k, f in section_fields(cls).items()}

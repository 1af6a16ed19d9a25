"""The one TOML value/key writer: device files (:mod:`.dump`, calibration output) and run
configurations (:func:`amssim.run.layers.dump_run_config`) both format values with it.

Reading is :func:`tomllib.loads`; everything written here reads back to the same value
(tests/test_toml_writer.py checks the round trip).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from ..errors import ConfigError

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(s: str) -> str:
    """A TOML basic string: printable ASCII as is, everything else escaped (``\\uXXXX``)."""
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif 0xD800 <= cp <= 0xDFFF:
            raise ConfigError(f"cannot write {s!r} as TOML: lone surrogate U+{cp:04X}")
        else:
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
    return '"' + "".join(out) + '"'


def toml_value(v: object) -> str:
    """TOML text of a bool, integer, finite real (repr of the float: exact), string or list/tuple of those."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):  # numpy integers too
        return str(int(v))
    if isinstance(v, numbers.Real):
        if not math.isfinite(v):
            raise ConfigError(f"cannot write non-finite value {v!r}")
        return repr(float(v))
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, Sequence):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {v!r} (type {type(v).__name__}) as TOML")


def toml_key(k: str) -> str:
    """A quoted TOML key (any string, dots included, stays one key)."""
    return toml_string(str(k))

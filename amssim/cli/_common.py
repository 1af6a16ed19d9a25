"""Helpers shared by CLI commands: --set parsing, tables, JSON output."""

from __future__ import annotations

import json
import sys

from ..config.overrides import parse_sets as parse_sets  # the one --set parser, for the commands


def add_set_option(parser) -> None:
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a device-model key (e.g. numerics.gain=4, numerics.tile_width=32, "
             "noise.kind=gaussian, noise.lsb=1.0, arch.clock_hz=1e9) or a run key "
             "(run.format=mxfp8_e4m3, run.batch=8, run.limit=100); repeatable")


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def fmt_num(v, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def table(rows: list[list], header: list[str]) -> str:
    """A plain-text table with right-aligned numeric columns."""
    from ..io_safety import escape

    cells = [[escape(h) for h in header]] + [[escape(fmt_num(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for j, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)

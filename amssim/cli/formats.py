"""``amssim formats``: list the number formats (name patterns, storage bits, meaning)."""

from __future__ import annotations

import argparse
import json

NAME = "formats"
HELP = "list number formats: name patterns, storage bits per element and a description"
DESCRIPTION = (
    "List every number-format family usable wherever a format name is accepted "
    "(digital GEMMs, sweeps). Storage bits include shared scales amortised per element. "
    "With NAME..., resolve those names and show their exact parameters."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="format names to resolve (e.g. mxfp8_e4m3 posit8_1); default: list families")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from ..formats import get_format, list_formats

    if args.names:
        specs = [get_format(n) for n in args.names]  # FormatError -> exit 2
        rows = [{"name": s.name, "family": s.family, "bits_per_element": s.bits_per_element,
                 "description": s.describe()} for s in specs]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            w = max(len(r["name"]) for r in rows)
            for r in rows:
                print(f"{r['name']:<{w}}  {r['bits_per_element']:>7.3f} bits  {r['description']}")
        return 0
    fams = list_formats()
    rows = [{"pattern": f.pattern, "example": f.example, "bits": f.bits, "description": f.description}
            for f in fams]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    w = max(len(r["pattern"]) for r in rows)
    wb = max(len(r["bits"]) for r in rows)
    print(f"{'PATTERN':<{w}}  {'BITS':<{wb}}  DESCRIPTION (example)")
    for r in rows:
        print(f"{r['pattern']:<{w}}  {r['bits']:<{wb}}  {r['description']} (e.g. {r['example']})")
    print("rounding modes: nearest_even (default), nearest_away, toward_zero, stochastic (needs a seed)")
    return 0

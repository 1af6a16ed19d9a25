"""``amssim report``: a markdown report (tables + figures) of a sweep store."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "report"
HELP = "write a markdown report with tables and figures for a sweep store"
DESCRIPTION = """\
Write DIR/report.md and its figures from a sweep store (stored results only,
nothing is simulated): the Pareto front and a table of every configuration
(mean ± std over seeds), a tile width x gain accuracy heatmap in the style of the
ABFP paper's Table II, energy per inference by component, per-layer differential
error and latency by layer. Figures the stored data cannot support are listed
with the reason.
"""


def register(parser: argparse.ArgumentParser) -> None:
    from .sweep import HelpFormatter

    parser.formatter_class = HelpFormatter
    parser.add_argument("store", help="sweep result store (JSON lines, written by amssim sweep)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    parser.add_argument("--x", default="energy_j", metavar="KEY[:min|max]", help="first Pareto objective")
    parser.add_argument("--y", default="accuracy", metavar="KEY[:min|max]", help="second Pareto objective")
    parser.add_argument("--heatmap-rows", default="numerics.tile_width", metavar="KEY", help="heatmap row key")
    parser.add_argument("--heatmap-cols", default="numerics.gain", metavar="KEY", help="heatmap column key")
    parser.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="figure file format")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args) -> int:
    from ..report import write_report
    from ..sweep.pareto import parse_objective

    res = write_report(
        args.store,
        args.out,
        objectives=(parse_objective(args.x), parse_objective(args.y)),
        heatmap_keys=(args.heatmap_rows, args.heatmap_cols),
        fig_format=args.format,
    )
    for w in res.warnings:
        print(f"amssim report: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps({"report": res.path, "figures": list(res.figures),
                          "skipped": [{"figure": n, "reason": r} for n, r in res.skipped]}, indent=2))
        return 0
    print(f"wrote {res.path}")
    for f in res.figures:
        print(f"  figure {f}")
    for name, why in res.skipped:
        print(f"  not drawn: {name}: {why}")
    return 0

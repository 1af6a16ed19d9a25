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
with the reason. Front points are numbered in the Pareto figure and its table;
bar and line figures use the same numbers. Units are SI-prefixed (µJ, µs),
accuracy in %, error bars mean ± std over seeds, axes logarithmic when the data
span more than 10x (--xscale/--yscale override).

--html also writes DIR/report.html: one self-contained interactive page
(plotly.js inlined, opens offline; needs the 'report' extra): hover a point for
its configuration and metrics, click it for its per-layer error and energy by
component, filter by any swept key, and a tile width x gain heatmap.
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
    parser.add_argument("--color", "--colour", dest="color", default=None, metavar="KEY",
                        help="colour Pareto points and layer-error lines by a key (e.g. numerics.tile_width); "
                             "also the HTML explorer's initial colouring")
    parser.add_argument("--xscale", choices=("auto", "linear", "log"), default="auto", help="Pareto x axis scale")
    parser.add_argument("--yscale", choices=("auto", "linear", "log"), default="auto", help="Pareto y axis scale")
    parser.add_argument("--html", action="store_true",
                        help="also write DIR/report.html, a self-contained interactive explorer")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args) -> int:
    from ..reporting import write_report
    from ..sweep.pareto import parse_objective

    from ..io_safety import check_output_dir

    check_output_dir(args.out, "--out")
    res = write_report(
        args.store,
        args.out,
        objectives=(parse_objective(args.x), parse_objective(args.y)),
        heatmap_keys=(args.heatmap_rows, args.heatmap_cols),
        fig_format=args.format,
        color=args.color,
        xscale=args.xscale,
        yscale=args.yscale,
    )
    html = None
    if args.html:
        import os

        from ..reporting import write_html_report

        html = write_html_report(args.store, os.path.join(args.out, "report.html"),
                                 objectives=(parse_objective(args.x), parse_objective(args.y)),
                                 heatmap_keys=(args.heatmap_rows, args.heatmap_cols), color=args.color)
    for w in res.warnings:
        print(f"amssim report: warning: {w}", file=sys.stderr)
    if args.json:
        out = {"report": res.path, "figures": list(res.figures),
               "skipped": [{"figure": n, "reason": r} for n, r in res.skipped]}
        if html is not None:
            out["html"], out["html_bytes"] = html.path, html.n_bytes
        print(json.dumps(out, indent=2))
        return 0
    print(f"wrote {res.path}")
    if html is not None:
        print(f"wrote {html.path} ({html.n_bytes / 1e6:.1f} MB, {html.n_points} configurations)")
    for f in res.figures:
        print(f"  figure {f}")
    for name, why in res.skipped:
        print(f"  not drawn: {name}: {why}")
    return 0

"""``amssim pareto``: the non-dominated configurations of a sweep store."""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = "pareto"
HELP = "print (and plot) the Pareto front of a sweep store, e.g. energy per inference vs accuracy"
DESCRIPTION = """\
Aggregate a sweep store over seeds (mean per point) and print the points that no
other point beats in both objectives. An objective is a result key with an
optional direction, KEY[:min|max]; accuracy, tops, tops_per_w default to max,
everything else (energy_j in joules per inference, latency_s in seconds, cycles,
*_std) to min. --out also draws all points with mean ± std error bars and the
front as a step line, its points numbered with a key table of their
configurations (format from the suffix: .png, .svg or .pdf). Units are
SI-prefixed (µJ, µs), accuracy in %; an axis turns logarithmic when its data span
more than 10x (--xscale/--yscale override). Marker shape follows the device
(circle family: analog, square family: digital device kinds).
"""


def register(parser: argparse.ArgumentParser) -> None:
    from .sweep import HelpFormatter

    parser.formatter_class = HelpFormatter
    parser.add_argument("store", help="sweep result store (JSON lines, written by amssim sweep)")
    parser.add_argument("--x", default="energy_j", metavar="KEY[:min|max]", help="first objective (x axis)")
    parser.add_argument("--y", default="accuracy", metavar="KEY[:min|max]", help="second objective (y axis)")
    parser.add_argument("--trace", default=None, help="only this trace's points (needed when the store holds several)")
    parser.add_argument("--out", default=None, metavar="FIG.png", help="also write the Pareto plot (.png/.svg/.pdf)")
    parser.add_argument("--color", "--colour", dest="color", default=None, metavar="KEY",
                        help="colour points by a swept key (e.g. numerics.tile_width), device, device_kind "
                             "or a numeric result key")
    parser.add_argument("--xscale", choices=("auto", "linear", "log"), default="auto",
                        help="x axis scale (auto: log when the data span > 10x)")
    parser.add_argument("--yscale", choices=("auto", "linear", "log"), default="auto", help="y axis scale")
    parser.add_argument("--all", action="store_true", help="list every point, marking the front with '*'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    from ..errors import ConfigError
    from ..sweep.pareto import pareto_front, parse_objective
    from ..sweep.summary import load_summaries, numeric_keys, point_labels
    from ..sweep.tables import summary_columns, text_table

    objectives = [parse_objective(args.x), parse_objective(args.y)]
    if args.out is not None:
        from ..io_safety import check_output_file

        check_output_file(args.out, "--out")
    summaries, warnings = load_summaries(args.store, trace=args.trace)
    for w in warnings:
        print(f"amssim pareto: warning: {w}", file=sys.stderr)
    available = numeric_keys(summaries)
    for o in objectives:
        if o.key not in available:
            raise ConfigError(
                f"objective {o.key!r} is not a numeric result in store {args.store!r} "
                f"(available: {', '.join(available)})"
            )
    front = pareto_front(summaries, objectives)
    labels = point_labels(summaries)
    if args.out:
        from ..io_safety import atomic_path
        from ..reporting.figures import FIGURE_SUFFIXES, plot_pareto

        suffix = os.path.splitext(args.out)[1].lower()
        if suffix not in FIGURE_SUFFIXES:
            raise ConfigError(f"--out {args.out!r}: figure suffix must be one of {', '.join(FIGURE_SUFFIXES)}")
        with atomic_path(args.out, option="--out", suffix=suffix) as tmp:
            plot_pareto(summaries, tmp, objectives=objectives, color=args.color, xscale=args.xscale,
                        yscale=args.yscale)
    if args.json:
        out = {
            "store": args.store,
            "objectives": [str(o) for o in objectives],
            "front": [dict(summaries[i], label=labels[i]) for i in front],
            "n_points": len(summaries),
        }
        if args.out:
            out["figure"] = args.out
        print(json.dumps(out, indent=2))
        return 0
    shown = front if not args.all else sorted(range(len(summaries)), key=lambda i: (i not in front, i))
    extra = [o.key for o in objectives]
    header, body = summary_columns([summaries[i] for i in shown], [labels[i] for i in shown], extra=extra)
    if args.all:
        header = ["front"] + header
        fset = set(front)
        body = [["*" if i in fset else ""] + row for i, row in zip(shown, body)]
    print(
        f"Pareto front of {args.store}: {len(front)} of {len(summaries)} points "
        f"({', '.join(str(o) for o in objectives)}; mean ± std over seeds)"
    )
    print(text_table(header, body))
    if args.out:
        print(f"figure: {args.out}")
    return 0

"""``amssim sweep``: run a grid of configurations x seeds into a resumable result store."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..run.options import MODES

NAME = "sweep"
DEFAULT_DEVICE = "abfp-paper"  #: same default as ``amssim simulate``
HELP = "run a grid of --set overrides x noise seeds into a resumable result store"
DESCRIPTION = """\
Run TRACE for every point of a grid (the cartesian product of the --grid
arguments, or a TOML sweep file) and several noise seeds per point, appending
one row per (point, seed) to a JSON-lines store. Appends are atomic: a sweep
that is killed and started again runs only the missing (point, seed) pairs.
Prints mean and standard deviation over seeds per point.

example: amssim sweep workloads/fsdd-cnn --grid numerics.tile_width=8,32,128 \\
             --grid numerics.gain=1,2,4,8,16 --seeds 10 --store fsdd.jsonl --workers 2
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's line breaks; shows a default only when there is one
    (not for None/False/[]), so help texts that explain their default stay clean."""

    def _get_help_string(self, action):
        if action.default in (None, False, []) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = HelpFormatter
    parser.add_argument("trace", nargs="?", help="trace directory (may come from --sweep-file)")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="dotted device-model key and its values, e.g. numerics.gain=1,2,4,8 (repeatable; "
        "the sweep is the cartesian product)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fixed override applied to every point (repeatable)",
    )
    parser.add_argument("--sweep-file", metavar="FILE.toml", help="TOML sweep file ([grid], [set], [[points]], seeds)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="noise seeds per point (the ABFP paper averages 10); default: the sweep file's, else 1",
    )
    parser.add_argument("--seed-base", type=int, default=0, metavar="S", help="first seed (seeds S..S+N-1)")
    parser.add_argument(
        "--device",
        default=None,
        metavar="NAME|FILE",
        help=f"device model name or TOML file (default: the sweep file's, else {DEFAULT_DEVICE})",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="run mode (default: the sweep file's, else accuracy)",
    )
    parser.add_argument(
        "--store",
        default=None,
        metavar="FILE",
        help="result store, JSON lines (default: <trace name>.sweep.jsonl in the current directory)",
    )
    parser.add_argument("--executor", choices=("local", "dask"), default="local", help="where runs execute")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: start a local Dask cluster)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to try reaching --scheduler before giving up (exit 2)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes (local) or local-cluster workers (dask); 1 runs in this process",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the points and what would run, run nothing")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failing run")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    # testing hooks (see amssim.sweep.engine): replace run_point / validate_overrides
    parser.add_argument("--runner", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--validator", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dask-threads", action="store_true", help=argparse.SUPPRESS)


def build_spec(args):
    """SweepSpec from the arguments and the optional sweep file."""
    from ..errors import ConfigError
    from ..sweep.engine import SweepSpec
    from ..sweep.grid import build_points, load_sweep_file, parse_grid_arg, parse_set_arg, seed_list

    sf = load_sweep_file(args.sweep_file) if args.sweep_file else None
    trace = args.trace or (sf.trace if sf else None)
    if not trace:
        raise ConfigError("no TRACE given (positional argument or 'trace' in the sweep file)")
    grid = list(sf.grid) if sf else []
    grid += [parse_grid_arg(g) for g in args.grid]
    fixed = dict(sf.fixed) if sf else {}
    for text in args.set:
        k, v = parse_set_arg(text)
        if k in fixed:
            raise ConfigError(f"--set {text!r}: key {k!r} is already set")
        fixed[k] = v
    points = build_points(grid=grid, fixed=fixed, points=sf.points if sf else ())
    if not grid and not (sf and sf.points) and not args.set and not (sf and sf.fixed):
        raise ConfigError("empty sweep: give at least one --grid KEY=V1,V2,... or a --sweep-file")
    if args.seeds is not None:
        seeds = seed_list(args.seeds, base=args.seed_base)
    elif sf and sf.seeds:
        seeds = sf.seeds
    else:
        seeds = seed_list(1, base=args.seed_base)
    from ..limits import MAX_SWEEP_RUNS, check_count

    check_count(len(points) * len(seeds), MAX_SWEEP_RUNS, "the sweep's number of runs (points x seeds)")
    device = args.device or (sf.device if sf else None) or DEFAULT_DEVICE
    mode = args.mode or (sf.mode if sf else None) or "accuracy"
    return SweepSpec(trace=trace, device=device, mode=mode, points=tuple(points), seeds=seeds)


def default_store_path(trace: str) -> str:
    name = os.path.basename(os.path.normpath(trace)) or "sweep"
    return f"{name}.sweep.jsonl"


def run(args) -> int:
    from tqdm import tqdm

    from ..sweep.engine import default_validator, raise_for_failures, run_sweep, validate_points
    from ..sweep.executors import make_executor
    from ..sweep.store import ResultStore
    from ..sweep.summary import aggregate, point_labels
    from ..sweep.tables import summary_columns, text_table

    spec = build_spec(args)
    store_path = args.store or default_store_path(spec.trace)
    runner = args.runner
    validator = args.validator or default_validator()
    validate_points(spec, validator)  # bad keys/values: exit 2 before the store is touched
    if args.dry_run:
        store = ResultStore(store_path) if os.path.exists(store_path) else None
        keys = [spec.key_of(p) for p in spec.points]
        plan = [
            {"overrides": dict(p), "point_key": k, "seeds_to_run": [s for s in spec.seeds if not store or (k, s) not in store]}
            for p, k in zip(spec.points, keys)
        ]
        if args.json:
            print(json.dumps({"store": store_path, "points": plan}, indent=2))
        else:
            for item in plan:
                print(f"{item['point_key']}  {item['overrides']}  seeds to run: {item['seeds_to_run']}")
        return 0

    # the executor first: an unreachable scheduler must not create a store
    executor = make_executor(
        args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        dask_processes=not args.dask_threads,
        connect_timeout_s=args.connect_timeout,
    )
    try:
        store = ResultStore(store_path, writable=True)
    except BaseException:
        executor.close()
        raise
    with store:
        for w in store.warnings:
            print(f"amssim sweep: warning: {w}", file=sys.stderr)
        bar = None

        def on_start(n_todo, n_done):
            nonlocal bar
            bar = tqdm(total=n_todo, desc="sweep", unit="run", file=sys.stderr, disable=None, leave=False)

        def on_result(row):
            if bar is not None:
                bar.update(1)

        try:
            report = run_sweep(
                spec,
                store,
                executor=executor,
                runner=runner,
                validator=validator,
                on_start=on_start,
                on_result=on_result,
                fail_fast=args.fail_fast,
            )
        finally:
            if bar is not None:
                bar.close()
            executor.close()
        keys = {spec.key_of(p) for p in spec.points}
        summaries = [s for s in aggregate(store.rows) if s["point_key"] in keys]

    labels = point_labels(summaries)
    if args.json:
        out = {
            "store": store_path,
            "total": report.total,
            "already_done": report.already_done,
            "ran": report.ran,
            "failed": [
                {"overrides": f.task.overrides_dict, "seed": f.task.seed, "error": f.message,
                 "error_type": f.error_type, "bad_input": f.bad_input}
                for f in report.failures
            ],
            "points": [dict(s, label=lab) for s, lab in zip(summaries, labels)],
        }
        print(json.dumps(out, indent=2))
    else:
        print(
            f"store {store_path}: {len(spec.points)} points x {len(spec.seeds)} seeds = {report.total} runs; "
            f"{report.already_done} already stored, {report.ran} ran now, {len(report.failures)} failed"
        )
        if summaries:
            print(text_table(*summary_columns(summaries, labels)))
    raise_for_failures(report)
    return 0

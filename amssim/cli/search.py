"""``amssim search``: the cheapest (per-layer) configuration that meets an accuracy target."""

from __future__ import annotations

import json
import os

from ._common import add_set_option, fmt_num, parse_sets, print_json, table

NAME = "search"
HELP = "find the cheapest per-layer configuration that keeps accuracy within a target loss"
DESCRIPTION = (
    "Search the configurations of --space (each KEY=V1,V2,... a device key such as "
    "numerics.adc_bits, numerics.gain, numerics.tile_width, or run.format) for the lowest "
    "energy per inference whose accuracy stays within --target-loss of float32 (relative: "
    "accuracy / fp32 >= 1 - target). First Hill et al.'s fast search over uniform "
    "configurations (R^2 of the last layer on --proxy-inputs samples, a linear R^2 -> accuracy "
    "model fitted on --calib-points full evaluations, verify and step one value up/down), then "
    "per-layer configurations by a seeded genetic search and a greedy baseline. Writes the "
    "chosen configuration as a run configuration (`amssim simulate TRACE --config FILE`), every "
    "full evaluation to a sweep store (`amssim pareto STORE`) and a JSON summary.")


def register(p) -> None:
    p.add_argument("trace", metavar="TRACE", help="trace directory with labels (e.g. workloads/fsdd-cnn)")
    p.add_argument("--device", default="abfp-paper", help="device model name or .toml path")
    p.add_argument("--space", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a searched key and its values (repeatable; the grid is their product)")
    p.add_argument("--target-loss", default="1%",
                   help="allowed loss relative to float32: 1%% or 0.01 (default 1%%)")
    p.add_argument("--method", action="append", choices=("fast", "genetic", "greedy"), default=None,
                   help="search methods (repeatable; default all three; fast = uniform only)")
    p.add_argument("--proxy-inputs", type=int, default=10, help="samples for the R^2 proxy (default 10)")
    p.add_argument("--calib-points", type=int, default=4,
                   help="full evaluations that fit the R^2 -> accuracy model (default 4)")
    p.add_argument("--seeds", type=int, default=1, help="noise seeds per full evaluation (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and of the genetic search")
    p.add_argument("--population", type=int, default=16, help="GA population (default 16)")
    p.add_argument("--generations", type=int, default=12, help="GA generations (default 12)")
    p.add_argument("--exhaustive", action="store_true",
                   help="also fully evaluate every uniform option (the oracle for the fast search)")
    add_set_option(p)
    p.add_argument("--out", metavar="FILE", default="search-config.toml",
                   help="chosen configuration (run configuration TOML; default search-config.toml)")
    p.add_argument("--store", metavar="FILE", help="sweep store of the full evaluations "
                   "(default: OUT with .jsonl); an existing store is reused, so a search resumes")
    p.add_argument("--summary", metavar="FILE", help="JSON summary (default: OUT with .json)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from ..errors import SearchError
    from ..run import write_run_config
    from ..search import GaSettings, chosen_run_config, run_search
    from ..sweep.store import ResultStore

    from ..io_safety import atomic_write, check_output_file

    if args.seeds < 1:
        raise SearchError(f"--seeds {args.seeds}: must be >= 1")
    for opt, v, lo in (("--calib-points", args.calib_points, 2), ("--proxy-inputs", args.proxy_inputs, 1),
                       ("--population", args.population, 2), ("--generations", args.generations, 1)):
        if v < lo:
            raise SearchError(f"{opt} {v}: must be >= {lo}")
    overrides = parse_sets(args.overrides)
    check_output_file(args.out, "--out")
    stem = os.path.splitext(args.out)[0]
    store_path = args.store or stem + ".jsonl"
    summary_path = args.summary or stem + ".json"
    check_output_file(summary_path, "--summary")
    if os.path.lexists(store_path) and not os.path.isfile(store_path):
        raise SearchError(f"--store {store_path!r}: exists and is not a regular file")
    ga = GaSettings(population=args.population, generations=args.generations)
    methods = tuple(dict.fromkeys(args.method or ("fast", "genetic", "greedy")))
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    from ..search.space import parse_space

    # the space is checked before the store is created: bad input leaves no files behind
    space = parse_space(list(args.space), args.device, base_overrides=overrides,
                        per_layer=any(m != "fast" for m in methods))
    with ResultStore(store_path, writable=True) as store:
        rep = run_search(args.trace, space=space, device=args.device, overrides=overrides,
                         target_loss=args.target_loss, methods=methods,
                         proxy_inputs=args.proxy_inputs, calib_points=args.calib_points,
                         seeds=seeds, seed=args.seed, ga=ga, exhaustive=args.exhaustive,
                         store=store)
    rc = chosen_run_config(rep, device=args.device, overrides=overrides)
    write_run_config(args.out, rc, header=f"amssim search on {rep.trace}: {rep.chosen_method}, "
                                          f"target loss {100 * rep.target_loss:g} %")
    d = rep.to_dict()
    d.update(config_file=args.out, store=store_path)
    d = _finite(json.loads(json.dumps(d, default=str)))
    atomic_write(summary_path, json.dumps(d, indent=2, allow_nan=False), option="--summary")
    if args.json:
        print_json(d)
    else:
        print(render(rep, args.out, store_path, summary_path))
    return 0


def _finite(obj):
    """NaN/inf (e.g. an undefined correlation) -> None, so the summary is valid JSON."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def render(rep, out, store, summary) -> str:
    from ..io_safety import escape

    return escape_lines(_render(rep, out, store, summary), escape)


def escape_lines(text: str, escape) -> str:
    return "\n".join(escape(line) for line in text.split("\n"))


def _render(rep, out, store, summary) -> str:
    f = rep.fast
    lines = [f"trace {rep.trace}  device {rep.device}  target: >= {100 * (1 - rep.target_loss):.2f} % "
             f"of float32 ({100 * rep.fp32_accuracy:.2f} %)",
             f"fast (uniform): {', '.join(f'{k}={v}' for k, v in f.option.items())}  energy "
             f"{f.energy_j * 1e6:.4g} uJ  accuracy {100 * f.accuracy_norm:.2f} % of fp32  "
             f"(R^2 model: acc = {f.model.intercept:.3f} + {f.model.slope:.3f} R^2, r={f.model.r_value:.3f})"]
    if rep.exhaustive:
        ex = rep.exhaustive
        lines.append(f"exhaustive: {ex['evaluations']} uniform options, pick "
                     f"{ex['option']} -> same as fast: {ex['same_pick']}")
    rows = [[m.method, m.energy_j * 1e6, 100 * m.accuracy_norm, 100 * (1 - m.energy_j / f.energy_j),
             m.proxy_evals] for m in rep.mixed]
    if rows:
        lines += ["", table(rows, ["per-layer", "energy_uJ", "acc_%fp32", "saved_%", "proxy_runs"])]
    lines += ["", f"chosen: {rep.chosen_method}, {rep.chosen_energy_j * 1e6:.4g} uJ/inference, "
              f"{100 * rep.energy_saved_vs_uniform:.1f} % below the best uniform configuration; "
              f"{rep.full_evals} full evaluations, {rep.proxy_evals} proxy runs, "
              f"{fmt_num(rep.wall_time_s, '.1f')} s",
              f"wrote {out} (amssim simulate {rep.trace} --config {out}), {store} "
              f"(amssim pareto {store}), {summary}"]
    return "\n".join(lines)

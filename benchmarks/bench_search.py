"""Configuration search benchmark (issue 9).

For each built-in workload: Hill et al.'s fast search (R^2 proxy on 10 inputs + a
linear model + verification) against the exhaustive sweep of the same uniform space
(every option fully evaluated), each timed in this process with its own caches; then
the per-layer genetic and greedy searches. Prints the full evaluations each needed,
the wall-time ratio, whether the fast search picked the exhaustive sweep's
configuration, and the energy saved per inference by the per-layer configuration
against the best uniform one at the same accuracy target.

Hill et al. report 170x faster than exhaustive with the same pick (AlexNet, 10 inputs).

Run: ``python benchmarks/bench_search.py [--workload fsdd-cnn] [--target 1%]``.
"""

from __future__ import annotations

import argparse
import os
import time

from _bench import record
from amssim.search import (GaSettings, Ladders, SearchContext, exhaustive_search, fast_search,
                           genetic_search, greedy_search, parse_space, parse_target)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = ["numerics.tile_width=32,128", "numerics.gain=1,2,4,8", "numerics.adc_bits=6,7,8"]


def bench(workload: str, target: float, space: list[str]) -> None:
    trace = os.path.join(REPO, "workloads", workload)
    sp = parse_space(space, "abfp-paper", per_layer=True)

    t0 = time.perf_counter()
    ctx = SearchContext(trace)
    fast = fast_search(ctx, sp, target)
    t_fast = time.perf_counter() - t0
    n_fast = ctx.full_lookups

    t0 = time.perf_counter()
    oracle = SearchContext(trace)
    opt, e_opt, _ = exhaustive_search(oracle, sp, target)
    t_ex = time.perf_counter() - t0

    print(f"{workload}: {sp.size} uniform options, target loss {100 * target:g} %")
    record("fast search full evaluations / options", workload, f"{n_fast}/{sp.size}", unit="count",
           target="fewer, same pick")
    record("fast search same pick as exhaustive", workload, str(opt == fast.option), unit="bool", target="True")
    record("exhaustive / fast search wall time", workload, round(t_ex / t_fast, 2), unit="x", target="")
    print(f"  fast search: {n_fast} full evaluations, {t_fast:.1f} s; exhaustive: {sp.size} full "
          f"evaluations, {t_ex:.1f} s; speed-up {t_ex / t_fast:.2f}x; same pick: {opt == fast.option}")
    print(f"  uniform pick {fast.option}: {fast.energy_j * 1e6:.4g} uJ/inference, "
          f"{100 * fast.accuracy_norm:.2f} % of fp32 (exhaustive best: {opt}, "
          f"{(e_opt or float('nan')) * 1e6:.4g} uJ)")
    lad = Ladders(ctx, sp)
    for name, fn in (("genetic", lambda: genetic_search(ctx, sp, target, fast.model, seed=0,
                                                        settings=GaSettings(),
                                                        seeds_genomes=[lad.genome_of(fast.option)],
                                                        ladders=lad)),
                     ("greedy", lambda: greedy_search(ctx, sp, target, fast.model, ladders=lad))):
        before, t0 = ctx.full_lookups, time.perf_counter()
        r = fn()
        print(f"  {name}: {r.energy_j * 1e6:.4g} uJ/inference ({100 * (1 - r.energy_j / fast.energy_j):+.1f} % "
              f"saved vs uniform), {100 * r.accuracy_norm:.2f} % of fp32, {r.proxy_evals} proxy runs, "
              f"{ctx.full_lookups - before} more full evaluations, {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", action="append", default=None)
    ap.add_argument("--target", default="1%")
    args = ap.parse_args()
    for w in args.workload or ["fsdd-cnn", "digits-resnet"]:
        bench(w, parse_target(args.target), SPACE)


if __name__ == "__main__":
    main()

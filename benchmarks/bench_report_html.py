"""HTML explorer build time and size for a large store (issue 18).

Writes a store of ``--points`` configurations x 2 seeds with the tests' fake runner
(a Table-II-like accuracy surface, 3 layers; ``--layers N`` pads every result to N
layers), then times, in this process:

- baseline: reading the store and aggregating it over seeds (what every report does);
- ``write_html_report`` (the self-contained page, plotly.js inlined);
- ``write_report`` (markdown and the five static figures).

Prints seconds, the HTML/baseline ratio and the file size.

Run: ``python benchmarks/bench_report_html.py [--points 1000] [--layers 3]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

import sweep_fake_runner as fake  # noqa: E402

from amssim.reporting.explorer import plotly_js, write_html_report  # noqa: E402
from amssim.reporting import write_report  # noqa: E402
from amssim.sweep import ResultStore, SweepSpec, aggregate, build_points, run_sweep  # noqa: E402


def make_store(path: str, n_points: int, n_layers: int) -> int:
    tiles, gains = ["8", "16", "32", "64", "128"], ["1", "2", "4", "8", "16"]
    bits = [str(b) for b in range(4, 12)]
    lsb = [str(v) for v in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)]
    grid = [("numerics.tile_width", tiles), ("numerics.gain", gains), ("numerics.adc_bits", bits),
            ("noise.lsb", lsb)]
    points = tuple(build_points(grid=grid))[:n_points]

    def runner(trace, device, overrides, seed, mode="accuracy"):
        res = fake.run_point(trace, device, overrides, seed, mode)
        base = res["layers"]
        res["layers"] = [dict(base[k % len(base)], name=f"layer{k}") for k in range(max(n_layers, 1))]
        return res

    spec = SweepSpec(trace="wl/bench", device="dev", mode="full", points=points, seeds=(0, 1))
    with ResultStore(path, writable=True) as st:
        run_sweep(spec, st, runner=runner, validator=fake.validate_overrides)
    return len(points)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "s.jsonl")
        n = make_store(store, args.points, args.layers)
        t0 = time.perf_counter()
        summaries = aggregate(ResultStore(store).rows)
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = write_html_report(store, os.path.join(d, "report.html"))
        t_html = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_report(store, os.path.join(d, "rep"))
        t_md = time.perf_counter() - t0
        print(f"store: {n} configurations x 2 seeds ({len(summaries)} aggregated), {args.layers} layers per result, "
              f"{os.path.getsize(store) / 1e6:.1f} MB")
        print(f"baseline (read + aggregate): {t_base:.2f} s")
        from _bench import record
        record("HTML explorer / read+aggregate", f"{n} points", round(t_html / t_base, 1), unit="x", target="")
        record("markdown report / read+aggregate", f"{n} points", round(t_md / t_base, 1), unit="x", target="")
        print(f"HTML explorer: {t_html:.2f} s ({t_html / t_base:.1f}x baseline), {res.n_bytes / 1e6:.2f} MB "
              f"(plotly.js {len(plotly_js()[0].encode()) / 1e6:.2f} MB of it)")
        print(f"markdown report + 5 figures: {t_md:.2f} s ({t_md / t_base:.1f}x baseline)")


if __name__ == "__main__":
    main()

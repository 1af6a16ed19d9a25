"""Benchmark: end-to-end evaluation of each built-in workload, ABFP vs float32.

For every ``workloads/*/manifest.json`` with values, time ``evaluate`` with the
ABFP backend (n=128, 8/8/8 bits, G=8, uniform noise +-0.5 LSB) and with the
float32 backend, by the same executor in the same process, and print the ratio
(target <= 3). Also reported: the ABFP run without the differential float32
reference (``differential=False``).

    python benchmarks/bench_executor.py [--limit N] [--batch-size B] [--repeat R]
"""

from __future__ import annotations

import argparse
import glob
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    from amssim.signal import AbfpConfig
    from amssim.trace import AbfpBackend, Float32Backend, evaluate, load_trace

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="samples per workload (default: all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=2, help="timed repetitions (best is reported)")
    ap.add_argument("--workloads", default=os.path.join(ROOT, "workloads"))
    a = ap.parse_args(argv)
    cfg = AbfpConfig(tile_width=128, input_bits=8, weight_bits=8, adc_bits=8, gain=8.0, noise="uniform",
                     noise_lsb=0.5)
    paths = sorted(glob.glob(os.path.join(a.workloads, "*", "manifest.json")))
    print(f"{'workload':<20} {'samples':>7} {'fp32 s':>8} {'abfp s':>8} {'ratio':>6} {'no-diff':>8} "
          f"{'fp32 acc':>9} {'abfp acc':>9}")
    worst = 0.0
    for p in paths:
        t = load_trace(os.path.dirname(p))
        if not t.has_values:
            continue
        kw = dict(batch_size=a.batch_size, limit=a.limit)
        evaluate(t, AbfpBackend(cfg, seed=0), **dict(kw, limit=min(a.batch_size, t.num_samples)))  # JIT warm-up
        t32, r32 = _best(lambda: evaluate(t, Float32Backend(), **kw), a.repeat)
        tab, rab = _best(lambda: evaluate(t, AbfpBackend(cfg, seed=0), **kw), a.repeat)
        tnd, _ = _best(lambda: evaluate(t, AbfpBackend(cfg, seed=0), differential=False, **kw), a.repeat)
        worst = max(worst, tab / t32)
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        print(f"{t.name:<20} {r32.num_samples:>7} {t32:>8.3f} {tab:>8.3f} {tab / t32:>6.2f} {tnd / t32:>8.2f} "
              f"{fmt(r32.accuracy):>9} {fmt(rab.accuracy):>9}")
    if not paths:
        print("no workloads found under", a.workloads)
    else:
        print(f"worst ABFP/float32 ratio: {worst:.2f} (target <= 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

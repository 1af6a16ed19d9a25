"""Quantisation throughput of each format family vs ``np.round(x)`` (same process).

    python benchmarks/bench_formats.py [--n 16777216] [--repeat 3] [--formats a,b,...]

Prints elements/s and the time ratio against the baseline ``np.round(x)`` on the same
float32 array (target: every family within 10x). Each timing is the best of
``--repeat`` runs after a JIT warm-up on a small array; the baseline is re-timed
beside every format and the ratio uses those interleaved best times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _bench import record
from amssim.formats import quantize

DEFAULT = ["fp32", "fp_e4m3", "fp8_e4m3", "fp8_e5m2", "bf16", "int8", "int8_pc", "bfp_m4_g16",
           "mxfp8_e4m3", "mxfp4_e2m1", "mxint8", "abfp_8_n128", "posit8_1", "posit16_2",
           "lp8_1_3_2", "lp16_1_8_0"]
STOCHASTIC = ["fp8_e4m3", "bfp_m4_g16", "mxfp4_e2m1", "posit8_1", "lp8_1_3_2"]


def best_time(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24, help="number of float32 values (default 16M)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per format (best is kept)")
    ap.add_argument("--formats", default=",".join(DEFAULT), help="comma-separated format names")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    cols = 4096
    x = rng.standard_normal((args.n // cols, cols), dtype=np.float32)
    small = x[:8]
    fmts = [f for f in args.formats.split(",") if f]
    for f in fmts:  # JIT warm-up (compile or load the cache)
        quantize(small, f)
    for f in STOCHASTIC:
        quantize(small, f, rounding="stochastic", seed=0)
    base = best_time(lambda: np.round(x), args.repeat)
    print(f"{x.size} float32 values; baseline np.round(x): {base * 1e3:.1f} ms "
          f"({x.size / base / 1e6:.0f} M elements/s)")
    print(f"{'format':<22} {'rounding':<13} {'ms':>8} {'Melem/s':>9} {'ratio':>7}")
    worst = 0.0
    runs = [(f, "nearest_even") for f in fmts] + [(f, "stochastic") for f in STOCHASTIC if f in fmts]
    for f, mode in runs:
        seed = 0 if mode == "stochastic" else None
        # re-time the baseline right beside each format (the machine is shared)
        t, tb = np.inf, np.inf
        for _ in range(args.repeat):
            tb = min(tb, best_time(lambda: np.round(x), 1))
            t = min(t, best_time(lambda: quantize(x, f, rounding=mode, seed=seed), 1))
        ratio = t / tb
        worst = max(worst, ratio)
        flag = "" if ratio <= 10 else "  > 10x"
        print(f"{f:<22} {mode:<13} {t * 1e3:8.1f} {x.size / t / 1e6:9.0f} {ratio:7.2f}{flag}")
        record("quantize / np.round", f"{f} {mode}", round(ratio, 2), target="<= 10")
    print(f"worst ratio: {worst:.2f}x (target <= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

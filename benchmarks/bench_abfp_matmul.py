"""Benchmark: abfp_matmul vs numpy float32 x @ w.T in the same process.

Run: python benchmarks/bench_abfp_matmul.py [--quick] [--skip-big]
Targets (issue 2): ratio <= 2.0 at n = 128, <= 4 at n = 32 (8/8/8 bits, G = 8,
uniform noise 0.5 LSB); a 4096^3 product with peak RSS < 2 GB.
Thread counts follow NUMBA_NUM_THREADS / OPENBLAS_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from amssim import AbfpConfig, abfp_matmul


def best_of(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-big", action="store_true", help="skip the 4096^3 memory run")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cases = [((1024, 1024, 1024), 128), ((256, 4096, 1024), 128), ((4096, 768, 768), 128),
             ((1024, 1024, 1024), 32), ((1024, 1024, 1024), 8)]
    print(f"{'M,K,N':>16} {'n':>4} {'numpy ms':>9} {'abfp ms':>9} {'ratio':>6} {'peak MB':>8}")
    for (M, K, N), n in cases:
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = rng.standard_normal((N, K)).astype(np.float32)
        cfg = AbfpConfig(tile_width=n, input_bits=8, weight_bits=8, adc_bits=8, gain=8.0,
                         noise="uniform", noise_lsb=0.5)
        abfp_matmul(x, w, cfg)  # warm-up (numba compile / cache load)
        x @ w.T
        t_np = best_of(lambda: x @ w.T, args.repeats)
        t_ab = best_of(lambda: abfp_matmul(x, w, cfg), args.repeats)
        tracemalloc.start()
        abfp_matmul(x, w, cfg)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{M},{K},{N}".rjust(16) + f" {n:4d} {1e3 * t_np:9.1f} {1e3 * t_ab:9.1f} "
              f"{t_ab / t_np:6.2f} {peak:8.1f}")
    if not args.skip_big:
        M = K = N = 4096
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = rng.standard_normal((N, K)).astype(np.float32)
        cfg = AbfpConfig(tile_width=128, gain=8.0, noise="uniform", noise_lsb=0.5)
        t = time.perf_counter()
        abfp_matmul(x, w, cfg)
        dt = time.perf_counter() - t
        t = time.perf_counter()
        x @ w.T
        dt_np = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
        print(f"4096^3 n=128: abfp {dt:.2f} s, numpy {dt_np:.2f} s, ratio {dt / dt_np:.2f}, "
              f"peak RSS of the process {rss:.0f} MB (inputs 128 MB, output 64 MB)")


if __name__ == "__main__":
    main()

"""Benchmark: abfp_matmul vs numpy float32 ``x @ w.T`` in the same process (issue 15).

Run: python benchmarks/bench_abfp_matmul.py [--rounds 7] [--skip-big]
Targets (issue 15; 8/8/8 bits, G = 8, uniform noise 0.5 LSB): ratio <= 1.5 at n = 128
(all shapes, 4096^3 included), <= 3 at n = 32, <= 8 at n = 8. Each ratio is the median
over rounds of (abfp time / numpy time), the two timed back to back. Thread counts
follow NUMBA_NUM_THREADS / OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import resource
import tracemalloc

import numpy as np

from _bench import interleaved, median, median_ratio, record, threads
from amssim import AbfpConfig, abfp_matmul

TARGET = {128: 1.5, 32: 3.0, 8: 8.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--skip-big", action="store_true", help="skip the 4096^3 product")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cases = [((1024, 1024, 1024), 128), ((256, 4096, 1024), 128), ((4096, 768, 768), 128),
             ((1024, 1024, 1024), 32), ((1024, 1024, 1024), 8)]
    if not args.skip_big:
        cases.append(((4096, 4096, 4096), 128))
    print(f"threads: {threads()}; median of {args.rounds} interleaved rounds")
    print(f"{'M,K,N':>16} {'n':>4} {'numpy ms':>9} {'abfp ms':>9} {'ratio':>6} {'target':>6} {'peak MB':>8}")
    for (M, K, N), n in cases:
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = rng.standard_normal((N, K)).astype(np.float32)
        cfg = AbfpConfig(tile_width=n, input_bits=8, weight_bits=8, adc_bits=8, gain=8.0,
                         noise="uniform", noise_lsb=0.5)
        abfp_matmul(x, w, cfg)  # warm-up (numba compile / cache load)
        x @ w.T
        big = M * K * N >= 4096**3
        t = interleaved({"numpy": lambda: x @ w.T, "abfp": lambda: abfp_matmul(x, w, cfg)},
                        max(3, args.rounds // 2) if big else args.rounds)
        ratio = median_ratio(t, "abfp", "numpy")
        tracemalloc.start()
        abfp_matmul(x, w, cfg)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        tgt = TARGET[n]
        print(f"{M},{K},{N}".rjust(16) + f" {n:4d} {1e3 * median(t['numpy']):9.1f} {1e3 * median(t['abfp']):9.1f} "
              f"{ratio:6.2f} {tgt:6.1f} {peak:8.1f}")
        case = f"{M}x{K}x{N} n={n}"
        record("abfp_matmul / numpy x@w.T", case, round(ratio, 2), target=f"<= {tgt:g}")
        if big:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
            print(f"  4096^3: peak numpy-traced memory of one product {peak:.0f} MB (output 64 MB), "
                  f"process peak RSS {rss:.0f} MB")
            record("abfp_matmul memory", "4096^3 traced peak", round(peak), unit="MB",
                   target="< 2 GB")


if __name__ == "__main__":
    main()

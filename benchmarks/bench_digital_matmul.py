"""Benchmark: digital_matmul (MX / FP8 / INT8 operands) vs numpy float32 ``x @ w.T`` (issue 15).

Run: python benchmarks/bench_digital_matmul.py [--rounds 7] [--formats mxfp8_e4m3,...]
Target: mxfp8_e4m3 with float32 accumulation <= 2x the float32 product. Also shown:
float64 accumulation (what the executor's DigitalBackend uses for batch invariance).
Each ratio is the median over interleaved rounds.
"""

from __future__ import annotations

import argparse

import numpy as np

from _bench import interleaved, median_ratio, record, threads
from amssim.formats import digital_matmul


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--formats", default="mxfp8_e4m3")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    shapes = [(1024, 1024, 1024), (256, 4096, 1024), (4096, 768, 768)]
    print(f"threads: {threads()}; median of {args.rounds} interleaved rounds")
    print(f"{'format':<12} {'accumulate':<10} {'M,K,N':>16} {'ratio':>6}")
    for fmt in args.formats.split(","):
        for M, K, N in shapes:
            x = rng.standard_normal((M, K)).astype(np.float32)
            w = rng.standard_normal((N, K)).astype(np.float32)
            for acc in ("fp32", "fp64"):
                digital_matmul(x, w, fmt, fmt, accumulate=acc)  # warm-up
                t = interleaved({"numpy": lambda: x @ w.T,
                                 "digital": lambda: digital_matmul(x, w, fmt, fmt, accumulate=acc)},
                                args.rounds)
                r = median_ratio(t, "digital", "numpy")
                print(f"{fmt:<12} {acc:<10} {f'{M},{K},{N}':>16} {r:6.2f}")
                record(f"digital_matmul {fmt} ({acc} acc) / numpy", f"{M}x{K}x{N}", round(r, 2),
                       target="<= 2" if acc == "fp32" else "")


if __name__ == "__main__":
    main()

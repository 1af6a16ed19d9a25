"""Benchmark: whole-network evaluation, ABFP vs float32, same executor, same process (issue 15).

For every ``workloads/*/manifest.json`` with values (and, with ``--zoo``, a ResNet-50-sized
and a BERT-base-sized model built from transformers configs with random weights and
imported with ``from_torch``), time ``evaluate`` with the float32 backend, the ABFP
backend (n=128, 8/8/8 bits, G=8, uniform noise +-0.5 LSB) and the ABFP backend without
the differential float32 reference, interleaved, and print medians of the per-round ratios.

Targets: ABFP / float32 <= 2; the differential reference adds <= 30 % (ABFP time over
ABFP time without it); peak memory (numpy allocations, tracemalloc) <= 2x float32.

    python benchmarks/bench_executor.py [--limit N] [--batch-size B] [--rounds R] [--zoo]
"""

from __future__ import annotations

import argparse
import glob
import os
import tracemalloc

from _bench import interleaved, median, median_ratio, record, threads, zoo_trace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _peak_mb(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def _zoo_traces(cache_dir, samples):
    """ResNet-50 (224x224) and BERT-base (sequence 128) with random weights, imported once."""
    import torch
    import transformers as T

    def resnet():
        m = T.ResNetForImageClassification(T.ResNetConfig(num_labels=10))  # ResNet-50 layout
        ev = torch.randn(samples, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        return m, torch.randn(2, 3, 224, 224), ev

    def bert():
        m = T.BertForSequenceClassification(T.BertConfig(num_labels=2))  # BERT-base layout
        ev = torch.randint(0, 30522, (samples, 128), generator=torch.Generator().manual_seed(1))
        return m, torch.randint(0, 30522, (2, 128)), ev

    return [zoo_trace(cache_dir, "resnet50-random", resnet), zoo_trace(cache_dir, "bert-base-random", bert)]


def main(argv=None) -> int:
    from amssim.signal import AbfpConfig
    from amssim.trace import AbfpBackend, Float32Backend, evaluate, load_trace

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="samples per workload (default: all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (medians reported)")
    ap.add_argument("--workloads", default=os.path.join(ROOT, "workloads"))
    ap.add_argument("--zoo", action="store_true", help="also ResNet-50- and BERT-base-sized models")
    ap.add_argument("--zoo-samples", type=int, default=8)
    ap.add_argument("--zoo-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "amssim-bench-zoo"))
    a = ap.parse_args(argv)
    cfg = AbfpConfig(tile_width=128, input_bits=8, weight_bits=8, adc_bits=8, gain=8.0, noise="uniform",
                     noise_lsb=0.5)
    traces = []
    for p in sorted(glob.glob(os.path.join(a.workloads, "*", "manifest.json"))):
        t = load_trace(os.path.dirname(p))
        if t.has_values:
            traces.append((t, a.limit, a.batch_size))
    if a.zoo:
        traces += [(t, None, 4) for t in _zoo_traces(a.zoo_dir, a.zoo_samples)]
    print(f"threads: {threads()}; median of {a.rounds} interleaved rounds")
    print(f"{'workload':<20} {'samples':>7} {'fp32 s':>8} {'abfp s':>8} {'ratio':>6} {'no-diff':>8} "
          f"{'diff +%':>8} {'mem x':>6}")
    for t, limit, bs in traces:
        kw = dict(batch_size=bs, limit=limit)
        evaluate(t, AbfpBackend(cfg, seed=0), **dict(kw, limit=min(bs, t.num_samples)))  # JIT warm-up
        evaluate(t, Float32Backend(), **dict(kw, limit=min(bs, t.num_samples)))
        tm = interleaved({
            "fp32": lambda: evaluate(t, Float32Backend(), **kw),
            "abfp": lambda: evaluate(t, AbfpBackend(cfg, seed=0), **kw),
            "nodiff": lambda: evaluate(t, AbfpBackend(cfg, seed=0), differential=False, **kw),
        }, a.rounds)
        r, rnd = median_ratio(tm, "abfp", "fp32"), median_ratio(tm, "nodiff", "fp32")
        diff = median_ratio(tm, "abfp", "nodiff") - 1.0
        mem = _peak_mb(lambda: evaluate(t, AbfpBackend(cfg, seed=0), **kw)) / max(
            _peak_mb(lambda: evaluate(t, Float32Backend(), **kw)), 1e-9)
        n = t.num_samples if limit is None else min(limit, t.num_samples)
        print(f"{t.name:<20} {n:>7} {median(tm['fp32']):>8.3f} {median(tm['abfp']):>8.3f} {r:>6.2f} "
              f"{rnd:>8.2f} {100 * diff:>7.0f}% {mem:>6.2f}")
        record("evaluate ABFP / float32", t.name, round(r, 2), target="<= 2")
        record("evaluate ABFP (no differential) / float32", t.name, round(rnd, 2), target="")
        record("differential reference overhead", t.name, round(100 * diff), unit="%", target="<= 30 %")
        record("evaluate peak memory ABFP / float32", t.name, round(mem, 2), target="<= 2")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

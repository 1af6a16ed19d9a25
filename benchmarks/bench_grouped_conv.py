"""Benchmark: grouped / depthwise convolutions, one backend call per op vs one per group (issue 15).

A MobileNetV2 (transformers config, 96x96 input, 10 classes, random weights; imported once
with ``from_torch`` and cached under ``--cache-dir``) is evaluated with the float32 and
the ABFP backend (n=128, 8/8/8 bits, G=8, uniform noise +-0.5 LSB), each two ways,
interleaved in one process:

* ``new``: the executor's grouped path, all groups of a convolution in one
  ``gemm_static_groups`` call (ABFP: the fused grouped kernel; float32: one stacked matmul);
* ``per-group``: the same backend behind a wrapper without ``gemm_static_groups``, so
  every group is one ``gemm`` call (the fallback loop; before this path existed the
  executor also ran one im2col per group, so the old path was slower still).

Printed (medians of per-round ratios): ABFP / float32 for both paths and new / per-group
for both backends; outputs of the two paths are checked bit-identical first.

    python benchmarks/bench_grouped_conv.py [--samples N] [--batch-size B] [--rounds R]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _bench import interleaved, median, median_ratio, record, threads, zoo_trace


class _PerGroup:
    """The wrapped backend without gemm_static_groups: one gemm call per group."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.bf16_activations = inner.bf16_activations

    def gemm(self, x, w, **kw):
        return self.inner.gemm(x, w, **kw)


def _mobilenet_v2(cache_dir, samples):
    def build():
        import torch
        import transformers as T

        m = T.MobileNetV2ForImageClassification(T.MobileNetV2Config(image_size=96, num_labels=10))
        ev = torch.randn(samples, 3, 96, 96, generator=torch.Generator().manual_seed(1))
        return m, torch.randn(2, 3, 96, 96), ev

    return zoo_trace(cache_dir, f"mobilenetv2-96-random-{samples}", build)


def main(argv=None) -> int:
    from amssim.signal import AbfpConfig
    from amssim.trace import AbfpBackend, Float32Backend, evaluate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (medians reported)")
    ap.add_argument("--cache-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "amssim-bench-zoo"))
    a = ap.parse_args(argv)
    t = _mobilenet_v2(a.cache_dir, a.samples)
    cfg = AbfpConfig(tile_width=128, input_bits=8, weight_bits=8, adc_bits=8, gain=8.0, noise="uniform",
                     noise_lsb=0.5)
    grouped = sum(1 for op in t.ops if op.kind.startswith("conv") and int(op.attrs.get("groups", 1)) > 1)
    kw = dict(batch_size=a.batch_size, limit=a.samples)
    makers = {"fp32_group": Float32Backend, "fp32_new": Float32Backend,
              "abfp_group": lambda: AbfpBackend(cfg, seed=0), "abfp_new": lambda: AbfpBackend(cfg, seed=0)}
    # warm-up (JIT) and the bit-identity check of the two paths
    outs = {k: evaluate(t, _PerGroup(mk()) if k.endswith("_group") else mk(), keep_outputs=True, **kw)
            for k, mk in makers.items()}
    for b in ("fp32", "abfp"):
        x, y = outs[f"{b}_new"], outs[f"{b}_group"]
        if not (np.array_equal(x.outputs.view(np.uint32), y.outputs.view(np.uint32)) and x.layers == y.layers):
            raise SystemExit(f"{b}: grouped path and per-group path differ")
    tm = interleaved({k: (lambda k=k, mk=mk: evaluate(t, _PerGroup(mk()) if k.endswith("_group") else mk(), **kw))
                      for k, mk in makers.items()}, a.rounds)
    print(f"threads: {threads()}; MobileNetV2 96x96, {a.samples} samples, batch {a.batch_size}, "
          f"{grouped} grouped convs; median of {a.rounds} interleaved rounds")
    print(f"{'path':<10} {'fp32 s':>8} {'abfp s':>8} {'abfp/fp32':>10}")
    for p in ("group", "new"):
        print(f"{p:<10} {median(tm[f'fp32_{p}']):>8.2f} {median(tm[f'abfp_{p}']):>8.2f} "
              f"{median_ratio(tm, f'abfp_{p}', f'fp32_{p}'):>10.2f}")
    ra, rf = median_ratio(tm, "abfp_new", "abfp_group"), median_ratio(tm, "fp32_new", "fp32_group")
    print(f"new / per-group: abfp {ra:.2f}, fp32 {rf:.2f}")
    record("grouped conv ABFP / float32", "mobilenetv2-96 new", round(median_ratio(tm, "abfp_new", "fp32_new"), 2),
           target="<= 2")
    record("grouped conv ABFP / float32", "mobilenetv2-96 per-group",
           round(median_ratio(tm, "abfp_group", "fp32_group"), 2), target="")
    record("grouped conv new / per-group path", "mobilenetv2-96 abfp", round(ra, 2), target="< 1")
    record("grouped conv new / per-group path", "mobilenetv2-96 fp32", round(rf, 2), target="< 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

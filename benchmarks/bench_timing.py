"""Timing-model benchmarks (issue 5).

1. Timing mode on shape-only ResNet-50 (224x224) and BERT-Large (seq 384), one
   inference, on the photonic-128-measured device; targets < 2 s and < 10 s. The
   topologies come from ``workloads/*.csv`` through ``amssim.trace.from_scalesim``
   when those files exist, otherwise from the public layer shapes built below.
   Scale: SCALE-Sim 3.0.0 took 8 min 47 s (527 s) on ResNet-50 on this machine
   (32x32 weight-stationary array, reference README).
2. Full mode (TimedAbfpBackend) against accuracy mode (AbfpBackend) on the
   built-in workloads; target ratio <= 1.5. Both timed in this process.

Run: ``python benchmarks/bench_timing.py [--samples N]``.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

from amssim.config import load_device
from amssim.energy import estimate_energy
from amssim.timing import GemmShape, simulate_timing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALESIM_RESNET50_S = 8 * 60 + 47


def resnet50_shapes() -> list[GemmShape]:
    """torchvision ResNet-50 v1.5 at 224x224 as im2col GEMMs (one image)."""
    ops = []

    def conv(name, hw, cin, cout, ksz):
        ops.append(GemmShape(name=name, layer=len(ops), kind="conv2d", m=hw * hw, k=cin * ksz * ksz, n=cout))

    conv("conv1", 112, 3, 64, 7)
    cin = 64
    for stage, (blocks, mid, hw) in enumerate([(3, 64, 56), (4, 128, 28), (6, 256, 14), (3, 512, 7)]):
        out = mid * 4
        for b in range(blocks):
            pre = f"layer{stage + 1}.{b}"
            in_hw = hw * 2 if (b == 0 and stage > 0) else hw
            conv(pre + ".conv1", in_hw, cin, mid, 1)
            conv(pre + ".conv2", hw, mid, mid, 3)
            conv(pre + ".conv3", hw, mid, out, 1)
            if b == 0:
                conv(pre + ".downsample", hw, cin, out, 1)
            cin = out
    ops.append(GemmShape(name="fc", layer=len(ops), kind="linear", m=1, k=2048, n=1000))
    return ops


def bert_large_shapes(seq: int = 384) -> list[GemmShape]:
    """BERT-Large (24 layers, hidden 1024, 16 heads, FFN 4096) at sequence length ``seq``."""
    ops = []

    def add(name, m, k, n, count=1, static=True, kind="linear"):
        ops.append(GemmShape(name=name, layer=len(ops), kind=kind, m=m, k=k, n=n, count=count,
                             weights_static=static))

    for i in range(24):
        for p in ("q", "k", "v"):
            add(f"l{i}.{p}", seq, 1024, 1024)
        add(f"l{i}.qk", seq, 64, seq, count=16, static=False, kind="matmul")
        add(f"l{i}.av", seq, seq, 64, count=16, static=False, kind="matmul")
        add(f"l{i}.o", seq, 1024, 1024)
        add(f"l{i}.ffn1", seq, 1024, 4096)
        add(f"l{i}.ffn2", seq, 4096, 1024)
    add("qa", seq, 1024, 2)
    return ops


def _topology(pattern: str, fallback):
    hits = sorted(glob.glob(os.path.join(REPO, "workloads", pattern)))
    if hits:
        try:
            from amssim.trace import from_scalesim

            return from_scalesim(hits[0]).gemm_ops(), os.path.relpath(hits[0], REPO)
        except Exception as exc:  # noqa: BLE001 - fall back to the built-in shapes
            print(f"  (could not import {hits[0]}: {exc}; using built-in shapes)")
    return fallback(), "built-in public layer shapes"


def bench_timing_mode():
    dev = load_device("photonic-128-measured")
    print("== timing mode (photonic-128-measured, batch 1)")
    for label, pattern, fallback, target in [
        ("ResNet-50 224x224", "*resnet50*.csv", resnet50_shapes, 2.0),
        ("BERT-Large seq 384", "*bert*large*.csv", bert_large_shapes, 10.0),
    ]:
        ops, src = _topology(pattern, fallback)
        t0 = time.perf_counter()
        t = simulate_timing(ops, dev, batch=1)
        e = estimate_energy(t, dev)
        dt = time.perf_counter() - t0
        print(f"{label}: {len(ops)} GEMM ops from {src}; {t.macs / 1e9:.2f} GMAC, {t.cycles} cycles, "
              f"latency {t.latency_s * 1e3:.3f} ms, MAC utilisation {t.mac_utilisation:.3f}, "
              f"{e.energy_j * 1e3:.2f} mJ, {e.tops:.1f} TOPS, {e.tops_per_w:.3f} TOPS/W")
        record("timing mode, one inference", label, round(dt, 3), unit="s", target=f"< {target:g} s")
        print(f"  wall {dt:.3f} s (target < {target:g} s: {'ok' if dt < target else 'MISSED'})"
              + (f"; SCALE-Sim ResNet-50 took {SCALESIM_RESNET50_S} s -> {SCALESIM_RESNET50_S / dt:.0f}x faster"
                 if "ResNet" in label else ""))


def bench_full_vs_accuracy(samples: int, repeat: int):
    from amssim.trace import load_trace
    from amssim.trace.backends import AbfpBackend
    from amssim.trace.executor import evaluate
    from amssim.timing import TimedAbfpBackend

    dev = load_device("photonic-128-measured")
    print(f"== full vs accuracy mode ({dev.name}, first {samples} samples, batch 64, best of {repeat})")
    for man in sorted(glob.glob(os.path.join(REPO, "workloads", "*", "manifest.json"))):
        tr = load_trace(os.path.dirname(man))
        if tr.num_samples < 1:
            continue
        n = min(samples, tr.num_samples)
        cfg = dev.abfp_config()
        evaluate(tr, AbfpBackend(cfg, seed=0), batch_size=64, limit=min(n, 64))  # warm-up (JIT)
        ta = tf = float("inf")
        for _ in range(repeat):  # fresh backends each time (full includes its simpy runs)
            t0 = time.perf_counter()
            a = evaluate(tr, AbfpBackend(cfg, seed=0), batch_size=64, limit=n, keep_outputs=True)
            ta = min(ta, time.perf_counter() - t0)
            timed = TimedAbfpBackend(dev, seed=0, gemm_shapes=tr.gemm_ops())
            t0 = time.perf_counter()
            f = evaluate(tr, timed, batch_size=64, limit=n, keep_outputs=True)
            tf = min(tf, time.perf_counter() - t0)
        same = bool((a.outputs == f.outputs).all())
        record("full mode / accuracy mode", tr.name, round(tf / ta, 2), target="<= 1.5")
        print(f"{tr.name}: accuracy {ta:.3f} s, full {tf:.3f} s, ratio {tf / ta:.2f} "
              f"(target <= 1.5: {'ok' if tf / ta <= 1.5 else 'MISSED'}); outputs identical: {same}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=512, help="evaluation samples for full vs accuracy")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (best time kept)")
    ap.add_argument("--skip-full", action="store_true", help="only the timing-mode benchmark")
    args = ap.parse_args(argv)
    bench_timing_mode()
    if not args.skip_full:
        bench_full_vs_accuracy(args.samples, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

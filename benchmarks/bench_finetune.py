"""Benchmark of `amssim finetune` (issue 8, item 4): none / QAT / DNF on a built-in workload.

For each device configuration: the accuracy of the original trace and of the QAT- and
DNF-finetuned traces on the device's ABFP backend, mean and std over ``--eval-seeds``
device-noise seeds (each method finetuned once with ``--seed``), plus wall time per epoch
and in total. Training data: the workload's training split (for fsdd-cnn written by
``workloads/fsdd-cnn/build.py --export-train``).

    /work/venv/bin/python benchmarks/bench_finetune.py --trace workloads/fsdd-cnn \\
        --train-data ../ft/fsdd-train.npz --set numerics.gain=2 --epochs 3 --lr 1e-4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trace", default="workloads/fsdd-cnn")
    p.add_argument("--device", default="abfp-paper")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--train-data", required=True)
    p.add_argument("--methods", default="qat,dnf")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--workdir", default=None)
    p.add_argument("--json", default=None, help="write all figures to this JSON file")
    a = p.parse_args(argv)

    from amssim.finetune import device_accuracy, finetune
    from amssim.trace import load_trace

    ov = dict(s.split("=", 1) for s in a.sets)
    work = a.workdir or tempfile.mkdtemp(prefix="bench-ft-")
    base = load_trace(a.trace)
    seeds = list(range(a.eval_seeds))
    rows = []

    def accs(tr):
        return [device_accuracy(tr, a.device, overrides=ov, seed=s) for s in seeds]

    t0 = time.perf_counter()
    acc = accs(base)
    rows.append({"method": "none", "acc": acc, "eval_s": time.perf_counter() - t0})
    print(f"none: {_fmt(acc)}", flush=True)
    for m in a.methods.split(","):
        out = os.path.join(work, f"{base.name}-{m}")
        r = finetune(base, m, a.device, overrides=ov, out=out, overwrite=True, train_data=a.train_data,
                     epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, seed=a.seed, threads=a.threads,
                     log=lambda s: print("  " + s, flush=True))
        acc = accs(out)
        rows.append({"method": m, "acc": acc, "epoch_wall_s": r.epoch_wall_s, "total_wall_s": r.total_wall_s,
                     "calibration_wall_s": r.calibration_wall_s, "losses": r.losses,
                     "fp32_after": r.fp32_accuracy_after})
        print(f"{m}: {_fmt(acc)}  epoch {statistics.mean(r.epoch_wall_s):.1f} s, total {r.total_wall_s:.1f} s",
              flush=True)
    fp32 = base.fp32_metric
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _bench import record
    for r in rows:
        if "epoch_wall_s" in r:
            record("finetune s / epoch", f"{base.name} {r['method']}", round(statistics.mean(r["epoch_wall_s"]), 1),
                   unit="s", target="")
    print(f"\n{base.name} on {a.device} {' '.join(a.sets)} (float32 {100 * fp32:.2f} %; "
          f"{a.epochs} epochs, lr {a.lr}, batch {a.batch_size}; {len(seeds)} noise seeds)\n")
    print("| finetuning | accuracy % (mean ± std) | loss vs fp32 | s / epoch | total s |")
    print("|---|---|---|---|---|")
    for r in rows:
        mu = 100 * statistics.mean(r["acc"])
        sd = 100 * statistics.pstdev(r["acc"])
        ep = f"{statistics.mean(r['epoch_wall_s']):.1f}" if "epoch_wall_s" in r else "-"
        tot = f"{r['total_wall_s']:.1f}" if "total_wall_s" in r else "-"
        print(f"| {r['method']} | {mu:.2f} ± {sd:.2f} | {100 * fp32 - mu:.2f} | {ep} | {tot} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"trace": base.name, "device": a.device, "sets": a.sets, "fp32": fp32,
                       "epochs": a.epochs, "lr": a.lr, "rows": rows}, f, indent=1)
    return 0


def _fmt(acc):
    return "[" + ", ".join(f"{100 * x:.2f}" for x in acc) + "]"


if __name__ == "__main__":
    raise SystemExit(main())

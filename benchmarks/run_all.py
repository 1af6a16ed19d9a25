"""Run every benchmark of the project on 1 and 2 threads and print one table of figures.

    python benchmarks/run_all.py [--quick] [--threads 1,2] [--only NAME,...] [--skip NAME,...]
                                 [--zoo] [--finetune-data PATH] [--json OUT]

Each benchmark runs in a fresh process per thread count with NUMBA_NUM_THREADS,
OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set; its figures (``_bench.record``) are
collected through a JSON-lines file. Ratios are medians of per-round ratios against a
baseline timed in the same process (see each script's docstring for what it compares).
The last column is the 2-thread figure over the 1-thread one (issue 15: a ratio may not
get worse by more than 20 % going from 1 to 2 threads). ``--quick`` uses fewer samples
and rounds (for a smoke run); the search/finetune/report benchmarks run once, on the
default thread count, because they measure counts and seconds rather than kernel speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _plan(a):
    q = a.quick
    per_thread = [
        ("abfp_matmul", ["bench_abfp_matmul.py"] + (["--rounds", "3"] if q else [])),
        ("digital_matmul", ["bench_digital_matmul.py"] + (["--rounds", "3"] if q else [])),
        ("executor", ["bench_executor.py"] + (["--limit", "128", "--rounds", "3"] if q else ["--limit", "256"])
         + (["--zoo"] if a.zoo else [])),
        ("grouped_conv", ["bench_grouped_conv.py"] + (["--samples", "8", "--rounds", "2"] if q else [])),
        ("formats", ["bench_formats.py"] + (["--repeat", "2"] if q else [])),
        ("timing", ["bench_timing.py"] + (["--samples", "64", "--repeat", "1"] if q else ["--samples", "256"])),
    ]
    once = [("search", ["bench_search.py"] + (["--workload", "fsdd-cnn"] if q else [])),
            ("report_html", ["bench_report_html.py"] + (["--points", "200"] if q else []))]
    if a.finetune_data:
        once.append(("finetune", ["bench_finetune.py", "--train-data", a.finetune_data, "--epochs", "1",
                                  "--eval-seeds", "2"]))
    return per_thread, once


def _run(name, cmd, threads, log):
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    env = dict(os.environ, AMSSIM_BENCH_JSON=path)
    if threads is not None:
        env.update(NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, os.path.join(HERE, cmd[0]), *cmd[1:]], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    log.write(f"===== {name} threads={threads} ({dt:.0f} s, exit {p.returncode})\n{p.stdout}{p.stderr}\n")
    log.flush()
    rows = []
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    os.unlink(path)
    if p.returncode != 0:
        rows.append({"bench": name, "case": "FAILED (see log)", "value": p.returncode, "unit": "exit",
                     "target": ""})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--skip", default="", help="comma-separated benchmark names")
    ap.add_argument("--zoo", action="store_true", help="executor: ResNet-50- and BERT-base-sized models too")
    ap.add_argument("--finetune-data", default=None, help="training data for bench_finetune.py")
    ap.add_argument("--json", default=None, help="also write all figures to this JSON file")
    ap.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "amssim-run-all.log"))
    a = ap.parse_args(argv)
    threads = [int(t) for t in a.threads.split(",") if t]
    only = {s for s in a.only.split(",") if s}
    skip = {s for s in a.skip.split(",") if s}
    per_thread, once = _plan(a)
    keep = lambda n: (not only or n in only) and n not in skip  # noqa: E731
    table: dict = {}
    order: list = []
    with open(a.log, "w") as log:
        for name, cmd in per_thread:
            if not keep(name):
                continue
            for th in threads:
                print(f"[run_all] {name}, {th} thread(s) ...", file=sys.stderr, flush=True)
                for r in _run(name, cmd, th, log):
                    key = (r["bench"], r["case"])
                    if key not in table:
                        order.append(key)
                        table[key] = {"unit": r["unit"], "target": r["target"], "by": {}}
                    table[key]["by"][th] = r["value"]
        for name, cmd in once:
            if not keep(name):
                continue
            print(f"[run_all] {name} (default threads) ...", file=sys.stderr, flush=True)
            for r in _run(name, cmd, None, log):
                key = (r["bench"], r["case"])
                order.append(key)
                table[key] = {"unit": r["unit"], "target": r["target"], "by": {"default": r["value"]}}
    cols = [str(t) for t in threads]
    head = f"{'benchmark':<46} {'case':<28} " + " ".join(f"{c + ' thr':>9}" for c in cols) + \
        f" {'default':>9} {'2/1':>6} {'unit':>6}  target"
    print(head)
    print("-" * len(head))
    fmt = lambda v: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))  # noqa: E731
    for key in order:
        e = table[key]
        by = e["by"]
        vals = [by.get(t) for t in threads]
        scale = ""
        if e["unit"] == "ratio" and isinstance(by.get(1), (int, float)) and isinstance(by.get(2), (int, float)) \
                and by[1]:
            scale = f"{by[2] / by[1]:.2f}"
        print(f"{key[0][:46]:<46} {str(key[1])[:28]:<28} " + " ".join(f"{fmt(v):>9}" for v in vals)
              + f" {fmt(by.get('default')):>9} {scale:>6} {e['unit']:>6}  {e['target']}")
    print(f"(full benchmark output: {a.log})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"bench": k[0], "case": k[1], **table[k]} for k in order], f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared helpers of the benchmarks: interleaved timing and figures for ``run_all.py``.

The machine is shared, so a ratio is measured as the MEDIAN over rounds of
(candidate time / baseline time) with the baseline re-run right before the
candidate in every round: both see the same load.

``record(...)`` appends one figure to the JSON-lines file named by the environment
variable ``AMSSIM_BENCH_JSON`` (set by ``run_all.py``); without it, it does nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import time


def interleaved(fns: dict, rounds: int) -> dict:
    """Run every callable of ``fns`` (in order) once per round; return {name: [seconds]}."""
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            out[k].append(time.perf_counter() - t0)
    return out


def median_ratio(times: dict, num: str, den: str) -> float:
    """Median over rounds of times[num][i] / times[den][i]."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


def median(xs) -> float:
    return statistics.median(xs)


def threads() -> str:
    """The thread setting of this process (NUMBA_NUM_THREADS, else 'default')."""
    return os.environ.get("NUMBA_NUM_THREADS", "default")


def record(bench: str, case: str, value, *, unit: str = "ratio", target: str = "") -> None:
    """Append one figure (a ratio, seconds, MB, ...) for run_all.py's table."""
    path = os.environ.get("AMSSIM_BENCH_JSON")
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"bench": bench, "case": case, "value": value, "unit": unit,
                            "target": target}) + "\n")


def zoo_trace(cache_dir: str, name: str, build):
    """A Hugging Face model with random weights imported with ``from_torch`` once and cached in
    ``cache_dir/name``. ``build()`` -> (model, example input, evaluation inputs); the labels
    are the model's own float32 predictions (random weights have no task)."""
    from amssim.trace import from_torch, load_trace

    d = os.path.join(cache_dir, name)
    if os.path.exists(os.path.join(d, "manifest.json")):
        return load_trace(d)
    import torch

    torch.manual_seed(0)
    hf, x, ev = build()

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, a):
            return self.inner(a).logits

    model = Logits(hf.eval()).eval()
    with torch.no_grad():
        labels = model(ev).argmax(1).numpy()
    print(f"  importing {name} into {d} ...", flush=True)
    return from_torch(model, x, ev, labels, d, name=name, overwrite=True, reference=False)

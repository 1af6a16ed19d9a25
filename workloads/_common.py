"""Shared helpers for the built-in workload build scripts (build time only).

Each ``workloads/<name>/build.py`` trains a small PyTorch model on a public dataset,
saves the trained ``state_dict`` OUTSIDE the repository (``--cache-dir``, default
``../build-cache`` next to the repository root) and exports it with
:func:`amssim.trace.from_torch` into its own directory (the committed trace).
Re-running a build script reuses the checkpoint unless ``--retrain`` is given, so the
export can be redone without training again.

Nothing here is imported by the simulator at run time.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import numpy as np

WORKLOADS_DIR = Path(__file__).resolve().parent
REPO_DIR = WORKLOADS_DIR.parent
DEFAULT_DATA = REPO_DIR.parent / "shared" / "data"
DEFAULT_CACHE = REPO_DIR.parent / "build-cache"


def make_parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"workloads/{name}/build.py", description=description)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"dataset root holding the public datasets (default: {DEFAULT_DATA}, "
                        "i.e. ../shared/data relative to the repository root)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                   help=f"where the trained state_dict is kept (default: {DEFAULT_CACHE})")
    p.add_argument("--out", type=Path, default=WORKLOADS_DIR / name,
                   help="trace directory to write (default: this workload's directory)")
    p.add_argument("--retrain", action="store_true", help="train even if a checkpoint exists")
    p.add_argument("--train-only", action="store_true", help="train (or reuse) and stop before export")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    return p


def seed_everything(seed: int, threads: int = 1) -> None:
    """Seed python, numpy and torch; deterministic torch kernels; fixed thread count."""
    import torch

    random.seed(seed)
    np.random.seed(seed)  # build scripts only; amssim itself never uses the global RNG
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def checkpoint_path(args, name: str) -> Path:
    return Path(args.cache_dir) / f"{name}-seed{args.seed}.pt"


def train_or_load(args, name: str, model, train_fn):
    """Load ``model``'s state_dict from the cache or train it with ``train_fn(model)``.

    Returns the training wall time in seconds (0.0 when the checkpoint was reused).
    """
    import torch

    ck = checkpoint_path(args, name)
    if ck.exists() and not args.retrain:
        model.load_state_dict(torch.load(ck, weights_only=True))
        print(f"[{name}] reused checkpoint {ck}")
        return 0.0
    t0 = time.perf_counter()
    train_fn(model)
    dt = time.perf_counter() - t0
    ck.parent.mkdir(parents=True, exist_ok=True)
    tmp = ck.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, ck)
    print(f"[{name}] trained in {dt:.1f} s, saved {ck}")
    return dt


@np.errstate(all="raise")
def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def torch_predict(model, x, batch: int = 256) -> np.ndarray:
    """Float32 logits of ``model`` (eval mode) on ``x`` (numpy), batched."""
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(torch.from_numpy(x[i:i + batch])).numpy())
    return np.concatenate(outs)


def install_trace(staging: Path, out_dir: Path):
    """Move the trace parts (manifest.json, tensors/, data/) of ``staging`` into ``out_dir``.

    The trace writer replaces a whole directory; the workload directories also hold their
    build script, so the trace is written to a staging directory and its parts swapped in.
    """
    import shutil

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for part in ("tensors", "data"):
        if (out_dir / part).exists():
            shutil.rmtree(out_dir / part)
        if (Path(staging) / part).exists():
            shutil.copytree(Path(staging) / part, out_dir / part)
    shutil.copy2(Path(staging) / "manifest.json", out_dir / "manifest.json.tmp")
    os.replace(out_dir / "manifest.json.tmp", out_dir / "manifest.json")
    shutil.rmtree(staging)


def export(model, example, eval_inputs, labels, out_dir: Path, *, name: str, cache_dir: Path, **kw):
    """Export with amssim's PyTorch importer into ``out_dir``; return the re-loaded Trace."""
    from amssim.trace import from_torch, load_trace

    model.eval()
    staging = Path(cache_dir) / f"{name}-export"
    from_torch(model, example, eval_inputs, labels, staging, name=name, overwrite=True, **kw)
    install_trace(staging, out_dir)
    return load_trace(out_dir)


def provenance(name: str, args, **fields) -> dict:
    """The ``source`` block of a built-in trace's manifest: how to rebuild it and from what."""
    import torch

    return {"build_script": f"workloads/{name}/build.py", "seed": int(args.seed),
            "train_torch_threads": int(args.threads), "torch_version": torch.__version__, **fields}


def dir_size_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())

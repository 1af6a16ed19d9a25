"""Write the ``appendix-a`` LAYER trace: the error study of the ABFP paper's Appendix A.

One linear layer Y = X W^T with W (768 x 768) of standard Laplace entries (location 0,
scale 1, i.e. variance 2) and recorded inputs X (400 x 768) of standard normal entries
(the paper's 16 x 25 x 768 BERT-Base-like activations, flattened to 400 vectors).
Both come from ONE seeded numpy Generator, drawn in this order::

    rng = numpy.random.default_rng(SEED)          # SEED = 20230 (documented, fixed)
    W = rng.laplace(0.0, 1.0, size=(768, 768))    # float64, then cast to float32
    X = rng.standard_normal(size=(400, 768))      # float64, then cast to float32

No bias, no labels, no metric: a layer trace reports per-layer differential error only.
No dataset is needed; the script needs only numpy and amssim.

Usage (from the repository root)::

    /work/venv/bin/python workloads/appendix-a/build.py [--out workloads/appendix-a]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

NAME = "appendix-a"
SEED = 20230
N_OUT = 768
K_IN = 768
N_VECTORS = 400  # 16 sequences x 25 tokens


def generate(seed: int = SEED):
    """(W float32 (768, 768), X float32 (400, 768)) exactly as documented above."""
    rng = np.random.default_rng(seed)
    w = rng.laplace(0.0, 1.0, size=(N_OUT, K_IN)).astype(np.float32)
    x = rng.standard_normal(size=(N_VECTORS, K_IN)).astype(np.float32)
    return w, x


def manifest(seed: int) -> dict:
    return {
        "name": NAME,
        "kind": "layer",
        "task": "layer error study (ABFP paper, Appendix A)",
        "metric": None,
        "inputs": [{"name": "x", "shape": [K_IN], "dtype": "float32"}],
        "outputs": ["y"],
        "ops": [{"name": "proj", "kind": "linear", "inputs": ["x"], "outputs": ["y"],
                 "params": {"weight": "tensors/proj.weight.npy"}, "attrs": {}}],
        "data": {"num_samples": N_VECTORS, "inputs": {"x": "data/x.npy"}, "labels": None},
        "source": {"build_script": f"workloads/{NAME}/build.py", "generator": "numpy.random.default_rng",
                   "seed": int(seed), "numpy_version": np.__version__,
                   "draws": "W = rng.laplace(0, 1, (768, 768)); X = rng.standard_normal((400, 768)); "
                            "both cast to float32",
                   "paper": "ABFP paper, Appendix A: W 768x768 standard Laplace, X 16x25x768 standard normal"},
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog=f"workloads/{NAME}/build.py", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=C.WORKLOADS_DIR / NAME,
                   help="trace directory to write (default: this workload's directory)")
    p.add_argument("--seed", type=int, default=SEED, help=f"Generator seed (default: {SEED})")
    args = p.parse_args(argv)
    from amssim.trace import load_trace, write_trace

    w, x = generate(args.seed)
    with tempfile.TemporaryDirectory(dir=Path(args.out).parent) as tmp:
        staging = Path(tmp) / "trace"
        write_trace(staging, manifest(args.seed), {"tensors/proj.weight.npy": w}, {"data/x.npy": x})
        C.install_trace(staging, args.out)
    tr = load_trace(args.out)
    print(f"[{NAME}] wrote {args.out} ({C.dir_size_bytes(args.out) / 1e6:.2f} MB): {tr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

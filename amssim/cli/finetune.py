"""``amssim finetune``: recover accuracy on the device with DNF or QAT (needs torch)."""

from __future__ import annotations

import sys
import warnings

from ._common import add_set_option, parse_sets, print_json, table

NAME = "finetune"
HELP = "finetune a trace for a device (Differential Noise Finetuning or QAT) and export it"
DESCRIPTION = (
    "Finetune the GEMM weights of TRACE-OR-MODEL (a trace directory, or an .onnx file with "
    "--eval-data) for DEVICE and write the result as a new trace (--out); `amssim simulate OUT` "
    "then shows the recovered accuracy. --method dnf: plain float32 training with noise drawn "
    "from each layer's differential histogram (float32 layer vs the device's ABFP layer on one "
    "calibration batch; 100 bins, +0.5 per bin; Basumallik et al. 2022). --method qat: the ABFP "
    "forward (bit-exact with the simulator, device noise on) with straight-through gradients. "
    "Needs PyTorch (the torch extra).")


def register(p) -> None:
    p.add_argument("trace", metavar="TRACE-OR-MODEL", help="trace directory or .onnx model")
    p.add_argument("--method", choices=("dnf", "qat"), required=True, help="finetuning method")
    p.add_argument("--device", default="abfp-paper", help="device model: name or .toml path")
    add_set_option(p)
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per step (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of shuffling and noise (default 0)")
    p.add_argument("--out", required=True, metavar="OUT_TRACE", help="finetuned trace directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_TRACE")
    p.add_argument("--train-data", metavar="FILE.npz",
                   help="training set: one array per trace input name plus 'labels' (default: the "
                        "trace's own evaluation data, with a warning that accuracy will be optimistic)")
    p.add_argument("--eval-data", metavar="FILE.npz", help="evaluation set of an .onnx model (inputs + labels)")
    p.add_argument("--dnf-layers", default="all", metavar="all|topK",
                   help="DNF: noise on all GEMM layers or the K with the largest differential std")
    p.add_argument("--dnf-refresh", type=int, default=0, metavar="N",
                   help="DNF: recompute histograms every N epochs (default 0 = never, the paper)")
    p.add_argument("--calib-samples", type=int, default=0, metavar="N",
                   help="DNF calibration batch size (default: --batch-size)")
    p.add_argument("--json", action="store_true", help="print the FinetuneResult as one JSON object")


def run(args) -> int:
    from ..finetune import finetune

    from ..io_safety import check_output_dir

    check_output_dir(args.out, "--out", trace=True, overwrite=args.overwrite)  # before any work
    log = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        res = finetune(args.trace, args.method, args.device, overrides=parse_sets(args.overrides),
                       out=args.out, train_data=args.train_data, eval_data=args.eval_data,
                       overwrite=args.overwrite, log=_warn_first(log, caught),
                       epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                       dnf_layers=args.dnf_layers, dnf_refresh_epochs=args.dnf_refresh,
                       calib_samples=args.calib_samples)
    if args.json:
        print_json(res.to_dict())
        return 0
    rows = [[i + 1, loss, s] for i, (loss, s) in enumerate(zip(res.losses, res.epoch_wall_s))]
    from ..io_safety import escape

    print(f"finetuned {escape(res.trace)} for {escape(res.device)} with {res.method.upper()} on {res.train_samples} "
          f"samples ({res.train_data})")
    print(table(rows, ["epoch", "loss", "wall_s"]))
    print(f"total {res.total_wall_s:.2f} s; float32 metric {res.fp32_accuracy_before} -> "
          f"{res.fp32_accuracy_after}")
    print(f"wrote {res.out}; run `amssim simulate {res.out} --device {args.device}"
          + "".join(f" --set {s}" for s in args.overrides) + "` for the accuracy on the device")
    return 0


def _warn_first(log, caught):
    """Print recorded warnings (e.g. optimistic data) to stderr before the first log line."""
    shown = [0]

    def flush():
        for w in caught[shown[0]:]:
            print(f"warning: {w.message}", file=sys.stderr, flush=True)
        shown[0] = len(caught)

    def f(s):
        flush()
        if log is not None:
            log(s)
    return f

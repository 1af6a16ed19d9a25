"""``amssim export-trace``: turn a model file into an amssim trace directory."""

from __future__ import annotations

import os
import sys

from ..errors import TraceError

#: a notice is printed above these sizes (far beyond the shipped workloads)
MANY_GEMMS = 10_000
MANY_MACS = 1e15

NAME = "export-trace"
HELP = "export a trace from a torch.export .pt2 program, an ONNX model or a SCALE-Sim CSV"
DESCRIPTION = (
    "Export a trace directory from MODEL.pt2 (a torch.export program saved with "
    "torch.export.save, batch axis exported as dynamic; load only .pt2 files you trust, "
    "PyTorch's loader may unpickle), MODEL.onnx (batch axis dynamic or of size 1) or "
    "TOPO.csv (a SCALE-Sim topology, convolution or GEMM layout: a shape-only trace). "
    "For .pt2/.onnx, --data names an .npz (read without pickle) holding the evaluation "
    "inputs (--input-key) and optionally integer labels (--label-key)."
)


def register(p):
    p.add_argument("source", help="model file: .pt2 (torch.export), .onnx, or .csv (SCALE-Sim)")
    p.add_argument("--out", required=True, help="trace directory to write")
    p.add_argument("--name", default=None, help="trace name (None: the source file's stem)")
    p.add_argument("--data", default=None, help=".npz with evaluation inputs and labels (.pt2/.onnx)")
    p.add_argument("--input-key", action="append", default=None,
                   help="array name(s) in --data holding the model inputs, in model order (None: x)")
    p.add_argument("--label-key", default="labels", help="array name in --data holding integer labels "
                   "(absent: no metric)")
    p.add_argument("--metric", choices=("top1", "top1_dense"), default="top1",
                   help="how labels score outputs[0]: top1 (labels (N,)) or top1_dense (labels (N, ...), "
                        "class axis 1, labels < 0 ignored)")
    p.add_argument("--limit", type=int, default=None, help="keep only the first N evaluation samples")
    p.add_argument("--no-fold-batchnorm", action="store_true", help="keep BatchNorm as its own op")
    p.add_argument("--overwrite", action="store_true", help="replace an existing trace directory")


def _load_data(args):
    from ..io_safety import escape, load_npz

    if args.data is None:
        raise TraceError("--data is required for .pt2 and .onnx sources")
    arrays = load_npz(args.data, error=TraceError, what="--data .npz file")
    keys = args.input_key or ["x"]
    for k in keys:
        if k not in arrays:
            raise TraceError(f"{escape(args.data)}: no array {escape(k)!r} (has {escape(sorted(arrays))}); "
                             "choose with --input-key")
    inputs = [arrays[k] for k in keys]
    labels = arrays.get(args.label_key)
    if args.limit is not None:
        if args.limit < 1:
            raise TraceError(f"--limit must be >= 1, got {args.limit}")
        inputs = [a[:args.limit] for a in inputs]
        labels = None if labels is None else labels[:args.limit]
    return inputs, labels


def run(args) -> int:
    from ..io_safety import check_output_dir, escape

    src = args.source
    ext = os.path.splitext(src)[1].lower()
    name = args.name or os.path.splitext(os.path.basename(src))[0]
    if not os.path.isfile(src):
        raise TraceError(f"{escape(src)}: no such file")
    check_output_dir(args.out, "--out", trace=True, overwrite=args.overwrite)
    if args.limit is not None and args.limit < 1:
        raise TraceError(f"--limit must be >= 1, got {args.limit}")
    if ext == ".csv":
        from ..trace.loader import read_scalesim

        t = read_scalesim(src, args.out, name=name, overwrite=args.overwrite)
    elif ext == ".onnx":
        from ..trace import from_onnx

        inputs, labels = _load_data(args)
        _check_onnx(src)
        with _naming(src):
            t = from_onnx(src, inputs, labels, args.out, name=name, fold_batchnorm=not args.no_fold_batchnorm,
                          metric=args.metric if labels is not None else None, overwrite=args.overwrite)
    elif ext == ".pt2":
        try:
            import torch
        except ImportError:
            raise TraceError("reading .pt2 needs PyTorch (pip install amssim[torch])") from None
        from ..trace.import_torch import from_exported

        inputs, labels = _load_data(args)
        ep = _load_exported(torch, src)
        with _naming(src):
            t = from_exported(ep, inputs, labels, args.out, name=name, fold_batchnorm=not args.no_fold_batchnorm,
                              metric=args.metric if labels is not None else None, overwrite=args.overwrite)
    else:
        raise TraceError(f"{escape(src)}: unknown source type {escape(ext)!r} (expected .pt2, .onnx or .csv)")
    gem = t.gemm_ops()
    if len(gem) > MANY_GEMMS or t.macs() > MANY_MACS:
        print(f"amssim export-trace: warning: the trace holds {len(gem):,} GEMM ops and {t.macs():.3g} "
              "MACs per inference; timing mode refuses instances above its job limit (see --max-memory)",
              file=sys.stderr)
    print(f"wrote {escape(args.out)}: trace {escape(repr(t.name))} ({t.kind}), {len(t.ops)} ops, {len(gem)} GEMM ops, "
          f"{t.macs():,} MACs/inference")
    if t.has_values:
        print(f"  {t.num_samples} evaluation samples; metric {t.metric}; float32 {t.metric or 'metric'}: "
              f"{'-' if t.fp32_metric is None else f'{t.fp32_metric:.4f}'}")
    return 0


def _load_exported(torch, src):
    """torch.export.load with the library's own logging silenced (a bad file is bad input)."""
    import contextlib
    import io
    import logging

    from ..io_safety import escape

    loggers = [logging.getLogger(n) for n in ("torch", "torch._export", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return torch.export.load(src)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad archive
        msg = escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:200]
        raise TraceError(f"{escape(src)}: not a torch.export program ({type(exc).__name__}: {msg})") from exc
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


class _naming:
    """Prefix an importer's TraceError with the model file when the message does not name it."""

    def __init__(self, src):
        self.src = src

    def __enter__(self):
        return self

    def __exit__(self, et, exc, tb):
        from ..io_safety import escape

        if exc is not None and isinstance(exc, TraceError) and self.src not in str(exc):
            raise TraceError(f"{escape(self.src)}: {exc}") from exc
        return False


def _check_onnx(src):
    """The ONNX checker (full, with shape inference) before importing: a corrupt or
    inconsistent model file is bad input, named as such."""
    from ..io_safety import escape

    try:
        import onnx
    except ImportError:
        return  # the importer reports the missing extra
    try:
        onnx.checker.check_model(src, full_check=True)
    except Exception as exc:  # noqa: BLE001 - protobuf/checker raise many types on bad bytes
        msg = escape(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:200]
        raise TraceError(f"{escape(src)}: not a valid ONNX model ({type(exc).__name__}: {msg})") from exc

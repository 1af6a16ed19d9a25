"""Traces: format (docs/architecture.md §6), loader/validator, writer, executor, importers.

>>> from amssim.trace import load_trace, evaluate, Float32Backend
>>> t = load_trace("workloads/fsdd-cnn")
>>> evaluate(t, Float32Backend()).accuracy
"""

from __future__ import annotations

from .backends import AbfpBackend, Backend, DigitalBackend, Float32Backend, GroupedBackend
from .executor import EvalResult, Executor, LayerError, evaluate, fp32_accuracy
from .loader import GemmShape, Op, Trace, build_trace, load_trace
from .ops import GEMM_KINDS, SPECS, round_bf16
from .writer import tensor_path, update_manifest, write_trace


def from_torch(*args, **kwargs):
    """Import a PyTorch model (see :func:`amssim.trace.import_torch.from_torch`)."""
    from .import_torch import from_torch as f

    return f(*args, **kwargs)


def from_onnx(*args, **kwargs):
    """Import an ONNX model (see :func:`amssim.trace.import_onnx.from_onnx`)."""
    from .import_onnx import from_onnx as f

    return f(*args, **kwargs)


def from_scalesim(*args, **kwargs):
    """Import a SCALE-Sim topology CSV (see :func:`amssim.trace.import_scalesim.from_scalesim`)."""
    from .import_scalesim import from_scalesim as f

    return f(*args, **kwargs)


__all__ = [
    "AbfpBackend", "Backend", "DigitalBackend", "Float32Backend", "GroupedBackend", "EvalResult", "Executor", "LayerError",
    "evaluate", "fp32_accuracy", "GemmShape", "Op", "Trace", "build_trace", "load_trace",
    "GEMM_KINDS", "SPECS", "round_bf16", "tensor_path", "update_manifest", "write_trace",
    "from_torch", "from_onnx", "from_scalesim",
]

"""Trace manifest schema (docs/architecture.md §6), version 1.

A trace is a directory::

    manifest.json   the document below
    tensors/*.npy   weights and constants (float32)
    data/*.npy      evaluation inputs, labels, optional float32 reference outputs

``manifest.json`` keys (all required unless marked optional)::

    format        "amssim-trace"
    version       1
    name          str
    kind          "graph" (a whole model, end-to-end metric) | "layer" (independent
                  GEMM ops on recorded inputs: per-layer error only) | "shape"
                  (shapes only, no values; timing mode or synthetic values)
    task          str, e.g. "classification" (free text; optional)
    metric        "top1" (argmax over axis 1 of outputs[0] (N, C) == label), "top1_dense"
                  (per position: outputs[0] (N, C, d1, ...), class axis 1 as PyTorch's
                  CrossEntropyLoss; labels < 0 ignored; accuracy = correct / labelled
                  positions of the whole set; :mod:`amssim.trace.metrics`) or null
                  (layer/shape traces)
    inputs        [{"name", "shape": per-sample shape (no batch axis), "dtype":
                  "float32" | "int64" | "int32"}]; the batch axis is axis 0
    outputs       [tensor names]; outputs[0] is what the metric scores
    ops           [{"name", "kind", "inputs": [tensor names], "outputs": [tensor
                  names], "params": {role: "tensors/<file>.npy"}, "attrs": {...}}]
                  in topological order; kinds and attrs: :mod:`amssim.trace.ops`
    files         {"tensors/x.npy" | "data/x.npy": {"shape": [...], "dtype": "..."}}
                  every file of the trace with its full shape (written by the writer)
    data          (graph/layer) {"num_samples": N, "inputs": {input name: "data/x.npy"
                  (shape (N, *input shape))}, "labels": "data/labels.npy" (integer, shape
                  (N,); for top1_dense (N, d1, ...) = outputs[0]'s shape without the class
                  axis) or null, "reference": {tensor name: "data/ref.npy"} (optional)}
    fp32_metric   optional float: the metric of float32 execution by amssim's executor
    source        optional free-form provenance (importer, framework versions, ...)
"""

from __future__ import annotations

FORMAT = "amssim-trace"
VERSION = 1
TRACE_KINDS = ("graph", "layer", "shape")
METRICS = ("top1", "top1_dense")
INPUT_DTYPES = ("float32", "int64", "int32")
FILE_DTYPES = ("float32", "int64", "int32")
TOP_KEYS = {"format", "version", "name", "kind", "task", "metric", "inputs", "outputs", "ops",
            "files", "data", "fp32_metric", "source"}
REQUIRED_TOP = ("format", "version", "name", "kind", "inputs", "outputs", "ops", "files")
OP_KEYS = {"name", "kind", "inputs", "outputs", "params", "attrs"}


def is_safe_relpath(p: str, prefixes=("tensors/", "data/")) -> bool:
    """A relative ``tensors/<name>.npy`` or ``data/<name>.npy`` path without ``..``."""
    if not isinstance(p, str) or not p.endswith(".npy") or "\\" in p or p.startswith("/"):
        return False
    parts = p.split("/")
    return (len(parts) == 2 and parts[0] + "/" in prefixes and parts[1] not in ("", ".", "..")
            and not parts[1].startswith("."))

"""Training data for finetuning: a ``.npz`` (one array per trace input + ``labels``) or the
trace's own evaluation data."""

from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError, TraceError


def check_classification(trace) -> None:
    if trace.metric != "top1" or trace.labels() is None:
        raise TraceError(f"trace {trace.name!r}: finetuning needs a classification trace with labels "
                         f"(metric 'top1'), got metric {trace.metric!r}")


def load_train_data(path, trace) -> tuple[dict, np.ndarray]:
    """Inputs dict and int64 labels from ``path``, checked against the trace's input specs."""
    from ..io_safety import load_npz, npz_members

    path = os.fspath(path)
    names = set(npz_members(path, error=ConfigError, what="--train-data .npz file"))
    need = [s["name"] for s in trace.inputs] + ["labels"]
    missing = [n for n in need if n not in names]
    if missing:
        raise ConfigError(f"--train-data {path}: missing array(s) {', '.join(missing)} "
                          f"(has {', '.join(sorted(names)) or 'none'})")
    arrays = load_npz(path, need, error=ConfigError, what="--train-data .npz file")
    return _check(arrays, trace, path)


def trace_data(trace) -> tuple[dict, np.ndarray]:
    """The trace's evaluation inputs and labels (training on them is optimistic)."""
    arrays = {s["name"]: np.array(trace.data_input(s["name"])) for s in trace.inputs}
    arrays["labels"] = np.array(trace.labels())
    return _check(arrays, trace, f"trace {trace.name!r} data")


def _check(arrays, trace, where):
    labels = arrays.pop("labels")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ConfigError(f"{where}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    n = len(labels)
    n_classes = trace.shapes1[trace.outputs[0]][-1] if trace.shapes1.get(trace.outputs[0]) else None
    if n and n_classes is not None and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ConfigError(f"{where}: labels: value {int(bad)} outside 0..{n_classes - 1} (the model has "
                          f"{n_classes} outputs)")
    for s in trace.inputs:
        a = arrays[s["name"]]
        per = tuple(s["shape"])
        if a.shape[1:] != per or len(a) != n:
            raise ConfigError(f"{where}: input {s['name']!r} has shape {a.shape}, expected "
                              f"({n}, {', '.join(map(str, per))})")
        want = "f" if s["dtype"] == "float32" else "iu"
        if a.dtype.kind not in want:
            raise ConfigError(f"{where}: input {s['name']!r} has dtype {a.dtype}, expected {s['dtype']}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ConfigError(f"{where}: input {s['name']!r} holds non-finite values")
        arrays[s["name"]] = a.astype(np.float32 if s["dtype"] == "float32" else np.int64, copy=False)
    return arrays, labels.astype(np.int64)

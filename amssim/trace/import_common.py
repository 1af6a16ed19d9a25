"""Common tail of the importers: data files, reference outputs, write, fp32 metric."""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from .metrics import dense_top1_counts
from .writer import tensor_path, update_manifest, write_trace


def finish_import(b, in_specs, outs, eval_inputs, labels, out_dir, *, name, task, metric, reference_fn,
                  framework, overwrite, batch_size, source):
    """Write the trace built in ``b`` with its evaluation data; return the loaded Trace."""
    if len(eval_inputs) != len(in_specs):
        raise TraceError(f"from_{framework}: model has {len(in_specs)} inputs, eval_inputs gave {len(eval_inputs)}")
    n = None
    data = {}
    din = {}
    for spec, e in zip(in_specs, eval_inputs):
        e = np.asarray(e)
        if e.dtype.hasobject or e.ndim < 1:
            raise TraceError(f"from_{framework}: eval input {spec['name']!r} must be a numeric array (N, ...)")
        if list(e.shape[1:]) != spec["shape"]:
            raise TraceError(f"from_{framework}: eval input {spec['name']!r} has per-sample shape "
                             f"{list(e.shape[1:])}, the model takes {spec['shape']}")
        if n is not None and e.shape[0] != n:
            raise TraceError(f"from_{framework}: eval inputs disagree on the number of samples")
        n = e.shape[0]
        p = tensor_path(f"input_{spec['name']}", "data")
        data[p] = e.astype(np.float32 if spec["dtype"] == "float32" else np.int64)
        din[spec["name"]] = p
    if not n:
        raise TraceError(f"from_{framework}: eval_inputs hold no samples")
    dat = {"num_samples": int(n), "inputs": din, "labels": None}
    if labels is not None:
        lab = np.asarray(labels)
        if metric == "top1_dense":  # one label per output position (checked against outputs[0] on writing)
            if lab.ndim < 1 or lab.shape[0] != n or lab.dtype.kind not in "iu":
                raise TraceError(f"from_{framework}: labels for metric 'top1_dense' must be integers of shape "
                                 f"({n}, ...), got {lab.dtype} {list(lab.shape)}")
        elif lab.shape != (n,) or lab.dtype.kind not in "iu":
            raise TraceError(f"from_{framework}: labels must be {n} integers, got {lab.dtype} {list(lab.shape)}")
        data["data/labels.npy"] = lab.astype(np.int64)
        dat["labels"] = "data/labels.npy"
    elif metric is not None:
        raise TraceError(f"from_{framework}: metric {metric!r} needs labels (pass metric=None for none)")
    fw_metric = None
    if reference_fn is not None:
        ys = [reference_fn([data[din[s["name"]]][i:i + batch_size] for s in in_specs])
              for i in range(0, n, batch_size)]
        ref = np.concatenate(ys).astype(np.float32)
        data[tensor_path(f"reference_{outs[0]}", "data")] = ref
        dat["reference"] = {outs[0]: tensor_path(f"reference_{outs[0]}", "data")}
        if metric == "top1" and labels is not None and ref.ndim == 2:
            fw_metric = float(np.mean(np.argmax(ref, axis=1) == data["data/labels.npy"]))
        if metric == "top1_dense" and labels is not None and ref.ndim >= 2 and ref.shape[:1] + ref.shape[2:] == lab.shape:
            c, k = dense_top1_counts(ref, data["data/labels.npy"])
            fw_metric = c / k if k else None
    m = {"name": name, "kind": "graph", "task": task, "metric": metric if labels is not None else None,
         "inputs": in_specs, "outputs": list(outs), "ops": b.ops, "data": dat,
         "source": dict(source, **({f"{framework}_metric": fw_metric} if fw_metric is not None else {}))}
    trace = write_trace(out_dir, m, b.tensors, data, overwrite=overwrite)
    if trace.metric is not None:
        from .executor import fp32_accuracy

        trace = update_manifest(out_dir, fp32_metric=fp32_accuracy(trace, batch_size=batch_size))
    return trace

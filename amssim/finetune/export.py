"""Write a finetuned trace: the input trace with its GEMM weights/biases replaced."""

from __future__ import annotations

import copy

from ..trace import write_trace
from ..trace.executor import fp32_accuracy
from ..trace.writer import update_manifest


def write_finetuned(trace, trained: dict, out, *, meta: dict, overwrite: bool = False):
    """Write ``trace`` with the arrays in ``trained`` (relpath -> array) to ``out``.

    The manifest gains ``source.finetune = meta`` (with the input trace's float32 metric)
    and ``fp32_metric`` becomes the finetuned model's float32 metric. Returns the Trace.
    """
    m = copy.deepcopy(trace.manifest)
    files = m.pop("files", {})
    tensors = {p: trained.get(p, trace.array(p)) for p in files if p.startswith("tensors/")}
    data = {p: trace.array(p) for p in files if p.startswith("data/")}
    src = dict(m.get("source") or {})
    src["finetune"] = dict(meta, base_trace=trace.name, base_fp32_metric=trace.fp32_metric)
    m["source"] = src
    m["name"] = f"{trace.name}-{meta.get('method', 'finetuned')}"
    m.pop("fp32_metric", None)
    tr = write_trace(out, m, tensors, data, overwrite=overwrite)
    if tr.labels() is not None and tr.metric is not None:
        tr = update_manifest(out, fp32_metric=fp32_accuracy(tr))
    return tr

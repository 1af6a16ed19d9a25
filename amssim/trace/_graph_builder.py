"""Shared helper for importers: collects ops and constant tensors, folds BatchNorm."""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from .writer import tensor_path


class GraphBuilder:
    """Accumulates manifest ops and ``tensors/`` arrays with unique, safe names."""

    def __init__(self, source: str):
        self.source = source  # e.g. "torch" / "onnx", used in error messages
        self.ops: list[dict] = []
        self.tensors: dict[str, np.ndarray] = {}
        self._names: set[str] = set()

    def unique(self, name: str) -> str:
        base = name or "op"
        n, i = base, 1
        while n in self._names:
            i += 1
            n = f"{base}_{i}"
        self._names.add(n)
        return n

    def reserve(self, name: str):
        self._names.add(name)

    def const(self, op_name: str, role: str, value) -> str:
        a = np.asarray(value)
        a = a.astype(np.int64, copy=False) if a.dtype.kind in "iu" else a.astype(np.float32, copy=False)
        if a.dtype == np.float32 and not np.isfinite(a).all():
            raise TraceError(f"{self.source} import: op {op_name!r}: parameter {role!r} holds non-finite values")
        p = tensor_path(f"{op_name}.{role}")
        i = 1
        while p in self.tensors:
            i += 1
            p = tensor_path(f"{op_name}.{role}{i}")
        self.tensors[p] = a
        return p

    def add(self, kind: str, inputs: list[str], *, name: str, out: str | None = None, params=None, attrs=None) -> str:
        """Append an op; returns its output tensor name (defaults to the op name)."""
        name = self.unique(name)
        out = out or name
        ps = {r: self.const(name, r, v) for r, v in (params or {}).items() if v is not None}
        self.ops.append({"name": name, "kind": kind, "inputs": list(inputs), "outputs": [out],
                         "params": ps, "attrs": dict(attrs or {})})
        return out

    def fold_batchnorm(self, keep: set[str]):
        """Fold ``batchnorm`` into a preceding conv/linear whose output only feeds it."""
        users: dict[str, int] = {}
        for o in self.ops:
            for t in o["inputs"]:
                users[t] = users.get(t, 0) + 1
        producer = {o["outputs"][0]: o for o in self.ops}
        drop = set()
        for o in self.ops:
            if o["kind"] != "batchnorm":
                continue
            src = producer.get(o["inputs"][0])
            if (src is None or src["kind"] not in ("conv1d", "conv2d") or users[o["inputs"][0]] != 1
                    or src["outputs"][0] in keep):
                continue
            p = {r: self.tensors[v].astype(np.float64) for r, v in o["params"].items()}
            c = p["mean"].shape[0]
            scale = p.get("weight", np.ones(c)) / np.sqrt(p["var"] + float(o["attrs"].get("eps", 1e-5)))
            w = self.tensors[src["params"]["weight"]].astype(np.float64)
            b = self.tensors[src["params"]["bias"]].astype(np.float64) if "bias" in src["params"] else np.zeros(c)
            w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
            b = (b - p["mean"]) * scale + p.get("bias", np.zeros(c))
            self.tensors[src["params"]["weight"]] = w.astype(np.float32)
            if "bias" not in src["params"]:
                src["params"]["bias"] = tensor_path(f"{src['name']}.bias")
            self.tensors[src["params"]["bias"]] = b.astype(np.float32)
            for v in o["params"].values():
                self.tensors.pop(v, None)
            src["outputs"] = list(o["outputs"])
            drop.add(o["name"])
        self.ops = [o for o in self.ops if o["name"] not in drop]

    def prune(self, outputs: list[str]):
        """Drop ops whose outputs nothing needs, and unused tensors."""
        need = set(outputs)
        kept = []
        for o in reversed(self.ops):
            if o["outputs"][0] in need:
                kept.append(o)
                need.update(o["inputs"])
        self.ops = kept[::-1]
        used = {p for o in self.ops for p in o["params"].values()}
        self.tensors = {p: a for p, a in self.tensors.items() if p in used}

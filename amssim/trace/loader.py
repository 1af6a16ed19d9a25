"""Load and validate a trace directory (docs/architecture.md §6); never unpickles anything.

:func:`load_trace` checks the manifest structure and version, every file (safe
``np.load(allow_pickle=False)``, shape and dtype as recorded, finite values), op
kinds, parameter and tensor names, topological order, shapes (inferred at batch
sizes 1 and 2, which also locates the batch axis of every tensor), data and labels.
Any problem raises :class:`~amssim.errors.TraceError` naming the file and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import TraceError
from .ops import SPECS, gemm_shape


@dataclass(frozen=True, kw_only=True)
class GemmShape:
    """One GEMM op per inference (one sample): Y (m, n) = X (m, k) W^T, ``count`` times.

    The one GEMM shape type: the trace produces it and timing consumes it
    (``amssim.timing.GemmShape`` is this class)."""

    name: str  #: op name
    layer: int  #: op index in the trace (used in RNG keys)
    kind: str = "linear"  #: "linear" | "conv1d" | "conv2d" | "matmul"
    m: int  #: rows per sample (conv output positions, sequence length, ...)
    k: int  #: reduction length
    n: int  #: outputs per row
    count: int = 1  #: independent products per sample (attention heads, convolution groups)
    weights_static: bool = True  #: False when both operands are activations

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.count


@dataclass(frozen=True, kw_only=True)
class Op:
    name: str
    kind: str
    index: int  #: position in ``trace.ops`` (the ``layer`` of RNG keys)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict = field(default_factory=dict)  #: role -> relative file path
    attrs: dict = field(default_factory=dict)


class Trace:
    """A validated trace. Build with :func:`load_trace` (or :func:`build_trace`)."""

    def __init__(self, *, manifest, path, ops, arrays, shapes1, batch_axes, batch_mult):
        self.manifest = manifest
        self.path = path
        self.name: str = manifest["name"]
        self.kind: str = manifest["kind"]
        self.task: str | None = manifest.get("task")
        self.metric: str | None = manifest.get("metric")
        self.ops: list[Op] = ops
        self.inputs: list[dict] = manifest["inputs"]
        self.outputs: list[str] = manifest["outputs"]
        self.fp32_metric: float | None = manifest.get("fp32_metric")
        self._arrays = arrays  # relpath -> ndarray (data as read-only memmaps)
        self.shapes1: dict[str, tuple[int, ...]] = shapes1  #: tensor -> full shape at batch 1
        self.batch_axes: dict[str, tuple[int, ...]] = batch_axes  #: tensor -> batch-dependent axes
        self.batch_mult = batch_mult  #: tensor -> size per sample of its batch axis (1 unless merged)
        data = manifest.get("data") or {}
        self.num_samples: int = int(data.get("num_samples", 0))

    def __repr__(self):
        return f"Trace(name={self.name!r}, kind={self.kind!r}, ops={len(self.ops)}, path={self.path!r})"

    @property
    def has_values(self) -> bool:
        return self.kind != "shape"

    def array(self, relpath: str) -> np.ndarray:
        if relpath not in self._arrays:
            raise TraceError(f"{self._where()}: trace has no values for {relpath!r} (kind {self.kind!r})")
        return self._arrays[relpath]

    def params(self, op: Op) -> dict[str, np.ndarray]:
        return {k: self.array(p) for k, p in op.params.items()}

    def data_input(self, name: str) -> np.ndarray:
        return self.array(self.manifest["data"]["inputs"][name])

    def labels(self) -> np.ndarray | None:
        p = (self.manifest.get("data") or {}).get("labels")
        return None if p is None else self.array(p)

    def reference(self, tensor: str) -> np.ndarray | None:
        p = ((self.manifest.get("data") or {}).get("reference") or {}).get(tensor)
        return None if p is None else self.array(p)

    def _where(self) -> str:
        return os.path.join(self.path, "manifest.json") if self.path else f"trace {self.name!r}"

    def gemm_ops(self) -> list[GemmShape]:
        """Per-inference GEMM shapes of every GEMM op (works without values)."""
        out = []
        for op in self.ops:
            if not SPECS[op.kind].gemm:
                continue
            x = self.shapes1[op.inputs[0]]
            y = self.shapes1[op.outputs[0]]
            w = self._pshape(op, "weight") if "weight" in op.params else None
            m, k, n, count = gemm_shape(op.kind, x, y, w, op.attrs)
            out.append(GemmShape(name=op.name, layer=op.index, kind=op.kind, m=int(m), k=int(k), n=int(n),
                                 count=int(count), weights_static=op.kind != "matmul"))
        return out

    def macs(self) -> int:
        """Multiply-accumulates of all GEMM ops per inference."""
        return sum(g.macs for g in self.gemm_ops())

    def _pshape(self, op, role):
        return tuple(self.manifest["files"][op.params[role]]["shape"])


def load_trace(path) -> Trace:
    """Load and validate the trace directory ``path`` (or its ``manifest.json``)."""
    path = os.fspath(path)
    if os.path.basename(path) == "manifest.json" and os.path.isfile(path):
        path = os.path.dirname(path) or "."
    mpath = os.path.join(path, "manifest.json")
    if not os.path.isdir(path):
        raise TraceError(f"{path}: not a trace directory")
    from ..io_safety import parse_json, read_text
    from ..limits import check_bytes

    try:
        check_bytes(os.path.getsize(mpath), f"{mpath}: manifest")
    except OSError as exc:
        raise TraceError(f"{mpath}: cannot read manifest ({exc.strerror or exc})") from exc
    text = read_text(mpath, "manifest", error=TraceError)
    m = parse_json(text, mpath, error=TraceError)
    from .validate import check_manifest, load_files
    check_manifest(m, mpath)
    arrays = load_files(m, path, mpath) if m["kind"] != "shape" else {}
    return build_trace(m, arrays, path=path, where=mpath)


def build_trace(m: dict, arrays: dict, *, path=None, where=None) -> Trace:
    """Validate a manifest dict with in-memory arrays (keyed by relative path) into a Trace."""
    from .validate import check_manifest, check_graph
    where = where or f"trace {m.get('name')!r}" if isinstance(m, dict) else "trace"
    check_manifest(m, where)
    ops, shapes1, baxes, bmult = check_graph(m, arrays, where)
    return Trace(manifest=m, path=path, ops=ops, arrays=arrays, shapes1=shapes1,
                 batch_axes=baxes, batch_mult=bmult)


def read_scalesim(csv_path, out_dir=None, **kw):
    """:func:`~amssim.trace.from_scalesim` (kept as the loader's entry point; the importer
    reports non-finite or overflowing numbers such as ``inf`` and ``1e400`` itself)."""
    from .import_scalesim import from_scalesim

    return from_scalesim(csv_path, out_dir, **kw)

"""Import an ONNX model into a trace (reads the graph with ``onnx``'s Python API).

Supported ONNX ops: Conv (group=1), Gemm, MatMul (constant operand -> linear, two
activations -> matmul), Add/Sub/Mul/Div, Relu, Tanh, Sigmoid, Erf, Gelu, Softmax,
LogSoftmax, LayerNormalization, BatchNormalization (optionally folded), MaxPool,
AveragePool, GlobalAveragePool, GlobalMaxPool, Flatten (axis 1), Reshape, Squeeze,
Unsqueeze, Transpose, Concat, Slice, Gather (constant table -> embedding; constant
scalar index -> select), ReduceMean/ReduceSum, Equal/Not/Where (masks), Expand,
Identity/Dropout/Cast (identity). Shape arithmetic (Shape, Gather, Concat, ... on
shapes) is evaluated at batch sizes 1 and 2 to find the batch-dependent entries, so
models exported with a dynamic batch axis or with batch size 1 both import.
Anything else raises :class:`~amssim.errors.TraceError` naming the op and the node.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import TraceError
from ._graph_builder import GraphBuilder
from .import_common import finish_import
from .ops import SPECS


class _C:
    """A constant (or shape-derived) value known at batch sizes 1 and 2."""

    __slots__ = ("v1", "v2")

    def __init__(self, v1, v2=None):
        self.v1 = np.asarray(v1)
        self.v2 = self.v1 if v2 is None else np.asarray(v2)

    @property
    def static(self):
        return self.v1.shape == self.v2.shape and np.array_equal(self.v1, self.v2)


def _attrs(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Onnx:
    def __init__(self, model, path):
        self.path = path
        self.b = GraphBuilder("onnx")
        self.vals = {}  # onnx name -> str (activation) or _C
        self.s1, self.s2 = {}, {}  # activation shapes at batch 1 and 2

    def fail(self, node, msg):
        raise TraceError(f"from_onnx: {self.path}: node {node.name or node.output[0]!r} ({node.op_type}): {msg}")

    def emit(self, node, kind, inputs, params=None, attrs=None, name=None, out=None):
        params = {k: v for k, v in (params or {}).items() if v is not None}
        out = self.b.add(kind, inputs, name=name or node.name or node.output[0], out=out, params=params, attrs=attrs)
        ps = {k: tuple(np.shape(v)) for k, v in params.items()}
        try:
            for s in (self.s1, self.s2):
                s[out] = tuple(SPECS[kind].shape([s[i] for i in inputs], ps, attrs or {})[0])
        except (ValueError, KeyError, TypeError) as exc:
            self.fail(node, f"{kind}: {exc}")
        return out

    def act(self, node, i):
        v = self.vals.get(node.input[i]) if i < len(node.input) and node.input[i] else None
        if not isinstance(v, str):
            self.fail(node, f"input {i} must be an activation tensor")
        return v

    def const(self, node, i, default=None):
        if i >= len(node.input) or not node.input[i]:
            return default
        v = self.vals.get(node.input[i])
        if not isinstance(v, _C):
            self.fail(node, f"input {i} ({node.input[i]!r}) must be a constant")
        if not v.static:
            self.fail(node, f"input {i} depends on the batch size")
        return v.v1

    def target(self, node, x, c):
        """Reshape/expand target (full shape) with the batch-dependent entry as -1."""
        t1, t2 = [int(d) for d in c.v1], [int(d) for d in c.v2]
        s1, s2 = self.s1[x], self.s2[x]
        t1 = [s1[i] if d == 0 else d for i, d in enumerate(t1)]
        t2 = [s2[i] if d == 0 else d for i, d in enumerate(t2)]
        dep = [i for i, (a, b) in enumerate(zip(t1, t2)) if a != b]
        if len(dep) > 1:
            self.fail(node, f"target shape {t1} has more than one batch-dependent entry")
        if dep:
            if -1 in t1:  # resolve the explicit -1 from the batch-1 sizes
                j = t1.index(-1)
                known = int(np.prod([d for k, d in enumerate(t1) if k != j]))
                t1[j] = int(np.prod(s1)) // max(known, 1)
            t1[dep[0]] = -1
        elif -1 not in t1 and int(np.prod(t1)) == int(np.prod(s1)) and s1 != s2:
            # static target from a batch-1 export: the entry of batch size 1 at the batch axis
            bax = [i for i, (a, b) in enumerate(zip(s1, s2)) if a != b]
            cand = [i for i, d in enumerate(t1) if d == s1[bax[0]]] if bax else []
            if not cand:
                self.fail(node, f"cannot tell which entry of the static target {t1} is the batch")
            t1[cand[0]] = -1
        return t1

    # ------------------------------------------------------------ constant / shape folding
    def fold(self, node, at):
        import onnx.numpy_helper as nh

        op = node.op_type
        ins = [self.vals.get(n) if n else None for n in node.input]

        def both(fn):
            return _C(fn([None if c is None else c.v1 for c in ins]), fn([None if c is None else c.v2 for c in ins]))

        if op == "Constant":
            if "value" in at:
                return _C(nh.to_array(at["value"]))
            for k in ("value_float", "value_int", "value_floats", "value_ints"):
                if k in at:
                    return _C(np.array(at[k]))
            self.fail(node, "unsupported Constant attribute")
        simple = {
            "Identity": lambda v: v[0], "Cast": lambda v: v[0].astype(_onnx_dtype(at["to"])),
            "Unsqueeze": lambda v: np.expand_dims(v[0], tuple(_axes(at, v, 1))),
            "Squeeze": lambda v: np.squeeze(v[0], tuple(_axes(at, v, 1))) if _axes(at, v, 1) else np.squeeze(v[0]),
            "Concat": lambda v: np.concatenate(v, axis=at["axis"]),
            "Gather": lambda v: np.take(v[0], v[1], axis=at.get("axis", 0)),
            "Mul": lambda v: v[0] * v[1], "Add": lambda v: v[0] + v[1], "Sub": lambda v: v[0] - v[1],
            "Div": lambda v: (v[0] // v[1]) if v[0].dtype.kind in "iu" else v[0] / v[1],
            "Transpose": lambda v: np.transpose(v[0], at.get("perm")),
            "Reshape": lambda v: v[0].reshape([v[0].shape[i] if d == 0 else d for i, d in enumerate(v[1])]),
            "Equal": lambda v: v[0] == v[1], "Not": lambda v: ~v[0],
            "Where": lambda v: np.where(v[0], v[1], v[2]),
            "Slice": lambda v: _slice_np(v),
            "ConstantOfShape": lambda v: np.full(tuple(int(d) for d in v[0]),
                                                 nh.to_array(at["value"]).reshape(-1)[0] if "value" in at else 0.0),
            "Sqrt": lambda v: np.sqrt(v[0]), "Neg": lambda v: -v[0],
            "Mod": lambda v: np.fmod(v[0], v[1]) if at.get("fmod", 0) else np.mod(v[0], v[1]),
            "Min": lambda v: np.minimum.reduce(v), "Max": lambda v: np.maximum.reduce(v),
            "Floor": lambda v: np.floor(v[0]), "Ceil": lambda v: np.ceil(v[0]), "Abs": lambda v: np.abs(v[0]),
            "Size": lambda v: np.array(v[0].size, np.int64),
            "Range": lambda v: np.arange(v[0], v[1], v[2]),
            "Greater": lambda v: v[0] > v[1], "Less": lambda v: v[0] < v[1],
            "And": lambda v: v[0] & v[1], "Or": lambda v: v[0] | v[1],
            "Expand": lambda v: v[0] * np.ones(tuple(int(d) for d in v[1]), v[0].dtype),
        }
        if op not in simple:
            self.fail(node, "unsupported operation on constants")
        try:
            return both(simple[op])
        except Exception as exc:  # noqa: BLE001
            self.fail(node, f"constant folding failed: {exc}")

    # ------------------------------------------------------------ activations
    def convert(self, node):
        op, at = node.op_type, _attrs(node)
        ins = [self.vals.get(n) if n else None for n in node.input]
        for n, v in zip(node.input, ins):
            if n and v is None:
                self.fail(node, f"input {n!r} is not defined")
        if op == "Shape":
            x = self.act(node, 0)
            s = _C(np.array(self.s1[x], np.int64), np.array(self.s2[x], np.int64))
            lo, hi = at.get("start", 0), at.get("end", None)
            return _C(s.v1[lo:hi], s.v2[lo:hi])
        if not any(isinstance(v, str) for v in ins):
            return self.fold(node, at)
        from ._onnx_ops import HANDLERS

        h = HANDLERS.get(op)
        if h is None:
            self.fail(node, f"unsupported ONNX operator {op!r}")
        return h(self, node, at)


def _axes(at, v, i):
    if "axes" in at:
        return list(at["axes"])
    return [] if len(v) <= i or v[i] is None else [int(a) for a in np.asarray(v[i]).reshape(-1)]


def _slice_np(v):
    x, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 and v[3] is not None else range(len(starts))
    steps = v[4] if len(v) > 4 and v[4] is not None else [1] * len(starts)
    sl = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        sl[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(sl)]


def _onnx_dtype(to):
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(to)


def from_onnx(path, eval_inputs, labels, out_dir, *, name: str | None = None, fold_batchnorm: bool = True,
              task: str = "classification", metric: str | None = "top1", reference: bool = False,
              overwrite: bool = False, batch_size: int = 256, source: dict | None = None):
    """Import the ONNX model at ``path`` with its evaluation set; return the loaded Trace.

    Arguments as :func:`amssim.trace.from_torch`; ``reference=True`` stores outputs
    computed by onnxruntime (must be installed) as ``data/reference_*.npy``.
    """
    import onnx
    import onnx.numpy_helper as nh

    path = os.fspath(path)
    try:
        model = onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - protobuf errors vary
        raise TraceError(f"from_onnx: {path}: not a readable ONNX model ({exc})") from None
    g = model.graph
    cv = _Onnx(model, path)
    inits = {t.name for t in g.initializer}
    for t in g.initializer:
        cv.vals[t.name] = _C(nh.to_array(t))
    in_specs = []
    for vi in g.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if not dims or any(d is None for d in dims[1:]):
            raise TraceError(f"from_onnx: {path}: input {vi.name!r} needs a static per-sample shape, got {dims}")
        np_dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        dt = "float32" if np_dt.kind == "f" else "int64"
        cv.b.reserve(vi.name)
        cv.vals[vi.name] = vi.name
        cv.s1[vi.name] = (1,) + tuple(dims[1:])
        cv.s2[vi.name] = (2,) + tuple(dims[1:])
        in_specs.append({"name": vi.name, "shape": list(dims[1:]), "dtype": dt})
    for node in g.node:
        v = cv.convert(node)
        vs = v if isinstance(v, tuple) else (v,)
        for o, x in zip(node.output, vs):
            cv.vals[o] = x
    outs = []
    for o in g.output:
        v = cv.vals.get(o.name)
        if not isinstance(v, str):
            raise TraceError(f"from_onnx: {path}: graph output {o.name!r} is not an activation")
        outs.append(v)
    b = cv.b
    if fold_batchnorm:
        b.fold_batchnorm(set(outs))
    b.prune(outs)
    ev = list(eval_inputs) if isinstance(eval_inputs, (tuple, list)) else [eval_inputs]

    def ort_run(batch_arrays):
        import onnxruntime as ort

        sess = ort_run.sess = getattr(ort_run, "sess", None) or ort.InferenceSession(
            path, providers=["CPUExecutionProvider"])
        feed = {s["name"]: a.astype(np.float32 if s["dtype"] == "float32" else np.int64)
                for s, a in zip(in_specs, batch_arrays)}
        return np.asarray(sess.run([g.output[0].name], feed)[0], np.float32)

    src = {"importer": "amssim.trace.from_onnx", "onnx_file": os.path.basename(path),
           "opset": [int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")][:1],
           "fold_batchnorm": fold_batchnorm}
    src.update(source or {})
    return finish_import(b, in_specs, outs, ev, labels, out_dir,
                         name=name or os.path.splitext(os.path.basename(path))[0], task=task, metric=metric,
                         reference_fn=ort_run if reference else None, framework="onnx", overwrite=overwrite,
                         batch_size=batch_size, source=src)

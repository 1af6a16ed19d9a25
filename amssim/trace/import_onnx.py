"""Import an ONNX model into a trace (reads the graph with ``onnx``'s Python API).

Every ONNX value is either an *activation* (a trace tensor whose axis 0, or an axis
merged with it, is the batch) or a *constant known at batch sizes 1 and 2*. Shape
and constant subgraphs (``Shape``, ``Gather`` on shapes, ``Range``,
``ConstantOfShape``, ``Expand`` to the batch size, masks, rotary sin/cos tables...)
are folded at import: each node whose inputs are all constants is evaluated by
``onnx.reference.ReferenceEvaluator`` (the ONNX reference implementation, so every
standard operator folds with the spec's semantics) at batch 1 and, when its inputs
depend on the batch size, again at batch 2. A folded value that an activation op
consumes becomes a trace ``constant`` op: without a batch axis when it does not
depend on the batch size, else with ``attrs.batch_axes`` (its batch-1 value broadcast
to the batch size). Two other batch-dependent patterns are translated: a gather whose
indices pick each sample's own rows (``b * rows + i``, as in Hugging Face's mask
functions) becomes a per-sample ``take``; max-pooling indices flattened over the whole
tensor (``MaxPool``'s second output, and the dynamo exporter's ``ScatterND`` lowering of
``max_unpool``) become ``max_pool_indices`` + ``max_unpool``. Values that depend on the
batch in any other way are refused, naming the node.

Why the reference evaluator rather than a graph simplifier (onnxslim, onnx-simplifier):
with a symbolic batch those keep every batch-dependent shape chain (on a BERT export
onnxslim 0.1.98 leaves 10 of 19 ``Shape`` and the ``Range``/``Expand`` nodes), so they
would have to be folded here anyway; evaluating at two batch sizes handles both, needs no
extra dependency and follows the ONNX spec per operator.

Operators on activations are translated by :mod:`._onnx_ops` into the kinds of the
op table (:mod:`amssim.trace.ops`); see ``HANDLERS`` there for the list. Anything
else raises :class:`~amssim.errors.TraceError` naming the operator and the node.
Models exported with a dynamic batch axis or with batch size 1 both import.
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
        return self.v1 is self.v2 or (self.v1.shape == self.v2.shape and np.array_equal(self.v1, self.v2))


class _Plane:
    """ONNX max-pooling indices: flat positions ``plane * size + local`` over the whole tensor.

    The trace holds only ``local`` (the position within each (sample, channel) plane of
    ``size`` elements, as ``max_pool_indices``); ``chans`` planes per sample, ``n`` index
    entries per plane in ``local``'s linear order. Reshapes, spatial slices, the
    difference of two such values and scatters into zeros (unpooling) are translated.
    """

    __slots__ = ("local", "size", "chans", "n")

    def __init__(self, local, size, chans, n):
        self.local, self.size, self.chans, self.n = local, int(size), int(chans), int(n)


def _attrs(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _trace_dtype(a) -> str:
    """Trace dtype of a numpy value: integers -> int64, floats and booleans -> float32."""
    return "int64" if np.asarray(a).dtype.kind in "iu" else "float32"


def _stored(a):
    a = np.asarray(a)
    return a.astype(np.int64, copy=False) if a.dtype.kind in "iu" else a.astype(np.float32, copy=False)


class _Onnx:
    def __init__(self, model, path):
        self.path = path
        self.b = GraphBuilder("onnx")
        self.vals = {}  # onnx name -> str (activation) or _C
        self.s1, self.s2 = {}, {}  # activation shapes at batch 1 and 2
        self.dt = {}  # activation trace dtype ("float32" / "int64")
        self.bool = set()  # activations holding ONNX booleans (float32 0/1 in the trace)
        self.ref = None  # a graph input (batch on axis 0): the ref of batch-broadcast constants
        self.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
        self._mat = {}  # onnx name -> materialised constant activation

    # ------------------------------------------------------------ errors, emission
    def fail(self, node, msg):
        raise TraceError(f"from_onnx: {self.path}: node {node.name or node.output[0]!r} ({node.op_type}): {msg}")

    def nm(self, node, suffix=""):
        return (node.name or node.output[0]) + suffix

    def emit(self, node, kind, inputs, params=None, attrs=None, name=None, out=None):
        params = {k: _stored(v) for k, v in (params or {}).items() if v is not None}
        attrs = dict(attrs or {})
        ps = {k: tuple(np.shape(v)) for k, v in params.items()}
        pdts = {k: _trace_dtype(v) for k, v in params.items()}
        spec = SPECS[kind]
        try:
            dt = spec.dtype([self.dt[i] for i in inputs], pdts, attrs)
            shp = [tuple(spec.shape([s[i] for i in inputs], ps, attrs)[0]) for s in (self.s1, self.s2)]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            self.fail(node, f"{kind}: {exc}")
        out = self.b.add(kind, inputs, name=name or self.nm(node), out=out, params=params, attrs=attrs)
        self.s1[out], self.s2[out] = shp
        self.dt[out] = dt
        return out

    # ------------------------------------------------------------ operands
    def val(self, node, i):
        if i >= len(node.input) or not node.input[i]:
            return None
        return self.vals.get(node.input[i])

    def is_act(self, node, i):
        return isinstance(self.val(node, i), str)

    def act(self, node, i):
        """Input ``i`` as an activation; a folded constant becomes a ``constant`` op."""
        v = self.val(node, i)
        if isinstance(v, str):
            return v
        if v is None:
            self.fail(node, f"input {i} is missing")
        if isinstance(v, _Plane):
            self.fail(node, f"input {i} holds max-pooling indices, which amssim supports only for unpooling "
                            "(MaxUnpool, or a scatter into zeros)")
        key = node.input[i]
        if key not in self._mat:
            self._mat[key] = self.materialize(node, v, node.input[i])
        return self._mat[key]

    def const(self, node, i, default=None):
        """Input ``i`` as a constant that does not depend on the batch size (numpy)."""
        if i >= len(node.input) or not node.input[i]:
            return default
        v = self.vals.get(node.input[i])
        if not isinstance(v, _C):
            self.fail(node, f"input {i} ({node.input[i]!r}) must be a constant (it is computed from the inputs)")
        if not v.static:
            self.fail(node, f"input {i} ({node.input[i]!r}) depends on the batch size")
        return v.v1

    def materialize(self, node, c: _C, name):
        """A trace ``constant`` op for the folded value ``c`` (batch-broadcast if it depends on the batch)."""
        v1, v2 = c.v1, c.v2
        inputs, attrs = [], {}
        if not c.static:
            bax = [a for a in range(v1.ndim) if v1.ndim == v2.ndim and v1.shape[a] == 1 and v2.shape[a] == 2]
            ok = v1.ndim == v2.ndim and bax and all(
                v2.shape[a] == (2 if a in bax else v1.shape[a]) for a in range(v1.ndim)) \
                and np.array_equal(np.broadcast_to(v1, v2.shape), v2)
            if not ok:
                self.fail(node, f"value {name!r} depends on the batch size in a way amssim cannot express "
                                f"(shapes {list(v1.shape)} at batch 1, {list(v2.shape)} at batch 2; only "
                                "constants broadcast to the batch size are supported)")
            inputs, attrs = [self.ref], {"batch_axes": bax}
        isbool = v1.dtype == np.bool_
        v = _stored(v1)
        if v.dtype == np.float32 and not np.isfinite(v).all():
            if np.isnan(v).any():
                self.fail(node, f"constant {name!r} holds NaN")
            # +-inf entries (additive attention masks): a finite constant, then masked fills
            fin = np.where(np.isfinite(v), v, np.float32(0))
            out = self.emit(node, "constant", inputs, {"value": fin}, attrs, name=f"{name}_finite")
            for sign, lab in ((1, "inf"), (-1, "-inf")):
                m = np.isinf(v) & (np.sign(v) == sign)
                if m.any():
                    mo = self.emit(node, "constant", [], {"value": m.astype(np.float32)}, name=f"{name}_{lab}mask")
                    out = self.emit(node, "masked_fill", [out, mo], attrs={"value": lab}, name=f"{name}_{lab}")
            return out
        out = self.emit(node, "constant", inputs, {"value": v}, attrs, name=name)
        if isbool:
            self.bool.add(out)
        return out

    def target(self, node, x, c):
        """Reshape target (full shape) with the batch-dependent entry as -1."""
        t1, t2 = [int(d) for d in c.v1], [int(d) for d in c.v2]
        s1, s2 = self.s1[x], self.s2[x]
        t1 = [s1[i] if d == 0 else d for i, d in enumerate(t1)]
        t2 = [s2[i] if d == 0 else d for i, d in enumerate(t2)]
        if len(t1) != len(t2):
            self.fail(node, "the rank of the target shape depends on the batch size")
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
        """Evaluate a node whose inputs are all constants (ONNX reference implementation)."""
        import onnx.numpy_helper as nh

        op = node.op_type
        if op == "Constant":
            if "value" in at:
                try:
                    return _C(nh.to_array(at["value"]))
                except (ValueError, TypeError, KeyError, OSError) as exc:
                    self.fail(node, f"its value tensor is malformed ({type(exc).__name__}: {exc})")
            for k in ("value_float", "value_int", "value_floats", "value_ints"):
                if k in at:
                    return _C(np.array(at[k], np.float32 if "float" in k else np.int64))
            self.fail(node, "unsupported Constant attribute")
        if op == "Identity":
            return self.vals[node.input[0]]
        if node.domain not in ("", "ai.onnx"):
            self.fail(node, f"operator {node.domain}::{op} is not a standard ONNX operator")
        ins = [self.val(node, i) for i in range(len(node.input))]
        from onnx.reference import ReferenceEvaluator

        try:
            ev = ReferenceEvaluator(node, opsets={"": self.opset}, new_ops=_fixed_ops())
        except Exception as exc:  # noqa: BLE001 - the reference runtime raises many types
            self.fail(node, f"cannot fold this operator on constants ({type(exc).__name__}: {exc})")
        names = [n for n in node.input]

        def run(which):
            # contiguous copies: some reference kernels mishandle broadcast (zero-stride) views
            feed = {n: _contig(getattr(c, which)) for n, c in zip(names, ins) if n}
            try:
                res = ev.run(None, feed)
            except Exception as exc:  # noqa: BLE001
                self.fail(node, f"constant folding failed ({type(exc).__name__}: {exc})")
            return [np.asarray(r) for r in res]

        r1 = run("v1")
        r2 = r1 if all(c is None or c.static for c in ins) else run("v2")
        outs = tuple(_C(a, b) for a, b in zip(r1, r2))
        return outs if len(outs) > 1 else outs[0]

    def inline_branch(self, node, at):
        """``If`` with a constant condition: the taken branch's nodes, converted in place."""
        g = at["then_branch" if bool(np.asarray(self.vals[node.input[0]].v1).reshape(-1)[0]) else "else_branch"]
        for sub in g.node:
            v = self.convert(sub)
            for o, x in zip(sub.output, v if isinstance(v, tuple) else (v,)):
                if o:
                    self.vals[o] = x
        return tuple(self.vals[o.name] for o in g.output)

    # ------------------------------------------------------------ activations
    def convert(self, node):
        op, at = node.op_type, _attrs(node)
        for n in node.input:
            if n and n not in self.vals:
                self.fail(node, f"input {n!r} is not defined")
        if op == "Shape":
            v = self.vals[node.input[0]]
            v = v.local if isinstance(v, _Plane) else v
            if isinstance(v, str):
                s = _C(np.array(self.s1[v], np.int64), np.array(self.s2[v], np.int64))
                lo, hi = at.get("start", 0), at.get("end", None)
                return _C(s.v1[lo:hi], s.v2[lo:hi])
        if op == "Size" and isinstance(self.vals[node.input[0]], str):
            x = self.vals[node.input[0]]
            return _C(np.array(np.prod(self.s1[x]), np.int64), np.array(np.prod(self.s2[x]), np.int64))
        if op == "If" and isinstance(self.vals.get(node.input[0]), _C) and self.vals[node.input[0]].static:
            return self.inline_branch(node, at)
        if all(isinstance(self.vals.get(n), _C) for n in node.input if n) and not _outer_names(node):
            return self.fold(node, at)
        from ._onnx_ops import HANDLERS, PLANE_OPS

        p = self.vals.get(node.input[0]) if node.input and node.input[0] else None
        if isinstance(p, _Plane) and op in PLANE_OPS:
            return PLANE_OPS[op](self, node, at, p)

        h = HANDLERS.get(op) if node.domain in ("", "ai.onnx") else None
        if h is None:
            dom = f"{node.domain}::" if node.domain not in ("", "ai.onnx") else ""
            self.fail(node, f"unsupported ONNX operator {dom}{op!r}")
        return h(self, node, at)


def _outer_names(node):
    """Names a node's subgraphs (If/Loop/Scan bodies) read from the enclosing graph."""
    names = set()
    for a in node.attribute:
        for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            inner = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                names.update(i for i in n.input if i and i not in inner)
                names.update(_outer_names(n) - inner)
                inner.update(n.output)
    return names


def _fixed_ops():
    """Replacements for reference kernels that are wrong on some inputs (onnx 1.2x:
    GatherElements with more than 32 entries along the axis of a 2-d tensor)."""
    from onnx.reference.op_run import OpRun

    class GatherElements(OpRun):
        op_domain = ""

        def _run(self, data, indices, axis=None):
            ax = int(axis or 0) % data.ndim
            idx = np.where(indices < 0, indices + data.shape[ax], indices)
            return (np.take_along_axis(data, idx, axis=ax),)

    return [GatherElements]


def _contig(a):
    return a if a.flags.c_contiguous else a.copy()


def _onnx_dtype(to):
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(to)


def _initializer(nh, t, path):
    """One initializer as numpy; a malformed tensor (data size vs dims, dtype, missing external
    data) is bad input naming the initializer."""
    try:
        return nh.to_array(t)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise TraceError(f"from_onnx: {path}: initializer {t.name!r} is malformed "
                         f"({type(exc).__name__}: {exc})") from exc


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
    if model.functions:
        try:
            from onnx.inliner import inline_local_functions

            model = inline_local_functions(model)
        except Exception as exc:  # noqa: BLE001
            raise TraceError(f"from_onnx: {path}: cannot inline the model's local functions ({exc})") from None
    # weights to numpy, then drop the protobuf copy: re-parse the graph without them so the
    # parser's buffers are released (peak memory ~2x the weights instead of 3x)
    weights = {t.name: _C(_initializer(nh, t, path)) for t in model.graph.initializer}
    model.graph.ClearField("initializer")
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    cv = _Onnx(model, path)
    inits = set(weights)
    cv.vals.update(weights)
    del weights
    in_specs = []
    for vi in g.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if not dims or any(d is None for d in dims[1:]):
            raise TraceError(f"from_onnx: {path}: input {vi.name!r} needs a static per-sample shape, got {dims}")
        np_dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        dt = "float32" if np_dt.kind in "fb" else "int64"
        cv.b.reserve(vi.name)
        cv.vals[vi.name] = vi.name
        cv.s1[vi.name] = (1,) + tuple(dims[1:])
        cv.s2[vi.name] = (2,) + tuple(dims[1:])
        cv.dt[vi.name] = dt
        if np_dt.kind == "b":
            cv.bool.add(vi.name)
        cv.ref = cv.ref or vi.name
        in_specs.append({"name": vi.name, "shape": list(dims[1:]), "dtype": dt})
    if not in_specs:
        raise TraceError(f"from_onnx: {path}: the model has no inputs")
    # drop folded constants after their last use (bounded memory on large models)
    last = {}
    for k, node in enumerate(g.node):
        for n in node.input:
            last[n] = k
    keep = {o.name for o in g.output}
    static = all(vi.type.tensor_type.shape.dim[0].HasField("dim_value") for vi in g.input if vi.name not in inits)
    for k, node in enumerate(g.node):
        try:
            v = cv.convert(node)
        except TraceError as exc:
            if not static:
                raise
            raise TraceError(f"{exc} [the model was exported with a static batch size: export it with a dynamic "
                             "batch axis (torch.onnx.export dynamic_axes / dynamic_shapes) so batch-sized values "
                             "can be told from constants]") from None
        vs = v if isinstance(v, tuple) else (v,)
        for o, x in zip(node.output, vs):
            if o:
                cv.vals[o] = x
        for n in node.input:
            if n and last.get(n) == k and n not in keep and isinstance(cv.vals.get(n), _C):
                del cv.vals[n]
    outs = []
    for o in g.output:
        v = cv.vals.get(o.name)
        if not isinstance(v, str):
            raise TraceError(f"from_onnx: {path}: graph output {o.name!r} is a constant, not computed from the inputs")
        if v in outs:  # the same tensor twice: copy it under the output's name
            v = cv.b.add("reshape", [v], name=o.name, attrs={"shape": [-1] + list(cv.s1[v][1:])})
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
        want = {i.name: i.type for i in sess.get_inputs()}
        feed = {}
        for s, a in zip(in_specs, batch_arrays):
            t = want.get(s["name"], "")
            dt = np.float32 if "float" in t else np.bool_ if "bool" in t else np.int32 if "int32" in t else np.int64
            feed[s["name"]] = a.astype(dt)
        return np.asarray(sess.run([g.output[0].name], feed)[0], np.float32)

    src = {"importer": "amssim.trace.from_onnx", "onnx_file": os.path.basename(path),
           "opset": [cv.opset], "fold_batchnorm": fold_batchnorm}
    src.update(source or {})
    return finish_import(b, in_specs, outs, ev, labels, out_dir,
                         name=name or os.path.splitext(os.path.basename(path))[0], task=task, metric=metric,
                         reference_fn=ort_run if reference else None, framework="onnx", overwrite=overwrite,
                         batch_size=batch_size, source=src)

"""Validation of a trace manifest, its files and its graph (used by :mod:`.loader`)."""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import TraceError
from . import manifest as mf
from .ops import SPECS

_DATA_CHUNK = 1 << 20  # elements per finiteness check chunk (bounded memory)


def _fail(where, field, msg):
    raise TraceError(f"{where}: {field}: {msg}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _shape(where, field, v):
    if not isinstance(v, list) or not all(_is_int(d) and d >= 0 for d in v):
        _fail(where, field, f"must be a list of non-negative integers, got {v!r}")
    return tuple(v)


def check_manifest(m, where):
    """Structure, types, version and file table of a manifest dict."""
    if not isinstance(m, dict):
        _fail(where, "manifest", f"must be a JSON object, got {type(m).__name__}")
    for k in mf.REQUIRED_TOP:
        if k not in m:
            _fail(where, k, "missing required key")
    unknown = set(m) - mf.TOP_KEYS
    if unknown:
        _fail(where, sorted(unknown)[0], f"unknown key (known: {sorted(mf.TOP_KEYS)})")
    if m["format"] != mf.FORMAT:
        _fail(where, "format", f"expected {mf.FORMAT!r}, got {m['format']!r}")
    if m["version"] != mf.VERSION or not _is_int(m["version"]):
        _fail(where, "version", f"unsupported trace version {m['version']!r} (this amssim reads {mf.VERSION})")
    if not isinstance(m["name"], str) or not m["name"]:
        _fail(where, "name", f"must be a non-empty string, got {m['name']!r}")
    if m["kind"] not in mf.TRACE_KINDS:
        _fail(where, "kind", f"must be one of {list(mf.TRACE_KINDS)}, got {m['kind']!r}")
    metric = m.get("metric")
    if metric is not None and metric not in mf.METRICS:
        _fail(where, "metric", f"unknown metric {metric!r} (known: {list(mf.METRICS)})")
    if m["kind"] == "graph" and metric is None and (m.get("data") or {}).get("labels"):
        _fail(where, "metric", "a graph trace with labels must name its metric")
    fp = m.get("fp32_metric")
    if fp is not None and (not isinstance(fp, (int, float)) or isinstance(fp, bool)
                           or (isinstance(fp, int) and abs(fp) >= 2**63) or not math.isfinite(fp)):
        _fail(where, "fp32_metric", f"must be a finite number or null, got {fp!r}")
    if not isinstance(m["inputs"], list) or not m["inputs"]:
        _fail(where, "inputs", "must be a non-empty list")
    for i, inp in enumerate(m["inputs"]):
        f = f"inputs[{i}]"
        if not isinstance(inp, dict) or set(inp) != {"name", "shape", "dtype"}:
            _fail(where, f, f"must be an object with keys name, shape, dtype, got {inp!r}")
        if not isinstance(inp["name"], str) or not inp["name"]:
            _fail(where, f + ".name", f"must be a non-empty string, got {inp['name']!r}")
        _shape(where, f + ".shape", inp["shape"])
        if inp["dtype"] not in mf.INPUT_DTYPES:
            _fail(where, f + ".dtype", f"must be one of {list(mf.INPUT_DTYPES)}, got {inp['dtype']!r}")
    if not isinstance(m["outputs"], list) or not m["outputs"] or not all(isinstance(o, str) for o in m["outputs"]):
        _fail(where, "outputs", f"must be a non-empty list of tensor names, got {m['outputs']!r}")
    if not isinstance(m["ops"], list):
        _fail(where, "ops", "must be a list")
    if not isinstance(m["files"], dict):
        _fail(where, "files", "must be an object")
    for p, info in m["files"].items():
        f = f"files[{p!r}]"
        if not mf.is_safe_relpath(p):
            _fail(where, f, "file names must be tensors/<name>.npy or data/<name>.npy")
        if not isinstance(info, dict) or set(info) != {"shape", "dtype"}:
            _fail(where, f, f"must be an object with keys shape, dtype, got {info!r}")
        _shape(where, f + ".shape", info["shape"])
        if info["dtype"] not in mf.FILE_DTYPES:
            _fail(where, f + ".dtype", f"must be one of {list(mf.FILE_DTYPES)}, got {info['dtype']!r}")


def _check_finite(where, fpath, a):
    if a.dtype.kind != "f":
        return
    flat = a.reshape(-1)
    for s in range(0, flat.size, _DATA_CHUNK):
        chunk = np.asarray(flat[s:s + _DATA_CHUNK])
        if not np.isfinite(chunk).all():
            bad = s + int(np.flatnonzero(~np.isfinite(chunk))[0])
            _fail(where, fpath, f"non-finite value {chunk[bad - s]} at flat index {bad}")


def load_files(m, root, where):
    """Load every file of the table safely; check shape, dtype and finiteness.

    Each ``.npy`` header is checked against the manifest's shape and dtype, the file's
    size and the memory budget before any data are read; files that resolve outside
    the trace directory (symlinks) are refused.
    """
    from ..io_safety import load_npy

    arrays = {}
    real_root = os.path.realpath(root)
    for p, info in m["files"].items():
        full = os.path.join(root, p)
        if not os.path.isfile(full):
            _fail(where, f"files[{p!r}]", f"file {full} is missing")
        real = os.path.realpath(full)
        if os.path.commonpath([real_root, real]) != real_root:
            _fail(full, "path", f"resolves to {real}, outside the trace directory (a symbolic link); refused")
        a = load_npy(full, f"{full}: contents", error=TraceError, mmap=p.startswith("data/"))
        if a.dtype.byteorder == ">" or str(a.dtype) != info["dtype"]:
            _fail(full, "dtype", f"file holds {a.dtype}, manifest files[{p!r}].dtype says {info['dtype']}")
        if list(a.shape) != info["shape"]:
            _fail(full, "shape", f"file holds shape {list(a.shape)}, manifest files[{p!r}].shape says {info['shape']}")
        _check_finite(full, "values", a)
        arrays[p] = a
    return arrays


def _infer(m, where, batch):
    """Full shapes of every tensor at a given batch size, plus dtypes and ops."""
    from .loader import Op
    shapes, dtypes = {}, {}
    for inp in m["inputs"]:
        if inp["name"] in shapes:
            _fail(where, "inputs", f"duplicate input name {inp['name']!r}")
        shapes[inp["name"]] = (batch,) + tuple(inp["shape"])
        dtypes[inp["name"]] = inp["dtype"]
    names, ops = set(), []
    files = m["files"]
    for i, o in enumerate(m["ops"]):
        f = f"ops[{i}]"
        if not isinstance(o, dict):
            _fail(where, f, "must be an object")
        for k in ("name", "kind", "inputs", "outputs"):
            if k not in o:
                _fail(where, f"{f}.{k}", "missing required key")
        if set(o) - mf.OP_KEYS:
            _fail(where, f"{f}.{sorted(set(o) - mf.OP_KEYS)[0]}", "unknown key")
        name = o["name"]
        if not isinstance(name, str) or not name or name in names:
            _fail(where, f"{f}.name", f"must be a unique non-empty string, got {name!r}")
        names.add(name)
        f = f"ops[{i}] ({name})"
        spec = SPECS.get(o["kind"]) if isinstance(o["kind"], str) else None
        if spec is None:
            _fail(where, f"{f}.kind", f"unknown op kind {o['kind']!r} (known: {sorted(SPECS)})")
        ins, outs = o["inputs"], o["outputs"]
        if not isinstance(ins, list) or not all(isinstance(t, str) for t in ins):
            _fail(where, f"{f}.inputs", f"must be a list of tensor names, got {ins!r}")
        lo, hi = spec.n_inputs
        if len(ins) < lo or (hi >= 0 and len(ins) > hi):
            _fail(where, f"{f}.inputs", f"{o['kind']} takes {lo}..{hi if hi >= 0 else 'any'} inputs, got {len(ins)}")
        for t in ins:
            if t not in shapes:
                _fail(where, f"{f}.inputs", f"tensor {t!r} is not a graph input or an earlier op's output "
                                            "(ops must be in topological order)")
        if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], str) or not outs[0]:
            _fail(where, f"{f}.outputs", f"must be a list of one tensor name, got {outs!r}")
        if outs[0] in shapes:
            _fail(where, f"{f}.outputs", f"tensor {outs[0]!r} is already defined")
        params = o.get("params", {})
        attrs = o.get("attrs", {})
        if not isinstance(params, dict) or not isinstance(attrs, dict):
            _fail(where, f, "params and attrs must be objects")
        for r in spec.params:
            if r not in params:
                _fail(where, f"{f}.params.{r}", f"required by kind {o['kind']!r}")
        for r, p in params.items():
            if r not in spec.params + spec.optional_params:
                _fail(where, f"{f}.params.{r}", f"kind {o['kind']!r} takes params {list(spec.params + spec.optional_params)}")
            if not isinstance(p, str) or not p.startswith("tensors/") or p not in files:
                _fail(where, f"{f}.params.{r}", f"names {p!r}, which is not a tensors/ file in the files table")
            if files[p]["dtype"] != "float32" and not (r in spec.int_params and files[p]["dtype"] == "int64"):
                _fail(where, f"{f}.params.{r}", f"{p} must be float32, is {files[p]['dtype']}")
        for a in spec.attrs:
            if a not in attrs:
                _fail(where, f"{f}.attrs.{a}", f"required by kind {o['kind']!r}")
        for a in attrs:
            if a not in spec.attrs + spec.optional_attrs:
                _fail(where, f"{f}.attrs.{a}", f"kind {o['kind']!r} takes attrs {list(spec.attrs + spec.optional_attrs)}")
        in_dt = [dtypes[t] for t in ins]
        pdts = {r: files[p]["dtype"] for r, p in params.items()}
        try:
            out_dt = spec.dtype(in_dt, pdts, attrs)
        except ValueError as exc:
            _fail(where, f"{f}.inputs", f"{o['kind']}: {exc}")
        pshapes = {r: tuple(files[p]["shape"]) for r, p in params.items()}
        try:
            out_shapes = spec.shape([shapes[t] for t in ins], pshapes, attrs)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            _fail(where, f, f"{o['kind']}: {exc}")
        shapes[outs[0]] = tuple(int(d) for d in out_shapes[0])
        dtypes[outs[0]] = out_dt
        ops.append(Op(name=name, kind=o["kind"], index=i, inputs=tuple(ins), outputs=tuple(outs),
                      params=dict(params), attrs=dict(attrs)))
    return shapes, dtypes, ops


def _batch_axes(s1, s2, where, t):
    ax = tuple(i for i, (a, b) in enumerate(zip(s1, s2)) if a != b)
    for i in ax:
        if s2[i] != 2 * s1[i]:
            _fail(where, f"tensor {t!r}", f"size of axis {i} is not proportional to the batch size")
    return ax


def _check_batch_use(op, spec, sh1, baxes, where):
    """Ops must not mix samples: no reductions/norms/concat along batch axes."""
    f = f"ops[{op.index}] ({op.name})"
    if not op.inputs:  # a constant: no batch axis
        return
    x = op.inputs[0]
    nd = len(sh1[x])
    bx = baxes[x]
    for a in spec.axis_attrs:
        vals = op.attrs[a] if a in op.attrs else ([-1] if a == "axis" else [])
        vals = vals if isinstance(vals, list) else [vals]
        for v in vals:
            if not _is_int(v) or not -nd <= v < nd:
                _fail(where, f"{f}.attrs.{a}", f"axis {v!r} out of range for rank {nd}")
            if v % nd in bx:
                _fail(where, f"{f}.attrs.{a}", f"axis {v} is the batch axis of {x!r}")
    k = op.kind
    if spec.batch_first and bx != (0,):
        _fail(where, f"{f}.inputs", f"{k} needs the batch on axis 0 of {x!r}, batch axes are {list(bx)}")
    if spec.batch_rule is not None:
        try:
            spec.batch_rule([baxes[t] for t in op.inputs], [sh1[t] for t in op.inputs], op.attrs)
        except ValueError as exc:
            _fail(where, f"{f}.inputs", f"{k}: {exc} of {x!r}")
    if k == "linear" and (len(bx) != 1 or bx[0] == nd - 1):
        _fail(where, f"{f}.inputs", f"linear needs one batch axis, not the last, in {x!r}; got {list(bx)}")
    if k == "matmul":
        for t in op.inputs:
            if len(baxes[t]) != 1 or baxes[t][0] >= len(sh1[t]) - 2 or baxes[t] != bx:
                _fail(where, f"{f}.inputs", f"matmul operands need the same single batch axis among the "
                                            f"leading dims; {t!r} has {list(baxes[t])}")


def check_graph(m, arrays, where):
    """Ops, shapes, batch axes, data and labels; returns (ops, shapes1, batch_axes, batch_mult)."""
    sh1, dt, ops = _infer(m, where, 1)
    sh2, _, _ = _infer(m, where, 2)
    baxes = {t: _batch_axes(sh1[t], sh2[t], where, t) for t in sh1}
    bmult = {t: (sh1[t][baxes[t][0]] if len(baxes[t]) == 1 else None) for t in sh1}
    for op in ops:
        _check_batch_use(op, SPECS[op.kind], sh1, baxes, where)
    for i, o in enumerate(m["outputs"]):
        if o not in sh1:
            _fail(where, f"outputs[{i}]", f"tensor {o!r} is not produced by any op")
        if baxes[o] != (0,) or bmult[o] != 1:
            _fail(where, f"outputs[{i}]", f"tensor {o!r} must have the batch on axis 0")
    files = m["files"]
    for p in files:
        if p.startswith("tensors/") and p in arrays and arrays[p].dtype not in (np.float32, np.int64):
            _fail(where, f"files[{p!r}].dtype", "tensors/ files must be float32 (or int64 constant values)")
    kind = m["kind"]
    if kind == "layer":
        for op in ops:
            if not SPECS[op.kind].gemm:
                _fail(where, f"ops[{op.index}] ({op.name}).kind", f"a layer trace holds GEMM ops only, got {op.kind!r}")
    if m.get("metric") == "top1":
        y = sh1[m["outputs"][0]]
        if len(y) != 2:
            _fail(where, "outputs[0]", f"metric top1 needs (batch, classes) outputs, got shape {list(y)}")
    if m.get("metric") == "top1_dense":
        y = sh1[m["outputs"][0]]
        if len(y) < 2:
            _fail(where, "outputs[0]", f"metric top1_dense needs (batch, classes, ...) outputs, got shape {list(y)}")
    data = m.get("data")
    if kind == "shape":
        if data:
            _fail(where, "data", "a shape-only trace has no data")
        return ops, sh1, baxes, bmult
    if not isinstance(data, dict):
        _fail(where, "data", f"a {kind} trace needs a data object")
    if set(data) - {"num_samples", "inputs", "labels", "reference"}:
        _fail(where, "data." + sorted(set(data) - {"num_samples", "inputs", "labels", "reference"})[0], "unknown key")
    n = data.get("num_samples")
    if not _is_int(n) or n < 1:
        _fail(where, "data.num_samples", f"must be a positive integer, got {n!r}")
    dins = data.get("inputs")
    if not isinstance(dins, dict) or set(dins) != {i["name"] for i in m["inputs"]}:
        _fail(where, "data.inputs", f"must map every graph input {[i['name'] for i in m['inputs']]} to a data file")
    for inp in m["inputs"]:
        p = dins[inp["name"]]
        f = f"data.inputs.{inp['name']}"
        if not isinstance(p, str) or not p.startswith("data/") or p not in files:
            _fail(where, f, f"names {p!r}, which is not a data/ file in the files table")
        if tuple(files[p]["shape"]) != (n,) + tuple(inp["shape"]):
            _fail(where, f, f"{p} has shape {files[p]['shape']}, expected {[n] + inp['shape']}")
        if files[p]["dtype"] != inp["dtype"]:
            _fail(where, f, f"{p} has dtype {files[p]['dtype']}, input says {inp['dtype']}")
    lab = data.get("labels")
    if m.get("metric") is not None and lab is None:
        _fail(where, "data.labels", f"metric {m['metric']!r} needs labels")
    if lab is not None:
        if not isinstance(lab, str) or not lab.startswith("data/") or lab not in files:
            _fail(where, "data.labels", f"names {lab!r}, which is not a data/ file in the files table")
        want = [n]
        if m.get("metric") == "top1_dense":  # one label per output position: outputs[0] without the class axis
            want = [n] + list(sh1[m["outputs"][0]][2:])
        if files[lab]["shape"] != want or not files[lab]["dtype"].startswith("int"):
            _fail(where, "data.labels", f"{lab} must be integer with shape {want}, is {files[lab]['dtype']} {files[lab]['shape']}")
        if lab in arrays and m.get("metric") == "top1":
            a = np.asarray(arrays[lab])
            c = sh1[m["outputs"][0]][1]
            if a.size and (a.min() < 0 or a.max() >= c):
                _fail(where, "data.labels", f"{lab} holds labels outside [0, {c}): min {a.min()}, max {a.max()}")
        if lab in arrays and m.get("metric") == "top1_dense":
            a = np.asarray(arrays[lab])
            c = sh1[m["outputs"][0]][1]
            if not a.size or a.max() < 0:
                _fail(where, "data.labels", f"{lab} has no labelled position (labels < 0 are ignored by top1_dense)")
            if a.max() >= c:
                _fail(where, "data.labels", f"{lab} holds labels >= {c} classes: max {a.max()}")
    ref = data.get("reference") or {}
    if not isinstance(ref, dict):
        _fail(where, "data.reference", "must be an object")
    for t, p in ref.items():
        f = f"data.reference.{t}"
        if t not in sh1 or baxes[t] != (0,):
            _fail(where, f, f"{t!r} is not a tensor with the batch on axis 0")
        if not isinstance(p, str) or p not in files or tuple(files[p]["shape"]) != (n,) + sh1[t][1:]:
            _fail(where, f, f"names {p!r}; expected a data/ file of shape {[n] + list(sh1[t][1:])}")
    for p in files:
        if kind != "shape" and p not in arrays:
            _fail(where, f"files[{p!r}]", "no values supplied")
    return ops, sh1, baxes, bmult

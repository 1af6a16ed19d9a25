"""Write a trace directory (DESIGN 6 layout), validated before anything is written."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import numpy as np

from ..errors import TraceError
from . import manifest as mf

_SAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


def tensor_path(name: str, folder: str = "tensors") -> str:
    """A safe relative path ``<folder>/<name>.npy`` for a tensor name (slashes etc. -> ``_``)."""
    s = _SAFE.sub("_", name).strip("._") or "t"
    return f"{folder}/{s}.npy"


def _as_stored(p: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.hasobject:
        raise TraceError(f"write_trace: {p}: object arrays cannot be stored")
    if a.dtype.kind == "f":
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise TraceError(f"write_trace: {p}: holds non-finite values")
    elif a.dtype.kind in "iub":
        a = a.astype(np.int64)
    else:
        raise TraceError(f"write_trace: {p}: unsupported dtype {a.dtype}")
    return np.ascontiguousarray(a)


def write_trace(out_dir, manifest: dict, tensors: dict, data: dict | None = None, *,
                overwrite: bool = False):
    """Write ``out_dir/manifest.json``, ``tensors/*.npy`` and ``data/*.npy``; return the Trace.

    - ``manifest``: the manifest of :mod:`amssim.trace.manifest` without ``files``
      (filled in here from the arrays); ``format``/``version`` are set if absent.
      Op params and ``data`` entries name relative paths (``tensors/x.npy``,
      ``data/x.npy``; :func:`tensor_path` makes safe ones).
    - ``tensors``: ``{"tensors/<name>.npy": array}``: weights/constants (stored float32).
    - ``data``: ``{"data/<name>.npy": array}``: evaluation inputs (float32, or int64
      for token ids), labels (int64), references (float32). Omit for shape traces.
    - ``overwrite``: replace an existing trace directory (one holding manifest.json).

    Everything is validated (like :func:`load_trace`) before the directory appears;
    the directory is written next to ``out_dir`` and renamed into place.
    """
    from .loader import build_trace, load_trace

    out_dir = os.fspath(out_dir)
    m = dict(manifest)
    m.setdefault("format", mf.FORMAT)
    m.setdefault("version", mf.VERSION)
    arrays = {}
    for group, d, prefix in (("tensors", tensors or {}, "tensors/"), ("data", data or {}, "data/")):
        for p, a in d.items():
            if not mf.is_safe_relpath(p, (prefix,)):
                raise TraceError(f"write_trace: {group} key {p!r} must be a path {prefix}<name>.npy")
            arrays[p] = _as_stored(p, a)
    if m.get("kind") == "shape":
        if arrays:
            raise TraceError("write_trace: a shape-only trace takes no arrays")
        m.setdefault("files", {})
    else:
        m["files"] = {p: {"shape": list(a.shape), "dtype": str(a.dtype)} for p, a in sorted(arrays.items())}
    build_trace(m, arrays, where=f"write_trace({out_dir})")  # raises TraceError before writing
    if os.path.exists(out_dir):
        if not overwrite:
            raise TraceError(f"write_trace: {out_dir} exists (pass overwrite=True to replace a trace)")
        if os.listdir(out_dir) and not os.path.isfile(os.path.join(out_dir, "manifest.json")):
            raise TraceError(f"write_trace: {out_dir} exists and is not a trace; refusing to replace it")
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".trace-", dir=parent)
    try:
        for p, a in arrays.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(p)), exist_ok=True)
            np.save(os.path.join(tmp, p), a, allow_pickle=False)
        with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(m, f, indent=1, allow_nan=False)
            f.write("\n")
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_trace(out_dir)


def update_manifest(trace_dir, **fields):
    """Set top-level manifest fields (e.g. ``fp32_metric``) of an existing trace in place."""
    from .loader import load_trace

    mpath = os.path.join(os.fspath(trace_dir), "manifest.json")
    with open(mpath, encoding="utf-8") as f:
        m = json.load(f)
    m.update(fields)
    tmp = mpath + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(m, f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, mpath)
    return load_trace(trace_dir)

"""Write a trace directory (docs/architecture.md §6 layout), validated before anything is written."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import numpy as np

from ..errors import TraceError
from ..io_safety import atomic_write, check_output_dir, replace_trace_dir, write_error
from . import manifest as mf

#: MACs per inference a trace may hold: counters (cycles, actions, energy) are int64
MAX_MACS_PER_INFERENCE = 2**63
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
        a = a.astype(np.float32, copy=False)
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
    - ``overwrite``: replace an existing directory that is purely an amssim trace
      (manifest.json, tensors/, data/ and nothing else); a symlink or any other
      directory is refused (:class:`~amssim.errors.OutputPathError`).

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
    built = build_trace(m, arrays, where=f"write_trace({out_dir})")  # raises TraceError before writing
    macs = built.macs()
    if macs >= MAX_MACS_PER_INFERENCE:
        raise TraceError(f"write_trace({out_dir}): {macs:.3g} MACs per inference; more than "
                         f"{MAX_MACS_PER_INFERENCE:.3g} cannot be counted (int64) -- check the shapes")
    check_output_dir(out_dir, "write_trace: output", trace=True, overwrite=overwrite)
    parent = os.path.dirname(os.path.abspath(out_dir))
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".trace-", dir=parent)
    except OSError as exc:
        raise write_error(exc, out_dir, "write_trace: output") from exc
    try:
        for p, a in arrays.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(p)), exist_ok=True)
            np.save(os.path.join(tmp, p), a, allow_pickle=False)
        with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(m, f, indent=1, allow_nan=False)
            f.write("\n")
        replace_trace_dir(tmp, out_dir, option="write_trace: output")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(exc, out_dir, "write_trace: output") from exc
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
    atomic_write(mpath, json.dumps(m, indent=1, allow_nan=False) + "\n", option="manifest")
    return load_trace(trace_dir)

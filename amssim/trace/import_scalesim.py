"""Import a SCALE-Sim topology CSV as a shape-only trace.

Two layouts are recognised by the header (case and spacing ignored; a trailing
comma and blank lines are tolerated, as in SCALE-Sim's own files):

- convolution: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
  Channels, Num Filter, Strides`` -> one ``conv2d`` op per row on a (Channels,
  IFMAP Height, IFMAP Width) input, no padding (SCALE-Sim's IFMAP sizes include any
  padding), square stride. A 1x1 filter over a 1x1 IFMAP is a fully connected layer.
- GEMM: ``Layer, M, N, K`` -> one ``linear`` op with M rows per inference, K
  reduction and N outputs (``GemmShape(m=M, k=K, n=N)``).

Rows are independent layers (each op reads its own input): the trace is for timing
mode or synthetic values.
"""

from __future__ import annotations

import csv
import os

from ..errors import TraceError
from .writer import tensor_path

_CONV = ["layer name", "ifmap height", "ifmap width", "filter height", "filter width", "channels",
         "num filter", "strides"]
_GEMM = ["layer", "m", "n", "k"]


def _norm(s):
    return " ".join(s.strip().lower().split())


def from_scalesim(csv_path, out_dir=None, *, name: str | None = None, overwrite: bool = False):
    """Read a SCALE-Sim topology CSV; return a shape-only Trace (written to ``out_dir`` if given)."""
    from .loader import build_trace
    from .writer import write_trace

    csv_path = os.fspath(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f)]
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{csv_path}: cannot read SCALE-Sim topology ({exc})") from None
    rows = [[c.strip() for c in r] for r in rows]
    rows = [r[:-1] if r and r[-1] == "" else r for r in rows]
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c for c in r)]
    if not numbered:
        raise TraceError(f"{csv_path}: empty topology file")
    hline, header = numbered[0]
    head = [_norm(c) for c in header]
    if head[:8] == _CONV:
        mode, ncol = "conv", 8
    elif head[:4] == _GEMM:
        mode, ncol = "gemm", 4
    else:
        raise TraceError(f"{csv_path}: line {hline}: header {header} is neither the SCALE-Sim convolution "
                         f"layout ({', '.join(_CONV)}) nor the GEMM layout ({', '.join(_GEMM)})")
    inputs: list[dict] = []
    ops: list[dict] = []
    files: dict[str, dict] = {}
    names: set[str] = set()
    for line, r in numbered[1:]:
        if len(r) < ncol:
            raise TraceError(f"{csv_path}: line {line}: expected {ncol} columns, got {len(r)}: {r}")
        lname = r[0] or f"layer{len(ops)}"
        if lname in names:
            raise TraceError(f"{csv_path}: line {line}: duplicate layer name {lname!r}")
        names.add(lname)
        vals = []
        for col, v in zip(header[1:ncol], r[1:ncol]):
            try:
                iv = int(float(v))
                if iv != float(v) or iv < 1:
                    raise ValueError
            except (ValueError, OverflowError):  # OverflowError: inf, 1e400
                raise TraceError(f"{csv_path}: line {line}: column {col.strip()!r}: expected a positive integer, "
                                 f"got {v!r}") from None
            vals.append(iv)
        x, w = f"{lname}:in", tensor_path(f"{lname}.weight")
        if mode == "conv":
            h, wd, fh, fw, c, nf, s = vals
            if fh > h or fw > wd:
                raise TraceError(f"{csv_path}: line {line}: filter {fh}x{fw} larger than IFMAP {h}x{wd}")
            inputs.append({"name": x, "shape": [c, h, wd], "dtype": "float32"})
            files[w] = {"shape": [nf, c, fh, fw], "dtype": "float32"}
            ops.append({"name": lname, "kind": "conv2d", "inputs": [x], "outputs": [f"{lname}:out"],
                        "params": {"weight": w}, "attrs": {"stride": [s, s], "padding": [0, 0, 0, 0]}})
        else:
            m, n, k = vals
            inputs.append({"name": x, "shape": [m, k], "dtype": "float32"})
            files[w] = {"shape": [n, k], "dtype": "float32"}
            ops.append({"name": lname, "kind": "linear", "inputs": [x], "outputs": [f"{lname}:out"],
                        "params": {"weight": w}})
    if not ops:
        raise TraceError(f"{csv_path}: no layers after the header")
    manifest = {"format": "amssim-trace", "version": 1, "kind": "shape", "metric": None,
                "name": name or os.path.splitext(os.path.basename(csv_path))[0], "task": "shape-only",
                "inputs": inputs, "outputs": [o["outputs"][0] for o in ops], "ops": ops, "files": files,
                "source": {"importer": "amssim.trace.from_scalesim", "csv": os.path.basename(csv_path),
                           "layout": mode}}
    if out_dir is None:
        return build_trace(manifest, {}, where=csv_path)
    return write_trace(out_dir, manifest, {}, None, overwrite=overwrite)

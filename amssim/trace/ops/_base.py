"""The op table: :class:`OpSpec`, the registry and helpers shared by the op families.

Every op kind of a trace has ONE definition, in the module of its family
(:mod:`.gemm`, :mod:`.elementwise`, :mod:`.shape`, :mod:`.norm`, :mod:`.pool`,
:mod:`.index`, :mod:`.reduce`): its attributes, shape rule, dtype rule, numpy
float32 implementation (the executor) and torch implementation (the finetune
interpreter), side by side. Importers only translate framework graphs into these
kinds; ``tests/test_op_parity.py`` checks that the two implementations agree on
every kind.

Conventions: tensors have FULL shapes including the batch (sample) axis; axis
attributes are in full coordinates (negative allowed). Dtypes are "float32" or
"int64" ("int32" graph inputs count as integers); booleans are float32 0/1.
Shape rules raise ``ValueError``; the loader names the file, op and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

F32 = np.float32
INT_DTYPES = ("int64", "int32")
#: every registered op kind -> its spec (filled by the family modules at import)
SPECS: dict[str, "OpSpec"] = {}


class OpDataError(ValueError):
    """Raised by an op implementation when the DATA is invalid (an id or index out of
    range): the executor reports it as bad input (exit 2). Any other exception from an
    op is a bug and is not disguised as bad input."""


def _fail_dtype(msg):
    raise ValueError(msg)


def dt_float(in_dts, pdts, at):
    """Every input float32 -> float32 (the default)."""
    if any(d != "float32" for d in in_dts):
        _fail_dtype(f"needs float32 inputs, got {list(in_dts)}")
    return "float32"


def dt_same(in_dts, pdts, at):
    """Shape ops: every input of one dtype, kept."""
    if len(set(in_dts)) > 1 and not all(d in INT_DTYPES for d in in_dts):
        _fail_dtype(f"inputs must share one dtype, got {list(in_dts)}")
    return "int64" if in_dts[0] in INT_DTYPES else in_dts[0]


def dt_numeric(in_dts, pdts, at):
    """Arithmetic: all integer -> int64, otherwise float32 (integers converted)."""
    return "int64" if all(d in INT_DTYPES for d in in_dts) else "float32"


def dt_to_float(in_dts, pdts, at):
    """Comparisons and friends: any dtype in, float32 (0/1) out."""
    return "float32"


def dt_first_float(in_dts, pdts, at):
    """First input float32, the others integer indices; float32 out."""
    if in_dts[0] != "float32" or any(d not in INT_DTYPES for d in in_dts[1:]):
        _fail_dtype(f"needs a float32 input and integer indices, got {list(in_dts)}")
    return "float32"


def dt_gather(in_dts, pdts, at):
    """Data of any dtype, then integer indices; keeps the data dtype."""
    if any(d not in INT_DTYPES for d in in_dts[1:]):
        _fail_dtype(f"indices must be integer, got {list(in_dts[1:])}")
    return "int64" if in_dts[0] in INT_DTYPES else in_dts[0]


def dt_int_out(in_dts, pdts, at):
    """Float32 in, int64 indices out (argmax, max-pool indices)."""
    dt_float(in_dts, pdts, at)
    return "int64"


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """What a kind accepts and how it runs (numpy float32 and torch)."""

    kind: str
    family: str  #: module that defines it
    n_inputs: tuple[int, int]  #: (min, max) number of input tensors; max -1 = any
    params: tuple[str, ...] = ()  #: required parameter names
    optional_params: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()  #: required attribute names
    optional_attrs: tuple[str, ...] = ()
    shape: Callable  #: (in_shapes, param_shapes, attrs) -> [out_shape]
    run: Callable  #: numpy: (inputs, params, attrs) -> [output]
    torch: Callable | None = None  #: torch: (inputs, params, attrs) -> output tensor
    dtype: Callable = dt_float  #: (input dtypes, param dtypes, attrs) -> output dtype (raises ValueError)
    gemm: bool = False  #: sent to the numeric backend
    axis_attrs: tuple[str, ...] = ()  #: attrs naming axes that must not be batch axes
    batch_first: bool = False  #: needs the batch on axis 0 of input 0 (NC... layouts)
    int_params: tuple[str, ...] = ()  #: params that may hold int64 values
    #: extra batch-axis check: (batch axes of each input, input shapes at batch 1, attrs),
    #: raises ValueError when the op would mix samples
    batch_rule: Callable | None = None
    doc: str = ""  #: one line for the README / error messages


def register(kind, family, n_inputs, shape, run, torch=None, **kw) -> OpSpec:
    if kind in SPECS:
        raise RuntimeError(f"op kind {kind!r} registered twice")
    s = OpSpec(kind=kind, family=family, n_inputs=n_inputs, shape=shape, run=run, torch=torch, **kw)
    SPECS[kind] = s
    return s


def torch_mod():
    """The torch module (imported lazily: torch is an optional dependency)."""
    import torch

    return torch


# ---------------------------------------------------------------- shared helpers

def attr_float(v) -> float:
    """A float attribute that may be written as "inf" / "-inf" in JSON."""
    if isinstance(v, str):
        if v not in ("inf", "-inf"):
            raise ValueError(f"expected a number or 'inf'/'-inf', got {v!r}")
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {v!r}")
    return float(v)


def norm_axis(axis: int, ndim: int) -> int:
    """``axis`` in [0, ndim), or ValueError."""
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} out of range for rank {ndim}")
    return axis % ndim


def bcast(*shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ValueError(f"shapes {[list(s) for s in shapes]} do not broadcast") from None


def same_shape(ins, ps, at):
    return [ins[0]]


def round_bf16(a: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), kept as float32."""
    a = np.ascontiguousarray(a, dtype=F32)
    u = a.view(np.uint32)
    with np.errstate(over="ignore"):
        r = (u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))) & np.uint32(0xFFFF0000)
    out = r.view(F32)
    nan = np.isnan(a)
    if nan.any():
        out = np.where(nan, a, out)
    return out


def as_f32(a):
    """numpy value as float32 (integers and 0/1 booleans converted)."""
    return np.asarray(a).astype(F32, copy=False)


def t_f32(a):
    """torch value as float32."""
    return a if a.dtype == torch_mod().float32 else a.float()

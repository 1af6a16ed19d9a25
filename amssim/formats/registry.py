"""Format names -> specs, and the validated ``quantize`` entry point."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .._rng import Stream, stream_key
from ..errors import ConfigError, FormatError
from .abfp import AbfpSpec
from .bfp import BfpSpec
from .intq import IntSpec
from .logposit import make_logposit
from .minifloat import Fp32Spec, make_bf16, make_fp, make_ocp_e4m3, make_ocp_e5m2
from .mx import DEFAULT_BLOCK, MxSpec
from .posit import make_posit
from .rounding import RoundingMode
from .spec import FormatSpec, RunContext


class NonFiniteInputError(ConfigError):
    """An array given to a format contains NaN or Inf (no format here encodes them)."""


@dataclass(frozen=True)
class FormatFamily:
    """One row of :func:`list_formats`."""

    pattern: str  # name pattern, e.g. "posit{n}_{es}"
    example: str  # a valid name
    bits: str  # storage bits per element (formula)
    description: str
    regex: str
    build: Callable[..., FormatSpec]


def _i(v: str | None) -> int | None:
    return None if v is None else int(v)


_FAMILIES: tuple[FormatFamily, ...] = (
    FormatFamily("fp_e{E}m{M}[_b{bias}]", "fp_e6m7", "1+E+M",
                 "narrow float (Hill et al.): subnormals, no inf/NaN, saturating; bias 2^(E-1)-1 by default",
                 r"fp_e(\d+)m(\d+)(?:_b(-?\d+))?",
                 lambda n, m: make_fp(int(m[1]), int(m[2]), _i(m[3]), n)),
    FormatFamily("fp8_e4m3", "fp8_e4m3", "8", "OCP FP8 E4M3: bias 7, max 448, saturating (satfinite)",
                 r"fp8_e4m3", lambda n, m: make_ocp_e4m3(n)),
    FormatFamily("fp8_e5m2", "fp8_e5m2", "8", "OCP FP8 E5M2: bias 15, max 57344, saturating (satfinite)",
                 r"fp8_e5m2", lambda n, m: make_ocp_e5m2(n)),
    FormatFamily("bf16", "bf16", "16", "bfloat16 (IEEE-style: nearest modes overflow to inf)",
                 r"bf16", lambda n, m: make_bf16(n)),
    FormatFamily("fp32", "fp32", "32", "IEEE binary32 (identity)", r"fp32", lambda n, m: Fp32Spec(name=n)),
    FormatFamily("int{b}[_pc]", "int8", "b", "symmetric integer +-(2^(b-1)-1), max-abs fp32 scale per tensor "
                 "(_pc: per channel = per slice along the axis)",
                 r"int(\d+)(_pc)?", lambda n, m: IntSpec(name=n, bits=int(m[1]), per_channel=m[2] is not None)),
    FormatFamily("bfp_m{M}_g{G}", "bfp_m4_g16", "1+M+8/G",
                 "block floating point (FAST): sign + M-bit magnitude, G elements share the max exponent",
                 r"bfp_m(\d+)_g(\d+)", lambda n, m: BfpSpec(name=n, man_bits=int(m[1]), group=int(m[2]))),
    FormatFamily("mx{fp8_e4m3|fp8_e5m2|fp6_e3m2|fp6_e2m3|fp4_e2m1|int8}[_g{G}]", "mxfp8_e4m3",
                 "element+8/G", f"OCP MX v1.0: E8M0 power-of-two scale per block (default {DEFAULT_BLOCK})",
                 r"mx(fp8_e4m3|fp8_e5m2|fp6_e3m2|fp6_e2m3|fp4_e2m1|int8)(?:_g(\d+))?",
                 lambda n, m: MxSpec(name=n, element=m[1], group=int(m[2] or DEFAULT_BLOCK))),
    FormatFamily("posit{n}_{es}", "posit8_1", "n", "posit (Posit Standard 2022, any es < n), saturating, n <= 16",
                 r"posit(\d+)_(\d+)", lambda n, m: make_posit(int(m[1]), int(m[2]), n)),
    FormatFamily("lp{n}_{es}_{rs}_{sf}", "lp8_1_3_2", "n",
                 "logarithmic posit (Ramachandran et al. 2024): 2^(2^es k + e + f - sf), regime <= rs bits",
                 r"lp(\d+)_(\d+)_(\d+)_(-?\d+)",
                 lambda n, m: make_logposit(int(m[1]), int(m[2]), int(m[3]), int(m[4]), n)),
    FormatFamily("abfp_{b}_n{tile}", "abfp_8_n128", "b+16/tile",
                 "ABFP digital encoding: bf16 max-abs scale per tile, symmetric b-bit codes",
                 r"abfp_(\d+)_n(\d+)", lambda n, m: AbfpSpec(name=n, bits=int(m[1]), tile=int(m[2]))),
)


def list_formats() -> tuple[FormatFamily, ...]:
    """Every format family: name pattern, example, storage bits and description."""
    return _FAMILIES


def _valid_patterns() -> str:
    return ", ".join(f.pattern for f in _FAMILIES)


@lru_cache(maxsize=256)
def _parse(name: str) -> FormatSpec:
    big = [d for d in re.findall(r"\d+", name) if len(d) > 6]
    if big:  # bounded before any int() or numpy conversion can overflow
        raise FormatError(f"format name {name[:80]!r}: number {big[0][:20]}... is too large")
    for fam in _FAMILIES:
        m = re.fullmatch(fam.regex, name)
        if m:
            try:
                return fam.build(name, m)
            except (OverflowError, MemoryError) as exc:
                raise FormatError(f"format name {name!r}: a parameter is too large ({exc})") from exc
    raise FormatError(f"unknown format name {name!r}; valid patterns: {_valid_patterns()}")


def get_format(fmt: "str | FormatSpec") -> FormatSpec:
    """The spec registered under ``fmt`` (case-insensitive; specs pass through)."""
    if isinstance(fmt, FormatSpec):
        return fmt
    if not isinstance(fmt, str):
        raise FormatError(f"format must be a name string, got {type(fmt).__name__} {fmt!r}; "
                          f"valid patterns: {_valid_patterns()}")
    return _parse(fmt.strip().lower())


def _as_float32(x, argument: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise ConfigError(f"{argument} must be a real numeric array, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float32, order="C")


def _keys(mode: RoundingMode, seed, layer: int):
    if mode != RoundingMode.STOCHASTIC:
        return np.uint32(0), np.uint32(0)
    if seed is None:
        raise ConfigError("rounding='stochastic' needs an integer seed (got seed=None)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) < 0:
        raise ConfigError(f"layer must be a non-negative integer, got {layer!r}")
    return stream_key(int(seed), Stream.STOCHASTIC_ROUNDING, int(layer))


def quantize(x, fmt, axis: int = -1, rounding="nearest_even", seed=None, *, layer: int = 0,
             index_offset: int = 0, salt: int = 0, argument: str = "x",
             tensor_rows: int | None = None) -> np.ndarray:
    """Fake-quantise ``x`` to format ``fmt`` (quantise then dequantise).

    Returns a float32 array of ``x``'s shape holding values representable in the
    format. ``axis`` is the blocking axis of block formats (BFP, MX, ABFP,
    per-channel INT); elementwise formats ignore it. ``rounding`` is one of
    nearest_even, nearest_away, toward_zero, stochastic; stochastic needs ``seed``
    and draws from stream STOCHASTIC_ROUNDING of ``layer`` keyed by each element's
    flat (C-order) index in ``x`` plus ``index_offset``; ``salt`` separates operands.
    ``tensor_rows`` (2-D ``x``, ``axis`` -1): ``x`` is a stack of tensors of that many rows
    each; a per-tensor-scaled format (``int{b}``) takes one scale per tensor, exactly as
    quantising each one alone; other formats ignore it.
    Raises FormatError (bad name), ConfigError (bad argument) and
    NonFiniteInputError (NaN/Inf in ``x``).
    """
    spec = get_format(fmt)
    mode = RoundingMode.parse(rounding)
    k0, k1 = _keys(mode, seed, layer)
    if isinstance(index_offset, bool) or not isinstance(index_offset, (int, np.integer)) or index_offset < 0:
        raise ConfigError(f"index_offset must be a non-negative integer, got {index_offset!r}")
    if isinstance(salt, bool) or not isinstance(salt, (int, np.integer)) or not (0 <= salt < 2**32):
        raise ConfigError(f"salt must be an integer in [0, 2^32), got {salt!r}")
    arr = _as_float32(x, argument)
    if not spec.blocked:
        flat = arr.reshape(-1)
        ctx = RunContext(mode, k0, k1, np.zeros(1, np.int64), 1, int(index_offset), int(salt))
        out, nbad = spec._run_flat(flat, ctx) if flat.size else (flat.copy(), 0)
        _check_bad(nbad, argument, arr)
        return out.reshape(arr.shape)
    if arr.ndim == 0:
        raise ConfigError(f"{argument}: format {spec.name!r} blocks along an axis; got a 0-d array")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not (-arr.ndim <= axis < arr.ndim):
        raise ConfigError(f"axis={axis!r} is out of range for {argument} with shape {arr.shape}")
    ax = int(axis) % arr.ndim
    length = arr.shape[ax]
    outer = int(np.prod(arr.shape[:ax], dtype=np.int64))
    inner = int(np.prod(arr.shape[ax + 1:], dtype=np.int64))
    if arr.size == 0:
        return arr.copy()
    moved = np.moveaxis(arr, ax, -1)
    x2 = np.ascontiguousarray(moved).reshape(-1, length)
    base = (np.arange(outer, dtype=np.int64)[:, None] * (length * inner)
            + np.arange(inner, dtype=np.int64)[None, :]).reshape(-1) + int(index_offset)
    group = 0
    if tensor_rows is not None:
        if arr.ndim != 2 or ax != 1:
            raise ConfigError(f"tensor_rows needs a 2-D {argument} quantised along its last axis, "
                              f"got shape {arr.shape} and axis={axis}")
        if isinstance(tensor_rows, bool) or not isinstance(tensor_rows, (int, np.integer)) \
                or tensor_rows < 1 or arr.shape[0] % tensor_rows:
            raise ConfigError(f"tensor_rows must be a positive integer dividing the {arr.shape[0]} rows of "
                              f"{argument}, got {tensor_rows!r}")
        group = int(tensor_rows) if spec.tensor_scaled else 0
    ctx = RunContext(mode, k0, k1, base, inner, int(index_offset), int(salt), group)
    out2, nbad = spec._run_rows(x2, ctx)
    _check_bad(nbad, argument, arr)
    out = np.moveaxis(out2.reshape(moved.shape), -1, ax)
    return np.ascontiguousarray(out)


def _check_bad(nbad: int, argument: str, arr: np.ndarray) -> None:
    if nbad:
        first = np.unravel_index(int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0]), arr.shape)
        raise NonFiniteInputError(
            f"{argument} contains {int(nbad)} non-finite value(s) (NaN/Inf), first at index "
            f"{tuple(int(i) for i in first)}; number formats quantise finite values only"
        )

"""Sweep grids: ``--grid key=v1,v2,...`` arguments and TOML sweep files -> points.

A *point* is one dict of ``--set`` overrides (dotted device-model key -> value
string, docs/architecture.md §13). A sweep is a list of points, each run with several noise
seeds. Values stay strings here: their types are checked by the run layer's
validator (``amssim.run.validate_overrides``), which the sweep engine calls
before any run starts.

Sweep file (TOML)::

    trace = "workloads/fsdd-cnn"    # optional: used when the command line gives none
    device = "abfp-paper"            # optional
    mode = "accuracy"               # optional: full | accuracy | timing
    seeds = 10                      # optional: N (seeds 0..N-1) or a list [0, 3, 7]

    [set]                           # optional: fixed overrides for every point
    "noise.lsb" = 0.5

    [grid]                          # cartesian product (nested tables are flattened)
    "numerics.tile_width" = [8, 32, 128]
    numerics.gain = [1, 2, 4, 8, 16]

    [[points]]                      # optional explicit points; each is crossed with [grid]
    "numerics.adc_bits" = 8
    [[points]]
    "numerics.adc_bits" = 6

The resulting points are: every ``[[points]]`` entry (or one empty point) x every
grid combination, each merged with ``[set]`` and the ``--set``/``--grid``
arguments of the command line. A key given twice is an error.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Mapping, Sequence

from ..limits import MAX_SWEEP_RUNS, check_count
from ..errors import ConfigError
from ..config.overrides import check_set_key, parse_set
from ..run.options import MODES

__all__ = [
    "SweepFile",
    "parse_grid_arg",
    "parse_set_arg",
    "expand_grid",
    "build_points",
    "load_sweep_file",
    "seed_list",
    "value_to_str",
]


def value_to_str(value: object, *, where: str) -> str:
    """Render a TOML scalar as the override string the run layer parses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: value {value!r} is not finite")
        return repr(value)
    if isinstance(value, str):
        if not value.strip():
            raise ConfigError(f"{where}: empty value")
        return value
    raise ConfigError(
        f"{where}: value {value!r} has type {type(value).__name__}; "
        "expected a string, integer, float or boolean"
    )


def parse_grid_arg(text: str) -> tuple[str, list[str]]:
    """Parse one ``--grid KEY=V1,V2,...`` argument into ``(key, [values])``."""
    where = f"--grid {text!r}"
    if "=" not in text:
        raise ConfigError(f"{where}: expected KEY=V1,V2,...")
    key, _, rest = text.partition("=")
    key = check_set_key(key, where=where)
    values = [v.strip() for v in rest.split(",")]
    if not rest.strip() or any(not v for v in values):
        raise ConfigError(f"{where}: empty value in the list")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: a value is listed twice")
    return key, values


def parse_set_arg(text: str) -> tuple[str, str]:
    """Parse one ``--set KEY=VALUE`` argument (the one parser: :func:`amssim.config.overrides.parse_set`)."""
    return parse_set(text)


def expand_grid(grid: Sequence[tuple[str, Sequence[str]]]) -> list[dict[str, str]]:
    """Cartesian product of ``[(key, values), ...]`` in the order given (last key fastest).

    An empty grid gives one empty point.
    """
    keys = [k for k, _ in grid]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ConfigError(f"grid key {sorted(dup)[0]!r} is given more than once")
    for k, vals in grid:
        if not vals:
            raise ConfigError(f"grid key {k!r} has no values")
    check_count(math.prod(len(v) for _, v in grid), MAX_SWEEP_RUNS, "the grid's number of points",
                hint=" (the product of the --grid/[grid] value counts)")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in grid))]


def _merge(parts: Sequence[tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    for name, part in parts:
        for k, v in part.items():
            if k in out:
                raise ConfigError(f"key {k!r} is set both in {origin[k]} and in {name}")
            out[k] = v
            origin[k] = name
    return out


def build_points(
    *,
    grid: Sequence[tuple[str, Sequence[str]]] = (),
    fixed: Mapping[str, str] | None = None,
    points: Sequence[Mapping[str, str]] = (),
) -> list[dict[str, str]]:
    """All points of a sweep: each explicit point x each grid combination, plus ``fixed``.

    With no grid and no points the result is one point (``fixed`` alone). Raises
    ConfigError when a key is set in two places or a point occurs twice.
    """
    check_count(math.prod(len(v) for _, v in grid) * max(1, len(points)), MAX_SWEEP_RUNS,
                "the sweep's number of points", hint=" (grid product x [[points]])")
    combos = expand_grid(grid)
    base_points = [dict(p) for p in points] or [{}]
    out: list[dict[str, str]] = []
    seen: set[tuple] = set()
    for i, p in enumerate(base_points):
        for combo in combos:
            merged = _merge([("--set/[set]", fixed or {}), (f"points[{i}]", p), ("the grid", combo)])
            ident = tuple(sorted(merged.items()))
            if ident in seen:
                raise ConfigError(f"point {merged} occurs twice in the sweep")
            seen.add(ident)
            out.append(merged)
    return out


def seed_list(seeds: int | Sequence[int], *, base: int = 0, where: str = "--seeds") -> tuple[int, ...]:
    """``N`` -> ``(base, ..., base+N-1)``; a list is checked (non-negative, distinct ints)."""
    if isinstance(seeds, bool):
        raise ConfigError(f"{where}: expected an integer count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"{where}: the number of seeds must be >= 1, got {seeds}")
        if base < 0:
            raise ConfigError(f"{where}: the first seed must be >= 0, got {base}")
        check_count(seeds, MAX_SWEEP_RUNS, f"{where}: the number of seeds")
        return tuple(range(base, base + seeds))
    if not isinstance(seeds, (list, tuple)):
        raise ConfigError(f"{where}: expected an integer count or a list of seeds, got {seeds!r}")
    check_count(len(seeds), MAX_SWEEP_RUNS, f"{where}: the number of seeds")
    out = tuple(seeds)
    if not out or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out):
        raise ConfigError(f"{where}: expected a non-empty list of integers >= 0, got {list(out)!r}")
    if len(set(out)) != len(out):
        raise ConfigError(f"{where}: a seed is listed twice in {list(out)!r}")
    return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepFile:
    """Contents of a TOML sweep file (see the module docstring)."""

    path: str  #: the file it came from
    trace: str | None  #: trace directory, or None (the command line must give one)
    device: str | None  #: device name or file, or None
    mode: str | None  #: "full" | "accuracy" | "timing", or None
    seeds: tuple[int, ...] | None  #: seeds per point, or None (command-line default)
    fixed: dict[str, str]  #: [set] overrides applied to every point
    grid: tuple[tuple[str, tuple[str, ...]], ...]  #: [grid] keys and values, file order
    points: tuple[dict[str, str], ...]  #: [[points]] entries


def _flatten(table: Mapping, *, prefix: str, where: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in table.items():
        key = check_set_key(f"{prefix}{k}", where=where)
        if isinstance(v, Mapping):
            out.update(_flatten(v, prefix=key + ".", where=where))
        else:
            out[key] = v
    return out


_TOP_KEYS = {"trace", "device", "mode", "seeds", "set", "grid", "points"}


def load_sweep_file(path: str | os.PathLike) -> SweepFile:
    """Read and validate a TOML sweep file. Bad content -> ConfigError naming file and key."""
    path = os.fspath(path)
    from ..io_safety import read_toml

    data = read_toml(path, "sweep file", error=ConfigError)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"sweep file {path!r}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_KEYS))})"
        )
    for name in ("trace", "device", "mode"):
        if name in data and not (isinstance(data[name], str) and data[name].strip()):
            raise ConfigError(f"sweep file {path!r}: {name!r} must be a non-empty string")
    mode = data.get("mode")
    if mode is not None and mode not in MODES:
        raise ConfigError(f"sweep file {path!r}: mode {mode!r} is not one of {', '.join(MODES)}")
    seeds = None
    if "seeds" in data:
        seeds = seed_list(data["seeds"], where=f"sweep file {path!r}: seeds")

    def table(name):
        v = data.get(name, {})
        if not isinstance(v, Mapping):
            raise ConfigError(f"sweep file {path!r}: [{name}] must be a table")
        return _flatten(v, prefix="", where=f"sweep file {path!r} [{name}]")

    fixed = {
        k: value_to_str(v, where=f"sweep file {path!r} [set] {k}") for k, v in table("set").items()
    }
    grid = []
    for k, vals in table("grid").items():
        where = f"sweep file {path!r} [grid] {k}"
        if not isinstance(vals, list):
            vals = [vals]
        if not vals:
            raise ConfigError(f"{where}: empty list of values")
        strs = tuple(value_to_str(v, where=where) for v in vals)
        if len(set(strs)) != len(strs):
            raise ConfigError(f"{where}: a value is listed twice")
        grid.append((k, strs))
    raw_points = data.get("points", [])
    if not isinstance(raw_points, list) or not all(isinstance(p, Mapping) for p in raw_points):
        raise ConfigError(f"sweep file {path!r}: points must be an array of tables ([[points]])")
    points = []
    for i, p in enumerate(raw_points):
        where = f"sweep file {path!r} points[{i}]"
        flat = _flatten(p, prefix="", where=where)
        points.append({k: value_to_str(v, where=f"{where} {k}") for k, v in flat.items()})
    return SweepFile(
        path=path,
        trace=data.get("trace"),
        device=data.get("device"),
        mode=mode,
        seeds=seeds,
        fixed=fixed,
        grid=tuple(grid),
        points=tuple(points),
    )

"""Aggregate stored rows over seeds: mean and standard deviation per point.

:func:`aggregate` turns store rows into one flat dict per point: identity keys
(``point_key``, ``trace``, ``device``, ``mode``, ``overrides``, ``seeds``,
``n_seeds``, ``config_hash``, ``metric``), then for every numeric result key ``k``
the mean ``k`` and the sample standard deviation ``k_std`` over seeds (ddof = 1;
None with one seed), ``energy_breakdown_j`` (mean per component) and ``layers``
(per-layer means, same keys as the RunResult, plus ``k_std`` per numeric layer key)
and ``device_kind`` (from the row or result when stored). Missing/None values are left out
of a mean; a key with no value at all is None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["aggregate", "point_labels", "numeric_keys", "group_by_trace", "load_summaries"]

_IDENTITY = ("point_key", "trace", "device", "mode", "overrides")
_SKIP_NUMERIC = {"seed", "wall_time_s"}


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _mean_std(values: Sequence[Any]) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if _is_num(v)]
    if not vals:
        return None, None
    if all(v == vals[0] for v in vals):  # exact: no rounding noise in mean or std
        return vals[0], (0.0 if len(vals) > 1 else None)
    m = math.fsum(vals) / len(vals)
    if len(vals) < 2:
        return m, None
    var = math.fsum((v - m) ** 2 for v in vals) / (len(vals) - 1)
    return m, math.sqrt(var)


def _mean_dicts(dicts: Sequence[Mapping]) -> dict[str, float | None]:
    keys: list[str] = []
    for d in dicts:
        for k in d:
            if k not in keys:
                keys.append(k)
    return {k: _mean_std([d.get(k) for d in dicts])[0] for k in keys}


def _mean_layers(layer_lists: Sequence[Sequence[Mapping]]) -> list[dict]:
    order: list[str] = []
    by_name: dict[str, list[Mapping]] = {}
    for layers in layer_lists:
        for layer in layers or []:
            name = str(layer.get("name"))
            if name not in by_name:
                order.append(name)
                by_name[name] = []
            by_name[name].append(layer)
    out = []
    for name in order:
        entries = by_name[name]
        merged: dict = {"name": name}
        for k in entries[0]:
            if k == "name":
                continue
            vals = [e.get(k) for e in entries]
            if any(_is_num(v) for v in vals):
                merged[k], merged[f"{k}_std"] = _mean_std(vals)
            else:
                merged[k] = entries[0].get(k)
        out.append(merged)
    return out


def aggregate(rows: Iterable[Mapping]) -> list[dict]:
    """One summary dict per point, in order of first appearance."""
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(row["point_key"], []).append(row)
    out = []
    for key, grp in groups.items():
        grp = sorted(grp, key=lambda r: r["seed"])
        results = [r["result"] for r in grp]
        first = grp[0]
        summary: dict = {
            "point_key": key,
            "trace": first.get("trace", results[0].get("trace")),
            "device": first.get("device", results[0].get("device")),
            "mode": first.get("mode", results[0].get("mode")),
            "overrides": dict(first.get("overrides", {})),
            "seeds": [r["seed"] for r in grp],
            "n_seeds": len(grp),
            "config_hash": results[0].get("config_hash"),
            "metric": results[0].get("metric"),
            # "analog" / "digital" once devices carry a kind (row or result); None = not stored
            "device_kind": first.get("device_kind", results[0].get("device_kind")),
        }
        num_keys: list[str] = []
        for res in results:
            for k, v in res.items():
                if k not in _SKIP_NUMERIC and k not in num_keys and _is_num(v):
                    num_keys.append(k)
        for k in num_keys:
            summary[k], summary[f"{k}_std"] = _mean_std([res.get(k) for res in results])
        summary["energy_breakdown_j"] = _mean_dicts(
            [res.get("energy_breakdown_j") or {} for res in results]
        )
        summary["layers"] = _mean_layers([res.get("layers") or [] for res in results])
        out.append(summary)
    return out


def numeric_keys(summaries: Iterable[Mapping]) -> list[str]:
    """Keys holding a number in at least one summary (objective candidates)."""
    keys: list[str] = []
    for s in summaries:
        for k, v in s.items():
            if k not in keys and k != "n_seeds" and _is_num(v):
                keys.append(k)
    return keys


def group_by_trace(summaries: Iterable[Mapping]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in summaries:
        out.setdefault(str(s["trace"]), []).append(dict(s))
    return out


def point_labels(summaries: Sequence[Mapping]) -> list[str]:
    """Short labels naming what differs between points, e.g. ``tile_width=128 gain=8``.

    A dotted key is shortened to its last part unless two varying keys share it.
    The device (and mode) join the label when they vary. Nothing varies -> the
    full overrides, or ``defaults``.
    """
    if not summaries:
        return []
    all_keys: list[str] = []
    for s in summaries:
        for k in s.get("overrides", {}):
            if k not in all_keys:
                all_keys.append(k)
    varying = [
        k for k in all_keys if len({s.get("overrides", {}).get(k) for s in summaries}) > 1
    ]
    extra = [f for f in ("device", "mode") if len({s.get(f) for s in summaries}) > 1]
    shorts = [k.rsplit(".", 1)[-1] for k in varying]
    names = [s if shorts.count(s) == 1 else k for k, s in zip(varying, shorts)]
    labels = []
    for s in summaries:
        ov = s.get("overrides", {})
        if not varying and not extra:
            parts = [f"{k.rsplit('.', 1)[-1]}={v}" for k, v in ov.items()] or ["defaults"]
        else:
            parts = [f"{f}={s.get(f)}" for f in extra]
            parts += [f"{n}={ov.get(k, '-')}" for k, n in zip(varying, names)]
        labels.append(" ".join(parts))
    return labels


def load_summaries(path, *, trace: str | None = None, require_single_trace: bool = True):
    """Read a store and aggregate it: ``(summaries, warnings)``.

    ``trace`` keeps only that trace's points. With several traces in the store and
    no ``trace``, ``require_single_trace`` raises ConfigError naming them (a Pareto
    front across different workloads means nothing).
    """
    import os

    from ..errors import ConfigError, StoreError
    from .store import ResultStore

    store = ResultStore(path)
    summaries = aggregate(store.rows)
    traces = sorted({str(s["trace"]) for s in summaries})
    if trace is not None:
        norm = os.path.normpath(trace)
        summaries = [s for s in summaries if os.path.normpath(str(s["trace"])) == norm]
        if not summaries:
            raise ConfigError(f"--trace {trace!r}: store {path!r} has no rows for it (it has: {', '.join(traces)})")
    elif require_single_trace and len(traces) > 1:
        raise ConfigError(
            f"store {path!r} holds several traces ({', '.join(traces)}); choose one with --trace"
        )
    if not summaries:
        raise StoreError(f"store {path!r} holds no results yet")
    return summaries, list(store.warnings)

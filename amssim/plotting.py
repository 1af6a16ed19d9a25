"""Matplotlib figures from stored sweep results (never runs a simulation).

Every function takes point summaries (``amssim.sweep.aggregate`` of a store's
rows: means over seeds), writes one figure whose format follows the file suffix
(.png, .svg, .pdf) and returns the data it drew, so callers and tests can check
what is shown without reading pixels.

- :func:`plot_pareto`: all points, the Pareto front highlighted and labelled.
- :func:`plot_heatmap`: tile width x gain accuracy grid in the style of the ABFP
  paper's Table II (one panel per combination of the other varying keys).
- :func:`plot_energy_breakdown`: energy per inference by component, stacked bars.
- :func:`plot_layer_error`: per-layer differential error (dy std or relative RMS),
  the paper's Fig. 5 style.
- :func:`plot_latency_breakdown`: latency per inference by layer, stacked bars.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from .errors import ConfigError
from .sweep.pareto import DEFAULT_OBJECTIVES, Objective, pareto_front
from .sweep.summary import point_labels

__all__ = [
    "FIGURE_SUFFIXES",
    "plot_pareto",
    "plot_heatmap",
    "plot_energy_breakdown",
    "plot_layer_error",
    "plot_latency_breakdown",
    "default_selection",
]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
MAX_SERIES = 12  #: most configurations drawn in one bar/line figure


def _check_out(out) -> str:
    out = os.fspath(out)
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ConfigError(f"figure {out!r}: unsupported suffix {suffix!r} (use {', '.join(FIGURE_SUFFIXES)})")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConfigError(f"figure {out!r}: directory {parent!r} does not exist")
    return out


def _new_figure(width_in: float = 6.4, height_in: float = 4.2):
    from matplotlib.figure import Figure  # no pyplot: no global state, any backend

    return Figure(figsize=(width_in, height_in), layout="constrained")


def _save(fig, out: str) -> None:
    try:
        fig.savefig(out, dpi=150, metadata={"Date": None} if out.lower().endswith((".svg", ".pdf")) else None)
    except OSError as exc:
        raise ConfigError(f"figure {out!r} cannot be written: {exc}") from None


def _num(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)


_UNITS = {"energy_j": ("J", "energy per inference"), "latency_s": ("s", "latency per inference")}


def _axis_label(key: str) -> str:
    unit = _UNITS.get(key)
    if unit:
        return f"{unit[1]} ({unit[0]}) [{key}]"
    return key


def _scale(max_value: float, unit: str) -> tuple[float, str]:
    """Factor and prefixed unit for axis values around ``max_value``."""
    for factor, prefix in ((1.0, ""), (1e3, "m"), (1e6, "µ"), (1e9, "n"), (1e12, "p"), (1e15, "f")):
        if max_value * factor >= 1.0:
            return factor, prefix + unit
    return 1e15, "f" + unit


def default_selection(summaries: Sequence[Mapping], limit: int = MAX_SERIES) -> list[int]:
    """Points to show in per-configuration figures: the energy/accuracy front when it
    exists (else every point), thinned evenly to ``limit``."""
    idx = pareto_front(summaries, DEFAULT_OBJECTIVES)
    if not idx:
        idx = list(range(len(summaries)))
    if len(idx) > limit:
        step = (len(idx) - 1) / (limit - 1)
        idx = [idx[round(k * step)] for k in range(limit)]
    return idx


# ---------------------------------------------------------------------- Pareto
def plot_pareto(
    summaries: Sequence[Mapping],
    out,
    *,
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    title: str | None = None,
) -> dict:
    """Scatter of every point (objective 1 on x, 2 on y), the front highlighted,
    joined and labelled by its configuration. Returns the plotted data."""
    out = _check_out(out)
    if len(objectives) != 2:
        raise ConfigError(f"a Pareto plot needs exactly two objectives, got {len(objectives)}")
    front = pareto_front(summaries, objectives)
    labels = point_labels(summaries)
    ox, oy = objectives
    xs = [_num(s.get(ox.key)) for s in summaries]
    ys = [_num(s.get(oy.key)) for s in summaries]
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=18, color="0.6", label=f"all points ({len(summaries)})", zorder=2)
    xerr = [_num(s.get(f"{ox.key}_std")) for s in summaries]
    yerr = [_num(s.get(f"{oy.key}_std")) for s in summaries]
    fx, fy = [xs[i] for i in front], [ys[i] for i in front]
    if any(math.isfinite(e) for e in xerr + yerr):
        ax.errorbar(
            fx, fy,
            xerr=[0.0 if not math.isfinite(xerr[i]) else xerr[i] for i in front],
            yerr=[0.0 if not math.isfinite(yerr[i]) else yerr[i] for i in front],
            fmt="none", ecolor="C3", alpha=0.5, zorder=3,
        )
    ax.plot(fx, fy, "-o", color="C3", ms=6, drawstyle="default", label=f"Pareto front ({len(front)})", zorder=4)
    for k, i in enumerate(front):  # alternate above/below to keep neighbours readable
        ax.annotate(labels[i], (xs[i], ys[i]), textcoords="offset points",
                    xytext=(5, 4) if k % 2 == 0 else (5, -11), fontsize=7, color="C3")
    if all(v > 0 for v in xs if math.isfinite(v)) and any(math.isfinite(v) for v in xs):
        finite = [v for v in xs if math.isfinite(v)]
        if max(finite) / min(finite) > 20:
            ax.set_xscale("log")
    ax.set_xlabel(f"{_axis_label(ox.key)} ({'lower' if not ox.maximise else 'higher'} is better)")
    ax.set_ylabel(f"{_axis_label(oy.key)} ({'higher' if oy.maximise else 'lower'} is better)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Pareto front")
    _save(fig, out)
    return {
        "x_key": ox.key,
        "y_key": oy.key,
        "x": xs,
        "y": ys,
        "front": front,
        "front_labels": [labels[i] for i in front],
        "labels": labels,
        "path": out,
    }


# --------------------------------------------------------------------- heatmap
def _sort_values(values):
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def plot_heatmap(
    summaries: Sequence[Mapping],
    out,
    *,
    row_key: str = "numerics.tile_width",
    col_key: str = "numerics.gain",
    value: str = "accuracy",
    title: str | None = None,
) -> dict:
    """Table-II-style grid: rows ``row_key`` values, columns ``col_key`` values, cells
    the mean ``value`` over seeds; with ``fp32_accuracy`` stored, cells are coloured
    by percent of FP32 and those >= 99 % are bold (the paper's criterion). One
    panel per combination of the other keys that vary (device, mode, overrides)."""
    out = _check_out(out)
    pts = [s for s in summaries if row_key in s.get("overrides", {}) and col_key in s.get("overrides", {})]
    if not pts:
        raise ConfigError(f"heatmap: no stored point sets both {row_key!r} and {col_key!r}")
    other_keys: list[str] = []
    for s in pts:
        for k in s["overrides"]:
            if k not in (row_key, col_key) and k not in other_keys:
                other_keys.append(k)
    other_keys = [k for k in other_keys if len({s["overrides"].get(k) for s in pts}) > 1]
    facet_fields = [f for f in ("device", "mode") if len({s.get(f) for s in pts}) > 1]

    def facet_of(s):
        return tuple([f"{f}={s.get(f)}" for f in facet_fields] + [f"{k}={s['overrides'].get(k, '-')}" for k in other_keys])

    facets: dict[tuple, list[Mapping]] = {}
    for s in pts:
        facets.setdefault(facet_of(s), []).append(s)
    if len(facets) > MAX_SERIES:
        raise ConfigError(
            f"heatmap: {len(facets)} panels (keys {', '.join(other_keys + facet_fields)} vary); "
            f"use a store or selection with at most {MAX_SERIES}"
        )
    rows = _sort_values({s["overrides"][row_key] for s in pts})
    cols = _sort_values({s["overrides"][col_key] for s in pts})
    relative = all(_num(s.get("fp32_accuracy")) > 0 for s in pts) and value == "accuracy"
    ncols = min(len(facets), 3)
    nrows = math.ceil(len(facets) / ncols)
    fig = _new_figure(1.2 + 0.9 * len(cols) * ncols + 0.6, 0.8 + 0.55 * len(rows) * nrows + 0.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    panels = []
    vmin, vmax = (0.0, 100.0) if relative else (None, None)
    image = None
    for ax, (fkey, members) in zip(axes.flat, sorted(facets.items())):
        grid = [[math.nan] * len(cols) for _ in rows]
        pct = [[math.nan] * len(cols) for _ in rows]
        for s in members:
            r, c = rows.index(s["overrides"][row_key]), cols.index(s["overrides"][col_key])
            if not math.isnan(grid[r][c]):
                raise ConfigError(f"heatmap: two points share cell {row_key}={rows[r]} {col_key}={cols[c]} in panel {fkey}")
            grid[r][c] = _num(s.get(value))
            if relative:
                pct[r][c] = 100.0 * grid[r][c] / _num(s.get("fp32_accuracy"))
        shown = pct if relative else grid
        image = ax.imshow(shown, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for r in range(len(rows)):
            for c in range(len(cols)):
                v = grid[r][c]
                if math.isnan(v):
                    ax.text(c, r, "-", ha="center", va="center", fontsize=8, color="0.5")
                    continue
                text = f"{v:.4g}" + (f"\n{pct[r][c]:.2f}%" if relative else "")
                good = relative and pct[r][c] >= 99.0
                ax.text(c, r, text, ha="center", va="center", fontsize=7,
                        fontweight="bold" if good else "normal",
                        color="black" if (relative and pct[r][c] > 60) else "white")
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel(col_key)
        ax.set_ylabel(row_key)
        if fkey:
            ax.set_title(", ".join(fkey), fontsize=9)
        panels.append({"facet": list(fkey), "rows": rows, "cols": cols, "values": grid, "pct_of_fp32": pct if relative else None})
    for ax in list(axes.flat)[len(facets):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, label=f"% of FP32 {value}" if relative else value, shrink=0.8)
    fig.suptitle(title or f"{value} (mean over seeds){'; bold: >= 99 % of FP32' if relative else ''}", fontsize=10)
    _save(fig, out)
    return {"row_key": row_key, "col_key": col_key, "value": value, "panels": panels, "path": out}


# ------------------------------------------------------------ bars and lines
def _selected(summaries, select):
    idx = default_selection(summaries) if select is None else list(select)
    if not idx:
        raise ConfigError("no points to plot")
    return idx


def plot_energy_breakdown(summaries: Sequence[Mapping], out, *, select: Sequence[int] | None = None, title=None) -> dict:
    """Stacked bars: energy per inference by component for the selected points
    (default: the energy/accuracy front, at most 12)."""
    out = _check_out(out)
    idx = _selected(summaries, select)
    comps: list[str] = []
    for i in idx:
        for k in summaries[i].get("energy_breakdown_j") or {}:
            if k not in comps:
                comps.append(k)
    if not comps:
        raise ConfigError("energy breakdown: the stored results carry no energy_breakdown_j")
    values = [[_num((summaries[i].get("energy_breakdown_j") or {}).get(c)) for i in idx] for c in comps]
    values = [[0.0 if math.isnan(v) else v for v in row] for row in values]
    totals = [sum(col) for col in zip(*values)]
    factor, unit = _scale(max(totals) if totals else 1.0, "J")
    labels = point_labels(summaries)
    fig = _new_figure(max(5.0, 0.6 * len(idx) + 2.5), 4.4)
    ax = fig.add_subplot()
    bottom = [0.0] * len(idx)
    for c, row in zip(comps, values):
        ax.bar(range(len(idx)), [v * factor for v in row], bottom=bottom, label=c)
        bottom = [b + v * factor for b, v in zip(bottom, row)]
    ax.set_xticks(range(len(idx)), [labels[i] for i in idx], rotation=40, ha="right", fontsize=7)
    ax.set_ylabel(f"energy per inference ({unit})")
    ax.legend(fontsize=7, ncols=2)
    ax.set_title(title or "Energy breakdown by component")
    _save(fig, out)
    return {"points": idx, "labels": [labels[i] for i in idx], "components": comps, "values_j": values, "path": out}


def plot_layer_error(
    summaries: Sequence[Mapping], out, *, metric: str = "dy_std", select: Sequence[int] | None = None, title=None
) -> dict:
    """Per-layer differential error (``dy_std`` or ``rel_rms_error``) of the selected
    points on a log axis, one line per configuration (the paper's Fig. 5 style)."""
    out = _check_out(out)
    if metric not in ("dy_std", "rel_rms_error", "dy_mean"):
        raise ConfigError(f"layer error metric {metric!r}: use dy_std, rel_rms_error or dy_mean")
    idx = _selected(summaries, select)
    layers: list[str] = []
    for i in idx:
        for layer in summaries[i].get("layers") or []:
            if _num(layer.get(metric)) == _num(layer.get(metric)) and layer["name"] not in layers:
                layers.append(layer["name"])
    if not layers:
        raise ConfigError(f"layer error: the stored results carry no per-layer {metric}")
    labels = point_labels(summaries)
    series = {}
    fig = _new_figure(max(5.5, 0.35 * len(layers) + 3), 4.2)
    ax = fig.add_subplot()
    for i in idx:
        by_name = {layer["name"]: _num(layer.get(metric)) for layer in summaries[i].get("layers") or []}
        ys = [by_name.get(n, math.nan) for n in layers]
        series[labels[i]] = ys
        ax.plot(range(len(layers)), ys, "-o", ms=3, label=labels[i])
    ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=7)
    if metric != "dy_mean" and all(v > 0 for ys in series.values() for v in ys if math.isfinite(v)):
        ax.set_yscale("log")
    ax.set_ylabel(metric + (" (output units)" if metric != "rel_rms_error" else " (fraction of FP32 rms)"))
    ax.set_xlabel("layer")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or f"Per-layer differential error ({metric})")
    _save(fig, out)
    return {"points": idx, "layers": layers, "series": series, "metric": metric, "path": out}


def plot_latency_breakdown(
    summaries: Sequence[Mapping], out, *, select: Sequence[int] | None = None, top: int = 8, title=None
) -> dict:
    """Stacked bars: latency per inference split by layer (the ``top`` layers with
    most cycles, the rest as "other"); layer latency = its share of the stored
    cycles times ``latency_s``."""
    out = _check_out(out)
    idx = _selected(summaries, select)
    usable = [i for i in idx if _num(summaries[i].get("latency_s")) > 0 and any(
        _num(layer.get("cycles")) > 0 for layer in summaries[i].get("layers") or [])]
    if not usable:
        raise ConfigError("latency breakdown: the stored results carry no per-layer cycles (run mode full or timing)")
    per_point = []
    totals_by_layer: dict[str, float] = {}
    for i in usable:
        s = summaries[i]
        cyc = {layer["name"]: max(0.0, _num(layer.get("cycles"))) for layer in s.get("layers") or []
               if math.isfinite(_num(layer.get("cycles")))}
        tot = sum(cyc.values())
        lat = {n: c / tot * _num(s["latency_s"]) for n, c in cyc.items()}
        per_point.append(lat)
        for n, v in lat.items():
            totals_by_layer[n] = totals_by_layer.get(n, 0.0) + v
    order = sorted(totals_by_layer, key=lambda n: -totals_by_layer[n])
    shown = order[:top]
    parts = shown + (["other"] if len(order) > top else [])
    values = [[lat.get(n, 0.0) for lat in per_point] for n in shown]
    if len(order) > top:
        values.append([sum(v for n, v in lat.items() if n not in shown) for lat in per_point])
    factor, unit = _scale(max(sum(col) for col in zip(*values)), "s")
    labels = point_labels(summaries)
    fig = _new_figure(max(5.0, 0.6 * len(usable) + 2.5), 4.4)
    ax = fig.add_subplot()
    bottom = [0.0] * len(usable)
    for name, row in zip(parts, values):
        ax.bar(range(len(usable)), [v * factor for v in row], bottom=bottom, label=name)
        bottom = [b + v * factor for b, v in zip(bottom, row)]
    ax.set_xticks(range(len(usable)), [labels[i] for i in usable], rotation=40, ha="right", fontsize=7)
    ax.set_ylabel(f"latency per inference ({unit})")
    ax.legend(fontsize=7, ncols=2)
    ax.set_title(title or "Latency breakdown by layer")
    _save(fig, out)
    return {"points": usable, "labels": [labels[i] for i in usable], "layers": parts, "values_s": values, "path": out}

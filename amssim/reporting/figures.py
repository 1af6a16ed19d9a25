"""Matplotlib figures from stored sweep results (never runs a simulation).

Every function takes point summaries (``amssim.sweep.aggregate`` of a store's
rows: mean and sample std over seeds), writes one figure whose format follows the
file suffix (.png, .svg, .pdf) and returns the data it drew, so callers and tests
can check what is shown without reading pixels.

- :func:`plot_pareto`: all points, the Pareto front as a step line; front points
  numbered, with a key table of their configurations under the plot.
- :func:`plot_heatmap`: tile width x gain accuracy grid in the style of the ABFP
  paper's Table II (one panel per combination of the other varying keys).
- :func:`plot_energy_breakdown`: energy per inference by component, stacked bars.
- :func:`plot_layer_error`: per-layer differential error (dy std or relative RMS),
  the paper's Fig. 5 style.
- :func:`plot_latency_breakdown`: latency per inference by layer, stacked bars.

Conventions shared by all figures:

- configurations are never written as free text next to data: they are numbered
  (``#1``, ``#2``, ...) and a key table under the plot spells them out; the
  numbers next to Pareto markers are placed so that no two overlap (greedy search
  over candidate offsets, in display coordinates, after layout);
- SI-prefixed units (µJ, µs, ...; TOPS, TOPS/W; accuracy in %);
- an axis is logarithmic when its positive data span more than 10x (``"auto"``),
  or as told (``"linear"`` / ``"log"``);
- error bars are mean ± sample std over seeds where the store has several seeds;
- ``color=KEY`` colours points or series by a swept key (``numerics.tile_width``),
  a summary field (``device``, ``device_kind``) or a numeric result key;
- marker shape is per device, from a circle family for analog devices and a square
  family for digital ones (``device_kind`` stored by the sweep; missing = analog).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from ..errors import ConfigError
from ..sweep.pareto import DEFAULT_OBJECTIVES, Objective, pareto_front
from ..sweep.summary import point_labels

__all__ = [
    "FIGURE_SUFFIXES",
    "SCALES",
    "plot_pareto",
    "plot_heatmap",
    "plot_energy_breakdown",
    "plot_layer_error",
    "plot_latency_breakdown",
    "default_selection",
    "device_kind",
    "unit_scaling",
    "resolve_scale",
    "colour_values",
    "marker_map",
]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
SCALES = ("auto", "linear", "log")
MAX_SERIES = 12  #: most configurations drawn in one bar/line figure
MAX_NUMBERED = 30  #: most front points numbered (and listed) in a Pareto figure
LOG_SPAN = 10.0  #: "auto" axes turn logarithmic when max/min of the data exceeds this
DPI = 150

ANALOG_MARKERS = ("o", "^", "D", "v", "<", ">", "8")
DIGITAL_MARKERS = ("s", "P", "X", "p", "h", "H")
MIXED_MARKERS = ("*", "d", "8")  #: per-layer configurations mixing analog and digital ops
_FAMILIES = {"analog": ANALOG_MARKERS, "digital": DIGITAL_MARKERS, "mixed": MIXED_MARKERS}


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, any backend

    fig = Figure(figsize=(width_in, height_in), layout="constrained", dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out: str) -> None:
    try:
        fig.savefig(out, dpi=DPI, metadata={"Date": None} if out.lower().endswith((".svg", ".pdf")) else None)
    except OSError as exc:
        raise ConfigError(f"figure {out!r} cannot be written: {exc}") from None


def _num(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    try:
        return float(v)
    except OverflowError:  # an integer beyond float range (a hostile store line)
        return math.inf if v > 0 else -math.inf


def _finite(v: float) -> bool:
    return isinstance(v, float) and math.isfinite(v)


# ------------------------------------------------------------------- units
#: key -> (base unit, description, prefixable); accuracy is shown in percent
_UNITS = {
    "energy_j": ("J", "energy per inference", True),
    "latency_s": ("s", "latency per inference", True),
    "tops": ("TOPS", "throughput", False),
    "tops_per_w": ("TOPS/W", "efficiency", False),
    "cycles": ("cycles", "cycles per inference", False),
    "macs": ("MACs", "MACs per inference", False),
    "accuracy": ("%", "accuracy", False),
    "fp32_accuracy": ("%", "FP32 accuracy", False),
}
_PREFIXES = ((1.0, ""), (1e3, "m"), (1e6, "µ"), (1e9, "n"), (1e12, "p"), (1e15, "f"))


def _scale(max_value: float, unit: str) -> tuple[float, str]:
    """Factor and prefixed unit so that ``max_value`` reads as >= 1."""
    for factor, prefix in _PREFIXES:
        if max_value * factor >= 1.0:
            return factor, prefix + unit
    return _PREFIXES[-1][0], _PREFIXES[-1][1] + unit


def unit_scaling(key: str, values: Sequence[float] = ()) -> tuple[float, str, str]:
    """``(factor, unit, axis label)`` for showing result ``key``: values times
    ``factor`` read in ``unit``. Joules and seconds get the SI prefix that puts the
    median of ``values`` at or above 1 (e.g. 3.2e-6 J -> factor 1e6, "µJ");
    accuracy fractions become percent; TOPS and TOPS/W are kept."""
    base = key[:-4] if key.endswith("_std") else key
    unit = _UNITS.get(base)
    if unit is None:
        return 1.0, "", key
    name, desc, prefixable = unit
    if name == "%":
        vals = [v for v in values if _finite(v)]
        if vals and max(abs(v) for v in vals) > 1.0 + 1e-12:  # already a percentage (or another metric)
            return 1.0, "", desc
        return 100.0, "%", f"{desc} (%)"
    if not prefixable:
        return 1.0, name, f"{desc} ({name})"
    vals = sorted(abs(v) for v in values if _finite(v) and v != 0)
    ref = vals[len(vals) // 2] if vals else 1.0
    factor, pre = _scale(ref, name)
    return factor, pre, f"{desc} ({pre})"


def resolve_scale(mode: str, values: Sequence[float]) -> str:
    """``"linear"`` or ``"log"``: ``mode`` itself, or for ``"auto"`` log when every
    finite value is positive and they span more than 10x."""
    if mode not in SCALES:
        raise ConfigError(f"axis scale {mode!r}: use {', '.join(SCALES)}")
    vals = [v for v in values if _finite(v)]
    if mode == "log":
        if any(v <= 0 for v in vals):
            raise ConfigError("axis scale 'log': the data has values <= 0")
        return "log"
    if mode == "linear" or not vals:
        return "linear"
    if min(vals) > 0 and max(vals) / min(vals) > LOG_SPAN:
        return "log"
    return "linear"


def _set_scale(ax, axis: str, scale: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if scale != "log":
        return
    getattr(ax, f"set_{axis}scale")("log")
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


# --------------------------------------------------------- device, colours
def device_kind(s: Mapping) -> str:
    """The point's device kind: the stored ``device_kind`` ("analog", "digital"),
    else "analog" (stores written before digital devices existed)."""
    kind = s.get("device_kind")
    return str(kind) if kind else "analog"


def marker_map(summaries: Sequence[Mapping]) -> dict[str, str]:
    """Device name -> matplotlib marker: circle/triangle family for analog, square/cross
    family for digital devices, stars for mixed per-layer runs, in order of first
    appearance (an unknown kind counts as analog)."""
    out: dict[str, str] = {}
    used = {k: 0 for k in _FAMILIES}
    for s in summaries:
        dev = str(s.get("device"))
        if dev in out:
            continue
        kind = device_kind(s) if device_kind(s) in _FAMILIES else "analog"
        family = _FAMILIES[kind]
        out[dev] = family[used[kind] % len(family)]
        used[kind] += 1
    return out


def _key_value(s: Mapping, key: str):
    ov = s.get("overrides") or {}
    if key in ov:
        return ov[key]
    if key == "device_kind":
        return device_kind(s)
    return s.get(key)


def _resolve_key(summaries: Sequence[Mapping], key: str) -> str:
    """``key`` itself when some point has it, else the unique override key ending in
    ``.key`` (``tile_width`` -> ``numerics.tile_width``)."""
    if any(_key_value(s, key) is not None for s in summaries):
        return key
    cands = sorted({k for s in summaries for k in (s.get("overrides") or {}) if k.rsplit(".", 1)[-1] == key})
    if len(cands) == 1:
        return cands[0]
    avail = sorted({k for s in summaries for k in (s.get("overrides") or {})})
    avail += ["device", "device_kind", "mode"] + [k for k in ("accuracy", "energy_j", "latency_s", "tops_per_w")
                                                     if any(_finite(_num(s.get(k))) for s in summaries)]
    raise ConfigError(f"colour key {key!r}: no point has it (available: {', '.join(avail)})")


def _sort_values(values):
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def colour_values(summaries: Sequence[Mapping], key: str) -> dict:
    """How points are coloured by ``key``: ``{"key", "kind": "category"|"continuous",
    "values": per point, "categories": sorted distinct values (category), "colors":
    per point RGBA}``. Numeric keys with more than 10 distinct values are continuous
    (viridis, log-normalised when they span more than 10x); missing values are grey."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    key = _resolve_key(summaries, key)
    raw = [_key_value(s, key) for s in summaries]
    present = [v for v in raw if v is not None]
    nums = []
    for v in present:
        try:
            nums.append(float(v))
        except (TypeError, ValueError):
            nums = None
            break
    distinct = _sort_values({str(v) if not isinstance(v, (int, float)) else v for v in present})
    grey = (0.6, 0.6, 0.6, 1.0)
    if nums is not None and len(set(nums)) > 10:
        lo, hi = min(nums), max(nums)
        norm = LogNorm(lo, hi) if lo > 0 and hi / lo > LOG_SPAN else Normalize(lo, hi if hi > lo else lo + 1)
        cmap = colormaps["viridis"]
        colors = [grey if v is None else tuple(cmap(norm(float(v)))) for v in raw]
        return {"key": key, "kind": "continuous", "values": raw, "colors": colors, "norm": norm, "cmap": cmap}
    cats = [str(v) for v in distinct]
    palette = colormaps["tab10" if len(cats) <= 10 else "tab20"]
    cmap = {c: tuple(palette(i % palette.N)) for i, c in enumerate(cats)}
    colors = [grey if v is None else cmap[str(v)] for v in raw]
    return {"key": key, "kind": "category", "values": raw, "categories": cats, "category_colors": cmap,
            "colors": colors}


# ----------------------------------------------------------- label placement
def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def label_box(t, renderer) -> tuple[float, float, float, float]:
    """Display box of a label's glyphs plus its white background pad (leader excluded)."""
    from matplotlib.text import Text

    bb = Text.get_window_extent(t, renderer)
    pad = 0.2 * t.get_fontsize() * t.figure.dpi / 72.0
    return (bb.x0 - pad, bb.y0 - pad, bb.x1 + pad, bb.y1 + pad)


def place_labels(ax, points_xy, texts, *, marker_radius_pt: float = 4.0, fontsize: float = 7.0) -> list:
    """Write ``texts[k]`` next to data point ``points_xy[k]`` so that no two texts
    overlap each other or any of the points' markers: for each point in turn, the
    first of 8 directions x growing radii whose text box is free (else the least
    overlapping one), joined to its point by a thin leader when it is far.
    Needs a figure whose layout is final. Returns the text artists."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    r_m = marker_radius_pt * px
    to_disp = ax.transData.transform
    disp = [tuple(to_disp(p)) for p in points_xy]
    markers = [(x - r_m, y - r_m, x + r_m, y + r_m) for x, y in disp]
    r_o = 2.5 * r_m  # keep clear of other points by more, so a number sits nearest its own point
    others = [(x - r_o, y - r_o, x + r_o, y + r_o) for x, y in disp]
    axbox = ax.get_window_extent(renderer)
    placed: list[tuple] = []
    artists = []
    dirs = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
    for j, ((x, y), text) in enumerate(zip(disp, texts)):
        best = None
        for radius in (10, 14, 20, 28, 38, 50, 64):
            for ux, uy in dirs:
                ox, oy = ux * radius, uy * radius
                t = ax.annotate(text, (x + ox * px, y + oy * px), xycoords="figure pixels", fontsize=fontsize,
                                fontweight="bold", family="DejaVu Sans",
                                ha="left" if ux > 0 else ("right" if ux < 0 else "center"),
                                va="bottom" if uy > 0 else ("top" if uy < 0 else "center"))
                box = label_box(t, renderer)
                t.remove()
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                own = math.hypot(cx - x, cy - y)
                inside = axbox.x0 <= box[0] and box[2] <= axbox.x1 and axbox.y0 <= box[1] and box[3] <= axbox.y1
                cost = sum(_overlap(box, o) for o in placed) + _overlap(box, markers[j])
                cost += sum(_overlap(box, o) for k, o in enumerate(others) if k != j)
                # a number must sit nearer its own point than any other point
                cost += sum(1e3 for k, (qx, qy) in enumerate(disp) if k != j and math.hypot(cx - qx, cy - qy) < own)
                cost += 0.0 if inside else 1e6
                if best is None or cost < best[0]:
                    best = (cost, ox, oy, ux, uy, box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, ox, oy, ux, uy, box = best
        placed.append(box)
        far = True  # a leader on every number: close pairs of points stay unambiguous
        t = ax.annotate(
            text, points_xy[j], xytext=(ox, oy), textcoords="offset points", fontsize=fontsize,
            fontweight="bold", family="DejaVu Sans", ha="left" if ux > 0 else ("right" if ux < 0 else "center"),
            va="bottom" if uy > 0 else ("top" if uy < 0 else "center"), zorder=6,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
            arrowprops=dict(arrowstyle="-", lw=0.6, color="0.25", shrinkA=0, shrinkB=3.5) if far else None,
        )
        artists.append(t)
    return artists


def _freeze_layout(fig) -> None:
    """Run the constrained layout once and keep it, so positions measured now are
    the ones saved."""
    fig.canvas.draw()
    fig.set_layout_engine("none")


def _key_table(ax, header: Sequence[str], rows: Sequence[Sequence[str]], *, fontsize: float = 7.0):
    """A borderless table filling ``ax``; the figure is widened when the table would
    not fit in the axes (long configuration names)."""
    ax.axis("off")
    if not rows:
        return None
    table = ax.table(cellText=[list(r) for r in rows], colLabels=list(header), loc="upper center",
                     cellLoc="left", colLoc="left", edges="horizontal")
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    table.auto_set_column_width(list(range(len(header))))
    for (r, _c), cell in table.get_celld().items():
        cell.set_height(1.0 / (len(rows) + 1))
        if r == 0:
            cell.set_text_props(fontweight="bold")
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    need = table.get_window_extent(renderer).width
    have = ax.get_window_extent(renderer).width
    if need > 0.98 * have:
        w, h = fig.get_size_inches()
        fig.set_size_inches(w + (need - 0.98 * have) / fig.dpi + 0.2, h)
    return table


def _pm(mean: float, std: float, factor: float, digits: int = 4) -> str:
    if not _finite(mean):
        return "-"
    text = f"{mean * factor:.{digits}g}"
    if _finite(std) and std > 0:
        text += f" ± {std * factor:.2g}"
    return text


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


def _legend_handles(summaries, idx, colours, markers, colour_key_label):
    """Legend entries: one per device (shape) and, for categorical colours, one per value."""
    from matplotlib.lines import Line2D

    handles = []
    devices = []
    for i in idx:
        d = str(summaries[i].get("device"))
        if d not in devices:
            devices.append(d)
    kinds = {device_kind(s) for s in summaries}
    if len(devices) > 1 or len(kinds) > 1 or "digital" in kinds:
        for d in devices:
            kind = next(device_kind(s) for s in summaries if str(s.get("device")) == d)
            handles.append(Line2D([], [], ls="none", marker=markers[d], color="0.35", label=f"{d} ({kind})"))
    if colours is not None and colours["kind"] == "category":
        if handles:
            handles.append(Line2D([], [], ls="none", label=" "))
        handles.append(Line2D([], [], ls="none", label=colour_key_label))
        for c in colours["categories"]:
            handles.append(Line2D([], [], ls="none", marker="o", color=colours["category_colors"][c], label=c))
    return handles


# ---------------------------------------------------------------------- Pareto
def plot_pareto(
    summaries: Sequence[Mapping],
    out,
    *,
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    title: str | None = None,
    color: str | None = None,
    xscale: str = "auto",
    yscale: str = "auto",
    max_numbered: int = MAX_NUMBERED,
) -> dict:
    """Scatter of every point (objective 1 on x, 2 on y) with mean ± std error bars,
    the front as a step line (the best objective-2 value reachable within an
    objective-1 budget), front points numbered and listed in a key table.
    ``color`` colours points by a key; marker shape follows the device. Returns the
    plotted data (values as drawn, after unit scaling) and the text boxes."""
    out = _check_out(out)
    if len(objectives) != 2:
        raise ConfigError(f"a Pareto plot needs exactly two objectives, got {len(objectives)}")
    ox, oy = objectives
    front = pareto_front(summaries, objectives)
    labels = point_labels(summaries)
    raw_x = [_num(s.get(ox.key)) for s in summaries]
    raw_y = [_num(s.get(oy.key)) for s in summaries]
    fx_, xunit, xlabel = unit_scaling(ox.key, raw_x)
    fy_, yunit, ylabel = unit_scaling(oy.key, raw_y)
    xs = [v * fx_ for v in raw_x]
    ys = [v * fy_ for v in raw_y]
    xerr = [_num(s.get(f"{ox.key}_std")) * fx_ for s in summaries]
    yerr = [_num(s.get(f"{oy.key}_std")) * fy_ for s in summaries]
    xscale_r = resolve_scale(xscale, xs)
    yscale_r = resolve_scale(yscale, ys)
    colours = colour_values(summaries, color) if color else None
    markers = marker_map(summaries)
    numbered = front[:max_numbered]
    numbers = {i: k + 1 for k, i in enumerate(numbered)}

    n_rows = len(numbered)
    table_h = 0.25 + 0.17 * (n_rows + 1) if n_rows else 0.0
    fig = _new_figure(7.2, 4.3 + table_h)
    if n_rows:
        ax, tax = fig.subplots(2, 1, height_ratios=[4.3, table_h])
    else:
        ax, tax = fig.add_subplot(), None

    front_set = set(front)
    ok = [i for i in range(len(summaries)) if _finite(xs[i]) and _finite(ys[i])]
    # error bars (mean ± std over seeds) under the markers
    eb = [i for i in ok if (_finite(xerr[i]) and xerr[i] > 0) or (_finite(yerr[i]) and yerr[i] > 0)]
    if eb:
        ax.errorbar([xs[i] for i in eb], [ys[i] for i in eb],
                    xerr=[xerr[i] if _finite(xerr[i]) else 0.0 for i in eb],
                    yerr=[yerr[i] if _finite(yerr[i]) else 0.0 for i in eb],
                    fmt="none", ecolor="0.55", elinewidth=0.7, capsize=1.5, alpha=0.7, zorder=2)
    # the front as a step line
    fxs, fys = [xs[i] for i in front], [ys[i] for i in front]
    if front:
        order = sorted(range(len(front)), key=lambda k: fxs[k])
        sx, sy = [fxs[k] for k in order], [fys[k] for k in order]
        ax.plot(sx, sy, drawstyle="steps-pre" if ox.maximise else "steps-post", color="C3", lw=1.4,
                label=f"Pareto front ({len(front)} of {len(summaries)})", zorder=3)
    # points, grouped by device (marker shape)
    for dev, mk in markers.items():
        members = [i for i in ok if str(summaries[i].get("device")) == dev]
        if not members:
            continue
        cols = [colours["colors"][i] for i in members] if colours else ["C3" if i in front_set else "0.6"
                                                                          for i in members]
        ax.scatter([xs[i] for i in members], [ys[i] for i in members], c=cols, marker=mk,
                   s=[34 if i in front_set else 18 for i in members],
                   edgecolors=["black" if i in front_set else "none" for i in members], linewidths=0.7, zorder=4)
    if colours is not None and colours["kind"] == "continuous":
        from matplotlib.cm import ScalarMappable

        fig.colorbar(ScalarMappable(norm=colours["norm"], cmap=colours["cmap"]), ax=ax, label=colours["key"],
                     shrink=0.9)
    _set_scale(ax, "x", xscale_r)
    _set_scale(ax, "y", yscale_r)
    better = {False: "lower is better", True: "higher is better"}
    ax.set_xlabel(f"{xlabel}, {better[ox.maximise]}")
    ax.set_ylabel(f"{ylabel}, {better[oy.maximise]}")
    ax.grid(True, which="major", alpha=0.3)
    from matplotlib.lines import Line2D

    ax.margins(x=0.06, y=0.08)
    handles = _legend_handles(summaries, ok, colours, markers, f"colour: {colours['key']}" if colours else "")
    h0, _ = ax.get_legend_handles_labels()
    if colours is None:
        h0 += [Line2D([], [], ls="none", marker="o", mfc="C3", mec="black", label="front point (# in key)"),
               Line2D([], [], ls="none", marker="o", mfc="0.6", mec="none", ms=5, label="other point")]
    if eb:
        h0 += [Line2D([], [], color="0.55", lw=0.7, label="± std over seeds")]
    ax.legend(handles=h0 + handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)
    n_seeds = sorted({int(s.get("n_seeds") or 1) for s in summaries})
    ax.set_title(title or f"Pareto front: {len(front)} of {len(summaries)} configurations "
                          f"(mean ± std over {'/'.join(map(str, n_seeds))} seeds)", fontsize=9)
    rows, table = [], None
    if tax is not None:
        xs_std = [s.get(f"{ox.key}_std") for s in summaries]
        ys_std = [s.get(f"{oy.key}_std") for s in summaries]
        header = ["#", "configuration", ylabel, xlabel]
        for i in numbered:
            rows.append([str(numbers[i]), labels[i], _pm(raw_y[i], _num(ys_std[i]), fy_),
                         _pm(raw_x[i], _num(xs_std[i]), fx_)])
        if len(front) > len(numbered):
            rows.append(["", f"(+{len(front) - len(numbered)} more front points: amssim pareto lists all)", "", ""])
        table = _key_table(tax, header, rows)
    _freeze_layout(fig)
    texts = place_labels(ax, [(xs[i], ys[i]) for i in numbered], [str(numbers[i]) for i in numbered])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [label_box(t, renderer) for t in texts]
    table_box = None if table is None else tuple(table.get_window_extent(renderer).extents)
    figure_box = tuple(fig.bbox.extents)
    _save(fig, out)
    return {
        "x_key": ox.key,
        "y_key": oy.key,
        "x_unit": xunit,
        "y_unit": yunit,
        "x_factor": fx_,
        "y_factor": fy_,
        "x": xs,
        "y": ys,
        "x_err": xerr,
        "y_err": yerr,
        "xscale": xscale_r,
        "yscale": yscale_r,
        "front": front,
        "front_labels": [labels[i] for i in front],
        "numbers": numbers,
        "label_boxes": boxes,
        "marker_boxes": [tuple(ax.transData.transform((xs[i], ys[i]))) for i in numbered],
        "table": rows,
        "table_box": table_box,
        "figure_box": figure_box,
        "axes_box": tuple(ax.get_window_extent(renderer).extents),
        "labels": labels,
        "colour": None if colours is None else {"key": colours["key"], "kind": colours["kind"],
                                                "colors": colours["colors"]},
        "markers": markers,
        "step": "steps-pre" if ox.maximise else "steps-post",
        "path": out,
    }


# --------------------------------------------------------------------- heatmap
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
    the mean ``value`` over seeds (± std when several seeds); with ``fp32_accuracy``
    stored, cells are coloured by percent of FP32 and those >= 99 % are bold (the
    paper's criterion). One panel per combination of the other keys that vary
    (device, mode, overrides)."""
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
    fig = _new_figure(1.2 + 1.0 * len(cols) * ncols + 0.6, 0.8 + 0.6 * len(rows) * nrows + 0.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    panels = []
    vmin, vmax = (0.0, 100.0) if relative else (None, None)
    image = None
    for ax, (fkey, members) in zip(axes.flat, sorted(facets.items())):
        grid = [[math.nan] * len(cols) for _ in rows]
        spread = [[math.nan] * len(cols) for _ in rows]
        pct = [[math.nan] * len(cols) for _ in rows]
        fp32 = [[math.nan] * len(cols) for _ in rows]
        for s in members:
            r, c = rows.index(s["overrides"][row_key]), cols.index(s["overrides"][col_key])
            if not math.isnan(grid[r][c]):
                raise ConfigError(f"heatmap: two points share cell {row_key}={rows[r]} {col_key}={cols[c]} in panel {fkey}")
            grid[r][c] = _num(s.get(value))
            spread[r][c] = _num(s.get(f"{value}_std"))
            if relative:
                fp32[r][c] = _num(s.get("fp32_accuracy"))
                pct[r][c] = 100.0 * grid[r][c] / fp32[r][c]
        shown = pct if relative else grid
        image = ax.imshow(shown, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for r in range(len(rows)):
            for c in range(len(cols)):
                v = grid[r][c]
                if math.isnan(v):
                    ax.text(c, r, "-", ha="center", va="center", fontsize=8, color="0.5")
                    continue
                if relative:
                    text = f"{pct[r][c]:.1f}%"
                    if _finite(spread[r][c]) and spread[r][c] > 0:
                        text += f"\n± {100.0 * spread[r][c] / fp32[r][c]:.1f}"
                else:
                    text = _pm(v, spread[r][c], 1.0)
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
        panels.append({"facet": list(fkey), "rows": rows, "cols": cols, "values": grid, "std": spread,
                       "pct_of_fp32": pct if relative else None})
    for ax in list(axes.flat)[len(facets):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, label=f"% of FP32 {value}" if relative else value, shrink=0.8)
    what = "% of FP32 accuracy" if relative else value
    fig.suptitle(title or f"{what} (mean ± std over seeds){'; bold: >= 99 % of FP32' if relative else ''}",
                 fontsize=10)
    _save(fig, out)
    return {"row_key": row_key, "col_key": col_key, "value": value, "panels": panels, "path": out}


# ------------------------------------------------------------ bars and lines
def _selected(summaries, select):
    idx = default_selection(summaries) if select is None else list(select)
    if not idx:
        raise ConfigError("no points to plot")
    return idx


def _numbering(idx, numbers):
    """Number per selected point: the caller's (e.g. the Pareto figure's), else 1..k."""
    if numbers is None:
        return {i: k + 1 for k, i in enumerate(idx)}
    return {i: numbers.get(i, k + 1) for k, i in enumerate(idx)}


def _config_table(fig_tax, summaries, idx, nums, extra_header, extra_cells):
    labels = point_labels(summaries)
    header = ["#", "configuration"] + list(extra_header)
    rows = [[str(nums[i]), labels[i]] + list(cells) for i, cells in zip(idx, extra_cells)]
    _key_table(fig_tax, header, rows)
    return rows


def _bars_figure(n_bars, n_rows):
    table_h = 0.25 + 0.17 * (n_rows + 1)
    fig = _new_figure(max(6.0, 0.45 * n_bars + 4.0), 3.8 + table_h)
    ax, tax = fig.subplots(2, 1, height_ratios=[3.8, table_h])
    return fig, ax, tax


def _stacked_bars(summaries, out, idx, nums, parts, values, *, total_key, unit_key, ylabel_what, yscale, title):
    totals = [sum(col) for col in zip(*values)]
    factor, unit, _ = unit_scaling(unit_key, totals)
    scale = resolve_scale(yscale, totals)
    fig, ax, tax = _bars_figure(len(idx), len(idx))
    bottom = [0.0] * len(idx)
    for name, row in zip(parts, values):
        ax.bar(range(len(idx)), [v * factor for v in row], bottom=bottom, label=name, zorder=2)
        bottom = [b + v * factor for b, v in zip(bottom, row)]
    err = [_num(summaries[i].get(f"{total_key}_std")) * factor for i in idx]
    if any(_finite(e) and e > 0 for e in err):
        ax.errorbar(range(len(idx)), bottom, yerr=[e if _finite(e) else 0.0 for e in err], fmt="none",
                    ecolor="black", capsize=3, lw=0.8, zorder=3, label="± std over seeds")
    _set_scale(ax, "y", scale)
    ax.set_xticks(range(len(idx)), [f"#{nums[i]}" for i in idx], fontsize=8)
    ax.set_xlabel("configuration (key below)")
    ax.set_ylabel(f"{ylabel_what} ({unit})")
    ax.grid(True, axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    ax.set_title(title, fontsize=10)
    cells = [[_pm(_num(summaries[i].get(total_key)), _num(summaries[i].get(f"{total_key}_std")), factor)]
             for i in idx]
    rows = _config_table(tax, summaries, idx, nums, [f"total ({unit})"], cells)
    _save(fig, out)
    return factor, unit, scale, rows


def plot_energy_breakdown(
    summaries: Sequence[Mapping], out, *, select: Sequence[int] | None = None, title=None,
    numbers: Mapping[int, int] | None = None, yscale: str = "auto",
) -> dict:
    """Stacked bars: energy per inference by component for the selected points
    (default: the energy/accuracy front, at most 12), total ± std over seeds,
    bars numbered as in ``numbers`` (e.g. the Pareto figure's) with a key table."""
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
    keep = [k for k, row in enumerate(values) if any(v != 0 for v in row)] or list(range(len(comps)))
    comps, values = [comps[k] for k in keep], [values[k] for k in keep]
    nums = _numbering(idx, numbers)
    factor, unit, scale, rows = _stacked_bars(
        summaries, out, idx, nums, comps, values, total_key="energy_j", unit_key="energy_j",
        ylabel_what="energy per inference", yscale=yscale, title=title or "Energy per inference by component")
    labels = point_labels(summaries)
    return {"points": idx, "numbers": nums, "labels": [labels[i] for i in idx], "components": comps,
            "values_j": values, "unit": unit, "factor": factor, "yscale": scale, "table": rows, "path": out}


def plot_layer_error(
    summaries: Sequence[Mapping], out, *, metric: str = "dy_std", select: Sequence[int] | None = None, title=None,
    numbers: Mapping[int, int] | None = None, color: str | None = None, yscale: str = "auto",
) -> dict:
    """Per-layer differential error (``dy_std``, ``rel_rms_error`` or ``dy_mean``) of
    the selected points, one line per configuration with ± std over seeds (the
    paper's Fig. 5 style); log axis when the values span > 10x."""
    out = _check_out(out)
    if metric not in ("dy_std", "rel_rms_error", "dy_mean"):
        raise ConfigError(f"layer error metric {metric!r}: use dy_std, rel_rms_error or dy_mean")
    idx = _selected(summaries, select)
    layers: list[str] = []
    for i in idx:
        for layer in summaries[i].get("layers") or []:
            if _finite(_num(layer.get(metric))) and layer["name"] not in layers:
                layers.append(layer["name"])
    if not layers:
        raise ConfigError(f"layer error: the stored results carry no per-layer {metric}")
    labels = point_labels(summaries)
    nums = _numbering(idx, numbers)
    colours = colour_values(summaries, color) if color else None
    markers = marker_map(summaries)
    series, spread = {}, {}
    for i in idx:
        by_name = {layer["name"]: layer for layer in summaries[i].get("layers") or []}
        series[labels[i]] = [_num(by_name.get(n, {}).get(metric)) for n in layers]
        spread[labels[i]] = [_num(by_name.get(n, {}).get(f"{metric}_std")) for n in layers]
    allv = [v for ys in series.values() for v in ys]
    scale = resolve_scale(yscale, allv if metric != "dy_mean" else [-1.0])
    fig, ax, tax = _bars_figure(max(len(layers), len(idx)), len(idx))
    fig.set_size_inches(max(6.4, 0.45 * len(layers) + 4.0), fig.get_size_inches()[1])
    for k, i in enumerate(idx):
        ys, es = series[labels[i]], spread[labels[i]]
        col = colours["colors"][i] if colours else f"C{k % 10}"
        xpos = [j + (k - (len(idx) - 1) / 2) * 0.012 for j in range(len(layers))]  # dodge error bars
        ax.errorbar(xpos, ys, yerr=[e if _finite(e) else 0.0 for e in es], fmt="-", marker=markers[str(summaries[i].get("device"))],
                    ms=4, lw=1.0, capsize=2, elinewidth=0.7, color=col, label=f"#{nums[i]}")
    _set_scale(ax, "y", scale)
    ax.set_xticks(range(len(layers)), layers, rotation=45 if len(layers) > 6 else 0,
                  ha="right" if len(layers) > 6 else "center", fontsize=7)
    unit = " (output units)" if metric != "rel_rms_error" else " (fraction of FP32 rms)"
    ax.set_ylabel(metric + unit)
    ax.set_xlabel("layer")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False,
              title=f"colour: {colours['key']}" if colours else None, title_fontsize=7)
    ax.set_title(title or f"Per-layer differential error ({metric}, mean ± std over seeds)", fontsize=10)
    cells = [[_pm(_num(summaries[i].get("accuracy")), _num(summaries[i].get("accuracy_std")), 100.0)] for i in idx]
    rows = _config_table(tax, summaries, idx, nums, ["accuracy (%)"], cells)
    _save(fig, out)
    return {"points": idx, "numbers": nums, "layers": layers, "series": series, "std": spread, "metric": metric,
            "yscale": scale, "table": rows, "path": out}


def plot_latency_breakdown(
    summaries: Sequence[Mapping], out, *, select: Sequence[int] | None = None, top: int = 8, title=None,
    numbers: Mapping[int, int] | None = None, yscale: str = "auto",
) -> dict:
    """Stacked bars: latency per inference split by layer (the ``top`` layers with
    most cycles, the rest as "other"); layer latency = its share of the stored
    cycles times ``latency_s``; total ± std over seeds."""
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
    nums = _numbering(usable, numbers)
    factor, unit, scale, rows = _stacked_bars(
        summaries, out, usable, nums, parts, values, total_key="latency_s", unit_key="latency_s",
        ylabel_what="latency per inference", yscale=yscale, title=title or "Latency per inference by layer")
    labels = point_labels(summaries)
    return {"points": usable, "numbers": nums, "labels": [labels[i] for i in usable], "layers": parts,
            "values_s": values, "unit": unit, "factor": factor, "yscale": scale, "table": rows, "path": out}

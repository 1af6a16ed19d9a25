"""Interactive HTML explorer of a sweep store (``amssim report --html``).

One self-contained file: plotly.js (from the ``plotly`` Python package, the
``report`` extra) and the store's aggregated points are inlined, so the page opens
without network access. It shows

- the Pareto scatter (every point, mean ± std error bars over seeds, the front as
  a step line, colour by any swept key, marker shape by device: circles and
  triangles analog, squares and crosses digital, stars mixed); hovering a point shows its
  configuration, accuracy ± std, energy, latency and TOPS/W; clicking it shows its
  per-layer differential error and its energy by component;
- the tile width x gain heatmap (best accuracy, in % of FP32, among the shown
  points of each cell);
- a filter per swept key (and device, device kind, mode, trace when they vary):
  the scatter, the front (recomputed in the page), the heatmap and the front table
  follow the filters.

Why plotly: ``include_plotlyjs`` / ``get_plotlyjs`` ship the whole library inside
the Python wheel, so inlining needs no JavaScript runtime or bundler (altair needs
vl-convert's embedded engine for that), and plotly.js has documented hover and
click events (``plotly_click``) and SVG scatter that draws the same on any
browser, with or without GPU. The price is size: about 4.8 MB of JavaScript.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
from collections.abc import Mapping, Sequence

from .. import __version__
from ..errors import ConfigError, StoreError
from ..sweep.pareto import DEFAULT_OBJECTIVES, Objective, pareto_front
from ..sweep.store import ResultStore
from ..sweep.summary import aggregate, point_labels

__all__ = ["HtmlReport", "write_html_report", "explorer_data", "plotly_js"]

#: summary fields offered as filters / colour keys besides the swept overrides
_FIELDS = ("trace", "device", "device_kind", "mode")


@dataclasses.dataclass(frozen=True, kw_only=True)
class HtmlReport:
    """What :func:`write_html_report` wrote."""

    path: str
    n_points: int  #: configurations (aggregated over seeds)
    n_bytes: int  #: file size
    warnings: tuple[str, ...]


def plotly_js() -> tuple[str, str]:
    """``(source, version)`` of the plotly.js bundle shipped by the ``plotly`` package."""
    try:
        import plotly
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ConfigError(
            "--html needs the plotly package: pip install 'amssim[report]' (or pip install plotly)"
        ) from None
    src = get_plotlyjs()
    head = src[:200]
    ver = head.split("plotly.js v", 1)[1].split()[0] if "plotly.js v" in head else plotly.__version__
    return src, ver


def _f(v):
    """JSON-safe float (None for missing/non-finite)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:  # an integer beyond float range
        return None
    return f if math.isfinite(f) else None


def _kind(s: Mapping) -> str:
    k = s.get("device_kind")
    return str(k) if k else "analog"


def explorer_data(
    summaries: Sequence[Mapping],
    *,
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    heatmap_keys: tuple[str, str] = ("numerics.tile_width", "numerics.gain"),
) -> dict:
    """The JSON the page is built from: one entry per point plus the filter keys.

    ``front`` is the Python Pareto front of all points (the page recomputes it for
    the filtered subset; the browser test checks both agree)."""
    if len(objectives) != 2:
        raise ConfigError(f"the explorer needs exactly two objectives, got {len(objectives)}")
    labels = point_labels(summaries)
    ov_keys: list[str] = []
    for s in summaries:
        for k in s.get("overrides") or {}:
            if k not in ov_keys:
                ov_keys.append(k)

    def keyval(s, k):
        if k in _FIELDS:
            return _kind(s) if k == "device_kind" else str(s.get(k))
        v = (s.get("overrides") or {}).get(k)
        return "-" if v is None else str(v)

    filter_keys = [k for k in list(_FIELDS) + ov_keys if len({keyval(s, k) for s in summaries}) > 1]
    points = []
    for i, (s, label) in enumerate(zip(summaries, labels)):
        layers = s.get("layers") or []
        points.append({
            "id": i,
            "label": label,
            "keys": {k: keyval(s, k) for k in list(_FIELDS) + ov_keys},
            "device": str(s.get("device")),
            "kind": _kind(s),
            "seeds": int(s.get("n_seeds") or 1),
            "x": _f(s.get(objectives[0].key)),
            "x_std": _f(s.get(f"{objectives[0].key}_std")),
            "y": _f(s.get(objectives[1].key)),
            "y_std": _f(s.get(f"{objectives[1].key}_std")),
            "accuracy": _f(s.get("accuracy")),
            "accuracy_std": _f(s.get("accuracy_std")),
            "fp32_accuracy": _f(s.get("fp32_accuracy")),
            "energy_j": _f(s.get("energy_j")),
            "energy_j_std": _f(s.get("energy_j_std")),
            "latency_s": _f(s.get("latency_s")),
            "latency_s_std": _f(s.get("latency_s_std")),
            "tops_per_w": _f(s.get("tops_per_w")),
            "layers": {
                "name": [str(L.get("name")) for L in layers],
                "dy_std": [_f(L.get("dy_std")) for L in layers],
                "dy_std_std": [_f(L.get("dy_std_std")) for L in layers],
                "rel_rms_error": [_f(L.get("rel_rms_error")) for L in layers],
                "dy_mean": [_f(L.get("dy_mean")) for L in layers],
                "energy_j": [_f(L.get("energy_j")) for L in layers],
            },
            "energy_breakdown_j": {str(k): _f(v) for k, v in (s.get("energy_breakdown_j") or {}).items()},
        })
    return {
        "objectives": [{"key": o.key, "maximise": o.maximise} for o in objectives],
        "heatmap_keys": list(heatmap_keys),
        "filter_keys": filter_keys,
        "colour_keys": [k for k in list(_FIELDS) + ov_keys if len({keyval(s, k) for s in summaries}) > 1],
        "front": pareto_front(summaries, objectives),
        "points": points,
    }


def write_html_report(
    store_path,
    out_path,
    *,
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    heatmap_keys: tuple[str, str] = ("numerics.tile_width", "numerics.gain"),
    color: str | None = None,
    title: str | None = None,
) -> HtmlReport:
    """Write the explorer for the store at ``store_path`` to ``out_path`` (one file)."""
    store_path, out_path = os.fspath(store_path), os.fspath(out_path)
    js, js_version = plotly_js()
    store = ResultStore(store_path)
    summaries = aggregate(store.rows)
    if not summaries:
        raise StoreError(f"store {store_path!r} holds no results yet")
    data = explorer_data(summaries, objectives=objectives, heatmap_keys=heatmap_keys)
    if color is not None and color not in data["colour_keys"]:
        known = {k for p in data["points"] for k, v in p["keys"].items() if v != "-"}
        cands = [k for k in data["colour_keys"] if k.rsplit(".", 1)[-1] == color]
        if len(cands) == 1:
            color = cands[0]
        elif color in known or any(k.rsplit(".", 1)[-1] == color for k in known):
            color = None  # a key with one value everywhere: one colour, nothing to choose
        else:
            raise ConfigError(f"--color {color!r}: no point has this key "
                              f"(varying keys: {', '.join(data['colour_keys']) or 'none'})")
    data["colour"] = color
    data["store"] = store_path
    data["warnings"] = list(store.warnings)
    data["n_runs"] = len(store)
    data["version"] = __version__
    page = _PAGE.format(
        title=html.escape(title or f"amssim sweep explorer: {os.path.basename(store_path)}"),
        heading=html.escape(f"Sweep {os.path.basename(store_path)}"),
        sub=html.escape(f"{len(store)} runs, {len(summaries)} configurations; amssim {__version__}, "
                        f"plotly.js {js_version} (inlined, works offline)"),
        plotly=js.replace("</script", "<\\/script"),
        data=json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/"),
        app=_APP_JS,
        css=_CSS,
    )
    parent = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(parent):
        raise ConfigError(f"--html {out_path!r}: directory {parent!r} does not exist")
    from ..io_safety import atomic_write

    atomic_write(out_path, page, option="--html")  # a failed write leaves out_path as it was
    return HtmlReport(path=out_path, n_points=len(summaries), n_bytes=os.path.getsize(out_path),
                      warnings=tuple(store.warnings))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 12px 18px; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 2px 0; } .sub { color: #666; font-size: 0.85em; margin-bottom: 8px; }
#layout { display: flex; gap: 16px; align-items: flex-start; }
#sidebar { width: 250px; flex: none; font-size: 0.85em; }
#sidebar fieldset { border: 1px solid #ccc; margin: 0 0 8px 0; padding: 4px 8px; max-height: 180px; overflow-y: auto; }
#sidebar legend { font-weight: 600; } #sidebar label { display: block; white-space: nowrap; }
#sidebar .small { font-size: 0.8em; } #main { flex: 1; min-width: 0; }
#scatter { height: 520px; } #heatmap { height: 360px; }
#detail { border-top: 2px solid #c33; margin-top: 8px; padding-top: 6px; }
#detail-title { font-weight: 600; white-space: pre-line; } .row { display: flex; gap: 8px; }
.row > div { flex: 1; min-width: 0; height: 340px; }
table { border-collapse: collapse; font-size: 0.8em; } td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
#front-table tr { cursor: pointer; } #front-table tr:hover { background: #fee; }
.hint { color: #666; font-size: 0.85em; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style>
<script>{plotly}</script>
</head><body>
<h1>{heading}</h1><div class="sub">{sub}</div>
<div id="layout">
<div id="sidebar">
<fieldset><legend>Display</legend>
<label>colour by <select id="colour-key"></select></label>
<label>x axis <select id="xscale"><option>auto</option><option>linear</option><option>log</option></select></label>
<label>y axis <select id="yscale"><option>auto</option><option>linear</option><option>log</option></select></label>
</fieldset>
<div id="filters"></div>
<div class="hint" id="count"></div>
</div>
<div id="main">
<div id="scatter"></div>
<div class="hint">Hover a point for its configuration; click it for its per-layer error and energy breakdown.</div>
<div id="detail"><div id="detail-title">Click a point to see its breakdown.</div>
<div class="row"><div id="detail-layers"></div><div id="detail-energy"></div></div></div>
<h3>Pareto front of the shown points</h3><div id="front-table"></div>
<h3>Accuracy by tile width and gain (best shown point per cell)</h3><div id="heatmap"></div>
</div></div>
<script type="application/json" id="amssim-data">{data}</script>
<script>{app}</script>
</body></html>
"""

# The page logic (plain ES2017, no other library). Exposes window.amssim for tests.
_APP_JS = r"""
(function () {
"use strict";
const D = JSON.parse(document.getElementById("amssim-data").textContent);
const P = D.points;
const OX = D.objectives[0], OY = D.objectives[1];
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const ANALOG = ["circle", "triangle-up", "diamond", "triangle-down", "triangle-left", "triangle-right", "star-triangle-up"];
const DIGITAL = ["square", "cross", "x", "pentagon", "hexagon", "hexagram"];
const FAMILY = {analog: ANALOG, digital: DIGITAL, mixed: ["star", "star-diamond", "star-square"]};
const errors = [];
const state = { filters: {}, colour: D.colour || "", shown: [], front: [], selected: null };

function vmin(a) { let m = Infinity; for (const v of a) if (v < m) m = v; return m; }  // no spread: any length
function vmax(a) { let m = -Infinity; for (const v of a) if (v > m) m = v; return m; }
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function median(v) { const a = v.filter(x => x !== null && x !== 0).map(Math.abs).sort((a, b) => a - b); return a.length ? a[Math.floor(a.length / 2)] : 1; }
const PREFIX = [[1, ""], [1e3, "m"], [1e6, "\u00b5"], [1e9, "n"], [1e12, "p"], [1e15, "f"]];
function prefix(ref, unit) { for (const [f, p] of PREFIX) if (ref * f >= 1) return [f, p + unit]; return [1e15, "f" + unit]; }
const UNITS = {
  energy_j: ["J", "energy per inference", true], latency_s: ["s", "latency per inference", true],
  tops: ["TOPS", "throughput", false], tops_per_w: ["TOPS/W", "efficiency", false],
  accuracy: ["%", "accuracy", false], fp32_accuracy: ["%", "FP32 accuracy", false],
};
function scaling(key, values) {
  const u = UNITS[key];
  if (!u) return [1, "", key];
  if (u[0] === "%") { const m = vmax(values.filter(v => v !== null).map(Math.abs).concat([0])); return m > 1 + 1e-12 ? [1, "", u[1]] : [100, "%", u[1] + " (%)"]; }
  if (!u[2]) return [1, u[0], u[1] + " (" + u[0] + ")"];
  const [f, unit] = prefix(median(values), u[0]);
  return [f, unit, u[1] + " (" + unit + ")"];
}
const SX = scaling(OX.key, P.map(p => p.x)), SY = scaling(OY.key, P.map(p => p.y));
const SE = scaling("energy_j", P.map(p => p.energy_j)), SL = scaling("latency_s", P.map(p => p.latency_s));
function fmt(v, f, d) { return v === null || v === undefined ? "-" : Number((v * (f || 1)).toPrecision(d || 4)).toString(); }
function pm(v, s, f) { return fmt(v, f) + (s ? " \u00b1 " + fmt(s, f, 2) : ""); }

// device -> marker symbol (analog: circle family, digital: square family)
const SYMBOL = {}; { const used = {analog: 0, digital: 0};
  for (const p of P) if (!(p.device in SYMBOL)) { const k = p.kind in FAMILY ? p.kind : "analog"; const fam = FAMILY[k]; used[k] = used[k] || 0; SYMBOL[p.device] = fam[used[k] % fam.length]; used[k]++; } }

function hoverText(p) {
  const lines = ["<b>" + esc(p.label) + "</b>", "device " + esc(p.device) + " (" + esc(p.kind) + "), " + p.seeds + " seed" + (p.seeds > 1 ? "s" : "")];
  lines.push("accuracy " + pm(p.accuracy, p.accuracy_std, 100) + " %");
  lines.push("energy " + pm(p.energy_j, p.energy_j_std, SE[0]) + " " + SE[1]);
  lines.push("latency " + pm(p.latency_s, p.latency_s_std, SL[0]) + " " + SL[1]);
  lines.push("TOPS/W " + fmt(p.tops_per_w));
  if (OX.key !== "energy_j" && OX.key !== "latency_s") lines.push(esc(OX.key) + " " + pm(p.x, p.x_std, SX[0]));
  if (OY.key !== "accuracy") lines.push(esc(OY.key) + " " + pm(p.y, p.y_std, SY[0]));
  return lines.join("<br>");
}
const HOVER = P.map(hoverText);

// Pareto front of a subset (same definition as amssim.sweep.pareto: ties stay, missing values never on it)
function paretoFront(ids) {
  const sx = OX.maximise ? -1 : 1, sy = OY.maximise ? -1 : 1;
  const c = ids.filter(i => P[i].x !== null && P[i].y !== null).map(i => [sx * P[i].x, sy * P[i].y, i]);
  c.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const keep = []; let bestBefore = Infinity; let i = 0;
  while (i < c.length) {
    let j = i; while (j < c.length && c[j][0] === c[i][0]) j++;
    const gmin = c[i][1];
    for (let k = i; k < j; k++) if (!(bestBefore <= c[k][1] || gmin < c[k][1])) keep.push(c[k][2]);
    bestBefore = Math.min(bestBefore, gmin); i = j;
  }
  keep.sort((a, b) => (sx * P[a].x - sx * P[b].x) || (a - b));
  return keep;
}

function sortVals(vals) { const n = vals.map(Number); return n.every(v => !isNaN(v)) ? vals.slice().sort((a, b) => Number(a) - Number(b)) : vals.slice().sort(); }
function distinct(key) { return sortVals([...new Set(P.map(p => p.keys[key]))]); }

function buildControls() {
  const sel = document.getElementById("colour-key");
  sel.innerHTML = '<option value="">(front / other)</option>' + D.colour_keys.map(k => '<option value="' + esc(k) + '">' + esc(k) + "</option>").join("");
  sel.value = state.colour;
  sel.addEventListener("change", () => { state.colour = sel.value; update(); });
  for (const id of ["xscale", "yscale"]) document.getElementById(id).addEventListener("change", update);
  const box = document.getElementById("filters");
  for (const key of D.filter_keys) {
    const vals = distinct(key);
    // a front across different workloads means nothing: start with the first trace only
    const on = key === "trace" ? [vals[0]] : vals;
    state.filters[key] = new Set(on);
    const fs = document.createElement("fieldset"); fs.dataset.key = key;
    fs.innerHTML = "<legend>" + esc(key) + "</legend>" + '<span class="small"><a href="#" data-all="1">all</a> / <a href="#" data-all="0">none</a></span>' +
      vals.map(v => '<label><input type="checkbox"' + (on.includes(v) ? " checked" : "") + ' data-key="' + esc(key) + '" value="' + esc(v) + '"> ' + esc(v) + "</label>").join("");
    fs.addEventListener("change", ev => { const t = ev.target; if (t.checked) state.filters[key].add(t.value); else state.filters[key].delete(t.value); update(); });
    fs.addEventListener("click", ev => { const a = ev.target.dataset.all; if (a === undefined) return; ev.preventDefault();
      for (const cb of fs.querySelectorAll("input")) { cb.checked = a === "1"; if (cb.checked) state.filters[key].add(cb.value); else state.filters[key].delete(cb.value); } update(); });
    box.appendChild(fs);
  }
}

function scaleOf(id, vals) {
  const mode = document.getElementById(id).value; const v = vals.filter(x => x !== null && isFinite(x));
  if (mode !== "auto") return mode;
  return v.length && vmin(v) > 0 && vmax(v) / vmin(v) > 10 ? "log" : "linear";
}

function colourGroups(ids) {
  // [{name, ids, color}] or a continuous spec
  if (!state.colour) return null;
  const key = state.colour; const vals = distinct(key);
  const nums = vals.map(Number);
  if (vals.length > 10 && nums.every(v => !isNaN(v))) return {continuous: true, key: key};
  return vals.map((v, k) => ({name: key + "=" + v, value: v, color: PALETTE[k % PALETTE.length], ids: ids.filter(i => P[i].keys[key] === v)}));
}

function scatterTrace(ids, name, color, extra) {
  return Object.assign({
    type: "scatter", mode: "markers", name: name,
    x: ids.map(i => P[i].x * SX[0]), y: ids.map(i => P[i].y * SY[0]),
    error_x: {type: "data", array: ids.map(i => (P[i].x_std || 0) * SX[0]), visible: true, thickness: 0.8, width: 2, color: "#999"},
    error_y: {type: "data", array: ids.map(i => (P[i].y_std || 0) * SY[0]), visible: true, thickness: 0.8, width: 2, color: "#999"},
    marker: {color: color, size: 8, symbol: ids.map(i => SYMBOL[P[i].device]), line: {width: 0}},
    text: ids.map(i => HOVER[i]), customdata: ids, hovertemplate: "%{text}<extra></extra>",
  }, extra || {});
}

function update() {
  const shown = P.map(p => p.id).filter(i => D.filter_keys.every(k => state.filters[k].has(P[i].keys[k])));
  state.shown = shown;
  const front = paretoFront(shown); state.front = front;
  const fset = new Set(front); const rest = shown.filter(i => !fset.has(i));
  const traces = []; const groups = colourGroups(rest);
  if (groups === null) traces.push(scatterTrace(rest, "other points", "#9e9e9e"));
  else if (groups.continuous) {
    traces.push(scatterTrace(rest, state.colour, rest.map(i => Number(P[i].keys[state.colour])), {}));
    const cv = P.map(p => Number(p.keys[state.colour]));
    Object.assign(traces[0].marker, {colorscale: "Viridis", showscale: true, colorbar: {title: {text: state.colour}, len: 0.6, y: 0, yanchor: "bottom"}, cmin: vmin(cv), cmax: vmax(cv)});  // below the legend
  } else for (const g of groups) if (g.ids.length) traces.push(scatterTrace(g.ids, g.name, g.color));
  // the front: a step line, then its points on top (outlined)
  const fx = front.map(i => P[i].x * SX[0]), fy = front.map(i => P[i].y * SY[0]);
  const order = fx.map((_, k) => k).sort((a, b) => fx[a] - fx[b]);
  traces.push({type: "scatter", mode: "lines", name: "Pareto front (" + front.length + " of " + shown.length + ")", x: order.map(k => fx[k]), y: order.map(k => fy[k]),
               line: {shape: OX.maximise ? "vh" : "hv", color: "#c33", width: 2}, hoverinfo: "skip"});
  let fcol = "#d62728";
  if (groups && groups.continuous) fcol = front.map(i => Number(P[i].keys[state.colour]));
  else if (groups) fcol = front.map(i => (groups.find(g => g.value === P[i].keys[state.colour]) || {color: "#999"}).color);
  const ft = scatterTrace(front, "front points", fcol, {});
  ft.marker.size = 11; ft.marker.line = {width: 1.5, color: "black"};
  if (groups && groups.continuous) { ft.marker.colorscale = "Viridis"; ft.marker.cmin = vmin(P.map(p => Number(p.keys[state.colour]))); ft.marker.cmax = vmax(P.map(p => Number(p.keys[state.colour]))); }
  traces.push(ft);
  const devices = [...new Set(shown.map(i => P[i].device))];
  if (devices.length > 1 || shown.some(i => P[i].kind === "digital"))  // legend of marker shapes
    for (const d of devices) traces.push({type: "scatter", mode: "markers", x: [null], y: [null], hoverinfo: "skip",
      name: d + " (" + P.find(p => p.device === d).kind + ")", marker: {symbol: SYMBOL[d], color: "#555", size: 8}});
  const better = m => m ? "higher is better" : "lower is better";
  const layout = {
    margin: {l: 60, r: 10, t: 30, b: 50}, hovermode: "closest", legend: {font: {size: 11}},
    title: {text: "Pareto front: " + front.length + " of " + shown.length + " shown configurations (mean \u00b1 std over seeds)", font: {size: 14}},
    xaxis: {title: {text: SX[2] + ", " + better(OX.maximise)}, type: scaleOf("xscale", shown.map(i => P[i].x)), zeroline: false},
    yaxis: {title: {text: SY[2] + ", " + better(OY.maximise)}, type: scaleOf("yscale", shown.map(i => P[i].y)), zeroline: false},
  };
  for (const ax of [layout.xaxis, layout.yaxis]) if (ax.type === "log") ax.dtick = "D2";  // 1, 2, 5 per decade
  Plotly.react("scatter", traces, layout, {displaylogo: false, responsive: true});
  document.getElementById("count").textContent = shown.length + " of " + P.length + " configurations shown";
  frontTable(front); heatmap(shown);
}

function frontTable(front) {
  const rows = front.map((i, k) => "<tr data-id='" + i + "'><td>" + (k + 1) + "</td><td>" + esc(P[i].label) + "</td><td>" + pm(P[i].accuracy, P[i].accuracy_std, 100) +
    "</td><td>" + pm(P[i].energy_j, P[i].energy_j_std, SE[0]) + "</td><td>" + pm(P[i].latency_s, P[i].latency_s_std, SL[0]) + "</td><td>" + fmt(P[i].tops_per_w) + "</td></tr>");
  const el = document.getElementById("front-table");
  el.innerHTML = "<table><tr><th>#</th><th>configuration</th><th>accuracy (%)</th><th>energy (" + SE[1] + ")</th><th>latency (" + SL[1] + ")</th><th>TOPS/W</th></tr>" + rows.join("") + "</table>";
  for (const tr of el.querySelectorAll("tr[data-id]")) tr.addEventListener("click", () => showDetail(Number(tr.dataset.id)));
}

function heatmap(shown) {
  const [rk, ck] = D.heatmap_keys; const el = document.getElementById("heatmap");
  const ids = shown.filter(i => P[i].keys[rk] !== undefined && P[i].keys[rk] !== "-" && P[i].keys[ck] !== undefined && P[i].keys[ck] !== "-");
  if (!ids.length) { Plotly.purge(el); el.innerHTML = "<p class='hint'>No shown point sets both " + esc(rk) + " and " + esc(ck) + ".</p>"; el.style.height = "auto"; return; }
  el.style.height = "";
  const rows = sortVals([...new Set(ids.map(i => P[i].keys[rk]))]), cols = sortVals([...new Set(ids.map(i => P[i].keys[ck]))]);
  const z = rows.map(() => cols.map(() => null)), txt = rows.map(() => cols.map(() => "")), hov = rows.map(() => cols.map(() => ""));
  const count = rows.map(() => cols.map(() => 0));
  const rel = ids.every(i => P[i].fp32_accuracy);
  for (const i of ids) {
    const r = rows.indexOf(P[i].keys[rk]), c = cols.indexOf(P[i].keys[ck]);
    if (P[i].accuracy === null) continue;
    const v = rel ? 100 * P[i].accuracy / P[i].fp32_accuracy : 100 * P[i].accuracy;
    count[r][c]++;
    if (z[r][c] === null || v > z[r][c]) { z[r][c] = v; hov[r][c] = esc(P[i].label); }
  }
  for (let r = 0; r < rows.length; r++) for (let c = 0; c < cols.length; c++)
    txt[r][c] = z[r][c] === null ? "-" : z[r][c].toFixed(1) + "%" + (count[r][c] > 1 ? " (best of " + count[r][c] + ")" : "");
  Plotly.react(el, [{type: "heatmap", x: cols.map(String), y: rows.map(String), z: z, text: txt, customdata: hov, texttemplate: "%{text}",
    colorscale: "Viridis", zmin: 0, zmax: 100, colorbar: {title: {text: rel ? "% of FP32" : "accuracy %"}},
    hovertemplate: esc(rk) + "=%{y} " + esc(ck) + "=%{x}<br>%{text}<br>%{customdata}<extra></extra>"}],
    {margin: {l: 60, r: 10, t: 10, b: 50}, xaxis: {title: {text: ck}, type: "category"}, yaxis: {title: {text: rk}, type: "category", autorange: "reversed"}},
    {displaylogo: false, responsive: true});
}

function showDetail(i) {
  const p = P[i]; state.selected = i;
  document.getElementById("detail-title").textContent = p.label + "\naccuracy " + pm(p.accuracy, p.accuracy_std, 100) + " %, energy " +
    pm(p.energy_j, p.energy_j_std, SE[0]) + " " + SE[1] + ", latency " + pm(p.latency_s, p.latency_s_std, SL[0]) + " " + SL[1] + ", TOPS/W " + fmt(p.tops_per_w);
  const L = p.layers;
  const pos = L.dy_std.concat(L.rel_rms_error).filter(v => v !== null && v > 0);
  const logy = pos.length && vmax(pos) / vmin(pos) > 10;
  Plotly.react("detail-layers", [
    {type: "bar", name: "dy_std (output units)", x: L.name, y: L.dy_std, error_y: {type: "data", array: L.dy_std_std.map(v => v || 0), visible: true}},
    {type: "bar", name: "relative RMS error", x: L.name, y: L.rel_rms_error},
  ], {title: {text: "Per-layer differential error", font: {size: 13}}, barmode: "group", margin: {l: 50, r: 10, t: 40, b: 70},
      yaxis: {type: logy ? "log" : "linear"}, legend: {orientation: "h", y: -0.3}}, {displaylogo: false, responsive: true});
  const comps = Object.keys(p.energy_breakdown_j).filter(k => p.energy_breakdown_j[k]);
  comps.sort((a, b) => p.energy_breakdown_j[b] - p.energy_breakdown_j[a]);
  Plotly.react("detail-energy", [{type: "bar", x: comps, y: comps.map(k => p.energy_breakdown_j[k] * SE[0]), marker: {color: "#1f77b4"},
      hovertemplate: "%{x}: %{y:.4g} " + SE[1] + "<extra></extra>"}],
    {title: {text: "Energy per inference by component (" + SE[1] + ")", font: {size: 13}}, margin: {l: 50, r: 10, t: 40, b: 70}}, {displaylogo: false, responsive: true});
}

window.addEventListener("error", ev => errors.push(String(ev.message)));
buildControls(); update();
document.getElementById("scatter").on("plotly_click", ev => { if (ev.points.length) showDetail(ev.points[0].customdata); });
window.amssim = {data: D, state: state, errors: errors, showDetail: showDetail, paretoFront: paretoFront, hoverText: i => HOVER[i],
  // page coordinates of point i on the scatter (for tests and scripted tours)
  pointXY: function (i) {
    const gd = document.getElementById("scatter"), fl = gd._fullLayout, r = gd.getBoundingClientRect();
    const xv = P[i].x * SX[0], yv = P[i].y * SY[0];
    const xa = fl.xaxis, ya = fl.yaxis;
    return [r.left + window.scrollX + fl._size.l + xa.l2p(xa.type === "log" ? Math.log10(xv) : xv),
            r.top + window.scrollY + fl._size.t + ya.l2p(ya.type === "log" ? Math.log10(yv) : yv)];
  }};
})();
"""

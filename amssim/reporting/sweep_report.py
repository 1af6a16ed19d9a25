"""Markdown report of a sweep store: tables plus the figures of :mod:`amssim.plotting`.

``write_report(store, out_dir)`` writes ``out_dir/report.md`` and its figures
(one section per trace in the store) from stored results only. A figure that the
stored data cannot support (e.g. a latency breakdown of accuracy-mode runs) is
listed under "Figures not drawn" with the reason.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence

from .. import __version__
from . import figures as plotting
from ..errors import ConfigError, StoreError
from ..sweep.pareto import DEFAULT_OBJECTIVES, Objective, pareto_front
from ..sweep.store import ResultStore
from ..sweep.summary import aggregate, group_by_trace, numeric_keys, point_labels
from ..sweep.tables import markdown_table, summary_columns

__all__ = ["ReportResult", "write_report"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportResult:
    """What :func:`write_report` wrote."""

    path: str  #: the markdown file
    figures: tuple[str, ...]  #: figure files written
    skipped: tuple[tuple[str, str], ...]  #: (figure, reason) pairs not drawn
    warnings: tuple[str, ...]  #: problems found while reading the store


def _slug(text: str) -> str:
    base = os.path.basename(os.path.normpath(text)) or "trace"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "trace"


def write_report(
    store_path,
    out_dir,
    *,
    objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
    heatmap_keys: tuple[str, str] = ("numerics.tile_width", "numerics.gain"),
    fig_format: str = "png",
    color: str | None = None,
    xscale: str = "auto",
    yscale: str = "auto",
) -> ReportResult:
    """Write ``out_dir/report.md`` and figures for the store at ``store_path``.

    ``color`` colours the Pareto points and the per-layer error lines by a key;
    ``xscale``/``yscale`` (auto, linear, log) set the Pareto axes. Bars and lines
    carry the numbers of the Pareto figure's key table."""
    store_path = os.fspath(store_path)
    out_dir = os.fspath(out_dir)
    if f".{fig_format}" not in plotting.FIGURE_SUFFIXES:
        raise ConfigError(f"figure format {fig_format!r}: use png, svg or pdf")
    store = ResultStore(store_path)
    summaries = aggregate(store.rows)
    if not summaries:
        raise StoreError(f"store {store_path!r} holds no results yet")
    if color is not None:
        plotting.colour_values(summaries, color)  # an unknown key is an error, not a skipped figure
    for scale in (xscale, yscale):
        if scale not in plotting.SCALES:
            raise ConfigError(f"axis scale {scale!r}: use {', '.join(plotting.SCALES)}")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir!r} cannot be created: {exc}") from None
    seeds = sorted({s["n_seeds"] for s in summaries})
    lines = [
        "# amssim sweep report",
        "",
        f"Store `{store_path}`: {len(store)} runs, {len(summaries)} configurations, "
        f"{'/'.join(map(str, seeds))} seeds per configuration (mean ± sample std over seeds). "
        f"Written by amssim {__version__} from stored results only.",
        "",
    ]
    if store.warnings:
        lines += ["**Store warnings** (these lines were skipped; the file was not modified):", ""]
        lines += [f"- {w}" for w in store.warnings] + [""]
    figures: list[str] = []
    skipped: list[tuple[str, str]] = []
    groups = group_by_trace(summaries)
    for trace, group in groups.items():
        slug = _slug(trace)
        if len(groups) > 1:
            lines += [f"## Trace `{trace}`", ""]
        else:
            lines += [f"Trace `{trace}`; device(s) {', '.join(sorted({str(s['device']) for s in group}))}; "
                      f"mode(s) {', '.join(sorted({str(s['mode']) for s in group}))}.", ""]
        h = "###" if len(groups) > 1 else "##"
        labels = point_labels(group)
        avail = numeric_keys(group)

        numbers: dict[int, int] = {}

        def figure(name, title, fn, *args, **kw):
            path = os.path.join(out_dir, f"{slug}-{name}.{fig_format}")
            try:
                drawn = fn(group, path, *args, **kw)
            except ConfigError as exc:
                skipped.append((f"{slug}-{name}", str(exc)))
                return []
            if name == "pareto":
                numbers.update(drawn.get("numbers") or {})
            figures.append(path)
            return [f"![{title}]({os.path.basename(path)})", ""]

        # Pareto front
        obj_txt = ", ".join(str(o) for o in objectives)
        lines += [f"{h} Pareto front ({obj_txt})", ""]
        if all(o.key in avail for o in objectives):
            front = pareto_front(group, objectives)
            header, body = summary_columns([group[i] for i in front], [labels[i] for i in front],
                                           extra=[o.key for o in objectives])
            header, body = ["#"] + header, [[str(k + 1)] + row for k, row in enumerate(body)]  # = figure numbers
            lines += [f"{len(front)} of {len(group)} configurations are non-dominated.", "",
                      markdown_table(header, body), ""]
            lines += figure("pareto", "Pareto front", plotting.plot_pareto, objectives=objectives, color=color,
                            xscale=xscale, yscale=yscale)
        else:
            missing = [o.key for o in objectives if o.key not in avail]
            skipped.append((f"{slug}-pareto", f"no numeric {', '.join(missing)} in the stored results"))
            lines += [f"Not available: the results carry no {', '.join(missing)}.", ""]
        lines += [f"{h} All configurations", "", markdown_table(*summary_columns(group, labels)), ""]
        lines += [f"{h} Accuracy by tile width and gain (Table II style)", ""]
        lines += figure("heatmap", "accuracy heatmap", plotting.plot_heatmap,
                        row_key=heatmap_keys[0], col_key=heatmap_keys[1]) or ["Not drawn (see below).", ""]
        lines += [f"{h} Energy per inference by component", ""]
        lines += figure("energy", "energy breakdown", plotting.plot_energy_breakdown,
                        numbers=numbers) or ["Not drawn (see below).", ""]
        lines += [f"{h} Per-layer differential error", ""]
        lines += figure("layer-error", "per-layer error", plotting.plot_layer_error, numbers=numbers,
                        color=color) or ["Not drawn (see below).", ""]
        lines += [f"{h} Latency per inference by layer", ""]
        lines += figure("latency", "latency breakdown", plotting.plot_latency_breakdown,
                        numbers=numbers) or ["Not drawn (see below).", ""]
    if skipped:
        lines += ["## Figures not drawn", ""] + [f"- `{name}`: {why}" for name, why in skipped] + [""]
    path = os.path.join(out_dir, "report.md")
    from ..io_safety import atomic_write

    atomic_write(path, "\n".join(lines), option="--out")
    return ReportResult(path=path, figures=tuple(figures), skipped=tuple(skipped), warnings=tuple(store.warnings))

"""Plain-text and markdown tables of sweep summaries (used by the CLI and the report)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["fmt", "fmt_pm", "summary_columns", "text_table", "markdown_table"]


def fmt(v, digits: int = 4) -> str:
    """A number in %g style (``-`` for missing)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def fmt_pm(mean, std, digits: int = 4) -> str:
    """``mean ± std`` (std left out when missing)."""
    if std is None:
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(std, 2)}"


#: (header, summary key, has std) shown for every point
_COLUMNS = (
    ("accuracy", "accuracy", True),
    ("energy/inf (J)", "energy_j", True),
    ("latency (s)", "latency_s", False),
    ("TOPS/W", "tops_per_w", False),
)


def summary_columns(
    summaries: Sequence[Mapping], labels: Sequence[str], *, extra: Sequence[str] = ()
) -> tuple[list[str], list[list[str]]]:
    """Header and cells: config label, seeds, then accuracy/energy/latency/TOPS/W and ``extra`` keys."""
    cols = [c for c in _COLUMNS if any(s.get(c[1]) is not None for s in summaries)]
    for k in extra:
        if k not in [c[1] for c in cols]:
            cols.append((k, k, True))
    header = ["config", "seeds"] + [c[0] for c in cols]
    body = []
    for s, label in zip(summaries, labels):
        cells = [label, str(s.get("n_seeds", "-"))]
        for _, key, has_std in cols:
            cells.append(fmt_pm(s.get(key), s.get(f"{key}_std")) if has_std else fmt(s.get(key)))
        body.append(cells)
    return header, body


def text_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Aligned columns (first column left, the rest right); control characters escaped."""
    from ..io_safety import escape

    header = [escape(c) for c in header]
    body = [[escape(c) for c in r] for r in body]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]

    def line(row):
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in body)])


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    def esc(c):
        return str(c).replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in header) + " |"]
    out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in body]
    return "\n".join(out)

"""Reporting from stored results only (never runs a simulation).

- :mod:`.figures`: matplotlib figures (Pareto front with numbered key table, heatmap,
  energy/latency breakdowns, per-layer error) for ``amssim pareto`` and reports;
- :mod:`.sweep_report`: the markdown report of a sweep store (``amssim report``);
- :mod:`.explorer`: the self-contained interactive HTML explorer (``amssim report --html``).
"""

from .explorer import HtmlReport, write_html_report
from .sweep_report import write_report

__all__ = ["HtmlReport", "write_html_report", "write_report"]

#!/usr/bin/env bash
# Regenerate the reference figures in plots/ (run from the repository root).
# The sweep resumes: rerunning only computes points missing from the store.
# Needs the report extra (plotly) for --html, and Playwright + chromium for the screenshot.
set -euo pipefail
amssim sweep --sweep-file plots/table2.toml --store plots/fsdd-cnn.sweep.jsonl --workers 2
amssim pareto plots/fsdd-cnn.sweep.jsonl --out plots/fsdd-cnn-pareto.png --color numerics.tile_width
amssim report plots/fsdd-cnn.sweep.jsonl --out plots/fsdd-cnn-report --color numerics.tile_width --html
python plots/explorer_screenshot.py plots/fsdd-cnn-report/report.html plots/fsdd-cnn-explorer.png

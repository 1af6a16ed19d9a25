#!/usr/bin/env bash
# Regenerate the reference figures in plots/ (run from the repository root).
# The sweep resumes: rerunning only computes points missing from the store.
set -euo pipefail
amssim sweep --sweep-file plots/table2.toml --store plots/fsdd-cnn.sweep.jsonl --workers 2
amssim pareto plots/fsdd-cnn.sweep.jsonl --out plots/fsdd-cnn-pareto.png
amssim report plots/fsdd-cnn.sweep.jsonl --out plots/fsdd-cnn-report

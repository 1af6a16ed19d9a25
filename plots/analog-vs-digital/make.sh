#!/usr/bin/env bash
# Analog ABFP configurations against the digital presets on one energy-accuracy front
# (issue 17). Run from the repository root; the sweeps resume (only missing runs execute).
set -euo pipefail
D=plots/analog-vs-digital
PRESETS="digital-int8-128 digital-bf16-128 digital-mxfp8-128 digital-mxint8-128 digital-posit8-128"

amssim sweep workloads/fsdd-cnn --device abfp-paper --grid numerics.tile_width=32,128 \
    --grid numerics.gain=1,2,4,8,16 --seeds 2 --store $D/fsdd-cnn.jsonl --workers 1
for d in $PRESETS; do   # deterministic: one seed; run.batch=8 (the default) names the point
    amssim sweep workloads/fsdd-cnn --device $d --grid run.batch=8 --store $D/fsdd-cnn.jsonl --workers 1
done
amssim pareto $D/fsdd-cnn.jsonl --all --xscale log --out $D/fsdd-cnn-pareto.png

amssim sweep workloads/sst2-transformer --device abfp-paper --grid numerics.tile_width=128 \
    --grid numerics.gain=1,2,4,8,16 --set run.limit=200 --seeds 1 \
    --store $D/sst2-transformer.jsonl --workers 1
for d in $PRESETS; do
    amssim sweep workloads/sst2-transformer --device $d --grid run.batch=8 --set run.limit=200 \
        --store $D/sst2-transformer.jsonl --workers 1
done
amssim pareto $D/sst2-transformer.jsonl --all --xscale log --out $D/sst2-transformer-pareto.png

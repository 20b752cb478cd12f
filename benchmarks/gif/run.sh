#!/usr/bin/env bash
# GIF / IF vs Retrain on Cora (GCN, 200 epochs Adam with validation selection).
# Public split (140 training nodes): node 0.5% / 5%, edge 5%, feature 5%; full split (1,208
# training nodes, where the authors' fixed scale=500 diverged): node 0.5% / 5%.
# Usage: bash benchmarks/gif/run.sh [outdir]   (single-threaded: OMP_NUM_THREADS=1)
set -euo pipefail
OUT=${1:-benchmarks/gif/results}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-.venv/bin/python}
ALGOS=${ALGOS:-retrain,gif,gif-cg,if}
SEEDS=${SEEDS:-0,1,2}
run() { $PY -m torch_geometric_unlearn.benchmark --dataset cora --model gcn --algorithms "$ALGOS" \
    --seeds "$SEEDS" --quiet "$@"; }
run --request node --ratio 0.005 --out "$OUT/node_0.005.json"
run --request node --ratio 0.05 --out "$OUT/node_0.05.json"
run --request edge --ratio 0.05 --out "$OUT/edge_0.05.json"
run --request feature --ratio 0.05 --out "$OUT/feature_0.05.json"
run --split full --request node --ratio 0.005 --out "$OUT/full_node_0.005.json"
run --split full --request node --ratio 0.05 --out "$OUT/full_node_0.05.json"

#!/usr/bin/env bash
# GIF / IF vs Retrain on Cora (GCN, public split, 200 epochs Adam with validation selection).
# Usage: bash benchmarks/gif/run.sh [outdir]   (single-threaded: OMP_NUM_THREADS=1)
set -euo pipefail
OUT=${1:-benchmarks/gif/results}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-.venv/bin/python}
ALGOS=retrain,gif,gif-cg,if
$PY -m torch_geometric_unlearn.benchmark --dataset cora --model gcn --algorithms $ALGOS \
    --request node --ratio 0.005 --seeds 0,1,2 --out "$OUT/node_0.005.json"
$PY -m torch_geometric_unlearn.benchmark --dataset cora --model gcn --algorithms $ALGOS \
    --request node --ratio 0.05 --seeds 0,1,2 --out "$OUT/node_0.05.json"
$PY -m torch_geometric_unlearn.benchmark --dataset cora --model gcn --algorithms $ALGOS \
    --request edge --ratio 0.05 --seeds 0,1,2 --out "$OUT/edge_0.05.json"
$PY -m torch_geometric_unlearn.benchmark --dataset cora --model gcn --algorithms $ALGOS \
    --request feature --ratio 0.05 --seeds 0,1,2 --out "$OUT/feature_0.05.json"

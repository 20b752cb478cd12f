#!/usr/bin/env bash
# GraphEraser vs Retrain on Cora (public split), 0.5% of nodes, GCN/GAT/SAGE, seed 0;
# then partition quality/time on a synthetic 169k-node / 1.2M-edge planted-community graph.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH=.
OUT=${OUT:-benchmarks/graph_eraser/results}
mkdir -p "$OUT"
for model in gcn gat sage; do
  .venv/bin/python -m torch_geometric_unlearn.benchmark --dataset cora --model "$model" \
    --algorithms retrain,grapheraser --request node --ratio 0.005 --seeds 0 \
    --out "$OUT/cora_${model}.json"
done
.venv/bin/python benchmarks/graph_eraser/partition_bench.py --out "$OUT/partition.json"

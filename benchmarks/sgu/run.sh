#!/usr/bin/env bash
# SGU / NIM evidence on Cora (public split): GCN and SGC, 0.5% and 5% of the training nodes,
# random forget sets, seeds 0,1,2; Retrain, SGU, GIF and GIF with the NIM influenced set.
# Then NIM's selection time and memory on a synthetic arxiv-size graph.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/sgu/results}
mkdir -p "$OUT"
for model in gcn sgc; do
  for ratio in 0.005 0.05; do
    OMP_NUM_THREADS=1 $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora \
      --model "$model" --algorithms retrain,sgu,gif,gif-nim --request node --ratio "$ratio" \
      --strategy "${STRATEGY:-random}" --seeds 0,1,2 --out "$OUT/cora_${model}_${ratio}_${STRATEGY:-random}.json"
  done
done
OMP_NUM_THREADS=1 $PY -W ignore benchmarks/sgu/nim_scale.py | tee "$OUT/nim_scale.txt"

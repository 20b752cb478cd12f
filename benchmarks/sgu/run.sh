#!/usr/bin/env bash
# SGU / NIM evidence on Cora (public split, 140 training nodes): GCN and SGC, 0.5% and 5% of
# the training nodes, random and worst-case forget sets, seeds 0,1,2; Retrain, SGU (30 and 10
# fine-tuning epochs), GIF and GIF with the NIM influenced set (NIM as a plug-in). Then NIM's
# selection time and memory on a synthetic arxiv-size graph.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/sgu/results}
SEEDS=${SEEDS:-0,1,2}
ALGOS=${ALGOS:-retrain,sgu,sgu-fast,gif,gif-nim}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
run() {  # model ratio strategy
  $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora --model "$1" \
    --algorithms "$ALGOS" --request node --ratio "$2" --strategy "$3" --seeds "$SEEDS" --quiet \
    --out "$OUT/cora_$1_$2_$3.json"
}
run gcn 0.005 random
run gcn 0.05 random
run gcn 0.05 worst_case
run sgc 0.05 random
run sgc 0.005 random
run sgc 0.05 worst_case
if [ -z "${SKIP_SCALE:-}" ]; then
  $PY -W ignore benchmarks/sgu/nim_scale.py | tee "$OUT/nim_scale.txt"
fi

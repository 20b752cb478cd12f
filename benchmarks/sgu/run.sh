#!/usr/bin/env bash
# SGU / NIM evidence on Cora. (1) Full split (1,208 training nodes), GCN, 5% random (60
# removed nodes), seeds 0-9: Retrain and SGU, where the MIA AUC is measurable. (2) Public split
# (140 training nodes): GCN (seeds 0-9: 1 or 7 removed nodes per seed, so the per-seed MIA is
# noisy) and SGC (seeds 0-9), 0.5% and 5% of the training
# nodes, random and worst-case forget sets; Retrain, SGU (5 and 3 fine-tuning epochs, and lr
# 5e-3), GIF and GIF with the NIM influenced set (NIM as a plug-in). (3) NIM's selection time
# and memory on synthetic graphs of 17k and 169k (arxiv-size) nodes -> results/scaling_nim.json.
# PRECISION=1: Retrain and SGU on seeds 0-29 of the public 5% sets (GCN, SGC; random and worst
# case) -> results/precision/ (the MIA AUC of 7 removed nodes is noisy per seed).
# (4) Link prediction (--task link_prediction): GCN and SGC encoders (LINK_MODELS), 0.5% and
# 5% of the training edges, random, seeds 0-9, Retrain and SGU -> results/link_*.json.
# SKIP_NODE=1 skips (1)-(2), SKIP_LINK=1 skips (4), SKIP_SCALE=1 skips (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/sgu/results}
ALGOS=${ALGOS:-retrain,sgu,sgu-fast,sgu-lr5e-3,gif,gif-nim}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
run() {  # model ratio strategy seeds
  uptime
  $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora --model "$1" \
    --algorithms "$ALGOS" --request node --ratio "$2" --strategy "$3" --seeds "$4" --quiet \
    --out "$OUT/cora_$1_$2_$3.json"
  uptime
}
if [ -z "${SKIP_FULL:-}" ] && [ -z "${SKIP_NODE:-}" ]; then
  uptime
  $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora --split full --model gcn \
    --algorithms retrain,sgu,sgu-fast,sgu-lr5e-3 --request node --ratio 0.05 --strategy random \
    --seeds "${FULL_SEEDS:-0,1,2,3,4,5,6,7,8,9}" --quiet --out "$OUT/cora_full_gcn_0.05_random.json"
  uptime
fi
GCN_SEEDS=${GCN_SEEDS:-0,1,2,3,4,5,6,7,8,9}
SGC_SEEDS=${SGC_SEEDS:-0,1,2,3,4,5,6,7,8,9}
if [ -z "${SKIP_NODE:-}" ]; then
  run gcn 0.005 random "$GCN_SEEDS"
  run gcn 0.05 random "$GCN_SEEDS"
  run gcn 0.05 worst_case "$GCN_SEEDS"
fi
if [ -z "${SKIP_SGC:-}" ] && [ -z "${SKIP_NODE:-}" ]; then
  run sgc 0.05 random "$SGC_SEEDS"
  run sgc 0.005 random "$SGC_SEEDS"
  run sgc 0.05 worst_case "$SGC_SEEDS"
fi
if [ -n "${PRECISION:-}" ]; then  # 30 seeds of the 5% sets: the MIA's standard error
  mkdir -p "$OUT/precision"
  for spec in "gcn random" "gcn worst_case" "sgc random" "sgc worst_case"; do
    set -- $spec
    uptime
    $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora --model "$1" \
      --algorithms retrain,sgu --request node --ratio 0.05 --strategy "$2" \
      --seeds "$(seq -s, 0 29)" --quiet --out "$OUT/precision/cora_$1_0.05_$2_30seeds.json"
  done
fi
if [ -z "${SKIP_LINK:-}" ]; then
  for model in ${LINK_MODELS:-gcn sgc}; do for ratio in 0.005 0.05; do
    set -- "$model" "$ratio"
    uptime
    $PY -W ignore -m torch_geometric_unlearn.benchmark --dataset cora --task link_prediction \
      --model "$1" --algorithms retrain,sgu --request edge --ratio "$2" --strategy random \
      --seeds "${LINK_SEEDS:-0,1,2,3,4,5,6,7,8,9}" --quiet --out "$OUT/link_cora_$1_$2_random.json"
  done; done
  uptime
fi
if [ -z "${SKIP_SCALE:-}" ]; then
  $PY -W ignore benchmarks/sgu/nim_scale.py --json "$OUT/scaling_nim.json" | tee "$OUT/nim_scale.txt"
fi

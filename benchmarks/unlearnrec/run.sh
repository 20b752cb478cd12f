#!/usr/bin/env bash
# UnlearnRec vs Retrain, GIF-on-embeddings and RecEraser under the paper's adversarial-interaction
# protocol (1% of training interactions added as least-probable items, then unlearned).
# Usage: bash benchmarks/unlearnrec/run.sh [outdir]    (needs ../shared/data; single-threaded)
# SGL and SimGCL use the backbones' defaults (the UnlearnRec authors' SSLRec configurations).
set -euo pipefail
OUT=${1:-benchmarks/unlearnrec/results}
SEEDS=${SEEDS:-0 1 2}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-.venv/bin/python}
COMMON="--ratio 0.01 --epochs 50 --lr 5e-3 --batch-size 2048 --hidden 64 --repeats 3"
ALGOS=retrain,unlearnrec-0,unlearnrec,unlearnrec-3,gif-rec,receraser
$PY benchmarks/unlearnrec/bench.py --dataset movielens100k --model lightgcn $COMMON --seeds 0,1,2 \
    --algorithms $ALGOS --out "$OUT/ml100k_lightgcn.json" \
    --scores-out "$OUT/scores_ml100k_lightgcn.json"
for SEED in $SEEDS; do
  for MODEL in simgcl sgl; do
    $PY benchmarks/unlearnrec/bench.py --dataset movielens100k --model $MODEL $COMMON \
        --seeds $SEED --algorithms $ALGOS --out "$OUT/ml100k_${MODEL}_seed$SEED.json"
  done
done
# SimGCL with the pre-training chosen on held-out seeds (select_pretrain_simgcl.py, round 2)
for SEED in $SEEDS; do
  $PY benchmarks/unlearnrec/bench.py --dataset movielens100k --model simgcl $COMMON \
      --seeds $SEED --algorithms retrain,unlearnrec-simgcl-val \
      --out "$OUT/ml100k_simgcl_val_seed$SEED.json"
done
# Gowalla: the dense deterministic subset (10-core of 10,000 seeded users), see GOWALLA.md.
bash benchmarks/unlearnrec/run_gowalla.sh "$OUT"
$PY benchmarks/unlearnrec/summarize.py "$OUT"/*.json > "$OUT/summary.md"

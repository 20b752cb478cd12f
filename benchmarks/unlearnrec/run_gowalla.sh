#!/usr/bin/env bash
# UnlearnRec vs Retrain, GIF-on-embeddings and RecEraser on dense deterministic Gowalla subsets
# (issue 6), under the adversarial-interaction protocol of benchmarks/unlearnrec/bench.py.
# Subsets of the LightGCN split in ../shared/data/gowalla (full split: 29,858 users, 40,981
# items, 810,128 training interactions, 27.1 per user and 19.8 per item):
#   u10k_k10  'gowalla?max_users=10000&min_interactions=10': 10,000 users drawn at random with
#             seed 0, then the 10-core of their training interactions (every kept user and item
#             has >= 10): 2,600 users, 2,972 items, 65,551 training / 15,257 test interactions
#             (25.2 per user, 22.1 per item). LightGCN seeds 0-2, SGL and SimGCL seed 0.
#   u16k_k10  'gowalla?max_users=16000&min_interactions=10': 6,586 users, 7,490 items, 176,784
#             training / 41,817 test interactions (26.8 per user, 23.6 per item). LightGCN seed 0
#             (24.6 min a seed at load ~3; opt-in: BIG_SEEDS="0", no kept result).
# The subset is the same for every seed (load_dataset's seed 0); --seeds varies the training.
# Usage: bash benchmarks/unlearnrec/run_gowalla.sh [outdir]   (single-threaded, one process per
# seed). SEEDS (default "0 1 2"), SSL_SEEDS (default "0"), BIG_SEEDS (default: none) select
# the runs; ALGOS overrides the methods, e.g.
#   SSL_SEEDS= BIG_SEEDS= ALGOS=retrain,unlearnrec-0,unlearnrec,unlearnrec-3 \
#       bash benchmarks/unlearnrec/run_gowalla.sh /tmp/unlearnrec_rerun
# re-runs only the UnlearnRec arms on u10k_k10 (Retrain is always needed: it is the reference of
# the ratios and of the speed-up).
set -euo pipefail
OUT=${1:-benchmarks/unlearnrec/results}
SEEDS=${SEEDS-0 1 2}
SSL_SEEDS=${SSL_SEEDS-0}
BIG_SEEDS=${BIG_SEEDS-}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-.venv/bin/python}
COMMON="--ratio 0.01 --epochs 50 --lr 5e-3 --batch-size 2048 --hidden 64 --repeats 3"
ALGOS=${ALGOS:-retrain,unlearnrec-0,unlearnrec,unlearnrec-3,gif-rec,receraser}
run() {  # run NAME DATASET MODEL SEED
  echo "$(date -u +%FT%TZ) $1 $3 seed $4 | $(uptime)" >&2
  $PY benchmarks/unlearnrec/bench.py --dataset "$2" --model "$3" $COMMON --seeds "$4" \
      --algorithms "$ALGOS" --out "$OUT/gowalla_$1_$3_seed$4.json"
  echo "$(date -u +%FT%TZ) done | $(uptime)" >&2
}
U10K='gowalla?max_users=10000&min_interactions=10'
U16K='gowalla?max_users=16000&min_interactions=10'
for SEED in $SEEDS; do run u10k_k10 "$U10K" lightgcn "$SEED"; done
for SEED in $SSL_SEEDS; do
  for MODEL in sgl simgcl; do run u10k_k10 "$U10K" "$MODEL" "$SEED"; done
done
for SEED in $BIG_SEEDS; do run u16k_k10 "$U16K" lightgcn "$SEED"; done
for NAME in u10k_k10 u16k_k10; do
  if compgen -G "$OUT/gowalla_${NAME}_*_seed*.json" > /dev/null; then
    $PY benchmarks/unlearnrec/summarize.py "$OUT"/gowalla_${NAME}_*_seed*.json \
        > "$OUT/gowalla_${NAME}_summary.md"
  fi
done

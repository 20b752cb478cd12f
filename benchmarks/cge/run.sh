#!/usr/bin/env bash
# CGE and GraphEraser vs Retrain on Cora (public split): 14 random training nodes removed (0.5% of
# the 2708 nodes, as in the CGE paper), same model, split and request for every algorithm.
# Writes benchmarks/cge/<model>.json; `python benchmarks/cge/summarize.py` prints the table.
# PARALLEL=1 runs the three models at the same time (speed-ups are still measured within a run).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0,1,2}
run() {
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} $PY -m torch_geometric_unlearn.benchmark \
    --dataset cora --model "$1" --algorithms retrain,cge,cge-warm,grapheraser --request node \
    --count 14 --strategy random --seeds "$SEEDS" --device cpu \
    --out "benchmarks/cge/$1.json"
}
for MODEL in ${MODELS:-gcn sage gat}; do
  if [ "${PARALLEL:-0}" = 1 ]; then run "$MODEL" & else run "$MODEL"; fi
done
wait

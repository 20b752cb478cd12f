#!/usr/bin/env bash
# CGE vs Retrain on Cora (public split), 14 random training nodes removed (0.5% of the 2708 nodes, as in the paper),
# same model and request for every algorithm. Writes benchmarks/cge/<model>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0,1}
for MODEL in ${MODELS:-gcn sage gat}; do
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} $PY -m torch_geometric_unlearn.benchmark \
    --dataset cora --model "$MODEL" --algorithms retrain,cge,cge-warm --request node \
    --count 14 --strategy random --seeds "$SEEDS" --device cpu \
    --out "benchmarks/cge/$MODEL.json"
done

#!/bin/sh
# ScaleGUN benchmarks (2-core shared CPU; single-threaded to limit contention).
set -e
export OMP_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
$PY benchmarks/scalegun/cora.py --requests 20 --seed 0
$PY -m torch_geometric_unlearn.benchmark --dataset cora --algorithms retrain,scalegun,scalegun-deep \
    --request edge --count 20 --seeds 0
$PY -m torch_geometric_unlearn.benchmark --dataset cora --algorithms retrain,scalegun \
    --request node --count 10 --seeds 0
# Graph-size scaling: request sizes 1/10/100/1000 edges, baseline measured side by side.
for n in 16934:116624 169343:1166243; do
  $PY benchmarks/scalegun/scale.py --nodes ${n%%:*} --edges ${n##*:} --sizes 1,10,100,1000 \
      --repeats 5 --baseline-repeats 3 --r-max 1e-9 --seed 0
done
# ~10x ogbn-arxiv (needs ~13 GB RAM, ~25 min on the shared 2-core machine).
$PY benchmarks/scalegun/scale.py --nodes 1693430 --edges 11662430 --sizes 1,10,100,1000 \
    --repeats 3 --baseline-repeats 1 --r-max 1e-9 --seed 0

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
# Graph-size scaling (ogbn-arxiv size last), batches of 100 random edges.
for n in 16934:116624 54000:372000 169343:1166243; do
  $PY benchmarks/scalegun/scale.py --nodes ${n%%:*} --edges ${n##*:} --batches 100,100,100,10,1 \
      --r-max 1e-9 --seed 0
done

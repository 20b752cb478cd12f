#!/bin/sh
# ScaleGUN benchmarks (2-core shared CPU; single-threaded to limit contention).
set -e
export OMP_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
R=benchmarks/scalegun/results
$PY benchmarks/scalegun/cora.py --requests 20 --seed 0
$PY benchmarks/scalegun/cora.py --requests 20 --seed 0 --split full
$PY -m torch_geometric_unlearn.benchmark --dataset cora --algorithms retrain,scalegun,scalegun-deep \
    --request edge --count 20 --seeds 0
$PY -m torch_geometric_unlearn.benchmark --dataset cora --algorithms retrain,scalegun \
    --request node --count 10 --seeds 0
# r_max sweep at ogbn-arxiv size (README table).
for r in 1e-9 1e-8 1e-7 1e-6 1e-5; do
  $PY benchmarks/scalegun/scale.py --sizes 1,10,100 --repeats 5 --baseline-repeats 3 --r-max $r --seed 0
done
# Scaling records (the files are extended, so start from scratch).
rm -f $R/scaling_request_size.json $R/scaling_graph_size.json
$PY benchmarks/scalegun/scale.py --nodes 169343 --edges 1166243 --sizes 1,3,10,30,100,300,1000 \
    --repeats 3 --baseline-repeats 3 --r-max 1e-8 --seed 0 --out $R/arxiv_request_sizes.json \
    --json $R/scaling_request_size.json --scaling request
# Graph-size scaling; the 10x graph needs ~13 GB RAM.
for n in 16934:116624:5:3 169343:1166243:5:3 1693430:11662430:3:1; do
  N=${n%%:*}; rest=${n#*:}; E=${rest%%:*}; rest=${rest#*:}; REP=${rest%%:*}; BR=${rest#*:}
  $PY benchmarks/scalegun/scale.py --nodes $N --edges $E --sizes 1,100 --repeats $REP \
      --baseline-repeats $BR --r-max 1e-8 --seed 0 --out $R/graph_$N.json \
      --json $R/scaling_graph_size.json --scaling graph
done
# Certification budget vs requests on Cora (budget_spent.json, budget_retrains.json).
$PY benchmarks/scalegun/budget.py --requests 200 --stds 0.1,0.05,1 --lams 1e-2 --seed 0 --out-dir $R

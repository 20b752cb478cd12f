r"""Retrain (the task's full-batch training, 200 epochs) on dense vs sparse CSR features, side
by side: the time, the selected epoch and the largest posterior difference of the two trained
models. SGU and GIF run their forwards on CSR features (Cora's bag of words is 1.3% non-zero);
since 2026-11-24 the task trains on them too (``NodeClassificationTask(sparse_features=None)``),
so the speed-ups against Retrain no longer compare a sparse product with a dense one.

    OMP_NUM_THREADS=1 python benchmarks/sgu/retrain_features.py --repeats 5 \
        --json benchmarks/sgu/results/retrain_features.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from torch_geometric_unlearn.datasets import load_dataset, load_planetoid
from torch_geometric_unlearn.nn.node import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--models', default='gcn,gat')
    parser.add_argument('--splits', default='public,full')
    parser.add_argument('--json', default=None)
    args = parser.parse_args()
    rows = []
    for split in args.splits.split(','):
        data = load_dataset('cora') if split == 'public' else load_planetoid('Cora', split=split)
        for name in args.models.split(','):
            times = {False: [], None: []}
            result = {}
            for _ in range(args.repeats):
                for sparse in (False, None):  # alternated: the same load for both
                    task = NodeClassificationTask(seed=0, sparse_features=sparse)
                    model = reinitialize(build_node_model(name, data.num_features,
                                                          int(data.y.max()) + 1), seed=0)
                    t0 = time.perf_counter()
                    info = task.train(model, data)
                    times[sparse].append(time.perf_counter() - t0)
                    with torch.no_grad():
                        result[sparse] = (info['best_epoch'],
                                          task.predict_proba(model, data), task._sparse_ok)
            dense_s, sparse_s = (statistics.median(times[k]) for k in (False, None))
            row = {'split': split, 'model': name, 'repeats': args.repeats,
                   'dense_seconds': dense_s, 'sparse_seconds': sparse_s,
                   'dense_over_sparse': dense_s / sparse_s,
                   'dense_runs': times[False], 'sparse_runs': times[None],
                   'sparse_used': bool(result[None][2][1]),
                   'best_epoch_dense': result[False][0], 'best_epoch_sparse': result[None][0],
                   'max_posterior_diff': float((result[False][1] - result[None][1]).abs().max()),
                   'load_average': os.getloadavg()[0]}
            rows.append(row)
            print(f"{split:6s} {name}: dense {dense_s:.2f} s, sparse {sparse_s:.2f} s "
                  f"({row['dense_over_sparse']:.2f}x; CSR used: {row['sparse_used']}), best "
                  f"epoch {row['best_epoch_dense']} / {row['best_epoch_sparse']}, max "
                  f"posterior diff {row['max_posterior_diff']:.1e}, load "
                  f"{row['load_average']:.2f}", flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()

"""Worst-case vs random forget sets on Cora: test-accuracy drop after Retrain.

Usage: OMP_NUM_THREADS=1 python benchmarks/evaluation/worst_case.py [--seeds 0,1,2]
           [--count 14] [--split public]
"""
import argparse
import json

import torch

from torch_geometric_unlearn.datasets.planetoid import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn.node import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

p = argparse.ArgumentParser()
p.add_argument('--seeds', default='0,1,2')
p.add_argument('--count', type=int, default=14)
p.add_argument('--split', default='public')
p.add_argument('--strategies', default='random,worst_case,degree,influence_greedy')
p.add_argument('--out', default=None)
a = p.parse_args()
data = load_planetoid('Cora', split=a.split)
rows = []
for seed in [int(s) for s in a.seeds.split(',')]:
    task = NodeClassificationTask(seed=seed)
    model = reinitialize(build_node_model('gcn', data.num_features, 7), seed)
    task.train(model, data)
    acc0 = task.evaluate(model, data)['accuracy']
    for strat in a.strategies.split(','):
        req = select_request(data, 'node', strat, count=a.count, seed=seed, model=model,
                             task=task)
        kept = req.apply(data)
        re = task.fresh_model(model, seed)
        task.train(re, kept)
        acc = task.evaluate(re, kept)['accuracy']
        rows.append({'seed': seed, 'strategy': strat, 'acc_original': acc0,
                     'acc_retrain': acc, 'drop': acc0 - acc})
        print(json.dumps(rows[-1]), flush=True)
print('\nmean test-accuracy drop after Retrain (original - retrained), '
      f'{a.count} training nodes forgotten, seeds {a.seeds}:')
for strat in a.strategies.split(','):
    d = torch.tensor([r['drop'] for r in rows if r['strategy'] == strat])
    print(f'{strat:<18} drop {d.mean():+.4f} +- {d.std(unbiased=False):.4f}')
if a.out:
    json.dump(rows, open(a.out, 'w'), indent=1)

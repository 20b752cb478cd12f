"""Node membership inference on Cora: an overfit GCN (no dropout, no weight decay) trained with
the forget nodes leaks their membership; Retrain (trained without them) should not.

For every seed: a GCN is trained on Cora's public split, ``--count`` random training nodes are
forgotten by Retrain, and ``evaluate_unlearning`` reports the node-MIA AUCs (removed training
nodes vs the 1000 test nodes, queries on the original graph) of the original model ("before")
and of the retrained model ("after"). The default recipe is the one of
``tests/metric/test_evaluate.py::test_overfit_gcn_leaks_membership_and_retrain_forgets``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/evaluation/node_mia.py --seeds 0,1,2,3,4
"""
import argparse
import json
import statistics
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seeds', default='0,1,2,3,4')
    p.add_argument('--count', type=int, default=50)
    p.add_argument('--hidden', type=int, default=16)
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--lr', type=float, default=0.03)
    p.add_argument('--no-shadow', action='store_true')
    p.add_argument('--out', default=None, help='write the rows (JSON) here')
    a = p.parse_args()

    from torch_geometric_unlearn.algorithm import Retrain
    from torch_geometric_unlearn.datasets.planetoid import load_planetoid
    from torch_geometric_unlearn.forget import random_request
    from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
    from torch_geometric_unlearn.nn.node import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
    from torch_geometric_unlearn.unlearner import Unlearner

    data = load_planetoid('Cora')
    keys = ['mia_shadow_auc', 'mia_confidence_auc', 'mia_loss_auc', 'mia_entropy_auc',
            'posterior_shift_auc']
    rows = []
    for seed in [int(s) for s in a.seeds.split(',')]:
        t0 = time.perf_counter()
        task = NodeClassificationTask(epochs=a.epochs, lr=a.lr, weight_decay=0.0, seed=seed)
        model = reinitialize(build_node_model('gcn', data.num_features, 7,
                                              hidden_channels=a.hidden, dropout=0.0), seed)
        task.train(model, data)
        request = random_request(data, 'node', count=a.count, seed=seed)
        unlearner = Unlearner(model, Retrain(), task=task)
        unlearner.fit(data)
        result = unlearner.unlearn(request)
        out = evaluate_unlearning(task, data, model, result, result, shadow=not a.no_shadow,
                                  seed=seed)
        row = {'seed': seed, 'test_acc_original': out['utility_original']['accuracy'],
               'test_acc_retrain': out['utility_retrain']['accuracy']}
        for k in keys:
            row[f'{k}_before'] = out.get(f'{k}_before', out.get(k)) if k != \
                'posterior_shift_auc' else None
            row[f'{k}_retrain'] = out.get(f'{k}_retrain')
        row['seconds'] = time.perf_counter() - t0
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print('| attack | AUC before (original) | AUC after Retrain |')
    print('|---|---|---|')
    for k in keys:
        b = [r[f'{k}_before'] for r in rows if r[f'{k}_before'] is not None]
        r_ = [r[f'{k}_retrain'] for r in rows if r[f'{k}_retrain'] is not None]
        if not r_:
            continue
        fmt = (lambda v: f'{statistics.mean(v):.3f} (min {min(v):.3f}, max {max(v):.3f})'
               if v else '-')
        print(f'| {k} | {fmt(b)} | {fmt(r_)} |')
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()

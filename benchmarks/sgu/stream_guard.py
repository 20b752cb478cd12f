r"""Stream guard of SGU's default selection (issue 8): 100 sequential one-entity requests
(node, edge, feature in turn; ``tests/_reliability.request_stream``) on Cora's public split,
GCN trained 50 epochs, **held-out stream seed 1** (the reliability benchmark uses 0), and the
**validation** accuracy gap to Retrain on the final retained graph (no test node). Prints one
line per SGU variant of ``select_defaults.VARIANTS`` (and the current defaults).

    OMP_NUM_THREADS=1 python benchmarks/sgu/stream_guard.py --variants sgu-ce0,sgu-ce0.3,sgu-ce1
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from select_defaults import VARIANTS  # noqa: E402

from tests._reliability import request_stream  # noqa: E402
from torch_geometric_unlearn import Unlearner  # noqa: E402
from torch_geometric_unlearn.algorithm.sgu import SGU  # noqa: E402
from torch_geometric_unlearn.datasets import load_planetoid  # noqa: E402
from torch_geometric_unlearn.nn import build_node_model  # noqa: E402
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize  # noqa: E402


def val_accuracy(task: NodeClassificationTask, model, data) -> float:
    pred = task.predict_proba(model, data).argmax(-1)
    return float((pred[data.val_mask] == data.y[data.val_mask]).float().mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--variants', default='sgu-ce0,sgu-ce1')
    ap.add_argument('--requests', type=int, default=100)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    cora = load_planetoid('Cora')
    task = NodeClassificationTask(epochs=50, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7), seed=0)
    task.train(model, cora)
    requests = request_stream(cora, args.requests, seed=args.seed)
    graph = cora
    for r in requests:
        graph = r.apply(graph)
    fresh = task.fresh_model(model)
    task.train(fresh, graph)
    ref = val_accuracy(task, fresh, graph)
    rows = []
    for name in args.variants.split(','):
        t0 = time.perf_counter()
        u = Unlearner(copy.deepcopy(model), SGU(epochs=5, **VARIANTS[name]), task=task).fit(cora)
        for r in requests:
            u.unlearn(r)
        acc = val_accuracy(task, u.model, u.data)
        rows.append({'variant': name, 'val_accuracy': acc, 'retrain_val_accuracy': ref,
                     'gap': acc - ref, 'seconds': time.perf_counter() - t0})
        print(f"{name:14s} val acc {acc:.3f} (Retrain {ref:.3f}, gap {acc - ref:+.3f}) "
              f"{rows[-1]['seconds']:.0f}s", flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump({'requests': args.requests, 'seed': args.seed, 'loadavg': os.getloadavg(),
                       'rows': rows}, f, indent=1)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

r"""GIF: graph influence-function unlearning (Wu et al., WWW'23). Guarantee: approximate.

One Newton-like step :math:`\theta' = \theta + H^{-1} v` on the trained GCN, with the graph
term :math:`v` over the request's k-hop neighbourhood. Forgets 5% of Cora's edges and compares
with Retrain on the same request (utility, edge membership inference, distance to Retrain).

.. code-block:: bash

    python examples/gif.py [--request edge|node|feature] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm import GIF
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--request', default='edge', choices=['node', 'edge', 'feature'])
parser.add_argument('--ratio', type=float, default=0.05, help='fraction to forget')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 20 if args.smoke else args.epochs

data = load_planetoid('Cora')  # public split, vendored
task = NodeClassificationTask(epochs=epochs, seed=args.seed)
model = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
task.train(model, data)
request = select_request(data, args.request, ratio=args.ratio, seed=args.seed)
print(f'request: {request}')

# 100 LiSSA iterations (the authors' default); see docs/algorithms/gif.md for the scale.
gif = Unlearner(copy.deepcopy(model), GIF(iterations=20 if args.smoke else 100), task=task)
result = gif.fit(data).unlearn(request)
retrain = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task)
reference = retrain.fit(data).unlearn(request)

report = evaluate_unlearning(task, data, model, result, reference, shadow=False,
                             seed=args.seed)
print(f"{'':10}{'accuracy':>9}{'seconds':>9}")
print(f"{'original':10}{report['utility_original']['accuracy']:>9.4f}")
print(f"{'GIF':10}{report['utility_unlearned']['accuracy']:>9.4f}"
      f"{result.unlearn_seconds:>9.3f}")
print(f"{'Retrain':10}{report['utility_retrain']['accuracy']:>9.4f}"
      f"{reference.unlearn_seconds:>9.3f}")
print(f"agreement with Retrain {report['agreement_with_retrain']:.4f}, "
      f"JS divergence to Retrain {report['js_to_retrain']:.4f}")
if report.get('edge_mia_auc') is not None:
    print(f"edge MIA AUC (removed edges vs non-edges): before {report['edge_mia_auc_before']:.3f}"
          f", GIF {report['edge_mia_auc']:.3f}, Retrain {report['edge_mia_auc_retrain']:.3f}")

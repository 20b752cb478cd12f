r"""ScaleGUN: certified (epsilon, delta) unlearning with lazy local propagation (Yi & Wei,
ICLR'25). Guarantee: certified, for ScaleGUN's own linear model on propagated features.

Serves a sequence of edge-removal batches and prints the certificate after each: the
gradient-residual bound spent so far against the (epsilon, delta) budget. When a request
would exceed the budget, ScaleGUN retrains from scratch with fresh noise (``retrained``).

.. code-block:: bash

    python examples/scalegun.py [--epsilon 1.0] [--batches 5] [--smoke]
"""
import argparse

import torch

from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm import ScaleGUN
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--epsilon', type=float, default=1.0)
parser.add_argument('--delta', type=float, default=1e-4)
parser.add_argument('--batches', type=int, default=5, help='sequential requests')
parser.add_argument('--edges', type=int, default=50, help='edges removed per request')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
batches = 2 if args.smoke else args.batches

data = load_planetoid('Cora', split='full')
# ScaleGUN trains its own certified model in fit(); the GNN passed here is not used.
placeholder = build_node_model('gcn', data.num_features, 7)
scalegun = ScaleGUN(epsilon=args.epsilon, delta=args.delta, seed=args.seed,
                    max_iter=30 if args.smoke else 100)
unlearner = Unlearner(placeholder, scalegun, task='node_classification').fit(data)
cert = scalegun.certificate
print(f'certified model test accuracy '
      f'{unlearner.task.evaluate(scalegun.model, data)["accuracy"]:.4f}; '
      f'budget {cert.budget:.4f} for (epsilon, delta) = ({cert.epsilon}, {cert.delta})')

print(f"{'request':>8}{'edges':>7}{'seconds':>9}{'spent':>10}{'budget':>9}"
      f"{'retrained':>10}{'accuracy':>9}")
for i in range(batches):
    # Draw from the CURRENT retained graph so no edge is requested twice.
    request = select_request(unlearner.data, 'edge', count=args.edges, seed=args.seed + i)
    result = unlearner.unlearn(request)
    c = result.certificate
    assert c.certified, 'ScaleGUN must keep the model within its budget'
    print(f'{i + 1:>8}{request.edge_index.size(1):>7}{result.unlearn_seconds:>9.3f}'
          f'{c.spent:>10.2e}{c.budget:>9.4f}{c.retrained:>10}'
          f'{unlearner.evaluate()["accuracy"]:>9.4f}')
print(f'propagation error bound after {batches} requests: '
      f'{float(torch.as_tensor(scalegun.propagation.error_bound()).max()):.2e}')

r"""Retrain: exact unlearning by training from scratch on the retained graph.

The gold standard every other method is measured against. Trains a GCN on Cora (the copy
shipped inside the package), forgets 1% of its training nodes, then an edge, and checks that
the removed data is really gone from the retained graph.

.. code-block:: bash

    python examples/retrain.py            # ~10 s on 2 cores
    python examples/retrain.py --smoke    # a few seconds (CI)
"""
import argparse
import copy

import torch

from torch_geometric_unlearn import Retrain, Unlearner, UnlearningRequest
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 20 if args.smoke else args.epochs

data = load_planetoid('Cora', split='full')  # vendored copy, works offline
task = NodeClassificationTask(epochs=epochs, seed=args.seed)  # the recipe Retrain reuses
model = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
task.train(model, data)
print(f'original  test accuracy {task.evaluate(model, data)["accuracy"]:.4f}')

unlearner = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task).fit(data)

# 1% of the training nodes, drawn with a seed (every random choice is seeded).
request = select_request(data, 'node', strategy='random', ratio=0.01, seed=args.seed)
result = unlearner.unlearn(request)
print(f'{result.algorithm}: forgot {request.node_index.numel()} nodes in '
      f'{result.unlearn_seconds:.2f}s ({result.guarantee}); test accuracy '
      f'{task.evaluate(result.model, result.data)["accuracy"]:.4f}')

# The removed nodes are in no mask, have no edges and zeroed features.
removed = request.node_index
assert not result.data.train_mask[removed].any()
assert not torch.isin(result.data.edge_index, removed).any()
assert result.data.x[removed].abs().sum() == 0

# Requests are served sequentially; the history is kept.
row, col = result.data.edge_index[:, 0].tolist()
unlearner.unlearn(UnlearningRequest.edges(torch.tensor([[row], [col]])))
print(f'served {len(unlearner.history)} requests; current utility {unlearner.evaluate()}')

r"""CGE: community-centric graph eraser (Li et al., AAAI'25). Guarantee: exact with respect to
the mapped graph (approximate with ``--warm-start``).

Communities (Louvain, refined to at most ``max_size`` nodes) become the nodes of a small mapped
graph; a GNN is trained on it. A request updates the affected communities' mapped nodes and
retrains the small model, which never sees the removed data.

.. code-block:: bash

    python examples/cge.py [--warm-start] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm import CGE
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--warm-start', action='store_true',
                    help='fine-tune the mapped model instead of retraining it (approximate)')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 20 if args.smoke else args.epochs

data = load_planetoid('Cora', split='full')
task = NodeClassificationTask(epochs=epochs, seed=args.seed)
model = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
task.train(model, data)

cge = CGE(epochs=epochs, warm_start=args.warm_start, seed=args.seed)
unlearner = Unlearner(copy.deepcopy(model), cge, task=task).fit(data)
print(f'mapped graph: {cge.mapped.num_nodes} community nodes for {data.num_nodes} nodes; '
      f'CGE test accuracy {task.evaluate(cge.model, data)["accuracy"]:.4f} '
      f'(GCN on the full graph {task.evaluate(model, data)["accuracy"]:.4f})')

request = select_request(data, 'node', ratio=0.005, seed=args.seed)
result = unlearner.unlearn(request)
ref = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task).fit(data) \
    .unlearn(request)
print(f'forgot {request.node_index.numel()} nodes ({result.guarantee}) in '
      f'{result.unlearn_seconds:.2f}s (Retrain {ref.unlearn_seconds:.2f}s); test accuracy '
      f'{task.evaluate(result.model, result.data)["accuracy"]:.4f} '
      f'(Retrain {task.evaluate(ref.model, ref.data)["accuracy"]:.4f})')

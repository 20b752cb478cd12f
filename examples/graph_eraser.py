r"""GraphEraser: shard-based exact unlearning (Chen et al., "Graph Unlearning", CCS'22).

The nodes are split into balanced shards (BLPA), one GCN is trained per shard and the shard
posteriors are aggregated with learned weights. A request retrains only the shards that held
the removed data; :meth:`GraphEraser.audit` checks that no stored shard still holds it.

.. code-block:: bash

    python examples/graph_eraser.py [--partition blpa|bekm|random|community] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm import GraphEraser
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--partition', default='blpa', choices=['blpa', 'bekm', 'random',
                                                             'community'])
parser.add_argument('--shards', type=int, default=None, help='default: min(20, n_train // 20)')
parser.add_argument('--executor', default='sequential', choices=['sequential', 'process'],
                    help='train shards one after another or in worker processes')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 20 if args.smoke else args.epochs
shards = 4 if args.smoke and args.shards is None else args.shards

data = load_planetoid('Cora', split='full')  # 1,208 training nodes
task = NodeClassificationTask(epochs=epochs, seed=args.seed)
model = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
task.train(model, data)
print(f'single GCN test accuracy {task.evaluate(model, data)["accuracy"]:.4f}')

eraser = GraphEraser(num_shards=shards, partition=args.partition, seed=args.seed,
                     executor=args.executor)
unlearner = Unlearner(copy.deepcopy(model), eraser, task=task).fit(data)
print(f'GraphEraser ({eraser.partition}, {len(eraser.shard_data)} shards) test accuracy '
      f'{task.evaluate(eraser.ensemble, data)["accuracy"]:.4f}')

request = select_request(data, 'node', ratio=0.005, seed=args.seed)
result = unlearner.unlearn(request)
assert eraser.audit(request), 'a shard still holds removed data'
reference = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task).fit(data)
ref = reference.unlearn(request)
print(f'forgot {request.node_index.numel()} nodes: retrained shards '
      f'{result.extras["retrained_shards"]} in {result.unlearn_seconds:.2f}s '
      f'(Retrain: {ref.unlearn_seconds:.2f}s); test accuracy '
      f'{task.evaluate(result.model, result.data)["accuracy"]:.4f} '
      f'(Retrain {task.evaluate(ref.model, ref.data)["accuracy"]:.4f})')

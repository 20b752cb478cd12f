r"""End-to-end node classification: ordinary PyG code, then unlearning dropped in.

1. Load Cora and train a two-layer GCN with a plain PyG training loop (nothing from this
   package is needed for that).
2. Wrap the trained model in an :class:`~torch_geometric_unlearn.Unlearner` with an algorithm
   and a training recipe (the task) matching the loop, so Retrain trains exactly like it.
3. Serve a node, an edge and a feature request, one after another, and after each compare the
   unlearned model with Retrain on the same request with
   :func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning`.

.. code-block:: bash

    python examples/node_classification_pipeline.py [--algorithm gif] [--smoke]
"""
import argparse
import copy

import torch
import torch.nn.functional as F
from torch_geometric.nn import GCNConv

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.benchmark import ALGORITHMS, build_algorithm, build_parser
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.task import NodeClassificationTask

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--algorithm', default='gif', help=f'one of {sorted(ALGORITHMS)}')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 10 if args.smoke else args.epochs


# 1. Ordinary PyG ############################################################
class GCN(torch.nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels)
        self.conv2 = GCNConv(hidden_channels, out_channels)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)


data = load_planetoid('Cora')  # = Planetoid(root, 'Cora')[0], from the copy in the package
torch.manual_seed(args.seed)
model = GCN(data.num_features, 64, int(data.y.max()) + 1)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
for epoch in range(epochs):
    model.train()
    optimizer.zero_grad()
    out = model(data.x, data.edge_index)
    F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    optimizer.step()
model.eval()
pred = model(data.x, data.edge_index).argmax(-1)
print(f'trained GCN: test accuracy '
      f'{(pred[data.test_mask] == data.y[data.test_mask]).float().mean():.4f}')

# 2. Unlearning dropped in ###################################################
# The task is the training recipe Retrain (and shard/community methods) reuse: the same
# optimiser, learning rate, weight decay and epochs as the loop above (it also keeps the
# parameters with the best validation accuracy, so Retrain can score a little higher).
task = NodeClassificationTask(epochs=epochs, lr=0.01, weight_decay=5e-4, seed=args.seed)
cli = build_parser().parse_args(['--seeds', str(args.seed)])  # default options of the CLI
unlearner = Unlearner(model, build_algorithm(args.algorithm, cli), task=task).fit(data)
reference = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task).fit(data)

# 3. A node, an edge and a feature request, served one after another ########
for step, kind in enumerate(['node', 'edge', 'feature']):
    before_data = unlearner.data                    # the graph the current model serves
    before_model = copy.deepcopy(unlearner.model)   # some methods update in place
    request = select_request(before_data, kind, count=10, seed=args.seed + step)
    result = unlearner.unlearn(request)
    ref = reference.unlearn(request)
    report = evaluate_unlearning(task, before_data, before_model, result, ref, shadow=False,
                                 seed=args.seed)
    mia = report.get('mia_confidence_auc') if kind != 'edge' else report.get('edge_mia_auc')
    mia_r = report.get('mia_confidence_auc_retrain') if kind != 'edge' \
        else report.get('edge_mia_auc_retrain')
    print(f"{kind:8} {result.algorithm} ({result.guarantee}) {result.unlearn_seconds:.3f}s, "
          f"accuracy {report['utility_unlearned']['accuracy']:.4f} | Retrain "
          f"{ref.unlearn_seconds:.3f}s, accuracy {report['utility_retrain']['accuracy']:.4f} | "
          f"agreement {report['agreement_with_retrain']:.3f}"
          + ('' if mia is None else f' | MIA AUC {mia:.3f} (Retrain {mia_r:.3f})'))

assert len(unlearner.history) == 3
removed = unlearner.history[0].node_index
assert not unlearner.data.train_mask[removed].any()  # forgotten nodes are in no mask
print(f'{len(unlearner.history)} requests served; final utility {unlearner.evaluate()}')

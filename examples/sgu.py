r"""SGU with NIM: influence-guided fine-tuning (Li et al., "Towards Scalable and Deep Graph
Unlearning via Node Influence Maximization"). Guarantee: approximate.

NIM selects the highly influenced entities (HIE) of the request by greedy influence
maximisation; SGU fine-tunes the original model on them with entity-specific losses. Compared
with Retrain on the same request (utility, membership inference of the removed nodes).

.. code-block:: bash

    python examples/sgu.py [--request node|edge|feature] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm import SGU
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--request', default='node', choices=['node', 'edge', 'feature'])
parser.add_argument('--ratio', type=float, default=0.05)
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=200)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 20 if args.smoke else args.epochs

data = load_planetoid('Cora', split='full')
task = NodeClassificationTask(epochs=epochs, seed=args.seed)
model = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
task.train(model, data)
request = select_request(data, args.request, ratio=args.ratio, seed=args.seed)

sgu = SGU(epochs=5 if args.smoke else 30, seed=args.seed)
result = Unlearner(copy.deepcopy(model), sgu, task=task).fit(data).unlearn(request)
ref = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task).fit(data) \
    .unlearn(request)
print(f"{request}: NIM picked {result.extras['num_hie']} influenced entities in "
      f"{result.extras['select_seconds']:.2f}s")

report = evaluate_unlearning(task, data, model, result, ref, shadow=False, seed=args.seed)
mia = report.get('mia_confidence_auc')
print(f"{'':10}{'accuracy':>9}{'seconds':>9}" + ('' if mia is None else f"{'MIA AUC':>9}"))
rows = [('original', report['utility_original'], None, report.get('mia_confidence_auc_before')),
        ('SGU', report['utility_unlearned'], result.unlearn_seconds, mia),
        ('Retrain', report['utility_retrain'], ref.unlearn_seconds,
         report.get('mia_confidence_auc_retrain'))]
for name, utility, seconds, auc in rows:
    print(f"{name:10}{utility['accuracy']:>9.4f}"
          f"{'' if seconds is None else f'{seconds:>9.3f}':>9}"
          + ('' if auc is None else f'{auc:>9.3f}'))
print(f"agreement with Retrain {report['agreement_with_retrain']:.4f}")

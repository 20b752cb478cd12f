r"""End-to-end recommendation unlearning: LightGCN on a user-item graph, then forgetting
interactions with Retrain, for random and adversarial requests (UnlearnRec's protocol).

* random: a random 5% of the training interactions;
* adversarial: interactions with each chosen user's *least* probable item are injected before
  training (the attack of UnlearnRec, section 4.1.4); unlearning them should restore utility.

Forgetting is measured with MI-BF (removed-interaction probability before / after) and MI-NG
(after-unlearning probability of negatives / removed interactions) from
:func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning`.

The default graph is synthetic (power-law users and items); ``--root`` reads MovieLens-100K
(``ml-100k`` folder, GroupLens: download it yourself).

.. code-block:: bash

    python examples/recommendation_pipeline.py [--root /path/to/movielens] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.datasets import load_dataset, powerlaw_bipartite
from torch_geometric_unlearn.forget import adversarial_interactions, select_request
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.nn.recsys import LightGCN
from torch_geometric_unlearn.task import reinitialize
from torch_geometric_unlearn.task.recommendation import (RecommendationTask, get_interactions,
                                                         num_users_items)

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--root', default=None, help='MovieLens-100K folder (default: synthetic)')
parser.add_argument('--ratio', type=float, default=0.05, help='fraction of interactions')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=50)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 3 if args.smoke else args.epochs

if args.root:
    data = load_dataset('movielens100k', root=args.root)
else:
    size = (300, 400, 6_000) if args.smoke else (2_000, 3_000, 60_000)
    data = powerlaw_bipartite(*size, seed=args.seed)
U, I = num_users_items(data)
task = RecommendationTask(epochs=epochs, batch_size=2048, lr=5e-3, seed=args.seed)


def train(graph):
    model = reinitialize(LightGCN(U, I, embedding_dim=64, num_layers=2), seed=args.seed)
    task.train(model, graph)
    return model


def serve(graph, model, request, name):
    result = Unlearner(copy.deepcopy(model), Retrain(seed=args.seed), task=task) \
        .fit(graph).unlearn(request)
    # MI-BF / MI-NG compare the model before and after; no second reference is needed here.
    report = evaluate_unlearning(task, graph, model, result, seed=args.seed)
    print(f"{name:12} removed {request.edge_index.size(1):>5}: Recall@20 "
          f"{report['utility_original']['recall@20']:.4f} -> "
          f"{report['utility_unlearned']['recall@20']:.4f}, MI-BF {report['mi_bf']:.3f}, "
          f"MI-NG {report['mi_ng']:.3f}, Retrain {result.unlearn_seconds:.2f}s")
    return report


print(f'{U} users, {I} items, LightGCN (2 layers, 64-dim), {epochs} BPR epochs')
model = train(data)

# Random interactions of the training graph.
serve(data, model, select_request(data, 'interaction', ratio=args.ratio, seed=args.seed),
      'random')

# Adversarial interactions: injected, trained on, then forgotten.
emb = task.embeddings(model, data)
count = max(1, int(args.ratio * get_interactions(data, 'train').size(1)))
attacked, request = adversarial_interactions(data, emb[:U], emb[U:], count=count,
                                             seed=args.seed)
serve(attacked, train(attacked), request, 'adversarial')

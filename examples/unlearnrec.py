r"""UnlearnRec: a pre-trained influence encoder for recommendation unlearning (Chen, Xia and
Huang, SIGIR'25). Guarantee: approximate.

:meth:`fit` pre-trains the encoder on simulated requests (once); a real request then revises
the layer-0 embeddings in one forward pass (plus an optional fine-tuning epoch). Compared with
Retrain on adversarial interactions (injected, trained on, then forgotten: UnlearnRec's attack)
with MI-BF / MI-NG, Recall@20 and the score distributions of positive, negative and removed
interactions (``--plot scores.png``, needs the ``plot`` extra).

.. code-block:: bash

    python examples/unlearnrec.py [--plot scores.png] [--smoke]
"""
import argparse
import copy

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm import UnlearnRec
from torch_geometric_unlearn.datasets import powerlaw_bipartite
from torch_geometric_unlearn.forget import adversarial_interactions
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.nn.recsys import LightGCN
from torch_geometric_unlearn.task import reinitialize
from torch_geometric_unlearn.task.recommendation import RecommendationTask, get_interactions

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--ratio', type=float, default=0.05, help='adversarial interactions')
parser.add_argument('--plot', default=None, help='write the score-distribution PNG here')
parser.add_argument('--smoke', action='store_true', help='tiny run for CI')
parser.add_argument('--epochs', type=int, default=50)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
epochs = 3 if args.smoke else args.epochs

U, I, M = (300, 400, 6_000) if args.smoke else (2_000, 3_000, 60_000)
clean = powerlaw_bipartite(U, I, M, seed=args.seed)
task = RecommendationTask(epochs=epochs, batch_size=2048, lr=5e-3, seed=args.seed)


def train(graph):
    model = reinitialize(LightGCN(U, I, embedding_dim=64, num_layers=2), seed=args.seed)
    task.train(model, graph)
    return model


# Adversarial interactions: each chosen user's least probable item, injected before training.
emb = task.embeddings(train(clean), clean)
count = max(1, int(args.ratio * get_interactions(clean, 'train').size(1)))
data, request = adversarial_interactions(clean, emb[:U], emb[U:], count=count, seed=args.seed)
model = train(data)

results, scores = {}, {}
for name, algorithm in [('UnlearnRec', UnlearnRec(pretrain_epochs=1 if args.smoke else 10,
                                                  seed=args.seed)),
                        ('Retrain', Retrain(seed=args.seed))]:
    unlearner = Unlearner(copy.deepcopy(model), algorithm, task=task).fit(data)
    results[name] = unlearner.unlearn(request)

print(f'{U} users, {I} items; {request.edge_index.size(1)} adversarial interactions forgotten')
print(f"{'':12}{'Recall@20':>10}{'MI-BF':>8}{'MI-NG':>8}{'seconds':>9}  guarantee")
for name, result in results.items():
    report = evaluate_unlearning(task, data, model, result, results['Retrain'],
                                 return_scores=True, seed=args.seed)
    scores[name] = report['score_distributions']
    print(f"{name:12}{report['utility_unlearned']['recall@20']:>10.4f}{report['mi_bf']:>8.3f}"
          f"{report['mi_ng']:>8.3f}{result.unlearn_seconds:>9.3f}  {result.guarantee}")
print(f"{'attacked':12}{report['utility_original']['recall@20']:>10.4f}  (before unlearning)")

if args.plot:
    from torch_geometric_unlearn.plot import plot_score_distributions
    plot_score_distributions(scores, path=args.plot, xlabel='sigmoid(e_u . e_i)',
                             title='scores of positive / negative / removed interactions')
    print(f'wrote {args.plot}')

r"""UnlearnRec's adversarial-interaction protocol (SIGIR'25, section 4.1.4) for every method.

For each seed: (1) train a clean backbone on the dataset; (2) add, for ``--ratio`` x |train|
random users, an interaction with their least probable item under that clean model
(:func:`~torch_geometric_unlearn.forget.adversarial_interactions`); (3) train the backbone on
the attacked graph (the model to unlearn); (4) serve the request that removes exactly the
adversarial interactions with every algorithm (Retrain always runs: it is the reference); (5)
record Recall/NDCG@20, MI-BF, MI-NG (:func:`~torch_geometric_unlearn.metric.evaluate.
evaluate_unlearning`), unlearning wall time (median over ``--repeats`` calls on copies of the
fitted unlearner for UnlearnRec, ``--other-repeats`` for the slow methods), the speed-up over
Retrain measured in the same run, and peak memory.

    python benchmarks/unlearnrec/bench.py --dataset movielens100k --model lightgcn \
        --algorithms retrain,unlearnrec-0,unlearnrec,unlearnrec-3,gif-rec,receraser \
        --seeds 0 --out benchmarks/unlearnrec/results/ml100k_lightgcn.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from typing import Any

import torch

from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
from torch_geometric_unlearn.benchmark.registry import ALGORITHMS, build_algorithm
from torch_geometric_unlearn.benchmark.runner import _fresh_model, _json_default, build_task
from torch_geometric_unlearn.datasets import load_dataset
from torch_geometric_unlearn.forget import adversarial_interactions
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.unlearner import Unlearner

KEEP = ('mi_bf', 'mi_ng', 'mi_ng_before', 'mi_bf_retrain', 'mi_ng_retrain', 'edge_mia_auc',
        'edge_mia_auc_retrain', 'removed_prob_before', 'removed_prob_after',
        'negative_prob_after', 'agreement_with_retrain')
BACKBONE_KEYS = ('embedding_dim', 'num_layers', 'reg_weight', 'ssl_weight', 'ssl_temp', 'eps',
                 'drop_ratio', 'include_layer0')


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='movielens100k')
    p.add_argument('--root', default=None)
    p.add_argument('--model', default='lightgcn', choices=['lightgcn', 'sgl', 'simgcl'])
    p.add_argument('--algorithms', default='retrain,unlearnrec-0,unlearnrec')
    p.add_argument('--ratio', type=float, default=0.01,
                   help='adversarial interactions as a fraction of training interactions')
    p.add_argument('--seeds', default='0')
    p.add_argument('--epochs', type=int, default=50)
    p.add_argument('--lr', type=float, default=5e-3)
    p.add_argument('--batch-size', type=int, default=2048)
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--layers', type=int, default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--repeats', type=int, default=3, help='timed unlearning calls per method')
    p.add_argument('--other-repeats', type=int, default=1,
                   help='timed calls for the slow methods (retrain, gif-rec, receraser)')
    p.add_argument('--pretrain-epochs', type=int, default=None,
                   help='UnlearnRec pre-training epochs (default: the class default)')
    p.add_argument('--out', default=None)
    p.add_argument('--scores-out', default=None,
                   help='write the score distributions of positive / negative / removed '
                   'interactions before and after each method (first seed) here, for '
                   'make_tables.py (UnlearnRec Fig. 2-3)')
    p.add_argument('--scores-max', type=int, default=2000,
                   help='at most this many scores per array in --scores-out (seeded sample)')
    return p.parse_args(argv)


def _sample_scores(scores: dict, limit: int, seed: int) -> dict:
    r"""At most :obj:`limit` values per array (a seeded sample), so the file stays small."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, values in scores.items():
        if len(values) > limit:
            idx = torch.randperm(len(values), generator=gen)[:limit].tolist()
            values = [values[i] for i in idx]
        out[key] = values
    return out


def _pretraining_key(algo: Any) -> tuple:
    r"""The constructor arguments of an unfitted UnlearnRec other than its fine-tuning epochs
    (variants with the same key can share one pre-trained encoder)."""
    return tuple(sorted((k, v) for k, v in vars(algo).items()
                        if k != 'finetune_epochs' and not k.startswith('_')
                        and isinstance(v, (bool, int, float, str, type(None)))))


def timed(unlearner: Unlearner, request, repeats: int):
    r"""Serves the request on ``repeats`` deep copies of the fitted unlearner; returns the
    first result and the list of wall times / peak memories."""
    results = []
    for _ in range(max(1, repeats)):
        ul = copy.deepcopy(unlearner)
        results.append(ul.unlearn(request))
    return results[0], [r.unlearn_seconds for r in results], \
        [r.peak_memory_bytes for r in results]


def main(argv=None) -> int:
    args = parse(argv)
    names = [n.strip().lower() for n in args.algorithms.split(',') if n.strip()]
    for n in names:
        if n not in ALGORITHMS:
            raise SystemExit(f"unknown algorithm '{n}' (available: {sorted(ALGORITHMS)})")
    data = load_dataset(args.dataset, root=args.root).to(args.device)
    et = ('user', 'rates', 'item')
    U, I = data['user'].num_nodes, data['item'].num_nodes
    records = []
    score_doc = None
    for seed in [int(s) for s in args.seeds.split(',')]:
        task = build_task(args, True, seed)
        clean = _fresh_model(args, data, True, seed)
        task.train(clean, data, seed=seed)
        emb = task.embeddings(clean, data)
        count = max(1, int(round(args.ratio * data[et].edge_index.size(1))))
        attacked, request = adversarial_interactions(data, emb[:U], emb[U:], count, seed=seed)
        original = _fresh_model(args, data, True, seed)
        t0 = time.perf_counter()
        task.train(original, attacked, seed=seed)
        train_seconds = time.perf_counter() - t0
        before = task.evaluate(original, attacked)
        cache = {}
        served = {}
        # UnlearnRec variants that differ only in their fine-tuning epochs share one
        # pre-trained encoder (same seed); any other argument gets its own pre-training.
        pretrained = {}
        for name in ['retrain'] + [n for n in names if n != 'retrain']:
            algo = build_algorithm(name, args)
            key = _pretraining_key(algo) if isinstance(algo, UnlearnRec) else None
            if key is not None and key in pretrained:
                ul, fit_seconds = copy.deepcopy(pretrained[key][0]), pretrained[key][1]
                ul.algorithm.finetune_epochs = algo.finetune_epochs
            else:
                ul = Unlearner(copy.deepcopy(original), algo, task=task)
                t0 = time.perf_counter()
                ul.fit(attacked)
                fit_seconds = time.perf_counter() - t0
                if key is not None:
                    pretrained[key] = (ul, fit_seconds)
            reps = args.repeats if name.startswith('unlearnrec') else args.other_repeats
            try:
                served[name] = (*timed(ul, request, reps), fit_seconds)
            except Exception as e:  # recorded, not fatal: the other methods still report
                if name == 'retrain':
                    raise
                print(f'{args.model:8s} {name:14s} FAILED: {type(e).__name__}: {e}', flush=True)
                records.append({'dataset': args.dataset, 'model': args.model,
                                'algorithm': name, 'seed': seed,
                                'error': f'{type(e).__name__}: {e}'})
        retrain = served['retrain'][0]
        retrain_s = statistics.median(served['retrain'][1])
        utility_retrain = task.evaluate(retrain.model, retrain.data)
        scores_by_method: dict = {}
        for name in [n for n in names if n in served]:
            result, secs, peaks, fit_seconds = served[name]
            after = task.evaluate(result.model, result.data)
            want_scores = args.scores_out is not None and score_doc is None
            ev = evaluate_unlearning(task, attacked, original, result, retrain, request,
                                     seed=seed, cache=cache, return_scores=want_scores)
            if want_scores:
                scores_by_method[name] = _sample_scores(ev['score_distributions'],
                                                        args.scores_max, seed)
            med = statistics.median(secs)
            rec = {
                'dataset': args.dataset, 'model': args.model, 'algorithm': name,
                'guarantee': result.guarantee, 'seed': seed, 'num_users': U, 'num_items': I,
                'num_train': int(attacked[et].edge_index.size(1)),
                'num_removed': request.num_removed, 'epochs': args.epochs,
                'utility_before': before, 'utility_after': after,
                'utility_retrain': utility_retrain,
                'recall_ratio_vs_retrain': after['recall@20'] / utility_retrain['recall@20'],
                'unlearn_seconds': med, 'unlearn_seconds_all': secs,
                'retrain_seconds': retrain_s, 'speedup_vs_retrain': retrain_s / max(med, 1e-12),
                'peak_memory_bytes': max(peaks), 'fit_seconds': fit_seconds,
                'train_seconds': train_seconds, 'loadavg': os.getloadavg(),
                'backbone_config': {k: getattr(original, k) for k in BACKBONE_KEYS
                                    if hasattr(original, k)},
                'extras': {k: v for k, v in result.extras.items() if k != 'train'},
            }
            rec.update({k: ev.get(k) for k in KEEP})
            records.append(rec)
            print(f"{args.model:8s} {name:14s} seed={seed} recall={after['recall@20']:.4f} "
                  f"ndcg={after['ndcg@20']:.4f} ratio={rec['recall_ratio_vs_retrain']:.3f} "
                  f"MI-BF={rec['mi_bf']:.3f} MI-NG={rec['mi_ng']:.3f} "
                  f"t={med:.3f}s x{rec['speedup_vs_retrain']:.1f} "
                  f"peak={rec['peak_memory_bytes'] / 2**20:.0f}MB", flush=True)
        if args.scores_out is not None and score_doc is None:
            score_doc = {'kind': 'score_distributions', 'seed': seed,
                         'title': f'{args.dataset}, {args.model}: sigmoid(e_u . e_i) of '
                                  'positive / negative / removed (adversarial) interactions',
                         'xlabel': 'sigmoid(e_u . e_i)',
                         'command': 'python benchmarks/unlearnrec/bench.py ' + ' '.join(
                             sys.argv[1:] if argv is None else argv),
                         'loadavg': os.getloadavg(), 'methods': scores_by_method}
    if score_doc is not None:
        os.makedirs(os.path.dirname(os.path.abspath(args.scores_out)), exist_ok=True)
        with open(args.scores_out, 'w') as f:
            json.dump(score_doc, f)
        print(f'wrote score distributions of {len(score_doc["methods"])} methods to '
              f'{args.scores_out}', file=sys.stderr)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(records, f, indent=1, default=_json_default)
        print(f'wrote {len(records)} records to {args.out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())

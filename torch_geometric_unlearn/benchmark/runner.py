r"""The benchmark CLI (a contract every algorithm issue builds on).

.. code-block:: bash

    python -m torch_geometric_unlearn.benchmark --dataset cora --model gcn \
        --algorithms retrain --request node --ratio 0.005 --strategy random \
        --seeds 0,1 --device cpu --out results.json

For each seed: one original model is trained, ONE request is drawn, and every algorithm is
applied to a copy of the same model with the same request. Retrain always runs (it is the
reference for :obj:`retrain_seconds` and :obj:`speedup_vs_retrain`); it is reported only when
listed in :obj:`--algorithms`.

With :obj:`--strategy adversarial` (edge requests on node-classification graphs, interaction
requests on bipartite graphs) a *clean* model is trained first, edges/interactions to the
least-probable counterparts under it are added to the graph, the original model is trained on
that *attacked* graph, and exactly the added edges are unlearned (UnlearnRec section 4.1.4).

With :obj:`--task link_prediction` (node-classification graphs) each seed splits the edges
(:meth:`~torch_geometric_unlearn.task.link.LinkPredictionTask.split`, 5% validation and 10%
test edges with as many non-edges, seeded by the seed), trains the encoder (:obj:`--model`,
:obj:`--hidden` channels in every layer) with the dot-product decoder on the training edges,
and draws the request among the training edges; utility is the test AUC and the membership
attack compares the removed edges' scores with the held-out test edges' (``docs/evaluation.md``).

Forgetting metrics (membership inference, distance to Retrain) come from the evaluation plugin
(:mod:`torch_geometric_unlearn.benchmark.plugins.evaluation`); see ``docs/evaluation.md``.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from typing import Any, Dict, List, Optional

import torch

from torch_geometric_unlearn.benchmark.registry import ALGORITHMS, RECORD_HOOKS, build_algorithm
from torch_geometric_unlearn.unlearner import Unlearner


RECSYS_MODELS = ('lightgcn', 'sgl', 'simgcl')
#: Forget-set strategies that score entities with a trained node classifier.
LINK_MODEL_STRATEGIES = ('worst_case', 'edge_influence')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m torch_geometric_unlearn.benchmark',
        description='Compare unlearning algorithms with Retrain on the same model and request.')
    p.add_argument('--dataset', default='cora',
                   help='cora | citeseer | pubmed | lightgcn:<dir> | gowalla | movielens100k | '
                   'ogbn-arxiv | ogbn-products | sbm:<nodes>,<edges> | '
                   'bipartite:<users>,<items>,<interactions>')
    p.add_argument('--root', default=None, help='dataset folder (cora: vendored if omitted)')
    p.add_argument('--model', default='gcn',
                   help='gcn | gat | sage | sgc | gin | lightgcn | sgl | simgcl')
    p.add_argument('--algorithms', default='retrain', help='comma-separated, e.g. retrain,gif')
    p.add_argument('--task', default=None, choices=['node_classification', 'link_prediction'],
                   help='task on a non-bipartite graph (default node_classification; bipartite '
                   'graphs are recommendation)')
    p.add_argument('--request', default='node', choices=['node', 'edge', 'feature',
                                                          'interaction'])
    g = p.add_mutually_exclusive_group()
    g.add_argument('--ratio', type=float, default=None,
                   help='fraction of training candidates to forget (default 0.005)')
    g.add_argument('--count', type=int, default=None, help='number of entities to forget')
    p.add_argument('--strategy', default='random',
                   help='forget-set strategy: random | degree | low_degree | pagerank | '
                   'worst_case | influence_greedy | edge_influence | active_users | '
                   'inactive_users | adversarial (default random)')
    p.add_argument('--no-shadow-mia', action='store_true',
                   help='skip the shadow-model node MIA (costly: trains one shadow model per '
                   'seed); mia_auc is then the confidence threshold attack')
    p.add_argument('--seeds', default='0', help='comma-separated seeds')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', default=None, help='write the JSON records here')
    p.add_argument('--epochs', type=int, default=None, help='training epochs (task default)')
    p.add_argument('--hidden', type=int, default=64, help='hidden / embedding size')
    p.add_argument('--layers', type=int, default=None, help='message-passing layers')
    p.add_argument('--lr', type=float, default=None, help='learning rate (task default)')
    p.add_argument('--batch-size', type=int, default=None,
                   help='mini-batch size (node task: NeighborLoader; recsys: BPR batch)')
    p.add_argument('--split', default='public', choices=['public', 'full', 'random'],
                   help='Planetoid split (cora/citeseer/pubmed only; default public)')
    p.add_argument('--quiet', action='store_true', help='no table on stdout')
    return p


def _parse_seeds(text: str) -> List[int]:
    try:
        return [int(s) for s in str(text).split(',') if s.strip() != '']
    except ValueError:
        raise SystemExit(f'--seeds must be comma-separated integers, got {text!r}')


def _link(args: argparse.Namespace) -> bool:
    return getattr(args, 'task', None) == 'link_prediction'


def build_task(args: argparse.Namespace, bipartite: bool, seed: int):
    kwargs: Dict[str, Any] = {'seed': seed, 'device': args.device}
    if args.epochs is not None:
        kwargs['epochs'] = args.epochs
    if args.lr is not None:
        kwargs['lr'] = args.lr
    if _link(args):
        if args.batch_size is not None:
            raise SystemExit('--batch-size does not apply to --task link_prediction (full '
                             'batch)')
        from torch_geometric_unlearn.task.link import LinkPredictionTask
        return LinkPredictionTask(**kwargs)
    if args.batch_size is not None:
        kwargs['batch_size'] = args.batch_size
    if bipartite:
        from torch_geometric_unlearn.task.recommendation import RecommendationTask
        return RecommendationTask(**kwargs)
    from torch_geometric_unlearn.task.node import NodeClassificationTask
    return NodeClassificationTask(**kwargs)


def build_model(args: argparse.Namespace, data: Any, bipartite: bool) -> torch.nn.Module:
    name = args.model.lower()
    if bipartite:
        if name not in RECSYS_MODELS:
            raise SystemExit(f"model '{args.model}' is not a recommendation backbone "
                             f'({RECSYS_MODELS}) for a bipartite dataset')
        from torch_geometric_unlearn.nn import recsys
        cls = {'lightgcn': recsys.LightGCN, 'sgl': recsys.SGL, 'simgcl': recsys.SimGCL}[name]
        kwargs = {'embedding_dim': args.hidden}
        if args.layers is not None:
            kwargs['num_layers'] = args.layers
        return cls(data['user'].num_nodes, data['item'].num_nodes, **kwargs)
    if name in RECSYS_MODELS:
        raise SystemExit(f"model '{args.model}' needs a bipartite dataset")
    from torch_geometric_unlearn.nn.node import build_node_model
    # Link prediction: an encoder with --hidden channels in every layer (the embeddings).
    out_channels = args.hidden if _link(args) else int(data.y.max()) + 1
    kwargs = {'hidden_channels': args.hidden}
    if args.layers is not None:
        kwargs['num_layers'] = args.layers
    return build_node_model(name, data.num_features, out_channels, **kwargs)


def _fresh_model(args: argparse.Namespace, data: Any, bipartite: bool, seed: int):
    devices = [torch.device(args.device)] if str(args.device).startswith('cuda') else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # model initialisation, without touching the caller's RNG
        return build_model(args, data, bipartite).to(args.device)


def run_benchmark(args: argparse.Namespace) -> List[Dict[str, Any]]:
    r"""Runs the benchmark described by parsed CLI :obj:`args`; returns the JSON records."""
    from torch_geometric_unlearn.datasets import is_bipartite, load_dataset
    from torch_geometric_unlearn.forget import STRATEGIES, adversarial_request, select_request

    names = [a.strip().lower() for a in args.algorithms.split(',') if a.strip()]
    if not names:
        raise SystemExit('--algorithms is empty')
    for n in names:
        if n not in ALGORITHMS:
            raise SystemExit(f"unknown algorithm '{n}' (available: {sorted(ALGORITHMS)})")
    adversarial = args.strategy == 'adversarial'
    if not adversarial and args.strategy not in STRATEGIES:
        raise SystemExit(f"unknown strategy '{args.strategy}' (available: "
                         f"{sorted(STRATEGIES) + ['adversarial']})")
    ratio, count = args.ratio, args.count
    if ratio is None and count is None:
        ratio = 0.005
    if args.split != 'public':
        if args.dataset.lower() not in ('cora', 'citeseer', 'pubmed'):
            raise SystemExit('--split applies to cora, citeseer and pubmed only')
        from torch_geometric_unlearn.datasets import load_planetoid
        name = {'cora': 'Cora', 'citeseer': 'CiteSeer', 'pubmed': 'PubMed'}[args.dataset.lower()]
        data = load_planetoid(name, root=args.root, split=args.split)
    else:
        data = load_dataset(args.dataset, root=args.root)
    bipartite = is_bipartite(data)
    link = _link(args)
    if link:
        if bipartite:
            raise SystemExit('--task link_prediction needs a non-bipartite graph (bipartite '
                             'graphs are recommendation)')
        if adversarial or args.strategy in LINK_MODEL_STRATEGIES:
            raise SystemExit(f"--strategy {args.strategy} scores entities with a node "
                             'classifier; with --task link_prediction use a model-free '
                             "strategy (random, degree, low_degree, pagerank, ...)")
    if bipartite and args.request not in ('interaction', 'node'):
        raise SystemExit(f"request '{args.request}' does not apply to a bipartite dataset")
    if not bipartite and args.request == 'interaction':
        raise SystemExit("'interaction' requests need a bipartite dataset")
    if adversarial and args.request != ('interaction' if bipartite else 'edge'):
        raise SystemExit("--strategy adversarial adds edges: use --request edge on a "
                         'node-classification graph or --request interaction on a bipartite '
                         f"one (got --request {args.request})")
    clean_data = data.to(args.device)

    records: List[Dict[str, Any]] = []
    for seed in _parse_seeds(args.seeds):
        cache: Dict[str, Any] = {}
        task = build_task(args, bipartite, seed)
        extra: Dict[str, Any] = {}
        data = clean_data
        if link:  # held-out validation/test edges of this seed, removed from the graph
            from torch_geometric_unlearn.task.link import LinkPredictionTask
            data = LinkPredictionTask.split(clean_data, seed=seed)
        if adversarial:
            # Attack: a clean model picks least-probable counterparts; the original model is
            # then trained on the attacked graph and exactly the added edges are unlearned.
            clean = _fresh_model(args, clean_data, bipartite, seed)
            task.train(clean, clean_data, seed=seed)
            data, request = adversarial_request(clean_data, args.request, model=clean,
                                                task=task, ratio=ratio, count=count, seed=seed)
            extra = {'utility_clean': task.evaluate(clean, clean_data),
                     'adversarial_note': f'original model trained on the attacked graph '
                                         f'({request.num_removed} adversarial edges added to '
                                         'the clean graph); the request removes exactly them'}
            del clean
        original = _fresh_model(args, data, bipartite, seed)
        t0 = time.perf_counter()
        train_info = task.train(original, data, seed=seed)
        train_seconds = time.perf_counter() - t0
        before = task.evaluate(original, data)
        if not adversarial:
            request = select_request(data, args.request, strategy=args.strategy, ratio=ratio,
                                     count=count, seed=seed, model=original, task=task)

        def serve(name: str):
            algorithm = build_algorithm(name, args)
            unlearner = Unlearner(copy.deepcopy(original), algorithm, task=task)
            t_fit = time.perf_counter()
            unlearner.fit(data)
            fit_seconds = time.perf_counter() - t_fit
            return unlearner.unlearn(request), fit_seconds

        retrain_result, retrain_fit = serve('retrain')
        retrain_seconds = retrain_result.unlearn_seconds
        for name in names:
            result, fit_seconds = (retrain_result, retrain_fit) if name == 'retrain' \
                else serve(name)
            after = task.evaluate(result.model, result.data)
            record: Dict[str, Any] = {
                'dataset': args.dataset, 'task': task.name, 'model': args.model,
                'algorithm': name,
                'guarantee': result.guarantee, 'request_type': request.kind,
                'strategy': args.strategy, 'num_removed': request.num_removed, 'seed': seed,
                'device': str(args.device),
                'utility_before': before, 'utility_after': after,
                'utility_retrain': task.evaluate(retrain_result.model, retrain_result.data),
                'unlearn_seconds': result.unlearn_seconds,
                'retrain_seconds': retrain_seconds,
                'speedup_vs_retrain': retrain_seconds / max(result.unlearn_seconds, 1e-12),
                'peak_memory_bytes': result.peak_memory_bytes,
                'fit_seconds': fit_seconds, 'train_seconds': train_seconds,
                'train_epochs': train_info.get('epochs'),
            }
            record.update(extra)
            if result.certificate is not None:
                cert = result.certificate
                record['certificate'] = cert.as_dict() if hasattr(cert, 'as_dict') else str(cert)
            context = {'task': task, 'data': data, 'original': original, 'result': result,
                       'retrain': retrain_result, 'request': request, 'args': args,
                       'seed': seed, 'record': record, 'cache': cache}
            for hook in RECORD_HOOKS:
                record.update(hook(context))
            records.append(record)
    return records


def _fmt_utility(u: Dict[str, float]) -> str:
    return ' '.join(f'{k}={v:.4f}' for k, v in u.items())


def format_table(records: List[Dict[str, Any]]) -> str:
    r"""A plain-text table of the records (one line per algorithm and seed)."""
    lines = [f"{'algorithm':<14}{'seed':>5}{'removed':>9}  {'utility after':<36}"
             f"{'unlearn s':>10}{'speedup':>9}{'peak MB':>9}"]
    for r in records:
        lines.append(f"{r['algorithm']:<14}{r['seed']:>5}{r['num_removed']:>9}  "
                     f"{_fmt_utility(r['utility_after']):<36}{r['unlearn_seconds']:>10.3f}"
                     f"{r['speedup_vs_retrain']:>9.1f}{r['peak_memory_bytes'] / 2**20:>9.1f}")
    return '\n'.join(lines)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return str(obj)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    records = run_benchmark(args)
    if not args.quiet:
        print(format_table(records))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(records, f, indent=2, default=_json_default)
        if not args.quiet:
            print(f'wrote {len(records)} records to {args.out}', file=sys.stderr)
    return 0

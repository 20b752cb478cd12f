r"""ScaleGUN at scale: time to serve edge-removal requests vs re-propagation + retraining the
same certified linear model, measured side by side in one run, on synthetic graphs generated
in O(E) with torch (or an OGB dataset through ``--dataset ogbn-arxiv --root DIR``).

    OMP_NUM_THREADS=1 python benchmarks/scalegun/scale.py --nodes 169343 --edges 1166243 \
        --sizes 1,10,100,1000 --repeats 5 --baseline-repeats 3 --r-max 1e-8 --seed 0

For every request size k, ``--repeats`` sequential requests of k fresh random edges are served
(state accumulates as in real use); each is timed as ``apply`` (building the retained graph,
O(E)), ``prop`` (lazy propagation update) and ``model`` (Newton step + bound + maintenance).
Baseline, timed ``--baseline-repeats`` times interleaved with the requests: the same retained
graph construction for a k-edge request + exact propagation of the current graph (sparse
matrix products) + L-BFGS training of the same perturbed one-vs-rest objective, stopped as
soon as its gradient residual reaches ScaleGUN's own training target (1 % of the budget) or
after ``--max-iter`` iterations, without Newton polish (cheaper than ScaleGUN's own retrain:
the speed-ups are conservative). Reported per size: medians and two speed-ups, ``own``
(prop + model vs re-propagation + retraining) and ``end-to-end`` (retained graph included on
both sides).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch
from torch_geometric.data import Data

from torch_geometric_unlearn.algorithm.scalegun import ScaleGUN, _remove_undirected_edges
from torch_geometric_unlearn.request import UnlearningRequest

warnings.filterwarnings('ignore')


def synthetic(num_nodes: int, num_edges: int, num_features: int, num_classes: int,
              seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    row = torch.randint(0, num_nodes, (num_edges, ), generator=g)
    col = torch.randint(0, num_nodes, (num_edges, ), generator=g)
    keep = row != col
    row, col = row[keep], col[keep]
    key = torch.unique(torch.minimum(row, col) * num_nodes + torch.maximum(row, col))
    a, b = key // num_nodes, key % num_nodes
    edge_index = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
    del row, col, key, a, b
    y = torch.randint(0, num_classes, (num_nodes, ), generator=g)
    centers = torch.randn(num_classes, num_features, generator=g)
    x = centers[y] + 2.0 * torch.randn(num_nodes, num_features, generator=g)
    perm = torch.randperm(num_nodes, generator=g)
    train_mask = torch.zeros(num_nodes, dtype=torch.bool)
    train_mask[perm[:num_nodes // 2]] = True
    test_mask = torch.zeros(num_nodes, dtype=torch.bool)
    test_mask[perm[num_nodes // 2:]] = True
    return Data(x=x, edge_index=edge_index, y=y, train_mask=train_mask, val_mask=test_mask,
                test_mask=test_mask)


def accuracy(alg: ScaleGUN, data: Data) -> float:
    pred = alg.model().argmax(-1)
    return float((pred[data.test_mask] == data.y[data.test_mask]).float().mean())


def baseline(alg: ScaleGUN, cur: Data, req: UnlearningRequest, seed: int) -> dict:
    r"""Retained graph + exact re-propagation + L-BFGS retraining (state left unchanged)."""
    t0 = time.perf_counter()
    _remove_undirected_edges(req, cur)
    t1 = time.perf_counter()
    z = alg.propagation.exact()
    t2 = time.perf_counter()
    Zt, B = alg.Zt, alg.B
    alg.Zt = z[alg.train_idx]
    del z
    t3 = time.perf_counter()
    try:
        iters, residual = retrain_to_target(alg, alg._noise(seed))
    finally:
        alg.Zt, alg.B = Zt, B
    t4 = time.perf_counter()
    return {'apply': t1 - t0, 'repropagate': t2 - t1, 'retrain': t4 - t3,
            'retrain_evaluations': iters, 'retrain_residual': residual}


class _Reached(Exception):
    pass


def retrain_to_target(alg: ScaleGUN, B: torch.Tensor) -> tuple:
    r"""The retraining baseline: L-BFGS on the same perturbed objective (same settings as
    :meth:`ScaleGUN.train_model`), stopped at the FIRST objective evaluation whose gradient
    residual (what the certificate counts) is within ScaleGUN's own training target, 1 % of
    the budget, or after :obj:`max_iter` iterations; no Newton polish. The cheapest retrain
    of comparable quality we know of, so the speed-ups are not inflated."""
    alg.B = B
    target = 0.01 * alg.certificate.budget
    W = torch.zeros_like(B, requires_grad=True)
    opt = torch.optim.LBFGS([W], lr=1, max_iter=alg.max_iter, tolerance_grad=1e-12,
                            tolerance_change=1e-14, history_size=20,
                            line_search_fn='strong_wolfe')
    state = {'evals': 0, 'residual': float('inf')}

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = alg._objective(W)
        loss.backward()
        state['evals'] += 1
        state['residual'] = float(W.grad.norm(dim=0).sum())
        if state['residual'] <= target:
            raise _Reached
        return loss

    with torch.enable_grad():
        try:
            opt.step(closure)
        except _Reached:
            pass
    return state['evals'], state['residual']


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--dataset', default=None, help='e.g. ogbn-arxiv (needs --root)')
    p.add_argument('--root', default=None)
    p.add_argument('--nodes', type=int, default=169343)
    p.add_argument('--edges', type=int, default=1166243)
    p.add_argument('--features', type=int, default=128)
    p.add_argument('--classes', type=int, default=40)
    p.add_argument('--sizes', default='1,10,100,1000', help='edges per request')
    p.add_argument('--repeats', type=int, default=5, help='sequential requests per size')
    p.add_argument('--baseline-repeats', type=int, default=3)
    p.add_argument('--r-max', type=float, default=1e-8)
    p.add_argument('--max-iter', type=int, default=100)
    p.add_argument('--refine', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--lam', type=float, default=1e-4)
    p.add_argument('--std', type=float, default=1.0)
    p.add_argument('--nonprivate', action='store_true',
                   help='also report the accuracy of the same objective without noise')
    p.add_argument('--out', default=None, help='full record of the run (JSON)')
    p.add_argument('--json', default=None,
                   help='scaling record to extend (created if missing): own time and '
                        'baseline per request size, see --scaling')
    p.add_argument('--scaling', choices=('graph', 'request'), default='request',
                   help="x of the --json records: 'graph' (nodes) or 'request' (edges)")
    p.add_argument('--machine', default='2 shared cores, OMP_NUM_THREADS=1')
    args = p.parse_args()
    if args.dataset:
        from torch_geometric_unlearn.datasets.load import load_dataset
        data = load_dataset(args.dataset, root=args.root, seed=args.seed)
    else:
        data = synthetic(args.nodes, args.edges, args.features, args.classes, args.seed)
    E = data.edge_index.size(1) // 2
    alg = ScaleGUN(r_max=args.r_max, dtype=torch.float32, max_iter=args.max_iter,
                   lam=args.lam, std=args.std, refine=args.refine, seed=args.seed)
    t = time.perf_counter()
    alg.fit(None, data)
    fit_s = time.perf_counter() - t
    acc_nonprivate = None
    if args.nonprivate:  # the same objective without noise (then the noisy model back)
        W, B = alg.W, alg.B
        alg.W = alg.train_model(torch.zeros_like(B))[0]
        alg.model.weight.data = alg.W
        acc_nonprivate = accuracy(alg, data)
        alg.W, alg.B = W, B
        alg.model.weight.data = W
    rec = {'nodes': int(data.num_nodes), 'undirected_edges': E, 'lam': args.lam,
           'std': args.std, 'r_max': args.r_max, 'acc_nonprivate': acc_nonprivate,
           'features': int(data.num_features), 'classes': alg.num_classes,
           'train_nodes': int(alg.train_idx.numel()), 'fit_seconds': fit_s,
           'acc_before': accuracy(alg, data), 'certificate_fit': alg.certificate.as_dict(),
           'requests': [], 'baseline': []}
    print(json.dumps({k: v for k, v in rec.items() if k not in ('requests', 'baseline')}),
          flush=True)
    g = torch.Generator().manual_seed(args.seed + 1)
    ei = data.edge_index
    half = ei[:, ei[0] < ei[1]]
    used = torch.zeros(half.size(1), dtype=torch.bool)
    cur = data

    def pick(k: int) -> UnlearningRequest:
        free = (~used).nonzero().view(-1)
        sel = free[torch.randperm(free.numel(), generator=g)[:k]]
        used[sel] = True
        return UnlearningRequest.edges(half[:, sel])

    sizes = [int(v) for v in args.sizes.split(',')]
    nb = 0
    for k in sizes:
        for rep in range(args.repeats):
            req = pick(k)
            t0 = time.perf_counter()
            snap = alg.state_snapshot()  # as Unlearner.unlearn does: starts the undo journal
            try:
                res = alg.forward(None, cur, req)
            except RuntimeError as e:  # e.g. the propagation term alone exceeds the budget
                alg.restore_snapshot(snap)
                r = {'edges': k, 'failed': str(e)}
                rec['requests'].append(r)
                print(json.dumps(r), flush=True)
                continue
            total = time.perf_counter() - t0
            cur = res.data
            ex = res.extras
            r = {'edges': k, 'seconds': total, 'apply': ex['apply_seconds'],
                 'prop': ex['propagation_seconds'], 'model': ex['model_seconds'],
                 'rows_changed': ex['rows_changed'], 'train_rows_changed':
                 ex['train_rows_changed'], 'retrained': ex['retrained'],
                 'step_bound': ex['step_bound'], 'drift_bound': ex['drift_bound'],
                 'maintenance': ex['maintenance'], 'pending_rows': ex['pending_rows'],
                 'spent': res.certificate.spent,
                 'propagation_term': res.certificate.propagation_term,
                 'flushed': ex['flushed'],
                 'propagation_term_lazy': ex['propagation_term_lazy']}
            rec['requests'].append(r)
            print(json.dumps(r), flush=True)
        if nb < args.baseline_repeats:  # interleaved: same machine load as the requests
            b = baseline(alg, cur, pick(100), seed=1000 + nb)
            nb += 1
            rec['baseline'].append(b)
            print(json.dumps({'baseline': b}), flush=True)
    while nb < args.baseline_repeats:
        b = baseline(alg, cur, pick(100), seed=1000 + nb)
        nb += 1
        rec['baseline'].append(b)
        print(json.dumps({'baseline': b}), flush=True)
    prop = alg.propagation
    z = prop.exact()
    rec['lazy_max_abs_error'] = float((z - prop.embedding).abs().max())
    rec['lazy_error_fro'] = float((z.double() - prop.embedding.double()).norm())
    rec['lazy_error_fro_bound'] = prop.error_norm()
    rec['lazy_error_bound_l1_max_col'] = float(prop.error_bound().max())
    del z
    rec['acc_after'] = accuracy(alg, data)
    rec['certificate_end'] = alg.certificate.as_dict()
    med = statistics.median
    b_apply = med(b['apply'] for b in rec['baseline'])
    b_own = med(b['repropagate'] + b['retrain'] for b in rec['baseline'])
    rec['baseline_median'] = {'apply': b_apply, 'repropagate': med(
        b['repropagate'] for b in rec['baseline']), 'retrain': med(
        b['retrain'] for b in rec['baseline']), 'own': b_own}
    summary = []
    for k in sizes:
        rs = [r for r in rec['requests'] if r['edges'] == k and 'failed' not in r]
        if not rs:
            continue
        own = med(r['prop'] + r['model'] for r in rs)
        tot = med(r['seconds'] for r in rs)
        summary.append({'edges': k, 'rows_changed': med(r['rows_changed'] for r in rs),
                        'apply': med(r['apply'] for r in rs),
                        'prop': med(r['prop'] for r in rs),
                        'model': med(r['model'] for r in rs), 'own': own, 'total': tot,
                        'mean_own': statistics.mean(r['prop'] + r['model'] for r in rs),
                        'speedup_own': b_own / own,
                        'speedup_end_to_end': (b_apply + b_own) / tot,
                        'max_propagation_term': max(r['propagation_term'] for r in rs)})
        print(json.dumps(summary[-1]), flush=True)
    rec['summary'] = summary
    print(json.dumps({k: v for k, v in rec.items() if k not in ('requests', 'baseline',
                                                                 'summary')}), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rec, f, indent=2)
    if args.json:
        write_scaling(args, rec)


def write_scaling(args: argparse.Namespace, rec: dict) -> None:
    r"""Appends this run's points to the scaling record :obj:`args.json`: every served
    request (own work = propagation + model update) and every baseline repeat
    (re-propagation + retraining), x = graph nodes or edges per request."""
    import os
    import sys
    graph = args.scaling == 'graph'
    if os.path.exists(args.json):
        with open(args.json) as f:
            out = json.load(f)
    else:
        out = {'kind': 'scaling',
               'title': ('ScaleGUN: time per edge request vs graph size (synthetic, '
                         'mean degree ~14)' if graph else
                         'ScaleGUN: time per request vs edges per request (arxiv size)'),
               'command': '', 'machine': args.machine,
               'x': 'nodes' if graph else 'edges per request', 'y': 'seconds',
               'logx': True, 'logy': True, 'records': []}
    cmd = 'OMP_NUM_THREADS=1 python ' + ' '.join(sys.argv)
    out['command'] = (out['command'] + ' ; ' if out['command'] else '') + cmd
    n = rec['nodes']
    common = {'nodes': n, 'undirected_edges': rec['undirected_edges'],
              'r_max': args.r_max, 'lam': args.lam, 'std': args.std}
    for r in rec['requests']:
        if 'failed' in r:
            continue
        x = n if graph else r['edges']
        series = (f"ScaleGUN, {r['edges']}-edge request" if graph
                  else f"ScaleGUN ({n:,} nodes)")
        out['records'].append({'series': series, 'x': x, 'y': r['prop'] + r['model'],
                               'edges': r['edges'], 'prop': r['prop'],
                               'model': r['model'], 'apply': r['apply'],
                               'rows_changed': r['rows_changed'], **common})
    for b in rec['baseline']:
        xs = [n] if graph else sorted({r['edges'] for r in rec['requests']})
        for x in xs:  # the baseline does not depend on the request size
            out['records'].append({'series': 're-propagation + retrain', 'x': x,
                                   'y': b['repropagate'] + b['retrain'], **b, **common})
    with open(args.json, 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()

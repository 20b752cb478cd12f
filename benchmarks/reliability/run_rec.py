r"""Reliability figures (issue 10) on a bipartite user-item graph: a stream of
``--requests`` one-interaction requests (every ``--node-every``-th request removes a whole user
instead) for UnlearnRec and Retrain (LightGCN), with injected failures, the removal audit,
Recall@20 against Retrain, persistent-state growth and a resumed checkpoint (see run.py).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/reliability/run_rec.py --requests 100 \
        --out benchmarks/reliability/results/bipartite_100.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any, Dict

import torch

from torch_geometric_unlearn import Unlearner, UnlearningRequest
from torch_geometric_unlearn.algorithm import Retrain
from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
from torch_geometric_unlearn.audit import audit
from torch_geometric_unlearn.datasets import powerlaw_bipartite
from torch_geometric_unlearn.nn.recsys import build_recsys_model
from torch_geometric_unlearn.serialization import state_difference, state_nbytes
from torch_geometric_unlearn.task.base import reinitialize
from torch_geometric_unlearn.task.recommendation import RecommendationTask, get_interactions

sys.path.insert(0, os.path.dirname(__file__))
from run import Injected, rss_trimmed  # noqa: E402

ALGORITHMS = {
    'unlearnrec': lambda: UnlearnRec(pretrain_epochs=5, finetune_epochs=1),
    'retrain': lambda: Retrain(),
}
INJECT = {'unlearnrec': [(UnlearnRec, 'make_result', torch.OutOfMemoryError)],
          'retrain': [(RecommendationTask, 'train', torch.OutOfMemoryError)]}


def stream(data, num: int, node_every: int, seed: int):
    rng = random.Random(seed)
    pairs = get_interactions(data, 'train').t().tolist()
    rng.shuffle(pairs)
    users = sorted({u for u, _ in pairs})
    rng.shuffle(users)
    gone_users, out = set(), []
    for k in range(1, num + 1):
        if node_every and k % node_every == 0:
            u = users.pop()
            gone_users.add(u)
            out.append(UnlearningRequest.nodes([u], node_type='user'))
            continue
        while pairs[-1][0] in gone_users:
            pairs.pop()
        u, i = pairs.pop()
        out.append(UnlearningRequest.interactions([u], [i]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--requests', type=int, default=100)
    ap.add_argument('--users', type=int, default=300)
    ap.add_argument('--items', type=int, default=400)
    ap.add_argument('--interactions', type=int, default=6000)
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--node-every', type=int, default=10)
    ap.add_argument('--inject-every', type=int, default=10)
    ap.add_argument('--audit-every', type=int, default=10)
    ap.add_argument('--resume-last', type=int, default=10)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    U, I = args.users, args.items
    data = powerlaw_bipartite(U, I, args.interactions, seed=args.seed)
    task = RecommendationTask(epochs=args.epochs, batch_size=1024, lr=5e-3, seed=args.seed)
    base = reinitialize(build_recsys_model('lightgcn', U, I, 32), args.seed)
    task.train(base, data)
    requests = stream(data, args.requests, args.node_every, args.seed)
    final = data
    for r in requests:
        final = r.apply(final)
    ref = {}
    for k, g in ((0, data), (args.requests, final)):
        m = task.fresh_model(base)
        task.train(m, g)
        ref[k] = task.evaluate(m, g)['recall@20']
    tmpdir = tempfile.mkdtemp(prefix='tgu-reliability-')
    results: Dict[str, Any] = {'dataset': f'powerlaw_bipartite({U}, {I}, {args.interactions})',
                               'requests': args.requests, 'retrain_recall@20': ref,
                               'load_average': os.getloadavg(), 'algorithms': {}}
    for name in ALGORITHMS:
        t0 = time.perf_counter()
        u = Unlearner(copy.deepcopy(base), ALGORITHMS[name](), task=task).fit(data)
        rec: Dict[str, Any] = {'requests_tried': 0, 'requests_served': 0,
                               'failures_injected': 0, 'failures_atomic': 0,
                               'states_audited': 0, 'audit_checks': 0, 'audit_failures': [],
                               'recall@20': {0: task.evaluate(u.model, u.data)['recall@20']}}
        bytes0, times, checkpoint, rss0 = state_nbytes(u.state_dict()['state']), [], None, None
        for k, request in enumerate(requests, 1):
            res = None
            if k % args.inject_every == 0:
                owner, attr, exc = INJECT[name][0]
                before = u.state_dict()['state']
                rec['requests_tried'] += 1
                with Injected(owner, attr, exc) as inj:
                    try:
                        res = u.unlearn(request)
                    except exc:
                        pass
                rec['failures_injected'] += inj.raised
                rec['failures_atomic'] += int(bool(inj.raised) and state_difference(
                    before, u.state_dict()['state']) is None)
                del before
            if res is None:
                rec['requests_tried'] += 1
                res = u.unlearn(request)
            rec['requests_served'] += 1
            times.append(res.unlearn_seconds)
            if k == 1:
                rss0 = rss_trimmed()
            if k % args.audit_every == 0 or k == len(requests):
                rep = audit(u)
                rec['states_audited'] += 1
                rec['audit_checks'] += len(rep.checks)
                rec['audit_failures'] += [f'{c.location}: {c.check}' for c in rep.failures]
            if k == len(requests) - args.resume_last:
                checkpoint = os.path.join(tmpdir, f'{name}.pt')
                u.save(checkpoint)
        rec['recall@20'][args.requests] = task.evaluate(u.model, u.data)['recall@20']
        rec['state_bytes'] = [bytes0, state_nbytes(u.state_dict()['state'])]
        rec['rss_bytes'] = [rss0, rss_trimmed()]
        resumed = Unlearner(reinitialize(base, args.seed + 1), ALGORITHMS[name](), task=task)
        resumed.load(checkpoint)
        for request in requests[len(requests) - args.resume_last:]:
            resumed.unlearn(request)
        rec['resume_identical'] = bool(torch.equal(resumed.model.embedding.weight,
                                                   u.model.embedding.weight))
        os.remove(checkpoint)
        g0 = rec['recall@20'][0] - ref[0]
        g1 = rec['recall@20'][args.requests] - ref[args.requests]
        rec['gap_to_retrain'] = {0: g0, args.requests: g1}
        rec['drift'] = abs(g1 - g0)
        rec['median_unlearn_seconds'] = statistics.median(times)
        rec['wall_seconds'] = time.perf_counter() - t0
        results['algorithms'][name] = rec
        print(json.dumps({name: rec}), flush=True)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()

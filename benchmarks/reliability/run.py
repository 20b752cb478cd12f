r"""Reliability figures (issue 10): long streams of small requests per algorithm.

For every algorithm: a stream of ``--requests`` sequential one-entity requests on Cora (node,
edge, feature in turn; the same stream for every algorithm), with

* failures injected every ``--inject-every`` requests (an exception or a simulated CUDA
  out-of-memory error raised inside the algorithm, after its work), each checked to leave the
  full state (model, graph, history, internal state) bit-identical, then retried;
* the removal audit every ``--audit-every`` requests and at the end;
* utility against Retrain on the same retained graph at a few checkpoints (drift of the gap);
* persistent-state bytes and process RSS at the start and the end (growth);
* ScaleGUN's certificate after every request (spent / budget, retrains);
* a checkpoint saved ``--resume-last`` requests before the end, loaded into a fresh
  Unlearner (``torch.load(weights_only=True)``) and replayed: final logits must be identical.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/reliability/run.py --requests 100 \
        --out benchmarks/reliability/results/cora_100.json
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict

import torch

import torch_geometric_unlearn.algorithm.gif as gif_module
from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm import (CGE, GIF, IF, SGU, GraphEraser, Retrain,
                                               ScaleGUN, ScaleGUNDeep)
from torch_geometric_unlearn.audit import audit
from torch_geometric_unlearn.datasets import load_planetoid
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.nn.lazy_propagation import LazyPropagation
from torch_geometric_unlearn.serialization import state_difference, state_nbytes
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
from torch_geometric_unlearn.utils import _rss_bytes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..'))
from tests._reliability import request_stream  # noqa: E402 (the tests' stream generator)

ALGORITHMS = {  # library defaults; cheapest first
    'scalegun': lambda: ScaleGUN(),
    'scalegun_deep': lambda: ScaleGUNDeep(),
    'cge': lambda: CGE(),
    'graph_eraser': lambda: GraphEraser(),
    'sgu': lambda: SGU(),
    'if': lambda: IF(),
    'gif': lambda: GIF(),
    'retrain': lambda: Retrain(),
}

# Where failures are injected (rotating): (owner, attribute, exception). ScaleGUN's
# make_result is left out: a failure after its commit point is a known gap (docs).
OOM = torch.OutOfMemoryError
INJECT = {
    'retrain': [(NodeClassificationTask, 'train', OOM), (Retrain, 'make_result', RuntimeError)],
    'gif': [(gif_module, 'inverse_hvp_lissa', OOM), (GIF, 'make_result', RuntimeError)],
    'if': [(gif_module, 'inverse_hvp_lissa', OOM), (GIF, 'make_result', RuntimeError)],
    'graph_eraser': [(GraphEraser, '_assemble', OOM), (GraphEraser, 'make_result', RuntimeError)],
    'cge': [(CGE, '_train', OOM), (CGE, 'make_result', RuntimeError)],
    'scalegun': [(LazyPropagation, '_sweep', OOM), (ScaleGUN, '_prop_term', RuntimeError)],
    'scalegun_deep': [(ScaleGUNDeep, '_train', OOM), (ScaleGUNDeep, 'make_result',
                                                       RuntimeError)],
    'sgu': [(SGU, '_contrastive', OOM), (SGU, 'make_result', RuntimeError)],
}


class Injected:
    def __init__(self, owner: Any, attr: str, exc: type) -> None:
        self.owner, self.attr, self.exc = owner, attr, exc
        self.orig = getattr(owner, attr)
        self.raised = 0

    def __enter__(self) -> 'Injected':
        orig, me = self.orig, self

        def wrapper(*args, **kwargs):
            out = orig(*args, **kwargs)
            if not me.raised:
                me.raised += 1
                raise me.exc(f'injected failure in {me.attr}')
            return out

        setattr(self.owner, self.attr, wrapper)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(self.owner, self.attr, self.orig)


def rss_trimmed() -> int:
    r"""Resident set size after returning freed heap memory to the OS (glibc
    :obj:`malloc_trim`), so that transient allocations do not read as growth."""
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return _rss_bytes()


@torch.no_grad()
def logits(u: Unlearner) -> torch.Tensor:
    u.model.eval()
    return u.model(u.data.x, u.data.edge_index)


def accuracy(task: NodeClassificationTask, model: torch.nn.Module, data) -> float:
    return float(task.evaluate(model, data, 'test')['accuracy'])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--requests', type=int, default=100)
    ap.add_argument('--algorithms', default=','.join(ALGORITHMS))
    ap.add_argument('--epochs', type=int, default=50, help='training epochs of the task')
    ap.add_argument('--inject-every', type=int, default=10)
    ap.add_argument('--audit-every', type=int, default=10)
    ap.add_argument('--checkpoints', default='0,25,50,75,100')
    ap.add_argument('--resume-last', type=int, default=10)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()

    data = load_planetoid('Cora')
    task = NodeClassificationTask(epochs=args.epochs, seed=args.seed)
    base = reinitialize(build_node_model('gcn', data.num_features, 7), seed=args.seed)
    task.train(base, data)
    stream = request_stream(data, args.requests, seed=args.seed)
    marks = sorted({min(int(c), args.requests) for c in args.checkpoints.split(',')})

    # Retrain reference on the same retained graphs (identical for every algorithm).
    ref: Dict[int, float] = {0: accuracy(task, base, data)}
    graph = data
    for k, r in enumerate(stream, 1):
        graph = r.apply(graph)
        if k in marks:
            m = task.fresh_model(base)
            task.train(m, graph)
            ref[k] = accuracy(task, m, graph)

    tmpdir = tempfile.mkdtemp(prefix='tgu-reliability-')
    results: Dict[str, Any] = {'dataset': 'Cora', 'requests': args.requests,
                               'epochs': args.epochs, 'retrain_accuracy': ref,
                               'torch_threads': torch.get_num_threads(),
                               'load_average': os.getloadavg(), 'algorithms': {}}
    for name in args.algorithms.split(','):
        t0 = time.perf_counter()
        u = Unlearner(copy.deepcopy(base), ALGORITHMS[name](), task=task).fit(data)
        bytes0, rss0 = state_nbytes(u.state_dict()['state']), None
        rec: Dict[str, Any] = {'requests_tried': 0, 'requests_served': 0,
                               'failures_injected': 0, 'failures_atomic': 0,
                               'states_audited': 0, 'audit_checks': 0, 'audit_failures': [],
                               'accuracy': {0: accuracy(task, u.model, u.data)},
                               'unlearn_seconds': [], 'certificate': None}
        spent_ratio, retrains, cert_ok = 0.0, 0, True
        checkpoint = None
        inject_points = INJECT[name]
        for k, request in enumerate(stream, 1):
            res = None
            if args.inject_every and k % args.inject_every == 0:
                owner, attr, exc = inject_points[(k // args.inject_every) % len(inject_points)]
                before = u.state_dict()['state']
                rec['requests_tried'] += 1
                with Injected(owner, attr, exc) as inj:
                    try:
                        res = u.unlearn(request)  # served if the point was not reached
                    except exc:
                        pass
                rec['failures_injected'] += inj.raised
                if inj.raised and state_difference(before, u.state_dict()['state']) is None:
                    rec['failures_atomic'] += 1
                del before
            if res is None:
                rec['requests_tried'] += 1
                res = u.unlearn(request)
            rec['requests_served'] += 1
            if k == 1:  # RSS after the first request (allocator warm), vs. the end
                rss0 = rss_trimmed()
            rec['unlearn_seconds'].append(res.unlearn_seconds)
            if res.certificate is not None:
                c = res.certificate
                spent_ratio = max(spent_ratio, c.spent / c.budget)
                cert_ok &= bool(c.certified)
                retrains = c.retrained
            if k in marks:
                rec['accuracy'][k] = accuracy(task, u.model, u.data)
            if (args.audit_every and k % args.audit_every == 0) or k == len(stream):
                rep = audit(u)
                rec['states_audited'] += 1
                rec['audit_checks'] += len(rep.checks)
                rec['audit_failures'] += sorted({f'{c.location}: {c.check}'
                                                 for c in rep.failures}
                                                - set(rec['audit_failures']))
            if k == len(stream) - args.resume_last:
                checkpoint = os.path.join(tmpdir, f'{name}.pt')
                u.save(checkpoint)
        rss1, bytes1 = rss_trimmed(), state_nbytes(u.state_dict()['state'])
        if checkpoint is not None:
            state = torch.load(checkpoint, weights_only=True)
            other = reinitialize(base, seed=args.seed + 1)
            resumed = Unlearner(other, ALGORITHMS[name](), task=task).load_state_dict(state)
            for request in stream[len(stream) - args.resume_last:]:
                resumed.unlearn(request)
            rec['resume_identical'] = bool(torch.equal(logits(resumed), logits(u)))
            rec['checkpoint_bytes'] = os.path.getsize(checkpoint)
            os.remove(checkpoint)
            del state, resumed
        if u.algorithm.fitted_model() is not None:
            # The same method fitted from scratch on the final retained graph: isolates error
            # accumulated by the incremental state from the effect of the removals.
            fresh = Unlearner(copy.deepcopy(base), ALGORITHMS[name](), task=task).fit(u.data)
            rec['refit_accuracy'] = accuracy(task, fresh.model, u.data)
            rec['stream_minus_refit'] = rec['accuracy'][marks[-1]] - rec['refit_accuracy']
            del fresh
        if spent_ratio:
            rec['certificate'] = {'max_spent_over_budget': spent_ratio, 'retrains': retrains,
                                  'certified_throughout': cert_ok}
        gap0 = rec['accuracy'][0] - ref[0]
        rec['gap_to_retrain'] = {k: rec['accuracy'][k] - ref[k] for k in rec['accuracy']}
        rec['drift'] = max(abs(g - gap0) for g in rec['gap_to_retrain'].values())
        rec['state_bytes'] = [bytes0, bytes1]
        rec['rss_bytes'] = [rss0, rss1]
        times = rec.pop('unlearn_seconds')
        rec['median_unlearn_seconds'] = statistics.median(times)
        rec['wall_seconds'] = time.perf_counter() - t0
        results['algorithms'][name] = rec
        print(json.dumps({name: rec}), flush=True)
        if args.out:  # after every algorithm: partial results survive a time-out
            os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(results, f, indent=1)
    print(table(results))


def table(results: Dict[str, Any]) -> str:
    rows = ['| algorithm | tried | served | failures injected | atomic | states audited | '
            'checks | audit failures | drift vs Retrain | gap to Retrain start → end | '
            'stream − refit | state MB start → end | RSS MB 1st → last | resume identical | '
            'certificate | median s/request |', '|' + '---|' * 16]
    for name, r in results['algorithms'].items():
        g = {int(k): v for k, v in r['gap_to_retrain'].items()}
        end = max(g)
        cert = r['certificate']
        cert_s = '-' if cert is None else (f"max {cert['max_spent_over_budget']:.2f} of budget, "
                                           f"{cert['retrains']} retrains, certified "
                                           f"{cert['certified_throughout']}")
        refit = r.get('stream_minus_refit')
        rows.append(
            f"| {name} | {r['requests_tried']} | {r['requests_served']} | "
            f"{r['failures_injected']} | {r['failures_atomic']} | {r['states_audited']} | "
            f"{r['audit_checks']} | {'; '.join(r['audit_failures']) or 'none'} | "
            f"{r['drift']:.3f} | {g[0]:+.3f} → {g[end]:+.3f} | "
            f"{'-' if refit is None else format(refit, '+.3f')} | "
            f"{r['state_bytes'][0] / 1e6:.1f} → {r['state_bytes'][1] / 1e6:.1f} | "
            f"{r['rss_bytes'][0] / 1e6:.0f} → {r['rss_bytes'][1] / 1e6:.0f} | "
            f"{r.get('resume_identical', '-')} | {cert_s} | "
            f"{r['median_unlearn_seconds']:.3f} |")
    return '\n'.join(rows)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--table':
        with open(sys.argv[2]) as f:
            print(table(json.load(f)))
    else:
        main()

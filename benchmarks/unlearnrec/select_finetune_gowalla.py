r"""Chooses UnlearnRec's one-epoch fine-tuning strength (:obj:`finetune_lambda_u`,
:obj:`finetune_lr`) on held-out seeds of the Gowalla u10k_k10 subset, without test data.

Data: ``load_dataset("gowalla?max_users=10000&min_interactions=10")`` (the benchmark subset).
Only its *training* interactions are used: per seed, a seeded 10 % of each user's training
interactions is held out as validation (:func:`select_finetune_lambda.selection_graph`, the
same split as the :math:`\lambda'_p` selection); the original test interactions are not in
the selection graph at all. Seeds: **5 and 6** (held out: the benchmark reports seeds 0, 1, 2).

Per seed (split, model and request seeds are the same number), LightGCN, the benchmark's
training options (``--epochs 50 --lr 5e-3 --batch-size 2048 --hidden 64``):

1. *random request*: a model trained on the selection graph, 1 % random interactions
   (:func:`select_request`, strategy ``random``) -- the guard against deforming ordinary
   preferences (as in the :math:`\lambda'_p` rule);
2. *adversarial request*: ``bench.py``'s protocol on the selection graph (1 % least-probable
   interactions added to the model of step 1's graph, a fresh model trained on the attacked
   graph, exactly those unlearned), plus Retrain of that request (its validation Recall@20 is
   the reference of the ratio);
3. UnlearnRec fitted once per protocol (default pre-training); the request is served on copies
   by the direct application and by every candidate: ``finetune_epochs=1`` (one pass: the
   only budget with room for the >= 20 x speed target; three passes were 7-13 x),
   ``finetune_preserve="direct"`` with the default :math:`\lambda'_p`,
   ``finetune_lambda_u`` :math:`\in \{1, 2, 4, 8, 16\}` and ``finetune_lr``
   :math:`\in \{1\times, 2\times\}` x 0.2 x the task's lr (the fine-tuning lr default at the
   time; the script sets the lr explicitly, so later default changes do not affect it).

**Round 1: pre-declared selection rule** (fixed before any number of this script was seen;
``--seeds 5,6 --adv-guard min``). A candidate is *admissible* if, for **each** held-out seed
(min over seeds, not the median),

* adversarial: validation Recall@20 / Retrain's validation Recall@20 :math:`\geq 0.98`, and
* random: validation Recall@20 / the direct application's on the same request :math:`\geq 0.98`.

Among admissible candidates pick the one with the **highest median adversarial MI-NG** (ties:
the default lr, then the smaller :math:`\lambda_u`). If its median MI-NG is below 1.5 the
targets are reported as missed with this pick. The benchmark seeds (0, 1, 2) are then run with
the pick through ``bench.py`` (no further change).

**Round 1 outcome: no candidate admissible.** The adversarial guard rejected everything,
the direct application included (seed 5: 0.956 x Retrain on validation before any
fine-tuning; across candidates of one seed the ratio moves by at most 0.02, so the guard read
the attacked model's seed noise, not the fine-tuning). The random guard was binding:
:math:`\lambda_u \geq 2` lost 2-14 % of the random request's validation Recall, while a
larger lr cost little (``lu=1, lr=2x``: 0.988 / 0.998) and raised adversarial MI-NG most per
unit of Recall.

**Round 2 (written after round 1, before any round-2 number; fresh held-out seeds 7, 8 so that
round 1's seeds do not choose):** the same rule with the adversarial guard on the **median**
over seeds (the target is a median) and the random guard still on the min; candidates
``finetune_lambda_u`` :math:`\in \{1, 2\}` x ``finetune_lr`` :math:`\in \{2, 3, 4, 6\}` x 0.2 x
the task's lr. Pick: ``finetune_lambda_u = 2``, lr 6 x 0.2 = 1.2 x the task's (now the class
defaults; ``benchmarks/unlearnrec/GOWALLA.md`` has both rounds' tables).

    OMP_NUM_THREADS=1 python benchmarks/unlearnrec/select_finetune_gowalla.py --seeds 5,6 \
        --adv-guard min --out benchmarks/unlearnrec/results/select_finetune_gowalla_round1.json
    OMP_NUM_THREADS=1 python benchmarks/unlearnrec/select_finetune_gowalla.py --seeds 7,8 \
        --lambdas-u 1,2 --lr-factors 2,3,4,6 \
        --out benchmarks/unlearnrec/results/select_finetune_gowalla.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from select_finetune_lambda import (add_protocol_args, fit_unlearnrec,  # noqa: E402
                                    protocols, write_selection)

from torch_geometric_unlearn.benchmark.registry import build_algorithm  # noqa: E402
from torch_geometric_unlearn.datasets import load_dataset  # noqa: E402
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning  # noqa: E402
from torch_geometric_unlearn.unlearner import Unlearner  # noqa: E402

THRESHOLD = 0.98
TARGET_MI_NG = 1.5
DATASET = 'gowalla?max_users=10000&min_interactions=10'


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default=DATASET)
    p.add_argument('--root', default=None)
    p.add_argument('--seeds', default='5,6')
    p.add_argument('--lambdas-u', default='1,2,4,8,16')
    p.add_argument('--lr-factors', default='1,2',
                   help='multiples of 0.2 x the task lr (the fine-tuning lr default when chosen)')
    p.add_argument('--adv-guard', default='median', choices=['min', 'median'],
                   help='aggregate over seeds of the adversarial Recall guard (round 1: min)')
    add_protocol_args(p)
    return p.parse_args(argv)


def candidates(lambdas: List[float], factors: List[float], task_lr: float) -> List[Dict]:
    out = [{'name': 'direct', 'finetune_epochs': 0, 'lambda_u': 1.0, 'lr_factor': 1.0}]
    for f in factors:
        for lam in lambdas:
            out.append({'name': f'lu={lam:g},lr={f:g}x', 'finetune_epochs': 1,
                        'lambda_u': lam, 'lr_factor': f})
    for c in out:
        c['finetune_lr'] = c['lr_factor'] * 0.2 * task_lr
    return out


def serve_all(task, data, original, request, seed, cands, protocol, retrain_val=None):
    fitted, fit_seconds = fit_unlearnrec(task, data, original)
    cache: Dict[str, Any] = {}
    records = []
    for c in cands:
        ul = copy.deepcopy(fitted)
        alg = ul.algorithm
        alg.finetune_epochs = c['finetune_epochs']
        alg.finetune_lambda_u = float(c['lambda_u'])
        alg.finetune_lr = float(c['finetune_lr'])
        result = ul.unlearn(request)
        ev = evaluate_unlearning(task, data, original, result, None, request, seed=seed,
                                 cache=cache)
        val = ev['utility_unlearned']  # the selection graph's evaluation split = validation
        rec = {'seed': seed, 'protocol': protocol, 'variant': c['name'],
               'finetune_epochs': c['finetune_epochs'], 'finetune_lambda_u': c['lambda_u'],
               'lr_factor': c['lr_factor'], 'finetune_lr': c['finetune_lr'],
               'val_recall@20': val['recall@20'], 'val_ndcg@20': val['ndcg@20'],
               'val_recall_retrain': retrain_val, 'mi_ng': ev['mi_ng'], 'mi_bf': ev['mi_bf'],
               'mi_ng_before': ev['mi_ng_before'], 'num_removed': request.num_removed,
               'unlearn_seconds': result.unlearn_seconds, 'fit_seconds': fit_seconds,
               'loadavg': os.getloadavg()}
        records.append(rec)
        print(f"seed={seed} {protocol:11s} {c['name']:16s} val_recall={val['recall@20']:.4f} "
              f"MI-NG={ev['mi_ng']:.3f} t={result.unlearn_seconds:.2f}s", flush=True)
    return records


def run_seed(args, data, seed, cands) -> List[Dict[str, Any]]:
    p = protocols(args, data, seed)
    task, attacked, original, adv = p['task'], p['attacked'], p['original'], p['adv']
    records = serve_all(task, p['sel'], p['model'], p['request'], seed, cands, 'random')
    t0 = time.perf_counter()
    retrain = Unlearner(copy.deepcopy(original), build_algorithm('retrain', args), task=task)
    retrain.fit(attacked)
    res = retrain.unlearn(adv)
    retrain_val = task.evaluate(res.model, res.data)['recall@20']
    print(f'seed={seed} retrain val_recall={retrain_val:.4f} '
          f't={time.perf_counter() - t0:.1f}s', flush=True)
    records += serve_all(task, attacked, original, adv, seed, cands, 'adversarial',
                         retrain_val)
    return records


def select(records: List[Dict[str, Any]], adv_guard: str = 'median') -> Dict[str, Any]:
    r"""Applies the pre-declared rule (module docstring)."""
    direct = {r['seed']: r['val_recall@20'] for r in records
              if r['protocol'] == 'random' and r['variant'] == 'direct'}
    rows = {}
    for name in dict.fromkeys(r['variant'] for r in records):
        rs = [r for r in records if r['variant'] == name]
        if rs[0]['finetune_epochs'] != 1:
            continue
        adv = [r for r in rs if r['protocol'] == 'adversarial']
        rnd = [r for r in rs if r['protocol'] == 'random']
        rows[name] = {
            'lambda_u': rs[0]['finetune_lambda_u'], 'lr_factor': rs[0]['lr_factor'],
            'adv_ratio_min': min(r['val_recall@20'] / r['val_recall_retrain'] for r in adv),
            'adv_ratio_median': statistics.median(r['val_recall@20'] / r['val_recall_retrain']
                                                  for r in adv),
            'rnd_ratio_min': min(r['val_recall@20'] / direct[r['seed']] for r in rnd),
            'adv_mi_ng_median': statistics.median(r['mi_ng'] for r in adv)}
    ok = [n for n, v in rows.items()
          if v[f'adv_ratio_{adv_guard}'] >= THRESHOLD and v['rnd_ratio_min'] >= THRESHOLD]
    ok.sort(key=lambda n: (-rows[n]['adv_mi_ng_median'], rows[n]['lr_factor'],
                           rows[n]['lambda_u']))
    pick = ok[0] if ok else None
    return {'rule': f'admissible: {adv_guard} over seeds of adversarial val Recall@20 / '
                    f'Retrain >= {THRESHOLD} and min over seeds of random val Recall@20 / '
                    f'direct >= {THRESHOLD}; pick the '
                    'highest median adversarial MI-NG (ties: lr factor, then lambda_u)',
            'rows': rows, 'admissible': ok, 'pick': pick,
            'pick_meets_mi_ng': bool(pick and rows[pick]['adv_mi_ng_median'] >= TARGET_MI_NG)}


def table(records: List[Dict[str, Any]]) -> str:
    direct = {(r['seed'], r['protocol']): r['val_recall@20'] for r in records
              if r['variant'] == 'direct'}
    lines = ['| variant | adversarial: val Recall / Retrain [per seed] | adversarial: MI-NG '
             '[per seed] | random: val Recall / direct [per seed] | random: MI-NG | '
             'fine-tune s (median) |', '|---|---|---|---|---|---|']
    for name in dict.fromkeys(r['variant'] for r in records):
        adv = [r for r in records if r['variant'] == name and r['protocol'] == 'adversarial']
        rnd = [r for r in records if r['variant'] == name and r['protocol'] == 'random']

        def fmt(vals, f='.3f'):
            return f'{statistics.median(vals):{f}} [' + ', '.join(f'{v:{f}}' for v in vals) + ']'
        lines.append('| ' + ' | '.join([
            name, fmt([r['val_recall@20'] / r['val_recall_retrain'] for r in adv]),
            fmt([r['mi_ng'] for r in adv]),
            fmt([r['val_recall@20'] / direct[(r['seed'], 'random')] for r in rnd]),
            f"{statistics.median(r['mi_ng'] for r in rnd):.3f}",
            f"{statistics.median(r['unlearn_seconds'] for r in adv + rnd):.2f}"]) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    lambdas = [float(x) for x in args.lambdas_u.split(',') if x.strip()]
    factors = [float(x) for x in args.lr_factors.split(',') if x.strip()]
    cands = candidates(lambdas, factors, args.lr)
    data = load_dataset(args.dataset, root=args.root)
    t0, load0 = time.perf_counter(), os.getloadavg()
    records: List[Dict[str, Any]] = []
    for seed in [int(s) for s in args.seeds.split(',')]:
        records += run_seed(args, data, seed, cands)
    choice = select(records, args.adv_guard)
    print(table(records))
    print(json.dumps(choice, indent=1))
    write_selection(args.out, 'select_finetune_gowalla.py', argv, choice, records,
                    table(records), t0, load0)
    return 0


if __name__ == '__main__':
    sys.exit(main())

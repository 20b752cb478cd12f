r"""Chooses UnlearnRec's *pre-training* hyper-parameters for the SimGCL backbone on
MovieLens-100K by a joint grid search on held-out seeds and a validation split, without test
data (the paper grid-searches :math:`\lambda_u`, :math:`\lambda_p`, :math:`\rho` and
:math:`\tau` per backbone and dataset; earlier sessions only swept them one at a time).

Data and protocols: those of ``select_finetune_lambda.py`` / ``select_finetune_gowalla.py``
(imported, not copied): ``load_dataset("movielens100k")``, only its *training* interactions;
per seed a seeded 10 % of each user's training interactions is the validation split
(:func:`select_finetune_lambda.selection_graph`), the test interactions are not in the
selection graph at all. Backbone: SimGCL with the benchmark's training options
(``--epochs 50 --lr 5e-3 --batch-size 2048 --hidden 64``). Seeds: **5 and 6** (held out: the
benchmark reports seeds 0, 1, 2). Per seed (split, model and request seeds are the same):

* *adversarial request* (main scenario): ``bench.py``'s protocol on the selection graph
  (:func:`select_finetune_lambda.protocols`), plus Retrain of that request once per seed (its
  validation Recall@20 is the reference of the ratio);
* *random request* (guard): a random 1 % of the interactions on the clean model of the
  selection graph.

Candidates: every combination of the UnlearnRec constructor arguments ``lambda_u``,
``lambda_p``, ``sim_ratio`` (:math:`\rho`), ``temperature`` (:math:`\tau`) and ``lr`` (the
pre-training lr) given on the command line; everything else at the class defaults, i.e. the
current fine-tuning defaults (:math:`\lambda'_u = 2\lambda_u`, :math:`\lambda'_p = 0.01`
anchored at the direct application, lr 1.2 x the task's) and ``finetune_epochs=1``.
UnlearnRec is fitted once per candidate, seed and protocol and serves the request once.
The candidate equal to the class defaults is always included (``default``). The grid run
(the script's defaults): ``lambda_u`` in {1, 2} x ``lambda_p`` in {0.01, 0.03, 0.1} x
``sim_ratio`` in {0.05, 0.1, 0.2} x ``temperature`` in {1, 0.5} x ``lr`` in {1e-2, 3e-3}
(72 candidates, ``temperature`` outermost so that a run cut short by the deadline loses the
:math:`\tau = 0.5` half first; candidates without both seeds are not judged).

**Pre-declared selection rule** (fixed before any number of this script was seen). A candidate
is *admissible* if

1. the **median over seeds** of adversarial validation Recall@20 / Retrain's validation
   Recall@20 (same seed) is :math:`\geq 0.98`, and
2. the **median over seeds** of adversarial MI-NG is :math:`\geq 1.5`, and
3. random-request guard: the **min over seeds** of random validation Recall@20 (one
   fine-tuning epoch) / that of ``default`` on the same request and seed is
   :math:`\geq 0.98` (the candidate may not deform ordinary preferences more than the current
   defaults by over 2 %; the guard of ``select_finetune_gowalla.py``, relative to the current
   defaults since here the direct application itself changes with the candidate).

Among admissible candidates pick the one with the **largest min over seeds of the adversarial
Recall ratio** (ties: higher median adversarial MI-NG). If none is admissible, say so and pick
nothing (no benchmark variant is registered). To save time the random request is served only
for ``default`` and for candidates that pass (1) and (2) (the guard decides nothing for the
others); the records say which were served.

    OMP_NUM_THREADS=1 python benchmarks/unlearnrec/select_pretrain_simgcl.py --seeds 5,6 \
        --out benchmarks/unlearnrec/results/select_pretrain_simgcl.json

**Round 2** (written 2026-11-24 04:31 UTC, *after* round 1's numbers above were seen and
before any round-2 number). Why: in round 1 seven candidates met the adversarial conditions,
and all seven failed the random-request guard on seed 6 only, where the guard's reference was
*one* fit of ``default`` per seed (not Retrain). A single fit is noisy, so a guard relative to
it can fail on the reference's noise rather than on the candidate. Round 2 therefore re-judges
only those candidates on **fresh held-out seeds 7 and 8** (never 0-2, not 5-6), with the guard
anchored at Retrain on the same random request. Protocol as in round 1 (same selection graph,
validation split, backbone and requests per seed), plus Retrain of the *random* request once
per seed. Candidates (``--candidates-from`` the round-1 JSON, nothing new): ``default`` and
the round-1 rows whose median adversarial ratio is :math:`\geq 0.98` and median adversarial
MI-NG :math:`\geq 1.5` (7 candidates); every candidate is served on both protocols and both
seeds. Rule (``--round 2``), fixed now. A candidate is *admissible* if

1. the median over seeds 7-8 of adversarial validation Recall@20 / Retrain's (same seed)
   is :math:`\geq 0.98`, and
2. the median over seeds of adversarial MI-NG is :math:`\geq 1.5`, and
3. random-request guard against Retrain: the median over seeds of random-request validation
   Recall@20 / Retrain's validation Recall@20 on the same request and seed is
   :math:`\geq` ``default``'s median of that same ratio :math:`- 0.01` (``default`` itself
   passes (3) by construction; it must still pass (1) and (2)).

Among admissible candidates pick the one with the largest **min** over seeds of the
adversarial Recall ratio (ties: higher median adversarial MI-NG); if none is admissible,
pick nothing and register no variant. (With two seeds the median is the mean.)

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/unlearnrec/select_pretrain_simgcl.py \
        --round 2 --seeds 7,8 \
        --candidates-from benchmarks/unlearnrec/results/select_pretrain_simgcl.json \
        --out benchmarks/unlearnrec/results/select_pretrain_simgcl_round2.json
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from select_finetune_lambda import add_protocol_args, protocols, write_selection  # noqa: E402

from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec  # noqa: E402
from torch_geometric_unlearn.benchmark.registry import build_algorithm  # noqa: E402
from torch_geometric_unlearn.datasets import load_dataset  # noqa: E402
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning  # noqa: E402
from torch_geometric_unlearn.unlearner import Unlearner  # noqa: E402

THRESHOLD = 0.98
TARGET_MI_NG = 1.5
DEFAULT = {'lambda_u': 1.0, 'lambda_p': 0.01, 'sim_ratio': 0.1, 'temperature': 1.0,
           'lr': 1e-2}
KEYS = list(DEFAULT)


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='movielens100k')
    p.add_argument('--root', default=None)
    p.add_argument('--seeds', default='5,6')
    p.add_argument('--lambdas-u', default='1,2')
    p.add_argument('--lambdas-p', default='0.01,0.03,0.1')
    p.add_argument('--sim-ratios', default='0.05,0.1,0.2')
    p.add_argument('--temperatures', default='1,0.5')
    p.add_argument('--pretrain-lrs', default='1e-2,3e-3')
    p.add_argument('--pretrain-epochs', type=int, default=None,
                   help='UnlearnRec pre-training epochs (smoke runs only; default: class)')
    p.add_argument('--round', type=int, choices=(1, 2), default=1,
                   help='selection rule: 1 (guard vs the defaults) or 2 (guard vs Retrain, '
                        'random request served for every candidate); module docstring')
    p.add_argument('--candidates-from', default=None,
                   help="a round-1 JSON: judge only 'default' and its rows that passed the "
                        'adversarial conditions (the grid options are then ignored)')
    add_protocol_args(p)
    p.set_defaults(model='simgcl')
    return p.parse_args(argv)


def candidates(args: argparse.Namespace) -> List[Dict[str, Any]]:
    if args.candidates_from:
        return candidates_from(args.candidates_from)
    # temperature outermost: it only enters the small L_c term (lambda_c = 1e-3), so a grid
    # cut short by the deadline loses the least informative half first
    order = ['temperature', 'lambda_u', 'lambda_p', 'sim_ratio', 'lr']
    given = {'lambda_u': args.lambdas_u, 'lambda_p': args.lambdas_p,
             'sim_ratio': args.sim_ratios, 'temperature': args.temperatures,
             'lr': args.pretrain_lrs}
    grid = [[float(x) for x in given[k].split(',') if x.strip()] for k in order]
    out = [dict(DEFAULT, name='default')]
    for values in itertools.product(*grid):
        c = {k: v for k, v in zip(order, values)}
        c = {k: c[k] for k in KEYS}
        if c == DEFAULT:
            continue
        c['name'] = 'lu={lambda_u:g},lp={lambda_p:g},rho={sim_ratio:g},tau={temperature:g},' \
                    'lr={lr:g}'.format(**c)
        out.append(c)
    return out


def candidates_from(path: str) -> List[Dict[str, Any]]:
    r"""``default`` and the rows of a round-1 selection JSON whose median adversarial Recall
    ratio is >= THRESHOLD and median adversarial MI-NG >= TARGET_MI_NG (round 2's candidates;
    nothing new is added)."""
    with open(path) as f:
        rows = json.load(f)['selection']['rows']
    assert {k: rows['default'][k] for k in KEYS} == DEFAULT, 'round-1 default differs'
    out = [dict(DEFAULT, name='default')]
    for name, row in rows.items():
        if name != 'default' and row['adv_ratio_median'] >= THRESHOLD \
                and row['adv_mi_ng_median'] >= TARGET_MI_NG:
            out.append(dict({k: row[k] for k in KEYS}, name=name))
    return out


def serve(args, p, cand, protocol, seed, retrain_val, cache) -> Dict[str, Any]:
    r"""Fits UnlearnRec with :obj:`cand` on one protocol of :obj:`p` and serves its request
    with one fine-tuning epoch; validation metrics and MI of the removed interactions."""
    if protocol == 'adversarial':
        data, original, request = p['attacked'], p['original'], p['adv']
    else:
        data, original, request = p['sel'], p['model'], p['request']
    kwargs = {k: cand[k] for k in KEYS}
    if args.pretrain_epochs is not None:
        kwargs['pretrain_epochs'] = args.pretrain_epochs
    ul = Unlearner(copy.deepcopy(original), UnlearnRec(finetune_epochs=1, **kwargs),
                   task=p['task'])
    t0 = time.perf_counter()
    ul.fit(data)
    fit_seconds = time.perf_counter() - t0
    result = ul.unlearn(request)
    ev = evaluate_unlearning(p['task'], data, original, result, None, request, seed=seed,
                             cache=cache)
    val = ev['utility_unlearned']  # the selection graph's evaluation split = validation
    rec = {'seed': seed, 'protocol': protocol, 'variant': cand['name'],
           **{k: cand[k] for k in KEYS}, 'finetune_epochs': 1,
           'val_recall@20': val['recall@20'], 'val_ndcg@20': val['ndcg@20'],
           'val_recall_retrain': retrain_val, 'mi_ng': ev['mi_ng'], 'mi_bf': ev['mi_bf'],
           'mi_ng_before': ev['mi_ng_before'], 'num_removed': request.num_removed,
           'unlearn_seconds': result.unlearn_seconds, 'fit_seconds': fit_seconds,
           'loadavg': os.getloadavg()}
    ratio = (f" /Retrain={val['recall@20'] / retrain_val:.3f}" if retrain_val else '')
    print(f"seed={seed} {protocol:11s} {cand['name']:44s} val_recall={val['recall@20']:.4f}"
          f"{ratio} MI-NG={ev['mi_ng']:.3f} fit={fit_seconds:.1f}s "
          f"t={result.unlearn_seconds:.2f}s", flush=True)
    return rec


def passes_adversarial(records: List[Dict[str, Any]], name: str) -> bool:
    adv = [r for r in records if r['variant'] == name and r['protocol'] == 'adversarial']
    return (statistics.median(r['val_recall@20'] / r['val_recall_retrain'] for r in adv)
            >= THRESHOLD and statistics.median(r['mi_ng'] for r in adv) >= TARGET_MI_NG)


def select(records: List[Dict[str, Any]], seeds: List[int], rnd: int = 1) -> Dict[str, Any]:
    r"""Applies the pre-declared rule (module docstring) of round :obj:`rnd`."""
    if rnd == 2:
        return select_round2(records, seeds)
    base = {r['seed']: r['val_recall@20'] for r in records
            if r['protocol'] == 'random' and r['variant'] == 'default'}
    rows = {}
    for name in dict.fromkeys(r['variant'] for r in records):
        adv = [r for r in records if r['variant'] == name and r['protocol'] == 'adversarial']
        if sorted(r['seed'] for r in adv) != sorted(seeds):
            continue  # incomplete (deadline): not judged
        rnd = [r for r in records if r['variant'] == name and r['protocol'] == 'random']
        ratios = [r['val_recall@20'] / r['val_recall_retrain'] for r in adv]
        rows[name] = {**{k: adv[0][k] for k in KEYS},
                      'adv_ratio_median': statistics.median(ratios),
                      'adv_ratio_min': min(ratios),
                      'adv_mi_ng_median': statistics.median(r['mi_ng'] for r in adv),
                      'rnd_ratio_min': (min(r['val_recall@20'] / base[r['seed']] for r in rnd)
                                        if len(rnd) == len(seeds) and base else None)}
    ok = [n for n, v in rows.items()
          if v['adv_ratio_median'] >= THRESHOLD and v['adv_mi_ng_median'] >= TARGET_MI_NG
          and v['rnd_ratio_min'] is not None and v['rnd_ratio_min'] >= THRESHOLD]
    ok.sort(key=lambda n: (-rows[n]['adv_ratio_min'], -rows[n]['adv_mi_ng_median']))
    pick = ok[0] if ok else None
    return {'rule': f'admissible: median over seeds of adversarial val Recall@20 / Retrain >= '
                    f'{THRESHOLD}, median adversarial MI-NG >= {TARGET_MI_NG}, min over seeds '
                    f'of random val Recall@20 / default config >= {THRESHOLD}; pick the '
                    'largest min adversarial Recall ratio (ties: median MI-NG); none: no pick',
            'rows': rows, 'admissible': ok, 'pick': pick,
            'pick_kwargs': ({k: rows[pick][k] for k in KEYS} if pick else None)}


def select_round2(records: List[Dict[str, Any]], seeds: List[int]) -> Dict[str, Any]:
    r"""Round 2's pre-declared rule (module docstring): the random guard is relative to
    Retrain on the same random request, with ``default``'s median ratio - 0.01 as the bar."""
    rows = {}
    for name in dict.fromkeys(r['variant'] for r in records):
        adv = [r for r in records if r['variant'] == name and r['protocol'] == 'adversarial']
        rnd = [r for r in records if r['variant'] == name and r['protocol'] == 'random']
        if sorted(r['seed'] for r in adv) != sorted(seeds) or \
                sorted(r['seed'] for r in rnd) != sorted(seeds):
            continue  # incomplete (deadline): not judged
        ratios = [r['val_recall@20'] / r['val_recall_retrain'] for r in adv]
        rnd_ratios = [r['val_recall@20'] / r['val_recall_retrain'] for r in rnd]
        rows[name] = {**{k: adv[0][k] for k in KEYS},
                      'adv_ratio_median': statistics.median(ratios),
                      'adv_ratio_min': min(ratios),
                      'adv_mi_ng_median': statistics.median(r['mi_ng'] for r in adv),
                      'rnd_ratio_median': statistics.median(rnd_ratios),
                      'rnd_ratio_min': min(rnd_ratios)}
    bar = rows['default']['rnd_ratio_median'] - 0.01 if 'default' in rows else None
    ok = [n for n, v in rows.items()
          if v['adv_ratio_median'] >= THRESHOLD and v['adv_mi_ng_median'] >= TARGET_MI_NG
          and bar is not None and v['rnd_ratio_median'] >= bar]
    ok.sort(key=lambda n: (-rows[n]['adv_ratio_min'], -rows[n]['adv_mi_ng_median']))
    pick = ok[0] if ok else None
    return {'round': 2,
            'rule': f'admissible: median over seeds of adversarial val Recall@20 / Retrain >= '
                    f'{THRESHOLD}, median adversarial MI-NG >= {TARGET_MI_NG}, median over '
                    'seeds of random val Recall@20 / Retrain (same random request) >= '
                    "default's median of that ratio - 0.01; pick the largest min adversarial "
                    'Recall ratio (ties: median MI-NG); none: no pick',
            'random_guard_bar': bar, 'rows': rows, 'admissible': ok, 'pick': pick,
            'pick_kwargs': ({k: rows[pick][k] for k in KEYS} if pick else None)}


def table(records: List[Dict[str, Any]]) -> str:
    base = {r['seed']: r['val_recall@20'] for r in records
            if r['protocol'] == 'random' and r['variant'] == 'default'}
    vs_retrain = any(r['protocol'] == 'random' and r['val_recall_retrain'] for r in records)
    ref = 'Retrain' if vs_retrain else 'default'  # round 2 / round 1
    lines = ['| candidate | adversarial: val Recall / Retrain (median) [per seed] | '
             'adversarial: MI-NG (median) [per seed] | random: val Recall / '
             f'{ref} (median) [per seed] | fit s (median) |', '|---|---|---|---|---|']

    def fmt(vals, f='.3f'):
        if not vals:
            return '—'
        return f'{statistics.median(vals):{f}} [' + ', '.join(f'{v:{f}}' for v in vals) + ']'

    for name in dict.fromkeys(r['variant'] for r in records):
        adv = [r for r in records if r['variant'] == name and r['protocol'] == 'adversarial']
        rnd = [r for r in records if r['variant'] == name and r['protocol'] == 'random']
        lines.append('| ' + ' | '.join([
            name, fmt([r['val_recall@20'] / r['val_recall_retrain'] for r in adv]),
            fmt([r['mi_ng'] for r in adv]),
            fmt([r['val_recall@20'] / r['val_recall_retrain'] for r in rnd] if vs_retrain else
                [r['val_recall@20'] / base[r['seed']] for r in rnd if r['seed'] in base]),
            f"{statistics.median(r['fit_seconds'] for r in adv + rnd):.1f}"]) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    seeds = [int(s) for s in args.seeds.split(',')]
    cands = candidates(args)
    print(f'{len(cands)} candidates x {len(seeds)} seeds', flush=True)
    data = load_dataset(args.dataset, root=args.root)
    t0, load0 = time.perf_counter(), os.getloadavg()
    prepared, records = {}, []
    for seed in seeds:  # backbones, requests and Retrain once per seed
        p = protocols(args, data, seed)
        t1 = time.perf_counter()
        retrain = Unlearner(copy.deepcopy(p['original']), build_algorithm('retrain', args),
                            task=p['task'])
        retrain.fit(p['attacked'])
        res = retrain.unlearn(p['adv'])
        p['retrain_val'] = p['task'].evaluate(res.model, res.data)['recall@20']
        p['retrain_val_random'] = None
        if args.round == 2:  # round 2: Retrain of the random request too (the guard's reference)
            retrain = Unlearner(copy.deepcopy(p['model']), build_algorithm('retrain', args),
                                task=p['task'])
            retrain.fit(p['sel'])
            res = retrain.unlearn(p['request'])
            p['retrain_val_random'] = p['task'].evaluate(res.model, res.data)['recall@20']
            print(f"seed={seed} retrain (random request) "
                  f"val_recall={p['retrain_val_random']:.4f}", flush=True)
        p['caches'] = {'adversarial': {}, 'random': {}}
        print(f"seed={seed} retrain val_recall={p['retrain_val']:.4f} "
              f't={time.perf_counter() - t1:.1f}s', flush=True)
        prepared[seed] = p

    def flush() -> None:
        write_selection(args.out, 'select_pretrain_simgcl.py', argv,
                        select(records, seeds, args.round), records, table(records), t0, load0)

    for cand in cands:  # candidate-major, so that a partial grid has both seeds per candidate
        for seed in seeds:
            p = prepared[seed]
            records.append(serve(args, p, cand, 'adversarial', seed, p['retrain_val'],
                                 p['caches']['adversarial']))
        if args.round == 2 or cand['name'] == 'default' or \
                passes_adversarial(records, cand['name']):
            for seed in seeds:
                p = prepared[seed]
                records.append(serve(args, p, cand, 'random', seed, p['retrain_val_random'],
                                     p['caches']['random']))
        flush()
    choice = select(records, seeds, args.round)
    print(table(records))
    print(json.dumps({k: v for k, v in choice.items() if k != 'rows'}, indent=1))
    flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())

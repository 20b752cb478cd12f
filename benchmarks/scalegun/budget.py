r"""ScaleGUN's certification budget against the number of requests served (issue 9: "certified
unlearning: ScaleGUN budget vs requests").

A stream of sequential single-edge removals (random edges touching training nodes of Cora's
graph, drawn from ``--seed``) is served by one :class:`~torch_geometric_unlearn.algorithm.
ScaleGUN` per noise level ``--stds``. After every request the certificate is read: the fraction
of the budget spent (data-dependent term + propagation term), and how many retrains with fresh
noise ScaleGUN needed so far to stay certified. Test accuracy is recorded every
``--eval-every`` requests. ScaleGUN's own defaults are used for everything else (lam, r_max,
(epsilon, delta)).

Writes two scaling files (read by ``benchmarks/make_tables.py``, which plots them):

    OMP_NUM_THREADS=1 python benchmarks/scalegun/budget.py --requests 200 --stds 0.1,0.05,1 \
        --lams 1e-2 --seed 0 --out-dir benchmarks/scalegun/results

``budget_spent.json`` (spent / budget vs request) and ``budget_retrains.json`` (cumulative
retrains vs request); a summary line per noise level is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from torch_geometric_unlearn.algorithm.scalegun import ScaleGUN
from torch_geometric_unlearn.datasets.planetoid import load_planetoid
from torch_geometric_unlearn.request import UnlearningRequest


def accuracy(alg: ScaleGUN, data: Any) -> float:
    pred = alg.model().argmax(-1)
    return float((pred[data.test_mask] == data.y[data.test_mask]).float().mean())


def stream(data: Any, std: float, pick: torch.Tensor, seed: int, eval_every: int,
           lam: Optional[float] = None) -> Dict[str, Any]:
    alg = ScaleGUN(std=std, seed=seed) if lam is None else ScaleGUN(std=std, lam=lam, seed=seed)
    alg.fit(None, data)
    cert = alg.certificate
    out: Dict[str, Any] = {'std': std, 'budget': cert.budget, 'lam': alg.lam,
                           'acc_start': accuracy(alg, data), 'points': []}
    cur, seconds = data, []
    for i in range(pick.size(1)):
        t = time.perf_counter()
        cur = alg.forward(None, cur, UnlearningRequest.edges(pick[:, i:i + 1])).data
        seconds.append(time.perf_counter() - t)
        cert = alg.certificate
        assert cert.certified, 'ScaleGUN served a request over budget'
        point = {'request': i + 1, 'spent_fraction': cert.spent / cert.budget,
                 'data_term': cert.data_term, 'propagation_term': cert.propagation_term,
                 'retrained': cert.retrained}
        if (i + 1) % eval_every == 0 or i + 1 == pick.size(1):
            point['accuracy'] = accuracy(alg, cur)
        out['points'].append(point)
    out['acc_end'] = accuracy(alg, cur)
    out['retrains'] = alg.certificate.retrained
    out['median_request_seconds'] = sorted(seconds)[len(seconds) // 2]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--requests', type=int, default=200)
    p.add_argument('--stds', default='0.1,0.05,1',
                   help='noise levels sigma (one stream each; the first is plotted in '
                   'budget_spent.json)')
    p.add_argument('--lams', default='',
                   help='extra streams at sigma = the first of --stds with these lam values '
                   '(compared with the default lam)')
    p.add_argument('--split', default='public')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--eval-every', type=int, default=25)
    p.add_argument('--out-dir', default=str(Path(__file__).resolve().parent / 'results'))
    args = p.parse_args()
    warnings.filterwarnings('ignore', category=UserWarning)
    data = load_planetoid('Cora', split=args.split)
    g = torch.Generator().manual_seed(args.seed)
    ei = data.edge_index
    und = ei[:, (ei[0] < ei[1]) & (data.train_mask[ei[0]] | data.train_mask[ei[1]])]
    pick = und[:, torch.randperm(und.size(1), generator=g)[:args.requests]]
    stds = [float(s) for s in args.stds.split(',')]
    streams = [stream(data, s, pick, args.seed, args.eval_every) for s in stds]
    streams += [stream(data, stds[0], pick, args.seed, args.eval_every, lam=float(lam))
                for lam in args.lams.split(',') if lam.strip()]
    command = ('OMP_NUM_THREADS=1 python benchmarks/scalegun/budget.py '
               f'--requests {args.requests} --stds {args.stds} '
               + (f'--lams {args.lams} ' if args.lams else '') +
               f'--split {args.split} '
               f'--seed {args.seed}')
    machine = (f'2 shared cores, load {os.getloadavg()[0]:.1f} at the end, '
               f'torch threads {torch.get_num_threads()}')
    for key, y, title, logy in [
            ('spent_fraction', 'spent / budget', 'ScaleGUN on Cora: budget spent vs requests '
             '(single-edge removals)', False),
            ('retrained', 'retrains so far', 'ScaleGUN on Cora: retrains with fresh noise vs '
             'requests', False)]:
        # The spent fraction is a saw-tooth (reset by every retrain): one noise level (the
        # first) keeps it readable; the cumulative retrains compare all of them.
        shown = streams[:1] if key == 'spent_fraction' else streams
        records: List[Dict[str, Any]] = [
            {'series': f"lam={s['lam']:g}, sigma={s['std']:g} (budget {s['budget']:.3g})",
             'x': pt['request'],
             'y': pt[key], **({'accuracy': pt['accuracy']} if 'accuracy' in pt else {})}
            for s in shown for pt in s['points']]
        doc = {'kind': 'scaling', 'title': title, 'command': command, 'machine': machine,
               'x': 'requests served', 'y': y, 'logx': False, 'logy': logy, 'marker': '',
               'split': args.split, 'lam': streams[0]['lam'],
               'summary': [{k: v for k, v in s.items() if k != 'points'} for s in streams],
               'records': records}
        name = 'budget_spent.json' if key == 'spent_fraction' else 'budget_retrains.json'
        path = Path(args.out_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + '\n')
        print(f'wrote {path}')
    for s in streams:
        print(f"lam={s['lam']:g}, sigma={s['std']:g}: budget {s['budget']:.4f}, accuracy {s['acc_start']:.3f} -> "
              f"{s['acc_end']:.3f}, {s['retrains']} retrains over {args.requests} requests, "
              f"final spent {s['points'][-1]['spent_fraction']:.3f} of budget, median "
              f"{s['median_request_seconds'] * 1e3:.1f} ms/request")


if __name__ == '__main__':
    main()

r"""Partition time vs graph size for every GraphEraser partitioner (scaling records for plots).

Runs ``partition_bench.py`` once per (size, partitioner) in a subprocess with a time limit, on
planted-community graphs with 40 communities and ~7 directed edges per node:
16,934 / ~117k, 169,343 / ~1.2M and 1,693,430 / ~11.7M nodes / edges (the last only for the
partitioners listed in --large-methods). Writes one JSON object in the repository's scaling
format to --out (default ``results/scaling_partition.json``).

Command: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/graph_eraser/scaling.py``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = {'random': 'random', 'blpa': 'BLPA', 'bekm': 'BEKM',
          'community': 'community (igraph Leiden)',
          'community_torch': 'community (PyTorch Louvain)',
          'community_igraph': 'community (igraph Louvain)'}


def load() -> str:
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='16934:117000,169343:1200000,1693430:11700000')
    p.add_argument('--methods', default='random,blpa,bekm,community,community_torch,'
                                        'community_igraph')
    p.add_argument('--large-methods', default='random,blpa,bekm,community')
    p.add_argument('--igraph-max-nodes', type=int, default=200_000,
                   help='community_igraph only up to this many nodes')
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--limit', type=int, default=600, help='seconds per run')
    p.add_argument('--out', default=str(HERE / 'results' / 'scaling_partition.json'))
    args = p.parse_args()
    sizes = [tuple(int(v) for v in s.split(':')) for s in args.sizes.split(',')]
    largest = max(n for n, _ in sizes)
    records, loads = [], []
    for n, e in sizes:
        methods = args.methods.split(',')
        if n == largest and len(sizes) > 1:
            methods = [m for m in methods if m in args.large_methods.split(',')]
        for m in methods:
            if m == 'community_igraph' and n > args.igraph_max_nodes:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, 'row.json')
                cmd = [sys.executable, str(HERE / 'partition_bench.py'), '--nodes', str(n),
                       '--edges', str(e), '--methods', m, '--repeats', str(args.repeats),
                       '--out', out]
                before = load()
                try:
                    subprocess.run(cmd, check=True, timeout=args.limit,
                                   stdout=subprocess.DEVNULL)
                except subprocess.TimeoutExpired:
                    print(f'{m} at {n} nodes: timed out after {args.limit} s', flush=True)
                    records.append({'series': LABELS[m], 'x': e, 'y': None, 'nodes': n,
                                    'timed_out_after_s': args.limit, 'load': before})
                    continue
                row = json.load(open(out))[0]
            after = load()
            loads += [before, after]
            for t in row['seconds']:
                records.append({'series': LABELS[m], 'x': row['edges'], 'y': t, 'nodes': n,
                                'modularity': row['modularity'], 'balance': row['balance'],
                                'mean_conductance': row['mean_conductance'],
                                'load_before': before, 'load_after': after})
            print(json.dumps(records[-1]), flush=True)
    one = [float(x.split()[0]) for x in loads] or [0.0]
    result = {'kind': 'scaling',
              'title': 'GraphEraser partitioners: partition time vs graph size '
                       '(planted graph, 40 communities, 20 shards)',
              'command': 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/graph_eraser/scaling.py',
              'machine': f'2 shared cores, load {min(one):.1f}-{max(one):.1f}, '
                         'OMP_NUM_THREADS=1',
              'x': 'directed edges', 'y': 'seconds', 'logx': True, 'logy': True,
              'records': [r for r in records if r['y'] is not None],
              'timed_out': [r for r in records if r['y'] is None]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()

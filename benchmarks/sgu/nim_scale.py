r"""NIM selection time and peak memory against graph size on synthetic citation-like graphs
(arxiv-size: 169,343 nodes, ~1.17M undirected edges, 128 features, 40 classes; smaller sizes
keep the average degree), generated in O(E) with torch.

Every (size, ratio) point runs in a fresh child process, so its peak RSS is its own: the
record keeps the process peak (graph and soft labels included) and the part above the RSS
after building the graph (NIM's own working memory).

    OMP_NUM_THREADS=1 python benchmarks/sgu/nim_scale.py --json results/scaling_nim.json
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch
from torch_geometric.data import Data

from torch_geometric_unlearn.influence.nim import NIM
from torch_geometric_unlearn.request import UnlearningRequest

ARXIV_NODES, ARXIV_EDGES = 169_343, 1_166_243


def arxiv_like(n: int = ARXIV_NODES, m: int = ARXIV_EDGES, f: int = 128, c: int = 40,
               seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (m, ), generator=g)
    # Local edges (a window of ids, like a citation graph's communities) and no self-loops.
    dst = (src + torch.randint(1, min(2000, n - 1), (m, ), generator=g)) % n
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    x = torch.randn(n, f, generator=g)
    soft = torch.softmax(torch.randn(n, c, generator=g) * 3, dim=-1)
    return Data(x=x, edge_index=edge_index, num_nodes=n), soft


def _rss_mb() -> float:
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def child(n: int, ratio: float, runs: int, num_similar: int) -> dict:
    torch.set_num_threads(1)
    m = int(round(ARXIV_EDGES * n / ARXIV_NODES))
    data, soft = arxiv_like(n, m)
    base = _rss_mb()
    count = max(1, int(ratio * n))
    req = UnlearningRequest.nodes(torch.randperm(n, generator=torch.Generator().manual_seed(1))
                                  [:count])
    nim = NIM(num_hops=2, num_similar=num_similar)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        hie = nim(data, req, soft_labels=soft)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {'nodes': n, 'undirected_edges': m, 'removed': count, 'budget':
            nim.resolve_budget(count), 'hie': int(hie.numel()), 'seconds': times,
            'peak_rss_mb': peak, 'rss_after_graph_mb': base, 'num_similar': num_similar,
            'load': os.getloadavg()[0]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default=f'16934,{ARXIV_NODES}')
    p.add_argument('--ratios', default='0.005,0.05')
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--num-similar', type=int, default=0)
    p.add_argument('--json', default=None, help='write the scaling record here')
    p.add_argument('--child', nargs=2, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is not None:
        print(json.dumps(child(int(a.child[0]), float(a.child[1]), a.runs, a.num_similar)))
        return
    load0 = os.getloadavg()[0]
    records = []
    for ratio in [float(r) for r in a.ratios.split(',')]:
        for n in [int(s) for s in a.sizes.split(',')]:
            out = subprocess.run([sys.executable, '-W', 'ignore', __file__, '--child', str(n),
                                  str(ratio), '--runs', str(a.runs), '--num-similar',
                                  str(a.num_similar)], check=True, capture_output=True,
                                 text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"n={r['nodes']:7d} E={r['undirected_edges']:8d} |U|={r['removed']:5d} "
                  f"HIE={r['hie']:6d} (budget {r['budget']}) seconds "
                  f"{', '.join(f'{t:.2f}' for t in r['seconds'])}; peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB ({r['peak_rss_mb'] - r['rss_after_graph_mb']:.0f}"
                  f" MB above the graph); load {r['load']:.1f}", flush=True)
            for t in r['seconds']:
                rec = {k: v for k, v in r.items() if k != 'seconds'}
                rec.update({'series': f'NIM select, {100 * ratio:g}% of nodes removed',
                            'x': r['nodes'], 'y': t})
                records.append(rec)
    if a.json:
        loads = [load0] + [r['load'] for r in records]
        cmd = ('OMP_NUM_THREADS=1 python benchmarks/sgu/nim_scale.py --sizes ' + a.sizes +
               ' --ratios ' + a.ratios + f' --runs {a.runs} --json {a.json}')
        doc = {'kind': 'scaling', 'title': 'NIM selection time vs graph size (synthetic '
               'citation-like graphs, avg degree 13.8, 128 features, K=2, budget 3|U|)',
               'command': cmd, 'machine': f'2 shared cores, load {min(loads):.1f}-'
               f'{max(loads):.1f}, OMP_NUM_THREADS=1', 'x': 'nodes', 'y': 'seconds',
               'logx': True, 'logy': True, 'records': records}
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, 'w') as fh:
            json.dump(doc, fh, indent=1)


if __name__ == '__main__':
    main()

r"""NIM selection time and peak memory on a synthetic arxiv-size graph (169,343 nodes,
~1.17M undirected edges, 128 features, 40 classes), generated in O(E) with torch."""
import os
import resource
import time

import torch
from torch_geometric.data import Data

from torch_geometric_unlearn.influence.nim import NIM
from torch_geometric_unlearn.request import UnlearningRequest


def arxiv_like(n: int = 169_343, m: int = 1_166_243, f: int = 128, c: int = 40, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (m, ), generator=g)
    # Local edges (a window of ids, like a citation graph's communities) and no self-loops.
    dst = (src + torch.randint(1, 2000, (m, ), generator=g)) % n
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    x = torch.randn(n, f, generator=g)
    soft = torch.softmax(torch.randn(n, c, generator=g) * 3, dim=-1)
    return Data(x=x, edge_index=edge_index, num_nodes=n), soft


def main() -> None:
    data, soft = arxiv_like()
    print(f'graph: {data.num_nodes} nodes, {data.edge_index.size(1) // 2} undirected edges, '
          f'{data.num_features} features; torch threads={torch.get_num_threads()}; '
          f'load average {os.getloadavg()[0]:.1f}')
    for ratio in (0.005, 0.05):
        count = int(ratio * data.num_nodes)
        req = UnlearningRequest.nodes(torch.randperm(data.num_nodes,
                                                     generator=torch.Generator().manual_seed(1))[:count])
        configs = ({}, {'num_similar': 5}) if ratio < 0.01 else ({}, )
        for kw in configs:
            nim = NIM(num_hops=2, **kw)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                hie = nim(data, req, soft_labels=soft)
                times.append(time.perf_counter() - t)
            times.sort()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f'|U|={count:6d} {str(kw or "neighbourhood only"):<20} HIE={hie.numel():6d} '
                  f'(budget {3 * count}) median {times[len(times) // 2]:.2f}s (min {times[0]:.2f}s, {len(times)} runs) '
                  f'process peak RSS so far {rss:.0f} MB; load {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()

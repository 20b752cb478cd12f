r"""Partition quality and time of GraphEraser's partitioners on a synthetic planted-community
graph (default 169,343 nodes / ~1.2M directed edges, ogbn-arxiv's size), generated with torch in
O(E) memory. Prints one JSON line per partitioner (median time over --repeats).

Partitioners: random, blpa, bekm, community (default backend "fast": igraph's Leiden when igraph
is installed, else the vectorised PyTorch Louvain), community_torch (PyTorch Louvain),
community_igraph (igraph's classic Louvain, community_multilevel)."""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from torch_geometric_unlearn.partition import (bekm, blpa, community_partition,
                                               partition_stats, random_partition)


def planted_graph(num_nodes: int, num_edges: int, num_communities: int, p_in: float = 0.8,
                  seed: int = 0):
    r"""Undirected random graph (both directions, ~:obj:`num_edges` in all): each edge keeps
    its source's community with probability :obj:`p_in`, else joins a uniform random node."""
    g = torch.Generator().manual_seed(seed)
    comm = torch.randint(0, num_communities, (num_nodes, ), generator=g)
    order = torch.argsort(comm)
    sizes = torch.bincount(comm, minlength=num_communities)
    start = torch.cumsum(sizes, 0) - sizes
    m = num_edges // 2
    src = torch.randint(0, num_nodes, (m, ), generator=g)
    cs = comm[src]
    off = (torch.rand(m, generator=g) * sizes[cs]).long()
    dst = torch.where(torch.rand(m, generator=g) < p_in, order[start[cs] + off],
                      torch.randint(0, num_nodes, (m, ), generator=g))
    keep = src != dst
    ei = torch.stack([src[keep], dst[keep]])
    return torch.cat([ei, ei.flip(0)], 1), comm


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--nodes', type=int, default=169_343)
    p.add_argument('--edges', type=int, default=1_200_000)
    p.add_argument('--communities', type=int, default=40)
    p.add_argument('--shards', type=int, default=20)
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--methods', default='random,blpa,bekm,community')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', default=None)
    args = p.parse_args()
    ei, comm = planted_graph(args.nodes, args.edges, args.communities)
    ei, n, k = ei.to(args.device), args.nodes, args.shards
    # BEKM input: noisy 16-d embeddings of the planted communities (stand-in for a GNN's).
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(args.communities, 16, generator=g)
    emb = (centers[comm] + 0.5 * torch.randn(n, 16, generator=g)).to(args.device)
    fns = {'random': lambda: random_partition(n, k, device=args.device),
           'blpa': lambda: blpa(ei, n, k), 'bekm': lambda: bekm(emb, k),
           'community': lambda: community_partition(ei, n, k),  # backend 'fast': Leiden
           'community_torch': lambda: community_partition(ei, n, k, backend='torch'),
           'community_igraph': lambda: community_partition(ei, n, k, backend='igraph')}
    rows = []
    print(json.dumps({'nodes': n, 'edges': int(ei.size(1)), 'shards': k,
                      'planted_communities': args.communities}))
    for name in args.methods.split(','):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            shards = fns[name]()
            if shards.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        row = {'partitioner': name, 'seconds_median': statistics.median(times),
               'seconds': times, 'nodes': n, 'edges': int(ei.size(1)),
               'planted_communities': args.communities,
               **partition_stats(ei, shards, k)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()

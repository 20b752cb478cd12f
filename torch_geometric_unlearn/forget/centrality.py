"""Structural centralities of a graph, vectorised (no dense N x N): degree, PageRank and the
size of the :math:`L`-hop receptive field."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor


def degree(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""In-degree of every node (float)."""
    return torch.zeros(num_nodes, device=edge_index.device).index_add_(
        0, edge_index[1], torch.ones(edge_index.size(1), device=edge_index.device))


def pagerank(edge_index: Tensor, num_nodes: int, alpha: float = 0.85, iterations: int = 100,
             tol: float = 1e-10) -> Tensor:
    r"""PageRank by power iteration with scatter-adds (dangling nodes teleport uniformly).

    Args:
        edge_index (torch.Tensor): Edges :obj:`[2, E]` (source, target).
        num_nodes (int): Number of nodes.
        alpha (float, optional): Damping factor. (default: :obj:`0.85`)
        iterations (int, optional): Maximum iterations. (default: :obj:`100`)
        tol (float, optional): L1 convergence tolerance. (default: :obj:`1e-10`)
    """
    src, dst = edge_index[0], edge_index[1]
    out_deg = torch.zeros(num_nodes, dtype=torch.double, device=edge_index.device)
    out_deg.index_add_(0, src, torch.ones(src.numel(), dtype=torch.double,
                                          device=edge_index.device))
    pr = torch.full((num_nodes,), 1.0 / num_nodes, dtype=torch.double, device=edge_index.device)
    dangling = out_deg == 0
    inv = torch.where(dangling, torch.zeros_like(out_deg), 1.0 / out_deg.clamp_min(1))
    for _ in range(iterations):
        new = torch.zeros_like(pr).index_add_(0, dst, (pr * inv)[src])
        new = alpha * (new + pr[dangling].sum() / num_nodes) + (1 - alpha) / num_nodes
        done = float((new - pr).abs().sum()) < tol
        pr = new
        if done:
            break
    return pr.float()


def khop_incidence(edge_index: Tensor, num_nodes: int, sources: Tensor, hops: int = 2
                   ) -> Tensor:
    r"""Sparse boolean incidence :obj:`[len(sources), N]` (COO, coalesced) of the
    :math:`L`-hop neighbourhood (including the node itself) of every source: the nodes whose
    :math:`L`-layer GNN output depends on it. Built by :math:`L` sparse-sparse products,
    never densely."""
    device = edge_index.device
    n_s = sources.numel()
    adj = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1), device=device),
                                  (num_nodes, num_nodes), check_invariants=False).coalesce()
    # Undirected reach: messages flow along edges, removals affect both endpoints.
    adj = (adj + adj.t()).coalesce()
    cur = torch.sparse_coo_tensor(torch.stack([torch.arange(n_s, device=device),
                                               sources.to(device)]),
                                  torch.ones(n_s, device=device), (n_s, num_nodes),
                                  check_invariants=False).coalesce()
    reach = cur
    for _ in range(hops):
        with warnings.catch_warnings():  # torch's "sparse support is in beta" notices
            warnings.simplefilter('ignore', UserWarning)
            cur = torch.sparse.mm(cur, adj).coalesce()
        cur = torch.sparse_coo_tensor(cur.indices(), torch.ones_like(cur.values()),
                                      cur.shape, check_invariants=False).coalesce()
        reach = (reach + cur).coalesce()
    return torch.sparse_coo_tensor(reach.indices(), torch.ones_like(reach.values()),
                                   reach.shape, check_invariants=False).coalesce()


def rank_normalise(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Percentile ranks in :math:`(0, 1]`, so scores of different scales (losses,
    centralities) can be combined. Ties are broken at random with :obj:`generator`, or by
    index order when it is :obj:`None`."""
    n = x.numel()
    if n == 0:
        return x.float()
    if generator is None:  # deterministic: ties keep index order (never the global RNG)
        order = torch.argsort(x.float(), stable=True)
    else:
        jitter = torch.rand(n, generator=generator).to(x.device) * 1e-6 * \
            (x.float().abs().max().clamp_min(1e-12))
        order = torch.argsort(x.float() + jitter)
    ranks = torch.empty(n, device=x.device)
    ranks[order] = torch.arange(1, n + 1, device=x.device, dtype=torch.float)
    return ranks / n

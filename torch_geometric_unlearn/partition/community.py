r"""Community detection for partition-based unlearning (GraphEraser's community partitioner and
CGE, Issue 5).

* :func:`louvain`: modularity-maximising Louvain communities (Blondel et al., 2008) through
  a vectorised PyTorch implementation (CPU/GPU), igraph (optional; classic Louvain or Leiden),
  networkx or python-louvain; always contiguous ids, seeded.
* :func:`refine_communities`: the practical stand-in for CGE's OSLOM refinement (see
  ``ALGORITHMS.md`` section 3): communities larger than a size cap, or with poor conductance,
  are split recursively by Louvain on their induced sub-graph; optional overlapping
  memberships.
* :func:`modularity` and :func:`conductance`: vectorised quality measures (no dense
  :math:`N \times N` tensors).
"""
from __future__ import annotations

import random
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

_TOL = 1e-3
BACKENDS = ('auto', 'fast', 'torch', 'igraph', 'leiden', 'networkx', 'python-louvain')


def _simple_undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""Unique undirected edges :obj:`[2, E']` with :obj:`row < col` (self-loops dropped)."""
    edge_index = edge_index.detach().to('cpu', torch.long)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f'edge_index must have shape [2, E], got {tuple(edge_index.shape)}')
    if edge_index.numel() > 0 and (int(edge_index.min()) < 0
                                   or int(edge_index.max()) >= num_nodes):
        raise ValueError(f'edge_index holds node ids outside [0, {num_nodes})')
    row, col = edge_index
    lo, hi = torch.minimum(row, col), torch.maximum(row, col)
    keep = lo != hi
    key = torch.unique(lo[keep] * num_nodes + hi[keep])
    return torch.stack([key // num_nodes, key % num_nodes])


def relabel_contiguous(communities: Tensor) -> Tensor:
    r"""Relabels community ids to :obj:`0..K-1` in order of first appearance (ids :obj:`< 0`,
    i.e. "no community", are kept as :obj:`-1`)."""
    communities = communities.long()
    out = torch.full_like(communities, -1)
    valid = communities >= 0
    if not bool(valid.any()):
        return out
    vals = communities[valid]
    uniq, inverse = torch.unique(vals, return_inverse=True)
    pos = torch.arange(vals.numel(), device=vals.device)
    first = torch.full((uniq.numel(), ), vals.numel(), dtype=torch.long, device=vals.device)
    first = first.scatter_reduce(0, inverse, pos, reduce='amin')
    rank = torch.empty_like(first)
    rank[first.argsort()] = torch.arange(uniq.numel(), device=vals.device)
    out[valid] = rank[inverse]
    return out


def _backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown Louvain backend '{backend}' (expected one of {BACKENDS})")
    if backend not in ('auto', 'fast'):
        return backend
    try:
        import igraph  # noqa: F401
        return 'igraph' if backend == 'auto' else 'leiden'
    except ImportError:
        return 'networkx' if backend == 'auto' else 'torch'


def _local_moving(row: Tensor, col: Tensor, w: Tensor, num_nodes: int, resolution: float,
                  gen: torch.Generator, max_iters: int, tol: float) -> Tensor:
    r"""Parallel local-moving phase of Louvain on a weighted graph given as symmetric directed
    entries :obj:`(row, col, w)` (self-loops allowed, total weight :math:`2m`). Every round
    computes, for all nodes at once, the modularity gain of joining each neighbouring
    community (one :func:`torch.unique` over the edges), and a seeded random half of the nodes
    that can improve move to their best community. Stops when no node can improve or a round
    raised the modularity by less than :obj:`tol`. Returns the (non-contiguous) community of
    every node."""
    device, n = row.device, num_nodes
    deg = torch.zeros(n, dtype=w.dtype, device=device).index_add_(0, row, w)
    comm = torch.arange(n, device=device)
    two_m = float(w.sum())
    if two_m <= 0:
        return comm
    off = row != col  # a node's self-loop does not change when it moves
    self_w = float(w[~off].sum())
    row, col, w = row[off], col[off], w[off]
    scale = resolution / two_m
    last_q = None
    for _ in range(max_iters):
        tot = torch.zeros(n, dtype=w.dtype, device=device).index_add_(0, comm, deg)
        q = (float(w[comm[row] == comm[col]].sum()) + self_w) / two_m \
            - resolution * float((tot / two_m).pow(2).sum())
        if last_q is not None and q - last_q < tol:
            break
        last_q = q
        size = torch.bincount(comm, minlength=n)
        key, inv = torch.unique(row * n + comm[col], return_inverse=True)
        w_nc = torch.zeros(key.numel(), dtype=w.dtype, device=device).index_add_(0, inv, w)
        node, c = key // n, key % n
        own = c == comm[node]
        # Gain (times m) of joining community c, the node being taken out of its own first:
        # w(v, c) - gamma k_v tot(c \ v) / 2m.
        gain = w_nc - scale * deg[node] * (tot[c] - torch.where(own, deg[node], 0.))
        stay = -scale * deg * (tot[comm] - deg)
        stay[node[own]] = gain[own]
        gain = gain.masked_fill(own, float('-inf'))
        best = torch.full((n, ), float('-inf'), dtype=w.dtype, device=device)
        best = best.scatter_reduce(0, node, gain, 'amax')
        hit = torch.where(gain == best[node], c, torch.full_like(c, n))  # ties: smallest id
        target = torch.full((n, ), n, dtype=torch.long, device=device)
        target = target.scatter_reduce(0, node, hit, 'amin')
        want = (target < n) & (best - stay > 1e-12 * (1.0 + stay.abs()))
        if not bool(want.any()):
            break
        # Simultaneous moves can oscillate (two singletons swapping into each other's
        # community): a singleton joins another singleton only if that one has the smaller
        # id, and each candidate moves this round with probability 1/2 (seeded).
        t = target.clamp(max=n - 1)
        want &= (size[comm] > 1) | (size[t] > 1) | (t < comm)
        want &= torch.rand(n, generator=gen).to(device) < 0.5
        comm = torch.where(want, t, comm)
    return comm


def _louvain_torch(edges: Tensor, num_nodes: int, resolution: float, seed: int,
                   device: torch.device, max_levels: int = 32, max_iters: int = 100,
                   tol: float = _TOL) -> Tensor:
    r"""Vectorised Louvain (local moving + aggregation, repeated) in PyTorch on
    :obj:`device`; :obj:`edges` are unique undirected pairs."""
    gen = torch.Generator().manual_seed(int(seed))
    edges = edges.to(device)
    row = torch.cat([edges[0], edges[1]])
    col = torch.cat([edges[1], edges[0]])
    w = torch.ones(row.numel(), dtype=torch.float64, device=device)
    membership = torch.arange(num_nodes, device=device)
    n = num_nodes
    for _ in range(max_levels):
        comm = _local_moving(row, col, w, n, resolution, gen, max_iters, tol)
        _, comm = torch.unique(comm, return_inverse=True)
        k = int(comm.max()) + 1
        membership = comm[membership]
        if k == n:
            break
        # Aggregate: one node per community, edge weights summed (internal ones as self-loops).
        key, inv = torch.unique(comm[row] * k + comm[col], return_inverse=True)
        w = torch.zeros(key.numel(), dtype=w.dtype, device=device).index_add_(0, inv, w)
        row, col, n = key // k, key % k, k
    return membership


def louvain(edge_index: Tensor, num_nodes: int, resolution: float = 1.0, seed: int = 0,
            backend: str = 'auto') -> Tensor:
    r"""Louvain communities (Blondel et al., "Fast unfolding of communities in large
    networks", 2008) of the undirected simple graph underlying :obj:`edge_index`.

    Args:
        edge_index (torch.Tensor): Edges :obj:`[2, E]` (direction, duplicates and self-loops
            are ignored).
        num_nodes (int): Number of nodes; isolated nodes form singleton communities.
        resolution (float, optional): Modularity resolution :math:`\gamma` (larger gives
            smaller communities). (default: :obj:`1.0`)
        seed (int, optional): Seed of the node visiting order; the global RNGs are left
            untouched. (default: :obj:`0`)
        backend (str, optional): One of

            * :obj:`"igraph"`: igraph's C Louvain (:obj:`community_multilevel`; optional
              dependency :obj:`pip install igraph`). Fast on small and clustered graphs, but
              super-linear on large sparse ones (70-230 s on a 169k-node / 1.2M-edge planted
              graph on 2 shared cores, see :obj:`benchmarks/graph_eraser`);
            * :obj:`"leiden"`: igraph's Leiden algorithm (Traag et al., 2019: Louvain's local
              moving and aggregation plus a refinement phase that keeps communities
              connected) on the same modularity objective, 2 iterations; 2-8 s on that graph,
              with higher modularity;
            * :obj:`"torch"`: a vectorised Louvain in PyTorch, on :obj:`edge_index`'s device
              (CPU or GPU) and without extra dependencies: every local-moving round evaluates
              all (node, neighbouring community) gains at once and a seeded random half of the
              improving nodes move (synchronous moves of all of them oscillate); a level stops
              when a round raises modularity by less than :obj:`1e-3` (~22 s on that graph
              on one CPU core);
            * :obj:`"networkx"` / :obj:`"python-louvain"`: pure-Python Louvain (minutes on the
              169k-node graph);
            * :obj:`"auto"`: :obj:`"igraph"` when importable, else :obj:`"networkx"`;
            * :obj:`"fast"`: :obj:`"leiden"` when igraph is importable, else :obj:`"torch"`.

            (default: :obj:`"auto"`)

    Returns:
        torch.LongTensor: :obj:`[num_nodes]` contiguous community ids :obj:`0..K-1` (ordered by
        the smallest node id of each community), on :obj:`edge_index`'s device.
    """
    num_nodes = int(num_nodes)
    if num_nodes < 0:
        raise ValueError(f'num_nodes must be >= 0, got {num_nodes}')
    if resolution <= 0:
        raise ValueError(f'resolution must be > 0, got {resolution}')
    device = edge_index.device
    name = _backend(backend)
    if num_nodes == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    edges = _simple_undirected(edge_index, num_nodes)
    if name == 'torch':
        return relabel_contiguous(_louvain_torch(edges, num_nodes, resolution, seed,
                                                 device)).to(device)
    if name in ('igraph', 'leiden'):
        try:
            import igraph as ig
        except ImportError as e:
            raise ImportError(f"backend '{name}' needs python-igraph: pip install igraph") from e
        g = ig.Graph(n=num_nodes, edges=edges.t().numpy(), directed=False)
        # igraph draws from a process-wide generator (Python's `random` by default): swap in a
        # seeded private one and put the default back, so no global state is changed.
        ig.set_random_number_generator(random.Random(seed))
        try:
            if name == 'leiden':
                membership = g.community_leiden(objective_function='modularity',
                                                resolution=resolution,
                                                n_iterations=2).membership
            else:
                membership = g.community_multilevel(resolution=resolution).membership
        finally:
            ig.set_random_number_generator(random)
        comm = torch.tensor(membership, dtype=torch.long)
    else:
        import networkx as nx
        g = nx.Graph()
        g.add_nodes_from(range(num_nodes))
        g.add_edges_from(edges.t().tolist())
        comm = torch.empty(num_nodes, dtype=torch.long)
        if name == 'networkx':
            parts = nx.community.louvain_communities(g, resolution=resolution, seed=seed)
            for c, part in enumerate(parts):
                comm[torch.tensor(sorted(part), dtype=torch.long)] = c
        else:
            try:
                import community as community_louvain  # python-louvain
            except ImportError as e:
                raise ImportError("backend 'python-louvain' needs python-louvain: "
                                  'pip install python-louvain') from e
            part = community_louvain.best_partition(g, resolution=resolution,
                                                    random_state=seed)
            comm = torch.tensor([part[i] for i in range(num_nodes)], dtype=torch.long)
    return relabel_contiguous(comm).to(device)


def _check_communities(communities: Tensor, num_nodes: Optional[int]) -> Tuple[Tensor, int]:
    communities = communities.long()
    if communities.dim() != 1:
        raise ValueError('communities must be a 1-D tensor of community ids')
    if num_nodes is not None and communities.numel() != num_nodes:
        raise ValueError(f'communities has {communities.numel()} entries, expected {num_nodes}')
    return communities, int(communities.max()) + 1 if communities.numel() else 0


def modularity(edge_index: Tensor, communities: Tensor, edge_weight: Optional[Tensor] = None,
               resolution: float = 1.0) -> float:
    r"""Newman modularity :math:`Q = \sum_c [L_c / m - \gamma (d_c / 2m)^2]` of a partition of
    the graph :obj:`edge_index`, treated as given: pass both directions of an undirected graph
    (PyG convention), so that :math:`2m` is the total weight of :obj:`edge_index`. Nodes with
    id :obj:`-1` (no community) are ignored together with their edges.

    Args:
        edge_index (torch.Tensor): Edges :obj:`[2, E]`.
        communities (torch.Tensor): Community id per node.
        edge_weight (torch.Tensor, optional): Edge weights. (default: :obj:`None`)
        resolution (float, optional): :math:`\gamma`. (default: :obj:`1.0`)
    """
    communities, k = _check_communities(communities, None)
    row, col = edge_index
    w = torch.ones(row.numel(), device=row.device) if edge_weight is None else edge_weight.float()
    cr, cc = communities[row], communities[col]
    ok = (cr >= 0) & (cc >= 0)
    cr, cc, w = cr[ok], cc[ok], w[ok]
    two_m = float(w.sum())
    if two_m == 0 or k == 0:
        return 0.0
    inside = torch.zeros(k, device=w.device).index_add_(0, cr[cr == cc], w[cr == cc])
    degree = torch.zeros(k, device=w.device).index_add_(0, cr, w)
    return float((inside / two_m - resolution * (degree / two_m) ** 2).sum())


def conductance(edge_index: Tensor, communities: Tensor, num_communities: Optional[int] = None
                ) -> Tensor:
    r"""Conductance :math:`\phi(C) = \mathrm{cut}(C) / \min(\mathrm{vol}(C), 2m -
    \mathrm{vol}(C))` of every community (lower is better; :obj:`0` for a community with no
    edges or volume). :obj:`edge_index` holds both directions of each undirected edge.

    Returns:
        torch.Tensor: :obj:`[K]` float conductances.
    """
    communities, k = _check_communities(communities, None)
    k = k if num_communities is None else int(num_communities)
    row, col = edge_index
    cr, cc = communities[row], communities[col]
    ok = (cr >= 0) & (cc >= 0)
    cr, cc = cr[ok], cc[ok]
    ones = torch.ones(cr.numel(), device=cr.device)
    vol = torch.zeros(k, device=cr.device).index_add_(0, cr, ones)
    cut = torch.zeros(k, device=cr.device).index_add_(0, cr[cr != cc], ones[cr != cc])
    denom = torch.minimum(vol, vol.sum() - vol)
    return torch.where(denom > 0, cut / denom.clamp(min=1), torch.zeros_like(cut))


def refine_communities(edge_index: Tensor, communities: Tensor, max_size: Optional[int] = 20,
                       max_conductance: Optional[float] = None, resolution: float = 1.0,
                       seed: int = 0, backend: str = 'auto', max_depth: int = 10,
                       overlap: bool = False, overlap_threshold: float = 0.5
                       ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    r"""Refines a partition (the stand-in for CGE's OSLOM step, Li et al., AAAI'25): every
    community with more than :obj:`max_size` nodes, or with conductance above
    :obj:`max_conductance`, is split by Louvain on its induced sub-graph, recursively (at most
    :obj:`max_depth` rounds). A community that Louvain cannot split (e.g. a clique or an
    edgeless set) but that is above the size cap is cut into :math:`\lceil |C| / \text{max\_size}
    \rceil` chunks of consecutive node ids; one that only fails the conductance test is kept.

    The loop runs over communities that still need splitting (not over nodes); each split is
    one Louvain call on a small sub-graph.

    Args:
        edge_index (torch.Tensor): Edges :obj:`[2, E]`.
        communities (torch.Tensor): Initial community id per node (e.g. :func:`louvain`).
        max_size (int, optional): Size cap :math:`\theta`; :obj:`None` for none.
            (default: :obj:`20`)
        max_conductance (float, optional): Split communities whose conductance (in the whole
            graph) exceeds this; :obj:`None` disables the test. (default: :obj:`None`)
        resolution (float, optional): Louvain resolution of the splits. (default: :obj:`1.0`)
        seed (int, optional): Louvain seed. (default: :obj:`0`)
        backend (str, optional): Louvain backend, see :func:`louvain`. (default: :obj:`"auto"`)
        max_depth (int, optional): Maximum refinement rounds. (default: :obj:`10`)
        overlap (bool, optional): Also return overlapping memberships: every node keeps its
            own community and additionally joins each neighbouring community holding at least
            :obj:`overlap_threshold` of its edges. (default: :obj:`False`)
        overlap_threshold (float, optional): See :obj:`overlap`. (default: :obj:`0.5`)

    Returns:
        torch.LongTensor: contiguous refined community ids :obj:`[N]`; with :obj:`overlap=True`
        the tuple :obj:`(communities, memberships)` where :obj:`memberships` is :obj:`[2, M]`
        (node, community) pairs, the node's own community first.
    """
    if max_size is not None and max_size < 1:
        raise ValueError(f'max_size must be >= 1, got {max_size}')
    if not 0 < overlap_threshold <= 1:
        raise ValueError(f'overlap_threshold must be in (0, 1], got {overlap_threshold}')
    device = communities.device
    comm, _ = _check_communities(communities.cpu(), None)
    comm = relabel_contiguous(comm)
    n = comm.numel()
    edges = _simple_undirected(edge_index, n)
    both = torch.cat([edges, edges.flip(0)], dim=1)
    for depth in range(max_depth):
        k = int(comm.max()) + 1 if n else 0
        size = torch.bincount(comm[comm >= 0], minlength=k)
        bad = torch.zeros(k, dtype=torch.bool)
        if max_size is not None:
            bad |= size > max_size
        if max_conductance is not None:
            bad |= (conductance(both, comm, k) > max_conductance) & (size > 1)
        if not bool(bad.any()):
            break
        # Edges internal to a community to split, grouped by community.
        cr, cc = comm[edges[0]], comm[edges[1]]
        internal = (cr == cc) & bad[cr.clamp(min=0)] & (cr >= 0)
        e_int, e_comm = edges[:, internal], cr[internal]
        order = torch.argsort(e_comm, stable=True)
        e_int, e_comm = e_int[:, order], e_comm[order]
        e_ptr = torch.searchsorted(e_comm, torch.arange(k + 1))
        node_order = torch.argsort(comm, stable=True)
        n_ptr = torch.searchsorted(comm[node_order], torch.arange(k + 1))
        next_id = k
        changed = False
        for c in bad.nonzero().view(-1).tolist():
            members = node_order[n_ptr[c]:n_ptr[c + 1]]
            local = torch.full((n, ), -1, dtype=torch.long)
            local[members] = torch.arange(members.numel())
            sub = local[e_int[:, e_ptr[c]:e_ptr[c + 1]]]
            part = louvain(sub, members.numel(), resolution=resolution, seed=seed + depth,
                           backend=backend)
            if int(part.max()) == 0:  # Louvain cannot split it
                if max_size is None or members.numel() <= max_size:
                    continue
                part = torch.arange(members.numel()) // max_size
            comm[members] = torch.where(part == 0, torch.full_like(part, c),
                                        part - 1 + next_id)
            next_id += int(part.max())
            changed = True
        if not changed:
            break
        comm = relabel_contiguous(comm)
    comm = comm.to(device)
    if not overlap:
        return comm
    # Overlapping memberships: extra communities holding >= threshold of a node's edges.
    k = int(comm.max()) + 1
    row, col = both.to(device)
    deg = torch.bincount(row, minlength=n).float()
    key = torch.unique(row * k + comm[col], return_counts=True)
    (pair, count) = key
    node, c = pair // k, pair % k
    extra = (c != comm[node]) & (count.float() >= overlap_threshold * deg[node].clamp(min=1))
    own = torch.stack([torch.arange(n, device=device), comm])
    memberships = torch.cat([own, torch.stack([node[extra], c[extra]])], dim=1)
    return comm, memberships

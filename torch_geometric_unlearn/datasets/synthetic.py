r"""Synthetic graphs of any size: a planted-partition node-classification graph and a power-law
user-item graph.

Both sample their edges directly (never an :math:`N \times N` matrix): memory is
:math:`O(N + E)` and the work is a few vectorised passes and sorts over the edges. All randomness
comes from a :class:`torch.Generator` seeded with :obj:`seed`; the global random state is
neither used nor changed.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.datasets.lightgcn import build_bipartite, per_user_split
from torch_geometric_unlearn.datasets.planetoid import random_planetoid_split

# Edges are drawn in chunks of this size to bound the temporary memory of the sampler.
_CHUNK = 1 << 23
#: Largest graph (in nodes) that the :obj:`"auto"` split gives a Planetoid-style split.
PLANETOID_SPLIT_MAX_NODES = 20_000


def _sort_unique_(keys: Tensor) -> Tensor:
    r"""Sorted unique values of a CPU int64 tensor; sorts :obj:`keys` in place (NumPy's
    in-place sort needs no index array, unlike :func:`torch.sort`)."""
    arr = keys.numpy()
    arr.sort()
    if arr.size < 2:
        return keys
    keep = np.empty(arr.size, dtype=bool)
    keep[0] = True
    np.not_equal(arr[1:], arr[:-1], out=keep[1:])
    return keys if keep.all() else torch.from_numpy(arr[keep])


def _isin_sorted(keys: Tensor, sorted_keys: Tensor) -> Tensor:
    if sorted_keys.numel() == 0:
        return torch.zeros_like(keys, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, keys).clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == keys


def _draw(sample: Callable[[int], Tensor], m: int) -> Tensor:
    r"""Concatenated keys of :obj:`m` draws, sampled in chunks."""
    parts = [sample(min(_CHUNK, m - s)) for s in range(0, m, _CHUNK)]
    return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)


def _distinct_keys(sample: Callable[[int], Tensor], target: int, gen: torch.Generator,
                   first: Optional[Tensor] = None, max_rounds: int = 50) -> Tensor:
    r"""Up to :obj:`target` distinct keys: draws :obj:`target` keys, then tops up the ones lost
    to duplicates with fresh draws (over-drawing by the observed loss rate; a random subset of
    the new keys is kept when too many arrive). Returns them unsorted (a sorted base followed by
    the top-ups)."""
    drawn = _draw(sample, target - (0 if first is None else first.numel()))
    base = _sort_unique_(drawn if first is None else torch.cat([first, drawn]))
    del drawn
    extras = torch.empty(0, dtype=torch.long)
    rate = max(base.numel() / max(target, 1), 0.05)
    for _ in range(max_rounds):
        deficit = target - base.numel() - extras.numel()
        if deficit <= 0:
            break
        m = int(math.ceil(deficit / rate * 1.1)) + 16
        new = _sort_unique_(_draw(sample, m))
        new = new[~_isin_sorted(new, base)]
        new = new[~_isin_sorted(new, torch.sort(extras).values)]
        rate = max(new.numel() / m, 0.01)
        if new.numel() > deficit:
            new = new[torch.randperm(new.numel(), generator=gen)[:deficit]]
        extras = torch.cat([extras, new])
    got = base.numel() + extras.numel()
    if got < target:
        warnings.warn(f'only {got} distinct pairs could be drawn instead of {target} '
                      '(the requested graph is too dense for this sparse sampler)')
    return torch.cat([base, extras])


def _resolve_split(split: Union[str, Sequence[float]], n: int) -> Union[str, tuple]:
    if isinstance(split, str) and split == 'auto':
        return 'planetoid' if n <= PLANETOID_SPLIT_MAX_NODES else (0.6, 0.2, 0.2)
    if isinstance(split, str) and split == 'planetoid':
        return split
    if isinstance(split, str) or len(split) != 3 or min(split) < 0 or sum(split) > 1 + 1e-9:
        raise ValueError(f"split must be 'auto', 'planetoid' or three fractions (train, val, "
                         f'test) summing to at most 1, got {split!r}')
    return tuple(float(f) for f in split)


def _split_masks(y: Tensor, split: Union[str, tuple], seed: int):
    if split == 'planetoid':
        return random_planetoid_split(y, seed=seed)
    n = y.numel()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    n_tr, n_va, n_te = (int(round(f * n)) for f in split)
    masks = []
    for lo, hi in ((0, n_tr), (n_tr, n_tr + n_va), (n_tr + n_va, min(n, n_tr + n_va + n_te))):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[perm[lo:hi]] = True
        masks.append(mask)
    return tuple(masks)


def stochastic_block_model(num_nodes: int, num_edges: int, num_classes: int = 7,
                           num_features: int = 64, homophily: float = 0.8,
                           feature_signal: float = 0.3,
                           split: Union[str, Sequence[float]] = 'auto',
                           seed: int = 0) -> Data:
    r"""A planted-partition (stochastic block model) node-classification graph with
    class-correlated Gaussian features, sampled edge by edge.

    Nodes get balanced random classes. Each edge picks a uniform source node; with probability
    :obj:`homophily` its other end is a uniform node of the same class, otherwise a uniform node
    of another class (so the edge homophily is about :obj:`homophily`; with :math:`K` classes
    this is an SBM with :math:`p_{in} / p_{out} \approx h (K-1) / (1-h)`). Self loops and
    duplicates are dropped and replaced by fresh draws, so the graph has exactly
    :obj:`num_edges` undirected edges unless it is too dense to reach them (a warning says so).
    Features are :math:`x_v = \mu_{y_v} + \varepsilon_v` with class means
    :math:`\mu_k \sim \mathcal{N}(0, s^2 I)`, :math:`s` = :obj:`feature_signal`, and noise
    :math:`\varepsilon_v \sim \mathcal{N}(0, I)`.

    Cost: :math:`O(E \log E)` time and :math:`O(N F + E)` memory: edges are drawn in chunks and
    the peak is about 50 bytes per undirected edge (32 of them for the returned
    :obj:`edge_index`) plus the features. Measured CPU time: about 1 s at ogbn-arxiv size (169k
    nodes, 1.2M edges); about 40 s and a 3.3 GB peak at ogbn-products size (2.4M nodes, 62M
    edges, 64 features).

    Args:
        num_nodes (int): Number of nodes :math:`N`.
        num_edges (int): Number of undirected edges :math:`E` (the returned :obj:`edge_index`
            holds both directions, :math:`2E` columns).
        num_classes (int, optional): Number of classes :math:`K`. (default: :obj:`7`)
        num_features (int, optional): Feature dimension :math:`F`. (default: :obj:`64`)
        homophily (float, optional): Probability that an edge joins two nodes of the same
            class. (default: :obj:`0.8`)
        feature_signal (float, optional): Standard deviation :math:`s` of the class means
            (signal-to-noise ratio of the features; :obj:`0` gives uninformative features).
            (default: :obj:`0.3`)
        split (str or (float, float, float), optional): :obj:`"planetoid"` (20 training nodes per
            class, 500 validation, 1000 test), fractions :obj:`(train, val, test)` of the nodes,
            or :obj:`"auto"`: :obj:`"planetoid"` up to 20,000 nodes, else
            :obj:`(0.6, 0.2, 0.2)`. (default: :obj:`"auto"`)
        seed (int, optional): Random seed. (default: :obj:`0`)

    Returns:
        :class:`~torch_geometric.data.Data` with :obj:`x` :obj:`[N, F]`, :obj:`y` :obj:`[N]`,
        sorted undirected :obj:`edge_index` :obj:`[2, 2E]` without self loops or duplicates, and
        :obj:`train_mask`, :obj:`val_mask`, :obj:`test_mask`.
    """
    N, E, K = int(num_nodes), int(num_edges), int(num_classes)
    if N < 2 or K < 1 or K > N or E < 0 or num_features < 0:
        raise ValueError(f'invalid SBM size: num_nodes={num_nodes}, num_edges={num_edges}, '
                         f'num_classes={num_classes}, num_features={num_features}')
    if E > N * (N - 1) // 4:
        raise ValueError(f'num_edges={E} is more than half of the {N * (N - 1) // 2} possible '
                         'edges: this sampler is for sparse graphs')
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f'homophily must be in [0, 1], got {homophily}')
    split = _resolve_split(split, N)
    gen = torch.Generator().manual_seed(int(seed))

    # Balanced classes in random order; `members` lists the nodes class by class.
    perm = torch.randperm(N, generator=gen)
    y = torch.empty(N, dtype=torch.long)
    y[perm] = torch.arange(N) % K
    members = perm[torch.sort(torch.arange(N) % K, stable=True).indices]
    size = torch.bincount(y, minlength=K)
    offset = torch.cumsum(size, 0) - size

    def sample(m: int) -> Tensor:
        src = torch.randint(N, (m, ), generator=gen)
        cls = y[src]
        if K > 1:
            other = torch.rand(m, generator=gen) >= homophily
            shift = torch.randint(1, K, (m, ), generator=gen)
            cls = torch.where(other, (cls + shift) % K, cls)
        pos = (torch.rand(m, generator=gen, dtype=torch.float64) * size[cls]).long()
        dst = members[offset[cls] + torch.minimum(pos, size[cls] - 1)]
        keep = src != dst
        src, dst = src[keep], dst[keep]
        return torch.minimum(src, dst) * N + torch.maximum(src, dst)  # undirected key

    keys = _distinct_keys(sample, E, gen)  # row * N + col with row < col
    # Both directions, sorted by (row, col) like PyG's to_undirected; written into
    # preallocated buffers to keep the peak memory low on OGB-size graphs.
    m = keys.numel()
    both = torch.empty(2 * m, dtype=torch.long)
    both[:m] = keys
    torch.remainder(keys, N, out=both[m:])
    both[m:].mul_(N).add_(keys.div_(N, rounding_mode='floor'))
    del keys
    both.numpy().sort()
    edge_index = torch.empty(2, 2 * m, dtype=torch.long)
    torch.div(both, N, rounding_mode='floor', out=edge_index[0])
    torch.remainder(both, N, out=edge_index[1])
    del both

    means = torch.randn(K, int(num_features), generator=gen) * feature_signal
    x = torch.randn(N, int(num_features), generator=gen)
    for k in range(K):  # per class, not per node: avoids an [N, F] temporary
        x[y == k] += means[k]
    data = Data(x=x, y=y, edge_index=edge_index, num_nodes=N)
    split_seed = int(torch.randint(2**62, (1, ), generator=gen))
    data.train_mask, data.val_mask, data.test_mask = _split_masks(y, split, split_seed)
    return data


def _zipf_cdf(n: int, exponent: float) -> Tensor:
    w = torch.arange(1, n + 1, dtype=torch.float64).pow_(-float(exponent))
    cdf = torch.cumsum(w, 0)
    return cdf / cdf[-1]


def _draw_from(cdf: Tensor, ids: Tensor, m: int, gen: torch.Generator) -> Tensor:
    r"""Inverse-CDF sampling of :obj:`m` ids (no category limit, unlike
    :func:`torch.multinomial`)."""
    u = torch.rand(m, generator=gen, dtype=torch.float64)
    return ids[torch.searchsorted(cdf, u).clamp_(max=cdf.numel() - 1)]


def powerlaw_bipartite(num_users: int, num_items: int, num_interactions: int, seed: int = 0,
                       test_ratio: float = 0.2, user_exponent: float = 0.8,
                       item_exponent: float = 1.0) -> HeteroData:
    r"""A synthetic implicit-feedback user-item graph with power-law (Zipf-like) user activity
    and item popularity.

    User :math:`u` of activity rank :math:`r_u` and item :math:`i` of popularity rank
    :math:`r_i` (ranks assigned to ids at random) are drawn with probabilities proportional to
    :math:`r_u^{-a}` and :math:`r_i^{-b}`. Every user first gets one interaction (so none is
    isolated); the rest are drawn pair by pair, duplicates are replaced by fresh draws, and the
    graph has exactly :obj:`num_interactions` distinct pairs unless it is too dense to reach
    them. Each user's interactions are then split at random, :math:`\lfloor
    \text{test\_ratio} \cdot d_u \rfloor` to the test set (see
    :func:`~torch_geometric_unlearn.datasets.lightgcn.per_user_split`), so every user has at
    least one training interaction. Cost: :math:`O(M \log M)` time, :math:`O(U + I + M)`
    memory.

    Args:
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
        num_interactions (int): Number of distinct interactions :math:`M \geq U`.
        seed (int, optional): Random seed. (default: :obj:`0`)
        test_ratio (float, optional): Share of each user's interactions held out for testing.
            (default: :obj:`0.2`)
        user_exponent (float, optional): Zipf exponent :math:`a` of user activity.
            (default: :obj:`0.8`)
        item_exponent (float, optional): Zipf exponent :math:`b` of item popularity.
            (default: :obj:`1.0`)

    Returns:
        :class:`~torch_geometric.data.HeteroData` with the bipartite convention of
        :mod:`~torch_geometric_unlearn.datasets.lightgcn`.
    """
    U, I, M = int(num_users), int(num_items), int(num_interactions)
    if U < 1 or I < 1 or M < U:
        raise ValueError(f'need num_users >= 1, num_items >= 1 and num_interactions >= '
                         f'num_users, got {num_users}, {num_items}, {num_interactions}')
    if M > U * I // 2:
        raise ValueError(f'num_interactions={M} is more than half of the {U * I} possible '
                         'pairs: this sampler is for sparse graphs')
    gen = torch.Generator().manual_seed(int(seed))
    user_ids = torch.randperm(U, generator=gen)  # activity rank -> user id
    item_ids = torch.randperm(I, generator=gen)  # popularity rank -> item id
    user_cdf, item_cdf = _zipf_cdf(U, user_exponent), _zipf_cdf(I, item_exponent)

    def sample(m: int) -> Tensor:
        return _draw_from(user_cdf, user_ids, m, gen) * I + _draw_from(item_cdf, item_ids, m,
                                                                       gen)

    first = torch.arange(U) * I + _draw_from(item_cdf, item_ids, U, gen)
    keys = _distinct_keys(sample, M, gen, first=first)
    pairs = torch.stack([keys // I, keys % I])
    split_seed = int(torch.randint(2**62, (1, ), generator=gen))
    train, test = per_user_split(pairs, U, test_ratio, split_seed)
    return build_bipartite(train, test, U, I)

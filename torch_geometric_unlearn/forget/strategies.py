"""Forget-set strategies beyond random: structural rankings, worst-case node influence,
greedy influence maximisation, edge rankings and interaction strategies.

Only training entities are candidates (training nodes that are not removed; every edge of a
transductive training graph; training user-item interactions). Ties are broken at random with
the given seed, so every strategy is reproducible.

The worst-case node-influence strategy follows Zhao, Lu & Ding, "Node-influence Based
Construction Algorithm of Approximate Worst-case Forgetting Set for Graph Unlearning" (Computer
Science 53(3), 2026; only the abstract is available to us): nodes are ranked by their training
loss combined with structural centrality, then the set is selected jointly by impact on model
performance (here: coverage of the :math:`L`-hop receptive fields, the nodes whose predictions
a removal changes) and importance (the influence score). The exact formulas of the paper are
not public: this is our reading, documented in ``docs/evaluation.md``.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.forget.centrality import degree, khop_incidence, pagerank, \
    rank_normalise
from torch_geometric_unlearn.forget.random import resolve_count, training_nodes, \
    undirected_edges
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.utils import progress


def _gen(seed: int, generator: Optional[torch.Generator]) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(int(seed))


def _node_kind(kind: str, strategy: str) -> None:
    if kind not in ('node', 'feature'):
        raise ValueError(f"strategy '{strategy}' selects nodes: use kind 'node' or 'feature', "
                         f"got '{kind}'")


def _homogeneous(data: Any, strategy: str) -> None:
    if isinstance(data, HeteroData):
        raise TypeError(f"strategy '{strategy}' needs a homogeneous Data graph")


def _node_request(kind: str, idx: Tensor, device: torch.device) -> UnlearningRequest:
    idx = idx.sort().values.to(device)
    return UnlearningRequest.nodes(idx) if kind == 'node' else UnlearningRequest.features(idx)


def _top(scores: Tensor, k: int, generator: torch.Generator, largest: bool = True) -> Tensor:
    r"""Indices of the :obj:`k` largest (smallest) scores, ties broken at random."""
    s = scores.float().cpu()
    s = s if largest else -s
    perm = torch.randperm(s.numel(), generator=generator)
    order = torch.argsort(s[perm], descending=True, stable=True)
    return perm[order[:k]]


def structural_scores(data: Data, centrality: str = 'pagerank') -> Tensor:
    r"""Centrality of every node: :obj:`"degree"`, :obj:`"pagerank"` or :obj:`"both"`
    (mean of the two percentile ranks)."""
    n = data.num_nodes
    if centrality == 'degree':
        return degree(data.edge_index, n)
    if centrality == 'pagerank':
        return pagerank(data.edge_index, n)
    if centrality == 'both':
        return 0.5 * (rank_normalise(degree(data.edge_index, n).cpu()) +
                      rank_normalise(pagerank(data.edge_index, n).cpu()))
    raise ValueError(f"unknown centrality '{centrality}' (degree | pagerank | both)")


def node_training_loss(model: torch.nn.Module, task: Any, data: Data) -> Tensor:
    r"""Per-node cross-entropy of a trained node classifier (NaN-free; labels < 0 get 0)."""
    proba = task.predict_proba(model, data).cpu()
    y = data.y.cpu().clamp_min(0)
    return -proba.gather(1, y.view(-1, 1)).view(-1).clamp_min(1e-12).log()


def node_influence_scores(data: Data, model: Optional[torch.nn.Module] = None,
                          task: Any = None, loss_weight: float = 0.5,
                          centrality: str = 'both', loss_direction: str = 'high',
                          generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Influence of every node: :math:`w \cdot r(\ell_i) + (1 - w) \cdot r(c_i)` with
    :math:`r` percentile ranks, :math:`\ell_i` the node's training loss under the trained
    :obj:`model` and :math:`c_i` its centrality (:func:`structural_scores`).

    Args:
        data (Data): The training graph.
        model (torch.nn.Module, optional): Trained model (needed when :obj:`loss_weight > 0`).
        task (NodeClassificationTask, optional): Its task (for posteriors).
        loss_weight (float, optional): Weight :math:`w` of the loss rank. (default: :obj:`0.5`)
        centrality (str, optional): See :func:`structural_scores`. (default: :obj:`"both"`)
        loss_direction (str, optional): :obj:`"high"` (hard-to-fit nodes are influential, the
            paper's reading) or :obj:`"low"` (well-fit, representative nodes).
            (default: :obj:`"high"`)
        generator (torch.Generator, optional): Tie-breaking.
    """
    if not 0 <= loss_weight <= 1:
        raise ValueError(f'loss_weight must be in [0, 1], got {loss_weight}')
    if loss_direction not in ('high', 'low'):
        raise ValueError(f"loss_direction must be 'high' or 'low', got '{loss_direction}'")
    cen = rank_normalise(structural_scores(data, centrality).cpu(), generator)
    if loss_weight == 0:
        return cen
    if model is None or task is None:
        raise ValueError('node influence with loss_weight > 0 needs a trained model= and task=')
    loss = node_training_loss(model, task, data)
    loss = loss if loss_direction == 'high' else -loss
    return loss_weight * rank_normalise(loss, generator) + (1 - loss_weight) * cen


def greedy_coverage(data: Data, candidates: Tensor, k: int, weights: Optional[Tensor] = None,
                    coverage_weight: float = 1.0, hops: int = 2,
                    generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Greedy influence maximisation: picks :obj:`k` of :obj:`candidates` maximising
    :math:`\sum_{i \in S} w_i + \lambda \, |\bigcup_{i \in S} N_L(i)| / \max_i |N_L(i)|`,
    with :math:`N_L(i)` the :math:`L`-hop receptive field (the nodes whose predictions change
    when :math:`i` is removed). The objective is monotone submodular, so greedy is within
    :math:`1 - 1/e` of the optimum. Memory: the sparse candidate x node incidence; each step
    is one vectorised segment sum over it (no dense N x N).

    Args:
        data (Data): The graph.
        candidates (torch.Tensor): Candidate node ids.
        k (int): Number to select.
        weights (torch.Tensor, optional): Per-candidate importance :math:`w_i` (aligned with
            :obj:`candidates`). (default: zeros: pure coverage)
        coverage_weight (float, optional): :math:`\lambda`. (default: :obj:`1.0`)
        hops (int, optional): :math:`L`. (default: :obj:`2`)
        generator (torch.Generator, optional): Tie-breaking.
    """
    cand = candidates.cpu().long()
    n_c = cand.numel()
    inc = khop_incidence(data.edge_index.cpu(), data.num_nodes, cand, hops)
    row, col = inc.indices()
    sizes = torch.zeros(n_c).index_add_(0, row, torch.ones(row.numel()))
    scale = coverage_weight / float(sizes.max().clamp_min(1))
    w = torch.zeros(n_c) if weights is None else weights.float().cpu()
    jitter = torch.rand(n_c, generator=generator) * 1e-9
    covered = torch.zeros(data.num_nodes, dtype=torch.bool)
    chosen = torch.zeros(n_c, dtype=torch.bool)
    picks = []
    for _ in progress(range(k), desc='greedy forget set'):
        new = torch.zeros(n_c).index_add_(0, row, (~covered[col]).float())
        gain = w + scale * new + jitter
        gain[chosen] = -float('inf')
        best = int(gain.argmax())
        picks.append(best)
        chosen[best] = True
        covered[col[row == best]] = True
    return cand[torch.tensor(picks, dtype=torch.long)]


# Node strategies #############################################################

def degree_request(data: Data, kind: str = 'node', ratio: Optional[float] = None,
                   count: Optional[int] = None, seed: int = 0,
                   generator: Optional[torch.Generator] = None, largest: bool = True,
                   **kwargs: Any) -> UnlearningRequest:
    r"""The training nodes of highest (:obj:`largest=False`: lowest) degree."""
    _node_kind(kind, 'degree')
    _homogeneous(data, 'degree')
    gen = _gen(seed, generator)
    cand = training_nodes(data).cpu()
    k = resolve_count(cand.numel(), ratio, count)
    s = degree(data.edge_index, data.num_nodes).cpu()[cand]
    return _node_request(kind, cand[_top(s, k, gen, largest)], data.train_mask.device)


def pagerank_request(data: Data, kind: str = 'node', ratio: Optional[float] = None,
                     count: Optional[int] = None, seed: int = 0,
                     generator: Optional[torch.Generator] = None, largest: bool = True,
                     **kwargs: Any) -> UnlearningRequest:
    r"""The training nodes of highest (:obj:`largest=False`: lowest) PageRank."""
    _node_kind(kind, 'pagerank')
    _homogeneous(data, 'pagerank')
    gen = _gen(seed, generator)
    cand = training_nodes(data).cpu()
    k = resolve_count(cand.numel(), ratio, count)
    s = pagerank(data.edge_index, data.num_nodes).cpu()[cand]
    return _node_request(kind, cand[_top(s, k, gen, largest)], data.train_mask.device)


def worst_case_request(data: Data, kind: str = 'node', ratio: Optional[float] = None,
                       count: Optional[int] = None, seed: int = 0,
                       generator: Optional[torch.Generator] = None,
                       model: Optional[torch.nn.Module] = None, task: Any = None,
                       loss_weight: float = 0.5, centrality: str = 'both',
                       loss_direction: str = 'high', coverage_weight: float = 1.0,
                       hops: int = 2, pool_factor: int = 3, **kwargs: Any
                       ) -> UnlearningRequest:
    r"""Approximate worst-case forget set by node influence (Zhao, Lu & Ding 2026): ranks
    training nodes by :func:`node_influence_scores` (training loss and centrality), keeps the
    :obj:`pool_factor * k` most influential and selects :obj:`k` of them jointly by importance
    and impact with :func:`greedy_coverage` (influence score + receptive-field coverage).

    Needs the trained :obj:`model` and :obj:`task` (passed by the benchmark CLI) unless
    :obj:`loss_weight=0`.
    """
    _node_kind(kind, 'worst_case')
    _homogeneous(data, 'worst_case')
    gen = _gen(seed, generator)
    cand = training_nodes(data).cpu()
    k = resolve_count(cand.numel(), ratio, count)
    infl = node_influence_scores(data, model, task, loss_weight, centrality, loss_direction,
                                 gen).cpu()[cand]
    pool = _top(infl, min(cand.numel(), max(k, pool_factor * k)), gen)
    picked = greedy_coverage(data, cand[pool], k, weights=infl[pool],
                             coverage_weight=coverage_weight, hops=hops, generator=gen)
    return _node_request(kind, picked, data.train_mask.device)


def influence_greedy_request(data: Data, kind: str = 'node', ratio: Optional[float] = None,
                             count: Optional[int] = None, seed: int = 0,
                             generator: Optional[torch.Generator] = None, hops: int = 2,
                             **kwargs: Any) -> UnlearningRequest:
    r"""Greedy influence maximisation over all training nodes: the :obj:`k` training nodes
    whose :math:`L`-hop receptive fields cover the most nodes (:func:`greedy_coverage`)."""
    _node_kind(kind, 'influence_greedy')
    _homogeneous(data, 'influence_greedy')
    gen = _gen(seed, generator)
    cand = training_nodes(data).cpu()
    k = resolve_count(cand.numel(), ratio, count)
    picked = greedy_coverage(data, cand, k, hops=hops, generator=gen)
    return _node_request(kind, picked, data.train_mask.device)


# Edge strategies #############################################################

def edge_influence_request(data: Data, kind: str = 'edge', ratio: Optional[float] = None,
                           count: Optional[int] = None, seed: int = 0,
                           generator: Optional[torch.Generator] = None,
                           model: Optional[torch.nn.Module] = None, task: Any = None,
                           loss_weight: Optional[float] = None, **kwargs: Any
                           ) -> UnlearningRequest:
    r"""The undirected edges whose endpoints are most influential (sum of the endpoints'
    :func:`node_influence_scores`; centrality only when no :obj:`model` is given)."""
    if kind != 'edge':
        raise ValueError(f"strategy 'edge_influence' selects edges: use kind 'edge', got '{kind}'")
    _homogeneous(data, 'edge_influence')
    gen = _gen(seed, generator)
    cand = undirected_edges(data)
    k = resolve_count(cand.size(1), ratio, count)
    w = (0.5 if model is not None else 0.0) if loss_weight is None else loss_weight
    infl = node_influence_scores(data, model, task, w, 'both', 'high', gen).cpu()
    s = infl[cand[0].cpu()] + infl[cand[1].cpu()]
    return UnlearningRequest.edges(cand[:, _top(s, k, gen).to(cand.device)])


@torch.no_grad()
def adversarial_edges(data: Data, model: torch.nn.Module, task: Any, count: int,
                      seed: int = 0, generator: Optional[torch.Generator] = None,
                      num_candidates: int = 256) -> Tuple[Data, UnlearningRequest]:
    r"""Adversarial edge request for node classification (the analogue of UnlearnRec
    section 4.1.4): for :obj:`count` random training nodes, a new edge to the least-probable
    counterpart under the trained :obj:`model` (lowest cosine similarity of posteriors among
    :obj:`num_candidates` random non-neighbours). Returns the *attacked graph* (edges added
    in both directions) and the request removing exactly those edges: train on the attacked
    graph, then unlearn the request.

    Returns:
        (Data, UnlearningRequest)
    """
    _homogeneous(data, 'adversarial_edges')
    gen = _gen(seed, generator)
    cand = training_nodes(data).cpu()
    if count > cand.numel():
        raise ValueError(f'cannot attack {count} of {cand.numel()} training nodes')
    src = cand[torch.randperm(cand.numel(), generator=gen)[:count]]
    proba = task.predict_proba(model, data).cpu()
    n = data.num_nodes
    other = torch.randint(n, (count, num_candidates), generator=gen)
    sim = F.cosine_similarity(proba[src].unsqueeze(1), proba[other], dim=-1)
    keys = torch.unique(data.edge_index[0].cpu() * n + data.edge_index[1].cpu())
    q = src.view(-1, 1) * n + other
    pos = torch.searchsorted(keys, q).clamp(max=max(keys.numel() - 1, 0))
    bad = (keys[pos] == q) | (other == src.view(-1, 1)) if keys.numel() else \
        other == src.view(-1, 1)
    sim[bad] = float('inf')
    dst = other.gather(1, sim.argmin(1, keepdim=True)).view(-1)
    adv = torch.stack([src, dst])
    # Deduplicate (u, v) / (v, u) pairs drawn twice: keep the first occurrence of each key.
    key = torch.minimum(adv[0], adv[1]) * n + torch.maximum(adv[0], adv[1])
    _, inverse = torch.unique(key, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), key.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(key.numel()), reduce='amin')
    adv = adv[:, first.sort().values]
    for key_name in ('edge_attr', 'edge_weight'):
        if data.get(key_name) is not None:
            raise ValueError(f"adversarial_edges does not know how to extend '{key_name}'")
    attacked = data.clone()
    ei = data.edge_index.cpu()
    attacked.edge_index = torch.cat([ei, adv, adv.flip(0)], dim=1).to(data.edge_index.device)
    return attacked, UnlearningRequest.edges(adv.to(data.edge_index.device))


@torch.no_grad()
def adversarial_interactions(data: HeteroData, user_emb: Tensor, item_emb: Tensor, count: int,
                             seed: int = 0, generator: Optional[torch.Generator] = None,
                             num_candidates: Optional[int] = None
                             ) -> Tuple[HeteroData, UnlearningRequest]:
    r"""UnlearnRec's adversarial attack (section 4.1.4): for :obj:`count` random users
    (with replacement), an interaction with their least probable item under a trained model
    (lowest :math:`\mathbf{e}_u^\top \mathbf{e}_i` among all items, or among
    :obj:`num_candidates` random ones), excluding existing interactions. Returns the attacked
    graph (forward and reverse edge types extended) and the interaction request that removes
    exactly those edges. Model-agnostic: takes the final user and item embeddings.

    Returns:
        (HeteroData, UnlearningRequest)
    """
    if not isinstance(data, HeteroData):
        raise TypeError('adversarial_interactions needs a bipartite HeteroData graph')
    gen = _gen(seed, generator)
    et = [e for e in data.edge_types if e[0] == 'user' and e[2] == 'item'][0]
    ei = data[et].edge_index.cpu()
    U, I = data['user'].num_nodes, data['item'].num_nodes
    users = torch.unique(torch.randint(U, (count,), generator=gen))
    while users.numel() < min(count, U):
        more = torch.randint(U, (count - users.numel(),), generator=gen)
        users = torch.unique(torch.cat([users, more]))
    users = users[torch.randperm(users.numel(), generator=gen)][:count]
    ue, ie = user_emb.cpu().float(), item_emb.cpu().float()
    items = torch.arange(I) if num_candidates is None else \
        torch.randint(I, (num_candidates,), generator=gen)
    keys = torch.unique(ei[0] * I + ei[1])
    picked = []
    for start in range(0, users.numel(), 1024):  # user batches: memory 1024 x I
        u = users[start:start + 1024]
        s = ue[u] @ ie[items].t()
        q = u.view(-1, 1) * I + items.view(1, -1)
        pos = torch.searchsorted(keys, q).clamp(max=max(keys.numel() - 1, 0))
        if keys.numel():
            s[keys[pos] == q] = float('inf')
        picked.append(items[s.argmin(1)])
    adv = torch.stack([users, torch.cat(picked)])
    attacked = data.clone()
    attacked[et].edge_index = torch.cat([ei, adv], 1).to(data[et].edge_index.device)
    rev = (et[2], f'rev_{et[1]}', et[0])
    if rev in data.edge_types:
        attacked[rev].edge_index = torch.cat([data[rev].edge_index.cpu(), adv.flip(0)], 1) \
            .to(data[rev].edge_index.device)
    return attacked, UnlearningRequest.interactions(adv[0], adv[1], edge_type=et)


def adversarial_request(data: Any, kind: str, model: torch.nn.Module, task: Any,
                        ratio: Optional[float] = None, count: Optional[int] = None,
                        seed: int = 0, generator: Optional[torch.Generator] = None,
                        **kwargs: Any) -> Tuple[Any, UnlearningRequest]:
    r"""The adversarial strategy for any task: :func:`adversarial_edges` for :obj:`"edge"`
    requests on a node-classification graph, :func:`adversarial_interactions` for
    :obj:`"interaction"` requests on a bipartite graph (least-probable items under
    :obj:`task.embeddings(model, data)`).

    :obj:`model` must be trained on the *clean* :obj:`data`. The size is :obj:`count`, or
    :obj:`ratio` times the number of clean candidates (undirected edges, training
    interactions). Returns :obj:`(attacked_data, request)`: train the model to be unlearned on
    :obj:`attacked_data`, then unlearn :obj:`request` (exactly the added edges).
    """
    if model is None or task is None:
        raise ValueError("strategy 'adversarial' needs a model trained on the clean graph "
                         '(model=) and its task (task=)')
    gen = _gen(seed, generator)
    if kind == 'edge':
        _homogeneous(data, 'adversarial')
        k = resolve_count(undirected_edges(data).size(1), ratio, count)
        return adversarial_edges(data, model, task, k, generator=gen, **kwargs)
    if kind == 'interaction':
        if not isinstance(data, HeteroData):
            raise TypeError("strategy 'adversarial' with interaction requests needs a "
                            'bipartite HeteroData graph')
        from torch_geometric_unlearn.task.recommendation import get_interactions, \
            num_users_items
        U, _ = num_users_items(data)
        k = resolve_count(get_interactions(data, 'train').size(1), ratio, count)
        emb = task.embeddings(model, data)
        return adversarial_interactions(data, emb[:U], emb[U:], k, generator=gen, **kwargs)
    raise ValueError(f"strategy 'adversarial' adds edges or interactions: use kind 'edge' or "
                     f"'interaction', got '{kind}'")


# Interaction strategies ######################################################

def active_users_request(data: HeteroData, kind: str = 'interaction',
                         ratio: Optional[float] = None, count: Optional[int] = None,
                         seed: int = 0, generator: Optional[torch.Generator] = None,
                         most: bool = True, **kwargs: Any) -> UnlearningRequest:
    r"""Interactions of the most (:obj:`most=False`: least) active users: users are taken in
    order of their number of training interactions and their interactions are requested
    (random order within the last user) until :obj:`ratio`/:obj:`count` is reached."""
    if kind != 'interaction' or not isinstance(data, HeteroData):
        raise ValueError("user-activity strategies need kind 'interaction' on a bipartite "
                         'HeteroData graph')
    gen = _gen(seed, generator)
    et = [e for e in data.edge_types if e[0] == 'user' and e[2] == 'item'][0]
    ei = data[et].edge_index
    k = resolve_count(ei.size(1), ratio, count)
    U = data['user'].num_nodes
    act = torch.zeros(U).index_add_(0, ei[0].cpu(), torch.ones(ei.size(1)))
    user_order = _top(act, U, gen, largest=most)
    rank_of_user = torch.empty(U, dtype=torch.long)
    rank_of_user[user_order] = torch.arange(U)
    r = rank_of_user[ei[0].cpu()].double() + torch.rand(ei.size(1), generator=gen,
                                                        dtype=torch.double) * 0.5
    pick = torch.argsort(r)[:k].to(ei.device)
    return UnlearningRequest.interactions(ei[0, pick], ei[1, pick], edge_type=et)

"""Edge membership inference (He et al., "Stealing Links from Graph Neural Networks", USENIX
Security 2021) and unlearning-detection by posterior shift.

StealLink's unsupervised attack: two nodes whose posteriors (or embeddings) are similar are
likely linked. The AUC of the similarity of removed edges' endpoints against sampled non-edges
measures how much of the removed links a model still reveals (compare with Retrain: homophily
alone keeps the AUC above 0.5 even for a model that never saw the edges).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_unlearn.metric.classification import roc_auc

#: Similarities accepted by :func:`pair_similarity` (higher = more link-like).
SIMILARITIES = ('cosine', 'correlation', 'neg_euclidean', 'dot', 'neg_js')


def pair_similarity(z: Tensor, pairs: Tensor, similarity: str = 'cosine') -> Tensor:
    r"""Similarity of the rows :obj:`z[pairs[0]]` and :obj:`z[pairs[1]]`.

    Args:
        z (torch.Tensor): Posteriors or embeddings :obj:`[N, d]`.
        pairs (torch.Tensor): Node pairs :obj:`[2, K]`.
        similarity (str, optional): One of :obj:`SIMILARITIES`. (default: :obj:`"cosine"`)
    """
    a, b = z[pairs[0].to(z.device)].float(), z[pairs[1].to(z.device)].float()
    if similarity == 'cosine':
        return F.cosine_similarity(a, b, dim=-1)
    if similarity == 'correlation':
        return F.cosine_similarity(a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True),
                                   dim=-1)
    if similarity == 'neg_euclidean':
        return -(a - b).norm(dim=-1)
    if similarity == 'dot':
        return (a * b).sum(-1)
    if similarity == 'neg_js':
        m = 0.5 * (a + b)
        eps = 1e-12
        js = 0.5 * (a * (a.clamp_min(eps) / m.clamp_min(eps)).log()).sum(-1) + \
            0.5 * (b * (b.clamp_min(eps) / m.clamp_min(eps)).log()).sum(-1)
        return -js
    raise ValueError(f"unknown similarity '{similarity}' (expected one of {SIMILARITIES})")


def sample_non_edges(edge_index: Tensor, num_nodes: int, num_samples: int,
                     generator: Optional[torch.Generator] = None,
                     candidates: Optional[Tensor] = None, max_tries: int = 100) -> Tensor:
    r"""Uniformly random node pairs :obj:`[2, num_samples]` that are neither edges of
    :obj:`edge_index` (either direction) nor self-loops (vectorised rejection sampling against
    sorted edge keys; no dense adjacency).

    Args:
        edge_index (torch.Tensor): Edges to avoid.
        num_nodes (int): Number of nodes.
        num_samples (int): Number of pairs.
        generator (torch.Generator, optional): Source of randomness (CPU).
        candidates (torch.Tensor, optional): Node ids to draw endpoints from (default: all).
        max_tries (int, optional): Rejection rounds. (default: :obj:`100`)
    """
    ei = edge_index.cpu().long()
    n = int(num_nodes)
    keys = torch.unique(torch.cat([ei[0] * n + ei[1], ei[1] * n + ei[0]]))
    cand = torch.arange(n) if candidates is None else candidates.cpu().long()

    def draw(k: int) -> Tensor:
        return cand[torch.randint(cand.numel(), (2, k), generator=generator)]

    def bad(p: Tensor) -> Tensor:
        q = p[0] * n + p[1]
        if keys.numel() == 0:
            return p[0] == p[1]
        pos = torch.searchsorted(keys, q).clamp(max=keys.numel() - 1)
        return (keys[pos] == q) | (p[0] == p[1])

    pairs = draw(num_samples)
    todo = bad(pairs).nonzero().view(-1)
    for _ in range(max_tries):
        if todo.numel() == 0:
            break
        pairs[:, todo] = draw(todo.numel())
        todo = todo[bad(pairs[:, todo])]
    if todo.numel() > 0:
        raise RuntimeError('could not sample enough non-edges (graph too dense)')
    return pairs.to(edge_index.device)


def edge_mia_auc(z: Tensor, members: Tensor, non_members: Tensor,
                 similarity: str = 'cosine') -> float:
    r"""StealLink-style AUC of telling member pairs (e.g. removed edges) from non-member pairs
    (e.g. sampled non-edges) by the similarity of their endpoints' rows of :obj:`z`."""
    return roc_auc(pair_similarity(z, members, similarity),
                   pair_similarity(z, non_members, similarity))


def posterior_shift(proba_before: Tensor, proba_after: Tensor, p: float = 2.) -> Tensor:
    r"""Per-node shift :math:`\|\mathbf{p}_{before} - \mathbf{p}_{after}\|_p`."""
    return (proba_before.float() - proba_after.float().to(proba_before.device)).norm(p=p, dim=-1)


def posterior_shift_auc(proba_before: Tensor, proba_after: Tensor, members: Tensor,
                        non_members: Tensor, p: float = 2.) -> float:
    r"""Unlearning-detection AUC (Chen et al., "When Machine Unlearning Jeopardizes Privacy",
    CCS 2021): how well the posterior shift between the model before and after unlearning
    singles out the removed nodes (:obj:`members`) among unrelated nodes
    (:obj:`non_members`). 0.5: an observer of both models cannot tell what was removed."""
    s = posterior_shift(proba_before, proba_after, p).cpu()
    return roc_auc(s[members.cpu()], s[non_members.cpu()])

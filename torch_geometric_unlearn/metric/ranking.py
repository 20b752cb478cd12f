r"""Top-:math:`k` ranking metrics for recommendation, as plain vectorised functions.

Conventions follow the LightGCN evaluation protocol (He et al., SIGIR'20), which PyG's
:class:`~torch_geometric.metrics.LinkPredRecall` and
:class:`~torch_geometric.metrics.LinkPredNDCG` share:

* Recall@k of a user :math:`= |\text{top-}k \cap T_u| / |T_u|` (:math:`T_u` the user's test
  items; the denominator is *not* capped at :math:`k`);
* NDCG@k :math:`= \sum_{r=1}^{k} \mathbb{1}[\text{item}_r \in T_u] / \log_2(r+1)` divided by
  the ideal DCG of :math:`\min(|T_u|, k)` hits;
* averages are over users with at least one ground-truth item;
* full ranking over all items, the user's training items removed from the candidates
  (:func:`full_ranking_metrics`).

The functions here are checked against PyG's metric classes in the tests; they are plain
functions so that no :obj:`torchmetrics` state is needed and per-user values are available.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_unlearn.utils import progress


def _pairs(ground_truth: Tensor, num_rows: int) -> Tuple[Tensor, Tensor]:
    r"""Ground truth as (row, item) pairs, from :obj:`[2, M]` pairs or a dense relevance
    matrix :obj:`[B, N]` (bool or 0/1)."""
    if ground_truth.dim() == 2 and ground_truth.size(0) == 2 and not (
            ground_truth.dtype == torch.bool or ground_truth.is_floating_point()):
        return ground_truth[0].long(), ground_truth[1].long()
    if ground_truth.dim() != 2 or ground_truth.size(0) != num_rows:
        raise ValueError('ground_truth must be [2, M] (row, item) index pairs or a [B, N] '
                         'relevance matrix with one row per prediction row')
    row, col = (ground_truth != 0).nonzero(as_tuple=True)
    return row, col


def _topk(pred: Tensor, k: int) -> Tensor:
    if pred.is_floating_point():
        return pred.topk(min(k, pred.size(1)), dim=1).indices
    return pred[:, :k].long()


def hit_matrix(pred: Tensor, ground_truth: Tensor, k: int) -> Tensor:
    r"""Boolean :obj:`[B, k]` matrix telling whether the :math:`r`-th recommendation of row
    :math:`b` is relevant.

    Args:
        pred (torch.Tensor): Scores :obj:`[B, N]` (floating point; top-:math:`k` taken) or
            ranked item indices :obj:`[B, >= k]` (integer; first :math:`k` used).
        ground_truth (torch.Tensor): Relevant items as :obj:`[2, M]` pairs (row in
            :obj:`[0, B)`, item id) or a :obj:`[B, N]` relevance matrix.
        k (int): Cut-off.
    """
    topk = _topk(pred, k)
    B = topk.size(0)
    row, col = _pairs(ground_truth, B)
    if row.numel() == 0:
        return torch.zeros_like(topk, dtype=torch.bool)
    num = int(max(int(topk.max()) if topk.numel() else 0, int(col.max()))) + 1
    key = torch.unique(row * num + col)  # sorted, duplicates merged
    query = (torch.arange(B, device=topk.device).view(-1, 1) * num + topk).view(-1)
    pos = torch.searchsorted(key, query).clamp(max=key.numel() - 1)
    return (key[pos] == query).view(topk.size())


def _num_relevant(ground_truth: Tensor, num_rows: int) -> Tensor:
    row, col = _pairs(ground_truth, num_rows)
    if row.numel() == 0:
        return torch.zeros(num_rows, dtype=torch.long, device=ground_truth.device)
    num = int(col.max()) + 1
    row = torch.unique(row * num + col) // num
    return torch.bincount(row, minlength=num_rows)


def _reduce(values: Tensor, valid: Tensor, reduction: str) -> Tensor:
    if reduction == 'none':
        return values.masked_fill(~valid, float('nan'))
    if reduction == 'sum':
        return values[valid].sum()
    if reduction == 'mean':
        return values[valid].mean() if bool(valid.any()) else values.new_tensor(float('nan'))
    raise ValueError(f"unknown reduction '{reduction}' (expected 'mean', 'sum' or 'none')")


def recall_at_k(pred: Tensor, ground_truth: Tensor, k: int = 20,
                reduction: str = 'mean') -> Tensor:
    r"""Recall@k: the fraction of a row's relevant items found in its top-:math:`k`.

    Args:
        pred (torch.Tensor): Scores :obj:`[B, N]` (floating point) or ranked item indices
            :obj:`[B, >= k]` (integer). Mask already-seen items (e.g. with :obj:`-inf`)
            before calling.
        ground_truth (torch.Tensor): :obj:`[2, M]` (row, item) pairs or a :obj:`[B, N]`
            relevance matrix.
        k (int, optional): Cut-off. (default: :obj:`20`)
        reduction (str, optional): :obj:`"mean"` over rows with ground truth,
            :obj:`"sum"` over them, or :obj:`"none"` (per row; NaN for rows without ground
            truth). (default: :obj:`"mean"`)
    """
    hits = hit_matrix(pred, ground_truth, k)
    n_rel = _num_relevant(ground_truth, hits.size(0))
    valid = n_rel > 0
    values = hits.sum(dim=1).double() / n_rel.clamp(min=1).double()
    return _reduce(values, valid, reduction)


def ndcg_at_k(pred: Tensor, ground_truth: Tensor, k: int = 20,
              reduction: str = 'mean') -> Tensor:
    r"""NDCG@k with binary relevance: :math:`\mathrm{DCG}@k / \mathrm{IDCG}@k`, the ideal
    ranking placing :math:`\min(|T_u|, k)` relevant items first. Arguments as in
    :func:`recall_at_k`."""
    hits = hit_matrix(pred, ground_truth, k)
    n_rel = _num_relevant(ground_truth, hits.size(0))
    valid = n_rel > 0
    kk = hits.size(1)
    discount = 1.0 / torch.log2(torch.arange(2, kk + 2, device=hits.device,
                                             dtype=torch.float64))
    dcg = (hits.double() * discount).sum(dim=1)
    idcg_table = torch.cat([discount.new_zeros(1), discount.cumsum(0)])
    idcg = idcg_table[n_rel.clamp(max=kk)]
    values = dcg / idcg.clamp(min=1e-12)
    return _reduce(values, valid, reduction)


def most_popular_scores(train_edge_index: Tensor, num_users: int, num_items: int) -> Tensor:
    r"""Most-popular baseline: every user scores item :math:`i` by its number of training
    interactions. Returns the :obj:`[num_items]` popularity vector (the same for every
    user; broadcast it to :obj:`[B, num_items]` for a batch, see
    :func:`full_ranking_metrics`).

    Args:
        train_edge_index (torch.Tensor): Training interactions :obj:`[2, E]` (user, item).
        num_users (int): Number of users (checked only).
        num_items (int): Number of items.
    """
    if train_edge_index.numel() and int(train_edge_index[0].max()) >= num_users:
        raise ValueError('user id out of range')
    return torch.bincount(train_edge_index[1].long(), minlength=num_items).float()


def _row_pointer(edge_index: Tensor, num_users: int) -> Tuple[Tensor, Tensor]:
    r"""Sorts interactions by user and returns (pointer :obj:`[U+1]`, items sorted by user)."""
    user, item = edge_index[0].long(), edge_index[1].long()
    perm = torch.argsort(user, stable=True)
    ptr = torch.zeros(num_users + 1, dtype=torch.long, device=user.device)
    torch.cumsum(torch.bincount(user, minlength=num_users), 0, out=ptr[1:])
    return ptr, item[perm]


def _gather(ptr: Tensor, items: Tensor, users: Tensor) -> Tuple[Tensor, Tensor]:
    r"""(local row, item) pairs of the interactions of :obj:`users` (vectorised)."""
    start, count = ptr[users], ptr[users + 1] - ptr[users]
    local = torch.repeat_interleave(torch.arange(users.numel(), device=users.device), count)
    offset = torch.arange(local.numel(), device=users.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count)
    return local, items[start[local] + offset]


@torch.no_grad()
def full_ranking_metrics(score_fn: Union[Callable[[Tensor], Tensor], Tensor],
                         train_edge_index: Tensor, test_edge_index: Tensor, num_users: int,
                         num_items: int, k: Union[int, Sequence[int]] = 20,
                         batch_size: int = 1024,
                         users: Optional[Tensor] = None) -> Dict[str, float]:
    r"""Recall@k and NDCG@k with full ranking over all items, the user's training items
    masked, averaged over users with at least one test item. Users are processed in batches
    of :obj:`batch_size`, so memory is bounded by :obj:`batch_size x num_items` scores.

    Args:
        score_fn (callable or torch.Tensor): :obj:`score_fn(users) -> [B, num_items]`
            scores, or a :obj:`[num_items]` vector shared by all users (e.g.
            :func:`most_popular_scores`).
        train_edge_index (torch.Tensor): Training interactions :obj:`[2, E]` (masked).
        test_edge_index (torch.Tensor): Test interactions :obj:`[2, M]` (ground truth).
        num_users (int): Number of users.
        num_items (int): Number of items.
        k (int or Sequence[int], optional): Cut-off(s). (default: :obj:`20`)
        batch_size (int, optional): Users scored at once. (default: :obj:`1024`)
        users (torch.Tensor, optional): Restrict the evaluation to these users (those
            without test items are still skipped). (default: :obj:`None`)

    Returns:
        :obj:`{'recall@k': ..., 'ndcg@k': ..., 'num_users': ...}` (NaN without test users).
    """
    ks = [k] if isinstance(k, int) else list(k)
    kmax = min(max(ks), num_items)
    if isinstance(score_fn, Tensor):
        vec = score_fn.view(1, -1)
        score_fn = lambda u: vec.expand(u.numel(), -1).clone()  # noqa: E731
    device = test_edge_index.device
    train_edge_index = train_edge_index.to(device)
    tr_ptr, tr_items = _row_pointer(train_edge_index, num_users)
    te_ptr, te_items = _row_pointer(test_edge_index, num_users)
    eval_users = torch.nonzero(te_ptr[1:] > te_ptr[:-1]).view(-1)
    if users is not None:
        eval_users = eval_users[torch.isin(eval_users, users.to(device).long())]
    sums = {f'{m}@{kk}': 0.0 for kk in ks for m in ('recall', 'ndcg')}
    starts = range(0, eval_users.numel(), batch_size)
    for start in progress(starts, desc='full ranking'):
        batch = eval_users[start:start + batch_size]
        scores = score_fn(batch).to(device).float()
        row, col = _gather(tr_ptr, tr_items, batch)
        scores[row, col] = float('-inf')
        topk = scores.topk(kmax, dim=1).indices
        gt = torch.stack(_gather(te_ptr, te_items, batch))
        for kk in ks:
            sums[f'recall@{kk}'] += float(recall_at_k(topk, gt, kk, reduction='sum'))
            sums[f'ndcg@{kk}'] += float(ndcg_at_k(topk, gt, kk, reduction='sum'))
    n = eval_users.numel()
    out: Dict[str, float] = {key: (val / n if n else math.nan) for key, val in sums.items()}
    out['num_users'] = int(n)
    return out

r"""Membership-inference metrics of recommendation unlearning (UnlearnRec, Zhang et al.,
SIGIR'25, section 4.1.3): MI-BF and MI-NG, plus the score distributions of its Fig. 2.

All functions work on user and item embedding tensors (model-agnostic): the predicted
probability of an interaction is :math:`\sigma(\mathbf{e}_u^\top \mathbf{e}_i)`.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

from torch_geometric_unlearn.metric.classification import roc_auc


def interaction_probability(user_emb: Tensor, item_emb: Tensor, pairs: Tensor) -> Tensor:
    r""":math:`\sigma(\mathbf{e}_u^\top \mathbf{e}_i)` of user-item :obj:`pairs` :obj:`[2, K]`
    (row 0 user ids, row 1 local item ids)."""
    p = pairs.to(user_emb.device).long()
    return (user_emb[p[0]] * item_emb[p[1]]).sum(-1).sigmoid()


def mi_bf(prob_removed_before: Tensor, prob_removed_after: Tensor) -> float:
    r"""MI-BF: mean predicted probability of the removed interactions *before* unlearning
    divided by the mean *after*. Above 1 (higher is better): the model recommends them less."""
    return float(prob_removed_before.float().mean() / prob_removed_after.float().mean())


def mi_ng(prob_negative_after: Tensor, prob_removed_after: Tensor) -> float:
    r"""MI-NG: mean predicted probability of negative-sampled interactions divided by that of
    the removed interactions, both under the unlearned model. Above 1: removed interactions
    are recommended less than random non-interactions (no trace of membership)."""
    return float(prob_negative_after.float().mean() / prob_removed_after.float().mean())


def sample_negative_interactions(positives: Tensor, users: Tensor, num_items: int,
                                 generator: Optional[torch.Generator] = None) -> Tensor:
    r"""One uniformly random non-interacted item per entry of :obj:`users` (pairs
    :obj:`[2, len(users)]`); :obj:`positives` are the interactions to avoid (the original
    graph's, including the removed ones)."""
    from torch_geometric_unlearn.task.recommendation import NegativeSampler
    items = NegativeSampler(positives.cpu(), num_items)(users.cpu().long(), generator)
    return torch.stack([users.cpu().long(), items])


def recsys_membership(user_emb_before: Tensor, item_emb_before: Tensor, user_emb_after: Tensor,
                      item_emb_after: Tensor, removed: Tensor, negatives: Tensor,
                      positives: Optional[Tensor] = None,
                      return_scores: bool = False) -> Dict[str, object]:
    r"""MI-BF, MI-NG and the membership AUC (removed vs negatives, after) in one call.

    Args:
        user_emb_before, item_emb_before (torch.Tensor): Embeddings of the original model.
        user_emb_after, item_emb_after (torch.Tensor): Embeddings after unlearning.
        removed (torch.Tensor): Removed interactions :obj:`[2, K]`.
        negatives (torch.Tensor): Negative-sampled pairs :obj:`[2, M]`.
        positives (torch.Tensor, optional): Retained training interactions for the
            distribution plot. (default: :obj:`None`)
        return_scores (bool, optional): Add :obj:`"scores"`: the probability arrays (lists)
            of removed/negative/positive pairs before and after, for plots.
    """
    rb = interaction_probability(user_emb_before, item_emb_before, removed)
    ra = interaction_probability(user_emb_after, item_emb_after, removed)
    nb = interaction_probability(user_emb_before, item_emb_before, negatives)
    na = interaction_probability(user_emb_after, item_emb_after, negatives)
    out: Dict[str, object] = {
        'mi_bf': mi_bf(rb, ra), 'mi_ng': mi_ng(na, ra), 'mi_ng_before': mi_ng(nb, rb),
        'removed_prob_before': float(rb.mean()), 'removed_prob_after': float(ra.mean()),
        'negative_prob_after': float(na.mean()),
        'interaction_mia_auc': roc_auc(ra, na),
    }
    if return_scores:
        scores = {'removed_before': rb, 'removed_after': ra, 'negative_before': nb,
                  'negative_after': na}
        if positives is not None:
            scores['positive_before'] = interaction_probability(user_emb_before,
                                                                item_emb_before, positives)
            scores['positive_after'] = interaction_probability(user_emb_after, item_emb_after,
                                                               positives)
            out['positive_prob_after'] = float(scores['positive_after'].mean())
        out['scores'] = {k: v.cpu().tolist() for k, v in scores.items()}
    return out

"""Threshold membership-inference attacks on posteriors (Yeom et al. 2018; Salem et al. 2019).

The attacker sees a model's posterior of a node and guesses "member" when a score exceeds a
threshold; sweeping the threshold gives the ROC AUC. An AUC near 0.5 means the removed nodes
look like nodes the model never trained on.
"""
from __future__ import annotations

import torch
from torch import Tensor

from torch_geometric_unlearn.metric.classification import roc_auc

#: Scores accepted by :func:`posterior_score` (higher means "more likely a member").
SCORES = ('confidence', 'loss', 'entropy', 'max')


def posterior_score(proba: Tensor, y: Tensor, score: str = 'confidence') -> Tensor:
    r"""Membership score of each row of :obj:`proba` (higher = more member-like).

    Args:
        proba (torch.Tensor): Posteriors :obj:`[n, C]` (rows sum to 1).
        y (torch.Tensor): True labels :obj:`[n]` (used by :obj:`confidence` and :obj:`loss`).
        score (str, optional): :obj:`"confidence"` (probability of the true class),
            :obj:`"loss"` (negative cross-entropy), :obj:`"entropy"` (negative entropy) or
            :obj:`"max"` (largest probability). (default: :obj:`"confidence"`)
    """
    eps = 1e-12
    if score == 'confidence':
        return proba.gather(1, y.view(-1, 1)).view(-1)
    if score == 'loss':
        return proba.gather(1, y.view(-1, 1)).view(-1).clamp_min(eps).log()
    if score == 'entropy':
        return (proba * proba.clamp_min(eps).log()).sum(-1)
    if score == 'max':
        return proba.max(-1).values
    raise ValueError(f"unknown score '{score}' (expected one of {SCORES})")


def threshold_mia_auc(proba: Tensor, y: Tensor, members: Tensor, non_members: Tensor,
                      score: str = 'confidence') -> float:
    r"""AUC of a threshold attack telling :obj:`members` (e.g. removed training nodes) from
    :obj:`non_members` (nodes never trained on), from the posteriors :obj:`proba` of every node.

    Args:
        proba (torch.Tensor): Posteriors of all nodes :obj:`[N, C]`.
        y (torch.Tensor): Labels of all nodes :obj:`[N]` (original labels: the attacker's
            ground truth about the removed nodes).
        members (torch.Tensor): Node ids of members.
        non_members (torch.Tensor): Node ids of non-members.
        score (str, optional): See :func:`posterior_score`. (default: :obj:`"confidence"`)
    """
    s = posterior_score(proba, y.to(proba.device).clamp_min(0), score)
    return roc_auc(s[members.to(s.device)], s[non_members.to(s.device)])

"""Classification and link metrics as plain functions (vectorised, device-agnostic)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def accuracy(pred: Tensor, target: Tensor) -> float:
    r"""Fraction of :obj:`pred == target` (class ids or logits, which are arg-maxed)."""
    if pred.dim() == 2:
        pred = pred.argmax(dim=-1)
    if target.numel() == 0:
        return float('nan')
    return float((pred == target).float().mean())


def macro_f1(pred: Tensor, target: Tensor, num_classes: Optional[int] = None) -> float:
    r"""Macro-averaged F1 over the classes present in :obj:`target` or :obj:`pred` (as
    scikit-learn's :obj:`f1_score(average="macro")`)."""
    if pred.dim() == 2:
        num_classes = num_classes or pred.size(-1)
        pred = pred.argmax(dim=-1)
    if target.numel() == 0:
        return float('nan')
    num_classes = num_classes or int(max(pred.max(), target.max())) + 1
    tp = torch.bincount(target[pred == target], minlength=num_classes).double()
    pred_cnt = torch.bincount(pred, minlength=num_classes).double()
    true_cnt = torch.bincount(target, minlength=num_classes).double()
    present = (pred_cnt + true_cnt) > 0
    f1 = 2 * tp / (pred_cnt + true_cnt).clamp(min=1)
    return float(f1[present].mean())


def roc_auc(pos_scores: Tensor, neg_scores: Tensor) -> float:
    r"""Area under the ROC curve of telling :obj:`pos_scores` from :obj:`neg_scores`
    (Mann-Whitney statistic with ties counted half)."""
    pos = pos_scores.detach().flatten().double().cpu()
    neg = neg_scores.detach().flatten().double().cpu()
    if pos.numel() == 0 or neg.numel() == 0:
        return float('nan')
    scores = torch.cat([pos, neg])
    # Average ranks of tied values.
    uniq, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg_rank = ends - (counts.double() - 1) / 2
    ranks = avg_rank[inverse]
    n_pos, n_neg = pos.numel(), neg.numel()
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def link_auc(model_scores_pos: Tensor, model_scores_neg: Tensor) -> float:
    r"""Link-prediction AUC: scores of true links vs sampled non-links."""
    return roc_auc(model_scores_pos, model_scores_neg)

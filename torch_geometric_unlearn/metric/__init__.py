r"""Utility metrics as plain functions."""
from torch_geometric_unlearn.metric.classification import accuracy, link_auc, macro_f1, roc_auc
from torch_geometric_unlearn.metric.ranking import (
    full_ranking_metrics,
    most_popular_scores,
    ndcg_at_k,
    recall_at_k,
)

__all__ = ['accuracy', 'macro_f1', 'roc_auc', 'link_auc', 'recall_at_k', 'ndcg_at_k',
           'most_popular_scores', 'full_ranking_metrics']

r"""Membership-inference attacks used to measure forgetting: threshold and shadow-model node
attacks, StealLink-style edge attacks, posterior-shift detection and the recommendation
metrics MI-BF / MI-NG."""
from torch_geometric_unlearn.attack.edge import (
    SIMILARITIES,
    edge_mia_auc,
    pair_similarity,
    posterior_shift,
    posterior_shift_auc,
    sample_non_edges,
)
from torch_geometric_unlearn.attack.recsys import (
    interaction_probability,
    mi_bf,
    mi_ng,
    recsys_membership,
    sample_negative_interactions,
)
from torch_geometric_unlearn.attack.shadow import (
    ShadowMIA,
    shadow_mia_auc,
    shadow_split,
    sorted_posterior_features,
)
from torch_geometric_unlearn.attack.threshold import SCORES, posterior_score, threshold_mia_auc

__all__ = ['posterior_score', 'threshold_mia_auc', 'SCORES', 'ShadowMIA', 'shadow_mia_auc',
           'shadow_split', 'sorted_posterior_features', 'edge_mia_auc', 'pair_similarity',
           'sample_non_edges', 'SIMILARITIES', 'posterior_shift', 'posterior_shift_auc',
           'interaction_probability', 'mi_bf', 'mi_ng', 'recsys_membership',
           'sample_negative_interactions']

r"""Transforms that apply an unlearning request to a graph (:class:`BaseTransform` style)."""
from torch_geometric_unlearn.transforms.functional import (
    REMOVED_MASK,
    apply_request,
    graph_is_undirected,
    validate_request,
)
from torch_geometric_unlearn.transforms.mask_features import MaskFeatures
from torch_geometric_unlearn.transforms.remove_edges import RemoveEdges
from torch_geometric_unlearn.transforms.remove_nodes import RemoveNodes

__all__ = [
    'RemoveNodes',
    'RemoveEdges',
    'MaskFeatures',
    'apply_request',
    'validate_request',
    'graph_is_undirected',
    'REMOVED_MASK',
]

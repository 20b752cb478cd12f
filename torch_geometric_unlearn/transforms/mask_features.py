from __future__ import annotations

from typing import Optional, Union

from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import BaseTransform

from torch_geometric_unlearn.request import IndexLike, UnlearningRequest
from torch_geometric_unlearn.transforms.functional import apply_request, validate_request


class MaskFeatures(BaseTransform):
    r"""Zeroes feature entries: columns :obj:`feature_index` (all columns if :obj:`None`) of
    nodes :obj:`node_index`. The input graph is not modified.

    Args:
        node_index (torch.Tensor or list): Node ids whose features are removed.
        feature_index (torch.Tensor or list, optional): Feature columns. (default: :obj:`None`)
        node_type (str, optional): Node type for :class:`~torch_geometric.data.HeteroData`.
            (default: :obj:`None`)
        validate (bool, optional): Check the request first. (default: :obj:`True`)
    """

    def __init__(self, node_index: IndexLike, feature_index: Optional[IndexLike] = None,
                 node_type: Optional[str] = None, validate: bool = True) -> None:
        self.request = UnlearningRequest.features(node_index, feature_index, node_type)
        self.validate = validate

    def forward(self, data: Union[Data, HeteroData]) -> Union[Data, HeteroData]:
        if self.validate:
            validate_request(self.request, data)
        return apply_request(self.request, data)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_nodes={self.request.num_removed})'

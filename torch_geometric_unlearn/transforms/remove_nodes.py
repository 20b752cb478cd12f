from __future__ import annotations

from typing import Optional, Union

from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import BaseTransform

from torch_geometric_unlearn.request import IndexLike, UnlearningRequest
from torch_geometric_unlearn.transforms.functional import apply_request, validate_request


class RemoveNodes(BaseTransform):
    r"""Removes nodes from a graph without renumbering: the nodes lose every incident edge
    (also in link-prediction pairs :obj:`edge_label_index`), their features are zeroed, integer
    labels are set to :obj:`-1`, they are excluded from every boolean mask, and they are marked
    in the boolean node attribute :obj:`removed_mask`. The input graph is not modified.

    Args:
        index (torch.Tensor or list): Node ids to remove.
        node_type (str, optional): Node type, for :class:`~torch_geometric.data.HeteroData`
            (edges of every edge type touching it are removed). (default: :obj:`None`)
        validate (bool, optional): Check the request first (raises on unknown, duplicate or
            already removed ids). (default: :obj:`True`)
    """

    def __init__(self, index: IndexLike, node_type: Optional[str] = None,
                 validate: bool = True) -> None:
        self.request = UnlearningRequest.nodes(index, node_type=node_type)
        self.validate = validate

    def forward(self, data: Union[Data, HeteroData]) -> Union[Data, HeteroData]:
        if self.validate:
            validate_request(self.request, data)
        return apply_request(self.request, data)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_nodes={self.request.num_removed})'

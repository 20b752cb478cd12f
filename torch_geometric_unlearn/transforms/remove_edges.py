from __future__ import annotations

from typing import Optional, Tuple, Union

from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import BaseTransform

from torch_geometric_unlearn.request import IndexLike, UnlearningRequest
from torch_geometric_unlearn.transforms.functional import apply_request, validate_request


class RemoveEdges(BaseTransform):
    r"""Removes edges :obj:`[2, K]` from a graph, with their edge attributes. For an undirected
    homogeneous graph both directions are removed; for
    :class:`~torch_geometric.data.HeteroData` the reverse edge type (e.g. :obj:`rev_rates` made
    by :class:`~torch_geometric.transforms.ToUndirected`) is updated too. Matching
    link-prediction pairs in :obj:`edge_label_index` are dropped as well. The input graph is not
    modified.

    Args:
        edge_index (torch.Tensor): Edges to remove, shape :obj:`[2, K]`.
        edge_type (Tuple[str, str, str], optional): Edge type for
            :class:`~torch_geometric.data.HeteroData`. (default: :obj:`None`)
        undirected (bool, optional): Whether the graph is undirected; detected if :obj:`None`.
            (default: :obj:`None`)
        validate (bool, optional): Check the request first (raises on edges not in the graph,
            duplicates, bad ids). (default: :obj:`True`)
    """

    def __init__(self, edge_index: IndexLike, edge_type: Optional[Tuple[str, str, str]] = None,
                 undirected: Optional[bool] = None, validate: bool = True) -> None:
        self.request = UnlearningRequest.edges(edge_index, edge_type=edge_type)
        self.undirected = undirected
        self.validate = validate

    def forward(self, data: Union[Data, HeteroData]) -> Union[Data, HeteroData]:
        if self.validate:
            validate_request(self.request, data, undirected=self.undirected)
        return apply_request(self.request, data, undirected=self.undirected)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_edges={self.request.num_removed})'

"""Typed unlearning requests: what a data owner asks to be forgotten."""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

NodeType = str
EdgeType = Tuple[str, str, str]
IndexLike = Union[Tensor, Sequence[int], np.ndarray]

#: The kinds of request the package knows.
REQUEST_KINDS = ('node', 'edge', 'feature', 'interaction')

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _as_index(value: IndexLike, what: str) -> Tensor:
    r"""Turns :obj:`value` into an integer tensor without moving it across devices.
    Floating or boolean inputs raise :class:`TypeError` (a silent cast would hide a bug)."""
    if isinstance(value, Tensor):
        t = value
    else:
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f'{what} must be integer ids, got an object array')
        if arr.size == 0:
            arr = arr.astype(np.int64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype == torch.bool or t.dtype not in _INT_DTYPES:
        raise TypeError(f'{what} must be an integer tensor of ids (torch.long), got dtype {t.dtype}')
    return t.long()


class UnlearningRequest:
    r"""A request to forget nodes, edges, node features, or user-item interactions.

    Build requests with the constructors :meth:`nodes`, :meth:`edges`, :meth:`features` and
    :meth:`interactions`. A request is checked against a graph with :meth:`validate` and applied
    with :meth:`apply` (the input graph is never mutated; node ids are never renumbered).

    Args:
        kind (str): One of :obj:`"node"`, :obj:`"edge"`, :obj:`"feature"`, :obj:`"interaction"`.
        index (torch.Tensor): Node ids (:obj:`[K]`) for node/feature requests, or edges
            (:obj:`[2, K]`) for edge/interaction requests.
        feature_index (torch.Tensor, optional): Feature columns for feature requests;
            :obj:`None` removes the whole feature vector of each node. (default: :obj:`None`)
        node_type (str, optional): Node type for :class:`~torch_geometric.data.HeteroData`.
            (default: :obj:`None`)
        edge_type (Tuple[str, str, str], optional): Edge type for
            :class:`~torch_geometric.data.HeteroData`. (default: :obj:`None`)
    """

    def __init__(self, kind: str, index: Tensor, feature_index: Optional[Tensor] = None,
                 node_type: Optional[NodeType] = None,
                 edge_type: Optional[EdgeType] = None) -> None:
        if kind not in REQUEST_KINDS:
            raise ValueError(f"Unknown request kind '{kind}' (expected one of {REQUEST_KINDS})")
        self.kind = kind
        self.index = index
        self.feature_index = feature_index
        self.node_type = node_type
        self.edge_type = tuple(edge_type) if edge_type is not None else None

    # Constructors ###########################################################

    @classmethod
    def nodes(cls, index: IndexLike, node_type: Optional[NodeType] = None) -> 'UnlearningRequest':
        r"""Forget nodes: their edges, features and labels."""
        idx = _as_index(index, 'node index')
        if idx.dim() != 1:
            raise ValueError(f'node index must be 1-D, got shape {tuple(idx.shape)}')
        return cls('node', idx, node_type=node_type)

    @classmethod
    def edges(cls, edge_index: IndexLike,
              edge_type: Optional[EdgeType] = None) -> 'UnlearningRequest':
        r"""Forget edges given as a :obj:`[2, K]` tensor (both directions of an undirected
        graph are removed; :obj:`(u, v)` and :obj:`(v, u)` name the same undirected edge)."""
        idx = _as_index(edge_index, 'edge_index')
        if idx.dim() != 2 or idx.size(0) != 2:
            raise ValueError(f'edge_index must have shape [2, K], got {tuple(idx.shape)}')
        return cls('edge', idx, edge_type=edge_type)

    @classmethod
    def features(cls, node_index: IndexLike, feature_index: Optional[IndexLike] = None,
                 node_type: Optional[NodeType] = None) -> 'UnlearningRequest':
        r"""Forget feature entries: columns :obj:`feature_index` of nodes :obj:`node_index`
        (all columns if :obj:`feature_index` is :obj:`None`)."""
        idx = _as_index(node_index, 'feature node index')
        if idx.dim() != 1:
            raise ValueError(f'node index must be 1-D, got shape {tuple(idx.shape)}')
        fidx = None
        if feature_index is not None:
            fidx = _as_index(feature_index, 'feature_index')
            if fidx.dim() != 1:
                raise ValueError(f'feature_index must be 1-D, got shape {tuple(fidx.shape)}')
        return cls('feature', idx, feature_index=fidx, node_type=node_type)

    @classmethod
    def interactions(cls, user_index: IndexLike, item_index: IndexLike,
                     edge_type: Optional[EdgeType] = None) -> 'UnlearningRequest':
        r"""Forget user-item interactions of a bipartite
        :class:`~torch_geometric.data.HeteroData` (the reverse edge type is handled too)."""
        u = _as_index(user_index, 'user_index')
        i = _as_index(item_index, 'item_index')
        if u.dim() != 1 or i.dim() != 1 or u.numel() != i.numel():
            raise ValueError('user_index and item_index must be 1-D of the same length, got '
                             f'{tuple(u.shape)} and {tuple(i.shape)}')
        if u.device != i.device:
            raise ValueError(f'user_index is on {u.device} but item_index on {i.device}')
        return cls('interaction', torch.stack([u, i], dim=0), edge_type=edge_type)

    # Properties #############################################################

    @property
    def node_index(self) -> Tensor:
        r"""Node ids of a node or feature request."""
        if self.kind not in ('node', 'feature'):
            raise AttributeError(f'a {self.kind} request has no node_index')
        return self.index

    @property
    def edge_index(self) -> Tensor:
        r"""Edges :obj:`[2, K]` of an edge or interaction request."""
        if self.kind not in ('edge', 'interaction'):
            raise AttributeError(f'a {self.kind} request has no edge_index')
        return self.index

    @property
    def num_removed(self) -> int:
        r"""Number of entities (nodes, edges, interactions or node feature vectors) named."""
        return int(self.index.size(-1))

    @property
    def device(self) -> torch.device:
        return self.index.device

    def to(self, device: Union[str, torch.device]) -> 'UnlearningRequest':
        r"""Returns a copy of the request on :obj:`device`."""
        fidx = self.feature_index.to(device) if self.feature_index is not None else None
        return UnlearningRequest(self.kind, self.index.to(device), fidx, self.node_type,
                                 self.edge_type)

    def __repr__(self) -> str:
        extra = ''
        if self.node_type is not None:
            extra += f', node_type={self.node_type!r}'
        if self.edge_type is not None:
            extra += f', edge_type={self.edge_type!r}'
        if self.feature_index is not None:
            extra += f', num_features={self.feature_index.numel()}'
        return f'UnlearningRequest({self.kind}, num_removed={self.num_removed}{extra})'

    # Validation and application ###############################################

    def validate(self, data: Union[Data, HeteroData],
                 history: Iterable['UnlearningRequest'] = ()) -> None:
        r"""Checks the request against :obj:`data`; raises :class:`ValueError` or
        :class:`TypeError` naming the problem (empty request, negative or out-of-range ids,
        duplicates, edges not in the graph, wrong device, unknown node/edge type, entities
        already removed by an earlier request in :obj:`history`)."""
        from torch_geometric_unlearn.transforms.functional import validate_request
        validate_request(self, data, list(history))

    def apply(self, data: Union[Data, HeteroData]) -> Union[Data, HeteroData]:
        r"""Returns a copy of :obj:`data` with the request applied (input unchanged)."""
        from torch_geometric_unlearn.transforms.functional import apply_request
        return apply_request(self, data)

    @staticmethod
    def merge(requests: List['UnlearningRequest']) -> 'UnlearningRequest':
        r"""Merges requests of the same kind and type into one batch request."""
        if not requests:
            raise ValueError('cannot merge an empty list of requests')
        first = requests[0]
        for r in requests[1:]:
            if (r.kind, r.node_type, r.edge_type) != (first.kind, first.node_type,
                                                      first.edge_type):
                raise ValueError('can only merge requests of the same kind and type')
            if r.kind == 'feature' and not _same_features(r.feature_index, first.feature_index):
                raise ValueError('can only merge feature requests with the same columns')
        index = torch.cat([r.index for r in requests], dim=-1)
        return UnlearningRequest(first.kind, index, first.feature_index, first.node_type,
                                 first.edge_type)


def _same_features(a: Optional[Tensor], b: Optional[Tensor]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool((a.cpu() == b.cpu()).all())

"""Validation and application of :class:`UnlearningRequest` objects on ``Data``/``HeteroData``.

Everything here is vectorised: edge membership uses 64-bit keys ``row * num_dst + col`` and
:func:`torch.isin`, so the cost is :math:`O(E \\log E)` at worst and never :math:`O(N^2)`.
The input graph is never mutated: stores are shallow-copied and every changed tensor is new.
"""
from __future__ import annotations

import copy
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import is_undirected as _is_undirected

from torch_geometric_unlearn.request import EdgeType, UnlearningRequest

GraphData = Union[Data, HeteroData]

#: Name of the boolean node attribute that marks removed nodes.
REMOVED_MASK = 'removed_mask'
# Node-level attributes that are bookkeeping, not personal data: left untouched on removal.
_KEEP_NODE_KEYS = {'n_id', 'batch', 'node_type', 'num_nodes', REMOVED_MASK}
_PAIR_KEYS = ('edge_label_index', )
_PAIR_ATTR_KEYS = ('edge_label', 'edge_label_time')


# Helpers ######################################################################

def _device_of(data: GraphData) -> Optional[torch.device]:
    for store in data.stores:
        for value in store.values():
            if isinstance(value, Tensor):
                return value.device
    return None


def _num_nodes(store: Any) -> int:
    n = store.num_nodes
    if n is None:
        raise ValueError('the graph does not define its number of nodes')
    return int(n)


def resolve_node_type(request: UnlearningRequest, data: GraphData) -> Optional[str]:
    if isinstance(data, Data):
        if request.node_type is not None:
            raise ValueError(f"node type '{request.node_type}' given for a homogeneous graph")
        return None
    if request.node_type is None:
        if len(data.node_types) == 1:
            return data.node_types[0]
        raise ValueError(f'node_type is required for a heterogeneous graph with node types '
                         f'{data.node_types}')
    if request.node_type not in data.node_types:
        raise ValueError(f"unknown node type '{request.node_type}' (graph has "
                         f'{data.node_types})')
    return request.node_type


def resolve_edge_type(request: UnlearningRequest, data: GraphData) -> Optional[EdgeType]:
    if isinstance(data, Data):
        if request.kind == 'interaction':
            raise TypeError('interaction requests need a bipartite HeteroData graph '
                            "(node types 'user' and 'item')")
        if request.edge_type is not None:
            raise ValueError(f'edge type {request.edge_type} given for a homogeneous graph')
        return None
    if request.edge_type is not None:
        if request.edge_type not in data.edge_types:
            raise ValueError(f'unknown edge type {request.edge_type} (graph has '
                             f'{data.edge_types})')
        return request.edge_type
    if request.kind == 'interaction':
        cands = [et for et in data.edge_types if et[0] == 'user' and et[2] == 'item']
    else:
        forward = [et for et in data.edge_types if not et[1].startswith('rev_')]
        cands = forward if forward else list(data.edge_types)
    if len(cands) != 1:
        raise ValueError(f'edge_type is required: cannot choose among {cands or data.edge_types}')
    return cands[0]


def reverse_edge_type(data: HeteroData, edge_type: EdgeType) -> Optional[EdgeType]:
    r"""The edge type holding the reverse direction of :obj:`edge_type` (e.g. created by
    :class:`~torch_geometric.transforms.ToUndirected`), or :obj:`None`."""
    src, rel, dst = edge_type
    if src == dst:
        return None
    for cand in [(dst, f'rev_{rel}', src), (dst, rel[4:], src) if rel.startswith('rev_') else None]:
        if cand is not None and cand in data.edge_types:
            return cand
    others = [et for et in data.edge_types if et[0] == dst and et[2] == src]
    return others[0] if len(others) == 1 else None


def _keys(edge_index: Tensor, num_dst: int) -> Tensor:
    return edge_index[0] * num_dst + edge_index[1]


def graph_is_undirected(data: GraphData) -> bool:
    r"""Whether a homogeneous graph stores every edge in both directions."""
    if isinstance(data, HeteroData) or data.edge_index is None:
        return False
    return bool(_is_undirected(data.edge_index, num_nodes=data.num_nodes))


def _fmt(t: Tensor, limit: int = 5) -> str:
    vals = t.flatten().tolist() if t.dim() == 1 else t.t().tolist()
    more = '' if len(vals) <= limit else f' ... ({len(vals)} in all)'
    return f'{vals[:limit]}{more}'


def _check_ids(ids: Tensor, bound: int, what: str) -> None:
    if ids.numel() == 0:
        return
    if bool((ids < 0).any()):
        raise ValueError(f'negative {what} ids: {_fmt(ids[ids < 0])}')
    if bool((ids >= bound).any()):
        raise ValueError(f'{what} ids out of range (there are {bound}): '
                         f'{_fmt(ids[ids >= bound])}')


def _check_unique(keys: Tensor, what: str, shown: Tensor) -> None:
    uniq, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    if bool((counts > 1).any()):
        dup = counts[inverse] > 1
        raise ValueError(f'duplicate {what} in the request: {_fmt(shown[..., dup])}')


def _canonical(edge_index: Tensor) -> Tensor:
    return torch.stack([edge_index.min(0).values, edge_index.max(0).values])


def _history_overlap(request: UnlearningRequest, history: List[UnlearningRequest],
                     node_type: Optional[str], edge_type: Optional[EdgeType],
                     undirected: bool) -> None:
    r"""Raises if :obj:`request` names something an earlier request already removed."""
    for k, old in enumerate(history):
        if request.kind in ('node', 'feature') and old.kind == 'node' \
                and (old.node_type or None) == (node_type if old.node_type else None) \
                and old.index.device == request.index.device:
            hit = torch.isin(request.index, old.index)
            if bool(hit.any()):
                raise ValueError(f'node ids already removed by request #{k}: '
                                 f'{_fmt(request.index[hit])}')
        if request.kind == 'feature' and old.kind == 'feature' \
                and old.index.device == request.index.device:
            nodes_hit = torch.isin(request.index, old.index)
            if bool(nodes_hit.any()):
                same_cols = (request.feature_index is None or old.feature_index is None or bool(
                    torch.isin(request.feature_index, old.feature_index.to(
                        request.feature_index.device)).any()))
                if same_cols:
                    raise ValueError(f'features of nodes {_fmt(request.index[nodes_hit])} '
                                     f'already removed by request #{k}')
        if request.kind in ('edge', 'interaction') and old.kind == request.kind \
                and old.index.device == request.index.device:
            a, b = request.index, old.index
            if undirected:
                a, b = _canonical(a), _canonical(b)
            n = int(max(a.max(), b.max())) + 1 if a.numel() and b.numel() else 1
            hit = torch.isin(_keys(a, n), _keys(b, n))
            if bool(hit.any()):
                raise ValueError(f'edges already removed by request #{k}: '
                                 f'{_fmt(request.index[:, hit])}')


# Validation ###################################################################

def validate_request(request: UnlearningRequest, data: GraphData,
                     history: Optional[List[UnlearningRequest]] = None,
                     undirected: Optional[bool] = None) -> None:
    r"""Raises :class:`ValueError`/:class:`TypeError` if :obj:`request` cannot be applied to
    :obj:`data`. See :meth:`UnlearningRequest.validate`."""
    if not isinstance(request, UnlearningRequest):
        raise TypeError(f'expected an UnlearningRequest, got {type(request).__name__}')
    if not isinstance(data, (Data, HeteroData)):
        raise TypeError(f'expected Data or HeteroData, got {type(data).__name__}')
    if request.num_removed == 0:
        raise ValueError(f'empty {request.kind} request: nothing to unlearn')
    device = _device_of(data)
    if device is not None and request.index.device != device:
        raise ValueError(f'request is on device {request.index.device} but the graph is on '
                         f'{device}; move it with request.to(device)')
    history = history or []

    if request.kind in ('node', 'feature'):
        node_type = resolve_node_type(request, data)
        store = data if node_type is None else data[node_type]
        n = _num_nodes(store)
        _check_ids(request.index, n, f'{node_type or "node"}')
        _check_unique(request.index, 'node ids', request.index)
        removed = store.get(REMOVED_MASK)
        if removed is not None and bool(removed[request.index].any()):
            raise ValueError(f'node ids already removed: '
                             f'{_fmt(request.index[removed[request.index]])}')
        if request.kind == 'feature':
            x = store.get('x')
            if x is None:
                raise ValueError('feature request on a graph without node features x')
            if request.feature_index is not None:
                if request.feature_index.device != request.index.device:
                    raise ValueError('feature_index and node index are on different devices')
                if request.feature_index.numel() == 0:
                    raise ValueError('empty feature_index: nothing to unlearn')
                _check_ids(request.feature_index, x.size(-1), 'feature column')
                _check_unique(request.feature_index, 'feature columns', request.feature_index)
        _history_overlap(request, history, node_type, None, False)
        return

    edge_type = resolve_edge_type(request, data)
    if edge_type is None:
        store, num_src, num_dst = data, _num_nodes(data), _num_nodes(data)
        if undirected is None:
            undirected = graph_is_undirected(data)
    else:
        store = data[edge_type]
        num_src, num_dst = _num_nodes(data[edge_type[0]]), _num_nodes(data[edge_type[2]])
        undirected = bool(undirected) and edge_type[0] == edge_type[2]
    ei = request.index
    _check_ids(ei[0], num_src, f'{edge_type[0] if edge_type else "node"} (source)')
    _check_ids(ei[1], num_dst, f'{edge_type[2] if edge_type else "node"} (target)')
    keys = _keys(_canonical(ei) if undirected else ei, num_dst)
    _check_unique(keys, 'edges' + (' (an undirected edge named twice)' if undirected else ''),
                  ei)
    _history_overlap(request, history, None, edge_type, undirected)
    graph_ei = store.get('edge_index')
    if graph_ei is None:
        raise ValueError(f'graph has no edge_index for {edge_type or "edges"}')
    # Only graph edges leaving a request endpoint can match: an O(E) boolean gather first, then
    # key matching on those few candidates (a full isin over E keys sorts all of them).
    mark = torch.zeros(num_src, dtype=torch.bool, device=graph_ei.device)
    mark[ei[0]] = True
    if undirected:
        mark[ei[1]] = True
    cand = graph_ei[:, mark[graph_ei[0]]]
    present = torch.isin(_keys(ei, num_dst), _keys(cand, num_dst))
    if undirected:
        present |= torch.isin(_keys(ei.flip(0), num_dst), _keys(cand, num_dst))
    if not bool(present.all()):
        raise ValueError(f'edges not in the graph: {_fmt(ei[:, ~present])}')


# Application ##################################################################

def _filter_edges(store: Any, keep: Tensor) -> None:
    r"""Keeps edges :obj:`keep` (bool over edges) in :obj:`store`, with every edge attribute."""
    num_edges = keep.numel()
    # Decide which attributes are edge-level BEFORE changing edge_index (PyG infers it from
    # the current number of edges).
    edge_keys = [key for key, value in store.items()
                 if key not in _PAIR_KEYS and key not in _PAIR_ATTR_KEYS
                 and key != 'edge_index' and isinstance(value, Tensor) and value.dim() > 0
                 and value.size(0) == num_edges and store.is_edge_attr(key)]
    for key in ('adj_t', 'adj'):
        if key in store:
            raise ValueError(f"cannot unlearn on a graph stored as '{key}'; use edge_index")
    store['edge_index'] = store['edge_index'][:, keep]
    for key in edge_keys:
        store[key] = store[key][keep]


def _filter_pairs(store: Any, keep: Tensor) -> None:
    for key in _PAIR_KEYS:
        if key in store:
            store[key] = store[key][:, keep]
    for key in _PAIR_ATTR_KEYS:
        if key in store:
            store[key] = store[key][keep]


def _drop_node_data(store: Any, index: Tensor, num_nodes: int) -> None:
    r"""Zeroes features, invalidates labels and clears masks of removed nodes."""
    for key, value in list(store.items()):
        if key in _KEEP_NODE_KEYS or not isinstance(value, Tensor) or value.dim() == 0:
            continue
        if value.size(0) != num_nodes or key in ('edge_index', ) or key in _PAIR_KEYS \
                or not store.is_node_attr(key):
            continue
        if value.dtype == torch.bool:
            new = value.clone()
            new[index] = False
        elif key == 'y' and not value.is_floating_point():
            new = value.clone()
            new[index] = -1  # the label is personal data: gone, and -1 is never a class
        else:
            new = value.clone()
            new[index] = 0
        store[key] = new
    removed = store.get(REMOVED_MASK)
    removed = torch.zeros(num_nodes, dtype=torch.bool, device=index.device) \
        if removed is None else removed.clone()
    removed[index] = True
    store[REMOVED_MASK] = removed


def _remove_pairs_by_keys(store: Any, keys: Tensor, num_dst: int, flip: bool) -> None:
    ei = store.get('edge_index')
    if ei is not None:
        cand = ei.flip(0) if flip else ei
        _filter_edges(store, ~torch.isin(_keys(cand, num_dst), keys))
    pairs = store.get('edge_label_index')
    if pairs is not None:
        cand = pairs.flip(0) if flip else pairs
        _filter_pairs(store, ~torch.isin(_keys(cand, num_dst), keys))


def apply_request(request: UnlearningRequest, data: GraphData,
                  undirected: Optional[bool] = None) -> GraphData:
    r"""Returns a copy of :obj:`data` with :obj:`request` applied. :obj:`data` is unchanged.

    Args:
        request (UnlearningRequest): The (validated) request.
        data (Data or HeteroData): The graph.
        undirected (bool, optional): Whether a homogeneous graph is undirected (both directions
            are then removed). Detected from :obj:`data` if :obj:`None`. (default: :obj:`None`)
    """
    out = copy.copy(data)  # new stores, shared tensors; we only ever replace tensors
    if request.kind == 'node':
        node_type = resolve_node_type(request, out)
        idx = request.index
        if node_type is None:
            n = _num_nodes(out)
            _drop_node_data(out, idx, n)
            hit = torch.zeros(n, dtype=torch.bool, device=idx.device)
            hit[idx] = True
            ei = out.edge_index
            if ei is not None:
                _filter_edges(out, ~(hit[ei[0]] | hit[ei[1]]))
            pairs = out.get('edge_label_index')
            if pairs is not None:
                _filter_pairs(out, ~(hit[pairs[0]] | hit[pairs[1]]))
        else:
            n = _num_nodes(out[node_type])
            _drop_node_data(out[node_type], idx, n)
            hit = torch.zeros(n, dtype=torch.bool, device=idx.device)
            hit[idx] = True
            for et in out.edge_types:
                store = out[et]
                for key, filt in (('edge_index', _filter_edges), ('edge_label_index',
                                                                    _filter_pairs)):
                    ei = store.get(key)
                    if ei is None:
                        continue
                    drop = torch.zeros(ei.size(1), dtype=torch.bool, device=ei.device)
                    if et[0] == node_type:
                        drop |= hit[ei[0]]
                    if et[2] == node_type:
                        drop |= hit[ei[1]]
                    filt(store, ~drop)
        return out

    if request.kind == 'feature':
        node_type = resolve_node_type(request, out)
        store = out if node_type is None else out[node_type]
        x = store.x.clone()
        if request.feature_index is None:
            x[request.index] = 0
        else:
            x[request.index.view(-1, 1), request.feature_index.view(1, -1)] = 0
        store.x = x
        return out

    # Edge and interaction requests.
    edge_type = resolve_edge_type(request, out)
    ei = request.index
    if edge_type is None:
        n = _num_nodes(out)
        if undirected is None:
            undirected = graph_is_undirected(out)
        keys = _keys(ei, n)
        if undirected:
            keys = torch.cat([keys, _keys(ei.flip(0), n)])
        _remove_pairs_by_keys(out, keys, n, flip=False)
        return out
    src, _, dst = edge_type
    num_dst = _num_nodes(out[dst])
    keys = _keys(ei, num_dst)
    if src == dst and undirected:
        keys = torch.cat([keys, _keys(ei.flip(0), num_dst)])
    _remove_pairs_by_keys(out[edge_type], keys, num_dst, flip=False)
    rev = reverse_edge_type(out, edge_type)
    if rev is not None:
        _remove_pairs_by_keys(out[rev], keys, num_dst, flip=True)
    return out

"""Random forget sets: the baseline strategy (training entities only)."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.transforms.functional import REMOVED_MASK


def training_nodes(data: Data) -> Tensor:
    r"""Ids of training nodes that have not been removed."""
    mask = data.train_mask.clone()
    removed = data.get(REMOVED_MASK)
    if removed is not None:
        mask &= ~removed
    return mask.nonzero().view(-1)


def undirected_edges(data: Data) -> Tensor:
    r"""Each undirected edge once (:obj:`row < col`), shape :obj:`[2, E/2]`; for a directed
    graph all edges without self-loops."""
    ei = data.edge_index
    from torch_geometric_unlearn.transforms.functional import graph_is_undirected
    keep = ei[0] < ei[1] if graph_is_undirected(data) else ei[0] != ei[1]
    return ei[:, keep]


def resolve_count(total: int, ratio: Optional[float] = None, count: Optional[int] = None) -> int:
    r"""Number of entities for a ratio or an absolute count (at least 1, at most :obj:`total`)."""
    if (ratio is None) == (count is None):
        raise ValueError('give exactly one of ratio and count')
    if total <= 0:
        raise ValueError('there are no candidate entities to forget')
    k = int(count) if count is not None else int(round(float(ratio) * total))
    if count is None and not 0 < float(ratio) <= 1:
        raise ValueError(f'ratio must be in (0, 1], got {ratio}')
    if k > total:
        raise ValueError(f'cannot forget {k} of {total} candidates')
    return max(k, 1)


def _perm(n: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator)


def random_request(data: Union[Data, HeteroData], kind: str, ratio: Optional[float] = None,
                   count: Optional[int] = None, generator: Optional[torch.Generator] = None,
                   seed: int = 0) -> UnlearningRequest:
    r"""A uniformly random request of :obj:`kind` over training entities.

    Args:
        data (Data or HeteroData): The training graph.
        kind (str): :obj:`"node"`, :obj:`"edge"`, :obj:`"feature"` (whole feature vectors of
            training nodes) or :obj:`"interaction"` (training user-item interactions).
        ratio (float, optional): Fraction of candidates (training nodes, undirected edges or
            interactions).
        count (int, optional): Absolute number instead of :obj:`ratio`.
        generator (torch.Generator, optional): Source of randomness; else :obj:`seed`.
        seed (int, optional): Seed used when :obj:`generator` is :obj:`None`.
            (default: :obj:`0`)
    """
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    if kind in ('node', 'feature'):
        cand = training_nodes(data).cpu()
        k = resolve_count(cand.numel(), ratio, count)
        idx = cand[_perm(cand.numel(), gen)[:k]].sort().values
        idx = idx.to(data.train_mask.device)
        return UnlearningRequest.nodes(idx) if kind == 'node' else \
            UnlearningRequest.features(idx)
    if kind == 'edge':
        cand = undirected_edges(data)
        k = resolve_count(cand.size(1), ratio, count)
        pick = _perm(cand.size(1), gen)[:k].to(cand.device)
        return UnlearningRequest.edges(cand[:, pick])
    if kind == 'interaction':
        if not isinstance(data, HeteroData):
            raise TypeError('interaction requests need a bipartite HeteroData graph')
        et = [et for et in data.edge_types if et[0] == 'user' and et[2] == 'item'][0]
        cand = data[et].edge_index
        k = resolve_count(cand.size(1), ratio, count)
        pick = _perm(cand.size(1), gen)[:k].to(cand.device)
        return UnlearningRequest.interactions(cand[0, pick], cand[1, pick], edge_type=et)
    raise ValueError(f"unknown request kind '{kind}'")

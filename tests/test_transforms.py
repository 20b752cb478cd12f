import copy

import torch

from tests.conftest import toy_bipartite, toy_graph
from torch_geometric_unlearn import UnlearningRequest
from torch_geometric_unlearn.transforms import MaskFeatures, RemoveEdges, RemoveNodes


def _snapshot(data):
    return {k: v.clone() for k, v in data.to_dict().items() if torch.is_tensor(v)}


def _same(data, snap):
    return all(torch.equal(data[k], v) for k, v in snap.items())


def _has_edge(ei, u, v):
    return bool(((ei[0] == u) & (ei[1] == v)).any())


def test_remove_edges_both_directions_and_attrs():
    data = toy_graph()
    snap = _snapshot(data)
    out = RemoveEdges(torch.tensor([[2], [3]]))(data)
    assert not _has_edge(out.edge_index, 2, 3) and not _has_edge(out.edge_index, 3, 2)
    assert out.edge_index.size(1) == data.edge_index.size(1) - 2
    # Edge attributes follow their edges.
    expect = (out.edge_index[0] * 10 + out.edge_index[1]).float().view(-1, 1)
    assert torch.equal(out.edge_attr, expect)
    assert _same(data, snap)  # input untouched
    assert out.num_nodes == data.num_nodes  # no renumbering


def test_remove_nodes():
    data = toy_graph()
    snap = _snapshot(data)
    out = RemoveNodes([2])(data)
    ei = out.edge_index
    assert not bool(((ei[0] == 2) | (ei[1] == 2)).any())
    assert out.x[2].abs().sum() == 0 and out.x[1].abs().sum() > 0
    assert out.y[2] == -1
    for key in ('train_mask', 'val_mask', 'test_mask'):
        assert not out[key][2]
    assert out.train_mask.sum() == 2
    assert out.removed_mask.tolist() == [False, False, True, False, False, False]
    assert _same(data, snap)
    # Edges not touching node 2 survive.
    assert _has_edge(ei, 0, 1) and _has_edge(ei, 4, 5)
    assert ei.size(1) == data.edge_index.size(1) - 6


def test_mask_features():
    data = toy_graph()
    out = MaskFeatures([1, 3], [0, 2])(data)
    assert out.x[1, 0] == 0 and out.x[1, 2] == 0 and out.x[1, 1] != 0
    assert out.x[3, 0] == 0 and torch.equal(out.x[0], data.x[0])
    assert data.x[1, 0] != 0
    full = MaskFeatures([5])(data)
    assert full.x[5].abs().sum() == 0 and torch.equal(full.x[:5], data.x[:5])


def test_request_apply_matches_transforms():
    data = toy_graph()
    a = UnlearningRequest.edges([[0], [2]]).apply(data)
    b = RemoveEdges([[0], [2]])(data)
    assert torch.equal(a.edge_index, b.edge_index)


def test_hetero_interactions_and_reverse():
    data = toy_bipartite()
    snap = {k: data[k].edge_index.clone() for k in data.edge_types}
    out = UnlearningRequest.interactions([0, 2], [1, 4]).apply(data)
    fwd = out['user', 'rates', 'item'].edge_index
    rev = out['item', 'rev_rates', 'user'].edge_index
    assert not _has_edge(fwd, 0, 1) and not _has_edge(fwd, 2, 4)
    assert not _has_edge(rev, 1, 0) and not _has_edge(rev, 4, 2)
    assert fwd.size(1) == 4 and rev.size(1) == 4
    assert torch.equal(fwd.flip(0), rev)
    for k, v in snap.items():
        assert torch.equal(data[k].edge_index, v)


def test_hetero_remove_user_node():
    data = toy_bipartite()
    out = UnlearningRequest.nodes([0], node_type='user').apply(data)
    for et in out.edge_types:
        ei = out[et].edge_index
        users = ei[0] if et[0] == 'user' else ei[1]
        assert not bool((users == 0).any())
    test_pairs = out['user', 'rates', 'item'].edge_label_index
    assert not bool((test_pairs[0] == 0).any()) and test_pairs.size(1) == 2
    assert out['user'].removed_mask.tolist() == [True, False, False, False]


def test_remove_directed_graph_keeps_reverse():
    data = toy_graph()
    data.edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    data.edge_attr = None
    out = RemoveEdges([[0], [1]])(data)
    assert out.edge_index.tolist() == [[1, 2], [2, 0]]

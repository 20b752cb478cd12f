import pytest
import torch

from tests.conftest import toy_bipartite, toy_graph
from torch_geometric_unlearn import UnlearningRequest


def test_constructors_and_properties():
    r = UnlearningRequest.nodes([3, 1])
    assert r.kind == 'node' and r.num_removed == 2 and r.node_index.dtype == torch.long
    e = UnlearningRequest.edges(torch.tensor([[0], [1]]))
    assert e.edge_index.shape == (2, 1)
    f = UnlearningRequest.features([0], [1, 2])
    assert f.feature_index.tolist() == [1, 2]
    i = UnlearningRequest.interactions([0], [1])
    assert i.kind == 'interaction' and i.edge_index.tolist() == [[0], [1]]
    with pytest.raises(AttributeError):
        r.edge_index


@pytest.mark.parametrize('make, msg', [
    (lambda: UnlearningRequest.nodes(torch.tensor([1.0])), 'dtype'),
    (lambda: UnlearningRequest.nodes(torch.tensor([True])), 'dtype'),
    (lambda: UnlearningRequest.edges(torch.tensor([[0.0], [1.0]])), 'dtype'),
])
def test_wrong_dtype_raises_type_error(make, msg):
    with pytest.raises(TypeError, match=msg):
        make()


def test_wrong_shapes():
    with pytest.raises(ValueError, match='shape'):
        UnlearningRequest.edges(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='same length'):
        UnlearningRequest.interactions([0, 1], [1])


@pytest.mark.parametrize('request_, msg', [
    (UnlearningRequest.nodes(torch.tensor([], dtype=torch.long)), 'empty'),
    (UnlearningRequest.nodes([-1]), 'negative'),
    (UnlearningRequest.nodes([6]), 'out of range'),
    (UnlearningRequest.nodes([2, 2]), 'duplicate'),
    (UnlearningRequest.edges([[0], [5]]), 'not in the graph'),
    (UnlearningRequest.edges([[0, 0], [1, 1]]), 'duplicate'),
    (UnlearningRequest.edges([[0, 1], [1, 0]]), 'duplicate'),  # same undirected edge twice
    (UnlearningRequest.edges([[0], [9]]), 'out of range'),
    (UnlearningRequest.features([0], [3]), 'out of range'),
    (UnlearningRequest.features([0], [1, 1]), 'duplicate'),
    (UnlearningRequest.nodes([0], node_type='paper'), 'node type'),
])
def test_validate_errors(request_, msg):
    data = toy_graph()
    with pytest.raises(ValueError, match=msg):
        request_.validate(data)


def test_wrong_device():
    data = toy_graph()
    req = UnlearningRequest.nodes(torch.zeros(1, dtype=torch.long, device='meta'))
    with pytest.raises(ValueError, match='device'):
        req.validate(data)


def test_interactions_need_bipartite_graph():
    with pytest.raises(TypeError, match='HeteroData'):
        UnlearningRequest.interactions([0], [1]).validate(toy_graph())


def test_hetero_validation():
    data = toy_bipartite()
    UnlearningRequest.interactions([0, 2], [1, 4]).validate(data)
    with pytest.raises(ValueError, match='not in the graph'):
        UnlearningRequest.interactions([0], [4]).validate(data)
    with pytest.raises(ValueError, match='out of range'):
        UnlearningRequest.interactions([4], [0]).validate(data)
    with pytest.raises(ValueError, match='unknown edge type'):
        UnlearningRequest.edges([[0], [0]], edge_type=('user', 'likes', 'item')).validate(data)
    with pytest.raises(ValueError, match='unknown node type'):
        UnlearningRequest.nodes([0], node_type='shop').validate(data)
    with pytest.raises(ValueError, match='node_type is required'):
        UnlearningRequest.nodes([0]).validate(data)
    UnlearningRequest.nodes([1], node_type='user').validate(data)


def test_already_removed():
    data = toy_graph()
    first = UnlearningRequest.nodes([1])
    retained = first.apply(data)
    with pytest.raises(ValueError, match='already removed'):
        UnlearningRequest.nodes([1]).validate(retained)
    with pytest.raises(ValueError, match='already removed'):
        UnlearningRequest.features([1]).validate(retained)
    e = UnlearningRequest.edges([[2], [3]])
    retained = e.apply(data)
    with pytest.raises(ValueError, match='already removed by request #0'):
        UnlearningRequest.edges([[3], [2]]).validate(retained, history=[e])
    f = UnlearningRequest.features([4], [0])
    with pytest.raises(ValueError, match='already removed'):
        UnlearningRequest.features([4], [0, 2]).validate(f.apply(data), history=[f])
    UnlearningRequest.features([4], [1]).validate(f.apply(data), history=[f])


def test_merge():
    m = UnlearningRequest.merge([UnlearningRequest.nodes([1]), UnlearningRequest.nodes([4])])
    assert m.node_index.tolist() == [1, 4]
    with pytest.raises(ValueError):
        UnlearningRequest.merge([UnlearningRequest.nodes([1]), UnlearningRequest.edges([[0], [1]])])

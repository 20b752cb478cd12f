import copy

import pytest
import torch

from tests.conftest import toy_graph
from torch_geometric_unlearn import Retrain, Unlearner, UnlearningAlgorithm, UnlearningRequest
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask


class Exploding(UnlearningAlgorithm):
    r"""Mutates the model and its own state, then fails: nothing may survive."""

    def __init__(self):
        super().__init__()
        self.counter = 0

    def forward(self, model, data, request):
        self.counter += 1
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        raise RuntimeError('injected failure')


class RecOnly(UnlearningAlgorithm):
    tasks = ('recommendation', )

    def forward(self, model, data, request):
        raise AssertionError


def _setup(algorithm, epochs=5):
    data = toy_graph()
    model = build_node_model('gcn', 3, 2, hidden_channels=8)
    unlearner = Unlearner(model, algorithm, task=NodeClassificationTask(epochs=epochs))
    return unlearner, data


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_unlearn_before_fit():
    unlearner, _ = _setup(Retrain())
    with pytest.raises(RuntimeError, match='before fit'):
        unlearner.unlearn(UnlearningRequest.nodes([0]))


def test_supports_checked_at_construction():
    with pytest.raises(ValueError, match='does not support the task'):
        _setup(RecOnly())
    with pytest.raises(ValueError, match='unknown task'):
        Unlearner(build_node_model('gcn', 3, 2), Retrain(), task='ranking')
    with pytest.raises(TypeError):
        Unlearner(build_node_model('gcn', 3, 2), object())


def test_unsupported_request_kind():
    unlearner, data = _setup(Retrain())
    unlearner.fit(data)
    with pytest.raises(TypeError, match='HeteroData'):
        unlearner.unlearn(UnlearningRequest.interactions([0], [1]))


@pytest.mark.parametrize('bad', [
    UnlearningRequest.nodes([7]), UnlearningRequest.nodes([-2]),
    UnlearningRequest.nodes([1, 1]), UnlearningRequest.edges([[0], [4]]),
    UnlearningRequest.nodes(torch.tensor([], dtype=torch.long)),
    UnlearningRequest.nodes(torch.zeros(1, dtype=torch.long, device='meta')),
])
def test_bad_request_leaves_state_unchanged(bad):
    unlearner, data = _setup(Retrain())
    unlearner.fit(data, train=True)
    before, graph = _params(unlearner.model), unlearner.data
    ei = graph.edge_index.clone()
    with pytest.raises(ValueError):
        unlearner.unlearn(bad)
    assert all(torch.equal(a, b) for a, b in zip(before, _params(unlearner.model)))
    assert unlearner.data is graph and torch.equal(graph.edge_index, ei)
    assert unlearner.history == []


def test_failure_inside_algorithm_is_atomic():
    unlearner, data = _setup(Exploding())
    unlearner.fit(data, train=True)
    before = _params(unlearner.model)
    with pytest.raises(RuntimeError, match='injected'):
        unlearner.unlearn(UnlearningRequest.nodes([1]))
    assert all(torch.equal(a, b) for a, b in zip(before, _params(unlearner.model)))
    assert unlearner.algorithm.counter == 0  # algorithm state restored too
    assert unlearner.history == [] and unlearner.data is not None


def test_sequential_requests_and_history():
    unlearner, data = _setup(Retrain())
    unlearner.fit(data, train=True)
    r1 = unlearner.unlearn(UnlearningRequest.edges([[4], [5]]))
    assert r1.guarantee == 'exact' and r1.unlearn_seconds > 0 and r1.certificate is None
    r2 = unlearner.unlearn(UnlearningRequest.nodes([0]))
    assert len(unlearner.history) == 2 and unlearner.data is r2.data
    ei = unlearner.data.edge_index
    assert not bool(((ei[0] == 4) & (ei[1] == 5)).any())
    assert not bool(((ei[0] == 0) | (ei[1] == 0)).any())
    with pytest.raises(ValueError, match='already removed'):
        unlearner.unlearn(UnlearningRequest.nodes([0]))
    with pytest.raises(ValueError, match='already removed'):
        unlearner.unlearn(UnlearningRequest.edges([[5], [4]]))
    assert len(unlearner.history) == 2

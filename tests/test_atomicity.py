"""Atomicity (issue 10): a failing unlearning call (bad request, out of memory, an exception
anywhere inside an algorithm) leaves the Unlearner, its model, its graph and the algorithm's
whole internal state exactly as before; the same request then succeeds."""
import copy

import pytest
import torch

import torch_geometric_unlearn.algorithm.gif as gif_module
import torch_geometric_unlearn.algorithm.graph_eraser as ge_module
from tests._reliability import (ALGORITHMS, assert_clean, inject, logits, make_unlearner,
                                request_stream, small_graph, trained_model)
from torch_geometric_unlearn import Unlearner, UnlearningRequest
from torch_geometric_unlearn.algorithm import (CGE, GIF, SGU, GraphEraser, Retrain, ScaleGUN,
                                               ScaleGUNDeep)
from torch_geometric_unlearn.audit import audit
from torch_geometric_unlearn.influence.nim import NIM
from torch_geometric_unlearn.nn.lazy_propagation import LazyPropagation
from torch_geometric_unlearn.serialization import state_difference
from torch_geometric_unlearn.task import NodeClassificationTask

OOM = torch.OutOfMemoryError('injected: CUDA out of memory')

# (algorithm, owner, attribute, exception, after its work, at call #): every algorithm gets a
# failure at the very end (all its state already changed) and failures inside its work.
INJECTIONS = [
    ('retrain', NodeClassificationTask, 'train', None, True, 1),
    ('retrain', Retrain, 'make_result', None, True, 1),
    ('gif', gif_module, 'inverse_hvp_lissa', OOM, False, 1),
    ('gif', GIF, 'make_result', None, True, 1),
    ('if', gif_module, 'inverse_hvp_lissa', KeyboardInterrupt(), True, 1),
    ('graph_eraser', ge_module, 'train_shard', OOM, True, 1),
    ('graph_eraser', GraphEraser, '_assemble', None, True, 1),
    ('graph_eraser', GraphEraser, 'make_result', None, True, 1),
    ('cge', CGE, '_train', OOM, True, 1),
    ('cge', CGE, 'make_result', None, True, 1),
    ('scalegun', LazyPropagation, '_sweep', OOM, True, 1),
    ('scalegun', ScaleGUN, '_prop_term', None, True, 1),
    ('scalegun', ScaleGUN, 'make_result', None, True, 1),
    ('scalegun', ScaleGUN, '_absorb', OOM, True, 1),  # after the commit point (node request)
    ('scalegun_deep', LazyPropagation, '_refresh_z', None, True, 1),
    ('scalegun_deep', ScaleGUNDeep, '_train', OOM, True, 1),
    ('scalegun_deep', ScaleGUNDeep, 'make_result', None, True, 1),
    ('sgu', NIM, '__call__', OOM, True, 1),
    ('sgu', SGU, '_contrastive', OOM, True, 2),  # mid fine-tuning: the model was stepped
    ('sgu', SGU, 'make_result', None, True, 1),
]


@pytest.fixture(scope='module')
def setup():
    data = small_graph()
    model, task = trained_model(data)
    return data, model, task


@pytest.fixture(scope='module')
def fitted(setup):
    data, model, task = setup
    reqs = request_stream(data, 4, seed=1)
    cache = {}
    for name in ALGORITHMS:
        u = make_unlearner(name, data, model, task)
        for r in reqs[:3]:  # one node, edge and feature request already served
            u.unlearn(r)
        cache[name] = u
    return cache, reqs[3:]


@pytest.mark.parametrize('name,owner,attr,exc,after,call', INJECTIONS,
                         ids=[f'{i[0]}-{getattr(i[1], "__name__", i[1])}.{i[2]}'
                              for i in (p.values if hasattr(p, 'values') else p
                                        for p in INJECTIONS)])
def test_injected_failure_changes_nothing(fitted, monkeypatch, name, owner, attr, exc,
                                          after, call):
    cache, next_requests = fitted
    unlearner = copy.deepcopy(cache[name])
    request = next_requests[0]
    before = unlearner.state_dict()
    model, data, history = unlearner.model, unlearner.data, list(unlearner.history)
    counter = inject(monkeypatch, owner, attr, exc, after, call)
    expected = type(exc) if exc is not None else RuntimeError
    with pytest.raises(expected):
        unlearner.unlearn(request)
    assert counter['raised'] == 1, f'{attr} was not reached: the injection tested nothing'
    monkeypatch.undo()
    assert unlearner.model is model and unlearner.data is data
    assert unlearner.history == history and len(unlearner.results) == 1
    diff = state_difference(before['state'], unlearner.state_dict()['state'])
    assert diff is None, f'state changed by a failed call: {diff}'
    # The same request then succeeds, exactly as on a twin that never failed.
    twin = copy.deepcopy(cache[name])
    out = unlearner.unlearn(request)
    twin.unlearn(request)
    assert torch.equal(logits(unlearner), logits(twin))
    assert state_difference(unlearner.state_dict()['state'], twin.state_dict()['state']) is None
    assert_clean(audit(unlearner, out.request))


@pytest.mark.parametrize('name', list(ALGORITHMS))
def test_bad_requests_change_nothing(fitted, name):
    cache, _ = fitted
    unlearner = cache[name]
    before = unlearner.state_dict()
    n = unlearner.data.num_nodes
    served_node = unlearner.history[0].index
    bad = [UnlearningRequest.nodes([n + 3]), UnlearningRequest.nodes(served_node),
           UnlearningRequest.edges([[0], [0]]), UnlearningRequest.nodes([1, 1]),
           UnlearningRequest.features([2], [10_000])]
    for request in bad:
        with pytest.raises(ValueError):
            unlearner.unlearn(request)
    with pytest.raises(TypeError):
        unlearner.unlearn('node 3')
    assert state_difference(before['state'], unlearner.state_dict()['state']) is None


@pytest.mark.parametrize('name,owner,attr', [
    ('graph_eraser', GraphEraser, '_assemble'), ('cge', CGE, '_train'),
    ('scalegun', ScaleGUN, '_retrain'), ('scalegun_deep', ScaleGUNDeep, '_train')])
def test_failed_fit_leaves_model_unchanged(setup, monkeypatch, name, owner, attr):
    data, model, task = setup
    unlearner = Unlearner(copy.deepcopy(model), ALGORITHMS[name](), task=task)
    params = [p.detach().clone() for p in unlearner.model.parameters()]
    inject(monkeypatch, owner, attr, OOM, True, 1)
    with pytest.raises(torch.OutOfMemoryError):
        unlearner.fit(data, train=True)  # training the given model first, then the algorithm
    assert not unlearner.is_fitted
    assert all(torch.equal(a, b) for a, b in zip(params, unlearner.model.parameters()))

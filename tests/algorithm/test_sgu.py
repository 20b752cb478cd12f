import copy

import pytest
import torch

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.influence.nim import NIM
from torch_geometric_unlearn.request import UnlearningRequest


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _true_conf(task, model, data, nodes):
    proba = task.predict_proba(model, data)  # on the ORIGINAL graph: what the model memorised
    return float(proba[nodes, data.y[nodes]].mean())


@pytest.fixture(scope='module')
def node_runs(cora, trained_gcn):
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=0)
    retrain = Unlearner(copy.deepcopy(model), Retrain(), task=task).fit(cora).unlearn(request)
    sgu = Unlearner(copy.deepcopy(model), SGU(epochs=30), task=task).fit(cora).unlearn(request)
    return request, retrain, sgu


def test_sgu_keeps_accuracy_near_retrain_and_forgets(cora, trained_gcn, node_runs):
    model, task = trained_gcn
    request, retrain, sgu = node_runs
    acc_retrain = task.evaluate(retrain.model, retrain.data)['accuracy']
    acc_sgu = task.evaluate(sgu.model, sgu.data)['accuracy']
    assert abs(acc_sgu - acc_retrain) <= 0.02, (acc_sgu, acc_retrain)
    removed = request.node_index
    before = _true_conf(task, model, cora, removed)
    after = _true_conf(task, sgu.model, cora, removed)
    assert after < before - 0.1, (before, after)  # the removed nodes' confidence drops
    assert sgu.extras['forgotten'] and sgu.extras['num_hie'] > 0
    assert sgu.guarantee == 'approximate'


def test_request_is_applied_to_the_graph(node_runs):
    request, _, sgu = node_runs
    data = sgu.data
    removed = request.node_index
    ei = data.edge_index
    assert not bool(torch.isin(ei, removed).any())
    assert bool(data.removed_mask[removed].all())
    assert not bool(data.train_mask[removed].any())
    assert not bool(torch.isin(sgu.extras['hie'], removed).any())


def test_edge_and_feature_requests(cora, trained_gcn):
    model, task = trained_gcn
    edges = select_request(cora, 'edge', count=20, seed=1)
    res = Unlearner(copy.deepcopy(model), SGU(epochs=5), task=task).fit(cora).unlearn(edges)
    ei = res.data.edge_index
    n = cora.num_nodes
    present = set((ei[0] * n + ei[1]).tolist())
    for u, v in edges.edge_index.t().tolist():
        assert u * n + v not in present and v * n + u not in present
    assert not torch.equal(_params(res.model), _params(model))
    feats = UnlearningRequest.features([0, 1, 2])
    res = Unlearner(copy.deepcopy(model), SGU(epochs=5), task=task).fit(cora).unlearn(feats)
    assert float(res.data.x[[0, 1, 2]].abs().sum()) == 0.0


def test_selection_uses_validation_not_test(cora, trained_gcn):
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=2)
    other = cora.clone()
    # A different test split (same validation split): the selected weights must not change.
    test = cora.test_mask.nonzero().view(-1)
    other.test_mask = torch.zeros_like(cora.test_mask)
    other.test_mask[test[: test.numel() // 3]] = True
    runs = []
    for data in (cora, other):
        alg = SGU(epochs=10)
        res = Unlearner(copy.deepcopy(model), alg, task=task).fit(data).unlearn(request)
        runs.append(res)
    assert torch.equal(_params(runs[0].model), _params(runs[1].model))
    assert runs[0].extras['best_epoch'] >= 1  # never the untouched original weights
    # Same seed, same result (the shuffled labels come from a seeded generator).
    again = Unlearner(copy.deepcopy(model), SGU(epochs=10), task=task).fit(cora).unlearn(request)
    assert torch.equal(_params(again.model), _params(runs[0].model))


def test_bad_input_is_rejected_and_state_kept(cora, trained_gcn):
    model, task = trained_gcn
    with pytest.raises(ValueError, match='lam'):
        SGU(lam=1.5)
    with pytest.raises(TypeError, match='selector'):
        SGU(selector=3)
    with pytest.raises(ValueError, match='forget_loss'):
        SGU(forget_loss='random')
    with pytest.raises(ValueError, match='utility_tolerance'):
        SGU(utility_tolerance=-0.1)
    bad = SGU(selector=lambda data, request, model, task: torch.tensor([cora.num_nodes + 5]))
    m = copy.deepcopy(model)
    before = _params(m)
    unlearner = Unlearner(m, bad, task=task).fit(cora)
    with pytest.raises(ValueError, match='outside'):
        unlearner.unlearn(UnlearningRequest.nodes([0]))
    assert torch.equal(_params(unlearner.model), before)


def test_custom_selector_plugs_in(cora, trained_gcn):
    model, task = trained_gcn
    alg = SGU(selector=NIM(budget=2), epochs=3)
    res = Unlearner(copy.deepcopy(model), alg, task=task).fit(cora).unlearn(
        UnlearningRequest.nodes([0, 1]))
    assert res.extras['num_hie'] <= 2


def test_cli_registration():
    from torch_geometric_unlearn.benchmark.registry import ALGORITHMS, build_algorithm
    assert isinstance(build_algorithm('sgu', None), SGU)
    gif = build_algorithm('gif-nim', None)
    assert isinstance(gif.influenced_nodes, NIM)
    assert 'gif-nim' in ALGORITHMS


def test_node_request_stream_stays_near_retrain(cora):
    r"""Issue 8: 20 sequential one-node requests (training nodes) on Cora. Teaching each
    removed node a shuffled wrong label, and ranking any *forgotten* epoch first whatever its
    validation accuracy, accumulated damage across requests (measured on this stream: 0.695
    vs Retrain's 0.780, 0.085 below; 0.128 on the 100-request mixed stream). Now: 0.779."""
    from tests._reliability import request_stream
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
    task = NodeClassificationTask(epochs=50, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7), seed=0)
    task.train(model, cora)
    requests = request_stream(cora, 20, seed=0, kinds=('node', ))
    u = Unlearner(copy.deepcopy(model), SGU(epochs=30), task=task).fit(cora)
    for request in requests:
        u.unlearn(request)
    graph = cora
    for request in requests:
        graph = request.apply(graph)
    fresh = task.fresh_model(model)
    task.train(fresh, graph)
    acc_retrain = task.evaluate(fresh, graph)['accuracy']
    acc = u.evaluate()['accuracy']
    assert acc >= acc_retrain - 0.04, (acc, acc_retrain)

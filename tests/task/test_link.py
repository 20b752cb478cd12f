import copy

import pytest
import torch

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.task import reinitialize
from torch_geometric_unlearn.task.link import (LinkPredictionTask, sample_non_edges,
                                               undirected_pairs)


def _keys(pairs, n):
    lo, hi = pairs.min(0).values, pairs.max(0).values
    return set((lo * n + hi).tolist())


@pytest.fixture(scope='module')
def link_data(cora):
    return LinkPredictionTask.split(cora, seed=0)


@pytest.fixture(scope='module')
def trained_link(cora, link_data):
    task = LinkPredictionTask(epochs=100, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 32), seed=0)
    task.train(model, link_data)
    return model, task


def test_split_is_disjoint_and_seeded(cora, link_data):
    n = cora.num_nodes
    train = _keys(undirected_pairs(link_data.edge_index), n)
    val, test = _keys(link_data.val_pos, n), _keys(link_data.test_pos, n)
    everything = _keys(cora.edge_index, n)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == everything
    for neg in (link_data.val_neg, link_data.test_neg):
        assert not (_keys(neg, n) & everything) and bool((neg[0] != neg[1]).all())
    assert link_data.test_neg.size(1) == link_data.test_pos.size(1)
    again = LinkPredictionTask.split(cora, seed=0)
    assert torch.equal(again.test_pos, link_data.test_pos)
    assert torch.equal(again.val_neg, link_data.val_neg)
    assert not torch.equal(LinkPredictionTask.split(cora, seed=1).test_pos, link_data.test_pos)
    with pytest.raises(ValueError, match='val_ratio'):
        LinkPredictionTask.split(cora, val_ratio=0.6, test_ratio=0.5)


def test_non_edges_avoid_edges_and_removed_nodes(cora):
    gen = torch.Generator().manual_seed(0)
    alive = torch.ones(cora.num_nodes, dtype=torch.bool)
    alive[:100] = False
    neg = sample_non_edges(cora.edge_index, cora.num_nodes, 500, gen, alive)
    assert neg.size(1) == 500
    assert not (_keys(neg, cora.num_nodes) & _keys(cora.edge_index, cora.num_nodes))
    assert bool((neg >= 100).all())


def test_training_learns_links_and_retrain_works(link_data, trained_link):
    model, task = trained_link
    auc = task.evaluate(model, link_data)['auc']
    assert auc > 0.85, auc
    with pytest.raises(ValueError, match='val_pos'):
        bare = copy.copy(link_data)
        del bare.val_pos
        task.train(copy.deepcopy(model), bare)
    pairs = undirected_pairs(link_data.edge_index)[:, :50]
    res = Unlearner(copy.deepcopy(model), Retrain(), task=task).fit(link_data).unlearn(
        UnlearningRequest.edges(pairs))
    left = _keys(undirected_pairs(res.data.edge_index), link_data.num_nodes)
    assert not (left & _keys(pairs, link_data.num_nodes))
    assert abs(task.evaluate(res.model, res.data)['auc'] - auc) < 0.03


def test_link_task_is_exported_and_resolvable():
    from torch_geometric_unlearn import task as task_module
    from torch_geometric_unlearn.task import TASKS, resolve_task
    assert 'link_prediction' in TASKS
    assert task_module.LinkPredictionTask is LinkPredictionTask
    built = resolve_task('link_prediction', epochs=3, seed=1)
    assert isinstance(built, LinkPredictionTask) and built.epochs == 3


def test_sgc_propagates_once_per_training_run(cora, link_data, monkeypatch):
    r"""With the library's SGC a training run computes A^K X once and trains the linear layer
    (it propagated at every forward: ~60 s per 200-epoch run on Cora); the weights are the
    uncached path's."""
    import torch_geometric_unlearn.task.node as node
    from torch_geometric.nn import SGConv
    calls = []
    real = SGConv.propagate

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)
    monkeypatch.setattr(SGConv, 'propagate', counting)
    task = LinkPredictionTask(epochs=8, seed=0)
    init = reinitialize(build_node_model('sgc', cora.num_features, 32), seed=0)
    cached = copy.deepcopy(init)
    task.train(cached, link_data)
    assert len(calls) == 2  # K = 2 hops, once
    monkeypatch.setattr(node, 'sgc_features', lambda *args: None)
    plain = copy.deepcopy(init)
    task.train(plain, link_data)
    assert len(calls) > 2 + 8 * 2
    for a, b in zip(cached.parameters(), plain.parameters()):
        assert torch.allclose(a, b, atol=1e-5)  # 0 on one thread; 1e-7 on two (scatter order)

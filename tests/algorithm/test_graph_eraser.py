"""GraphEraser: exact shard unlearning (only affected shards retrained, removed data gone,
same seed same parameters), aggregation, executors, atomic failure."""
import copy

import pytest
import torch

from torch_geometric_unlearn.algorithm.executor import (SequentialExecutor, ShardJob,
                                                        resolve_executor, train_shard)
from torch_geometric_unlearn.algorithm.graph_eraser import GraphEraser, ShardEnsemble
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
from torch_geometric_unlearn.unlearner import Unlearner


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def setup(cora):
    task = NodeClassificationTask(epochs=20, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7, hidden_channels=16), 0)
    return task, model


@pytest.fixture(scope='module')
def fitted_once(cora, setup):
    task, model = setup
    ge = GraphEraser(num_shards=4, partition='random', aggregation='learned')
    return Unlearner(model, ge, task=task).fit(cora)


def _fitted(cora, setup, fitted_once=None, **kw):
    r"""A fresh copy of the shared fitted unlearner (one fit per module keeps tests fast)."""
    if fitted_once is not None and not kw:
        u = copy.deepcopy(fitted_once)
        u.algorithm.task = u.task = setup[0]
        return u, u.algorithm
    task, model = setup
    kw.setdefault('num_shards', 4)
    kw.setdefault('partition', 'random')
    ge = GraphEraser(**kw)
    u = Unlearner(model, ge, task=task).fit(cora)
    return u, ge


def test_fit_predicts_every_node_and_is_useful(cora, setup, fitted_once):
    u, ge = _fitted(cora, setup, fitted_once)
    task = setup[0]
    assert len(ge.shard_data) == 4
    assert sorted(torch.cat([s.node_id for s in ge.shard_data]).tolist()) == \
        list(range(cora.num_nodes))
    logp = ge.ensemble(cora.x, cora.edge_index)
    assert logp.shape == (cora.num_nodes, 7)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(cora.num_nodes), atol=1e-4)
    assert task.evaluate(ge.ensemble, cora)['accuracy'] > 0.6
    # shard data: only edges among the shard's own nodes
    for s in ge.shard_data:
        assert s.edge_index.max() < s.num_nodes


def test_node_unlearning_is_exact_and_local(cora, setup, fitted_once):
    u, ge = _fitted(cora, setup, fitted_once)
    before = [dict(s) for s in ge.shard_states]
    victims = cora.train_mask.nonzero().view(-1)[:2]
    req = UnlearningRequest.nodes(victims)
    affected = ge.affected_shards(req)
    assert affected == sorted(set(ge.assignment[victims].tolist()))
    res = u.unlearn(req)
    assert res.extras['retrained_shards'] == affected
    for j in range(4):
        same = _states_equal(before[j], ge.shard_states[j])
        assert same == (j not in affected)  # untouched shards bit-identical, others retrained
    assert ge.audit(req)
    for s in ge.shard_data:
        assert not torch.isin(s.node_id, victims).any()
    # Retraining an affected shard from its stored (clean) data with the same seed
    # reproduces its parameters: they depend only on that data.
    j = affected[0]
    job = ShardJob(j, ge._fresh(j), ge.shard_data[j], setup[0], ge.base_seed + j)
    state, _ = train_shard(job)
    assert _states_equal(state, ge.shard_states[j])
    # and the removed nodes are no longer predicted from their own data
    assert (res.data.x[victims] == 0).all()


def test_edge_unlearning_retrains_only_shard_with_both_endpoints(cora, setup, fitted_once):
    u, ge = _fitted(cora, setup, fitted_once)
    a = ge.assignment
    row, col = cora.edge_index
    inside = (a[row] == a[col]).nonzero().view(-1)[0]
    across = (a[row] != a[col]).nonzero().view(-1)[0]
    e_in = cora.edge_index[:, inside].view(2, 1)
    before = [dict(s) for s in ge.shard_states]
    res = u.unlearn(UnlearningRequest.edges(e_in))
    assert res.extras['retrained_shards'] == [int(a[e_in[0, 0]])]
    assert ge.audit(UnlearningRequest.edges(e_in))
    req_across = UnlearningRequest.edges(cora.edge_index[:, across].view(2, 1))
    assert ge.affected_shards(req_across) == []  # in no shard's data
    states = [dict(s) for s in ge.shard_states]
    u.unlearn(req_across)
    assert all(_states_equal(s, t) for s, t in zip(states, ge.shard_states))
    assert sum(not _states_equal(s, t) for s, t in zip(before, ge.shard_states)) == 1


def test_feature_unlearning_clears_shard_features(cora, setup):
    u, ge = _fitted(cora, setup, aggregation='majority')
    node = int(cora.x.sum(1).argmax())
    req = UnlearningRequest.features([node])
    assert not ge.audit(req)
    res = u.unlearn(req)
    assert ge.audit(req) and res.extras['retrained_shards'] == [int(ge.assignment[node])]


def test_bad_request_leaves_state_unchanged(cora, setup, fitted_once):
    u, ge = _fitted(cora, setup, fitted_once)
    states = [dict(s) for s in ge.shard_states]
    with pytest.raises(Exception):
        u.unlearn(UnlearningRequest.nodes([cora.num_nodes + 5]))
    assert all(_states_equal(s, t) for s, t in zip(states, ge.shard_states))
    with pytest.raises(ValueError, match='partition'):
        GraphEraser(partition='metis')
    with pytest.raises(ValueError, match='aggregation'):
        GraphEraser(aggregation='max')


def test_same_seed_same_models(cora, setup, fitted_once):
    ge1 = fitted_once.algorithm
    task, model = setup
    ge2 = GraphEraser(num_shards=4, partition='random', aggregation='learned')
    ge2.connect(task)
    ge2._template = task.fresh_model(model, ge2.base_seed)
    ge2.assignment = ge1.assignment.clone()
    ge2.shard_data = ge1.shard_data
    ge2.shard_states = [{} for _ in range(4)]
    ge2._train_shards([1])
    assert _states_equal(ge1.shard_states[1], ge2.shard_states[1])


def test_ensemble_aggregations():
    class Const(torch.nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = torch.nn.Parameter(torch.tensor(p).log(), requires_grad=False)

        def forward(self, x, edge_index):
            return self.p.expand(x.size(0), -1)

    models = [Const([0.6, 0.4]), Const([0.6, 0.4]), Const([0.1, 0.9])]
    w = torch.full((3, ), 1 / 3)
    x, ei = torch.zeros(2, 1), torch.zeros(2, 0, dtype=torch.long)
    mean = ShardEnsemble(models, w, 'mean')(x, ei).exp()[0]
    assert torch.allclose(mean, torch.tensor([1.3 / 3, 1.7 / 3]), atol=1e-5)
    vote = ShardEnsemble(models, w, 'majority')(x, ei).exp()[0]
    assert torch.allclose(vote, torch.tensor([2 / 3, 1 / 3]), atol=1e-5)
    only_last = ShardEnsemble(models, torch.tensor([0., 0., 1.]), 'learned')(x, ei).exp()[0]
    assert torch.allclose(only_last, torch.tensor([0.1, 0.9]), atol=1e-5)


def test_process_executor_equals_sequential(cora, setup, fitted_once):
    # Same jobs (same seeds) in spawned worker processes give bit-identical shard models.
    from torch_geometric_unlearn.algorithm.executor import ProcessExecutor
    _, model = setup
    task = NodeClassificationTask(epochs=5, seed=0)  # short: worker start-up dominates
    ge = fitted_once.algorithm
    jobs = [ShardJob(j, task.fresh_model(model, 10 + j), ge.shard_data[j], task, 10 + j)
            for j in (0, 1)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' setting: identical float reductions
    try:
        seq = SequentialExecutor().map(train_shard, copy.deepcopy(jobs))
    finally:
        torch.set_num_threads(threads)
    par = ProcessExecutor(max_workers=1, threads_per_worker=1).map(train_shard, jobs)
    assert len(par) == len(seq) == 2
    for (s_state, s_info), (p_state, p_info) in zip(seq, par):
        assert _states_equal(s_state, p_state)
        assert s_info['best_epoch'] == p_info['best_epoch']
    assert not _states_equal(seq[0][0], seq[1][0])  # different shards, different models


def test_resolve_executor():
    assert isinstance(resolve_executor(None), SequentialExecutor)
    with pytest.raises(TypeError, match='map'):
        resolve_executor(42)

"""Persistence (issue 10): Unlearner.state_dict()/load_state_dict() (and save/load) of the
full unlearning state, loadable with torch.load(weights_only=True); a stream resumed from a
checkpoint gives exactly the results of an uninterrupted one."""
import copy

import pytest
import torch

from tests._reliability import (ALGORITHMS, assert_clean, logits, make_unlearner,
                                stream_setup)
from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm import GIF, Retrain, ScaleGUN
from torch_geometric_unlearn.audit import audit
from torch_geometric_unlearn.serialization import (TAG, Skipped, decode, encode,
                                                   state_difference, state_nbytes)
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize


@pytest.fixture(scope='module')
def setup():
    return stream_setup(6, seed=2)


@pytest.mark.parametrize('name', list(ALGORITHMS))
def test_resumed_stream_equals_uninterrupted(setup, tmp_path, name):
    data, model, task, requests = setup
    full = make_unlearner(name, data, model, task)
    for r in requests[:3]:
        full.unlearn(r)
    path = tmp_path / 'unlearner.pt'
    full.save(path)
    state = torch.load(path, weights_only=True)  # plain tensors and containers only
    # A fresh unlearner: same algorithm and task, a model of the same architecture with
    # other weights; no fit() on the data.
    other = reinitialize(model, seed=123)
    resumed = Unlearner(other, ALGORITHMS[name](), task=task).load_state_dict(state)
    assert len(resumed.history) == 3 and resumed.is_fitted
    assert torch.equal(logits(resumed), logits(full))
    assert state_difference(full.state_dict()['state'], resumed.state_dict()['state']) is None
    assert_clean(audit(resumed))  # the checkpoint holds no removed data either
    for r in requests[3:]:
        a, b = full.unlearn(r), resumed.unlearn(r)
        assert type(a.model) is type(b.model)
        assert torch.equal(logits(full), logits(resumed))
        if a.certificate is not None:
            assert a.certificate.as_dict() == b.certificate.as_dict()
    assert state_difference(full.state_dict()['state'], resumed.state_dict()['state']) is None


def test_state_dict_is_a_snapshot_and_shares_what_is_shared(setup):
    data, model, task, requests = setup
    u = make_unlearner('scalegun', data, model, task)
    state = u.state_dict()
    nbytes = state_nbytes(state['state'])
    u.unlearn(requests[0])
    assert state_nbytes(state['state']) == nbytes
    loaded = Unlearner(copy.deepcopy(model), ScaleGUN(max_iter=20), task=task)
    loaded.load_state_dict(state)
    # The certified model and the algorithm share one propagation state, as before saving.
    assert loaded.model.propagation is loaded.algorithm.propagation
    assert loaded.model is loaded.algorithm.model
    assert loaded.algorithm.certificate.requests == 0
    assert len(loaded.history) == 0


def test_checkpoint_mismatch_is_rejected_and_changes_nothing(setup):
    data, model, task, requests = setup
    u = make_unlearner('retrain', data, model, task)
    u.unlearn(requests[0])
    state = u.state_dict()
    target = make_unlearner('gif', data, model, task)
    before = target.state_dict()
    with pytest.raises(ValueError, match='cannot be loaded'):
        target.load_state_dict(state)
    with pytest.raises(ValueError, match='task'):
        Unlearner(copy.deepcopy(model), Retrain(),
                  task=NodeClassificationTask(epochs=3)).load_state_dict(state)
    with pytest.raises(ValueError, match='not an Unlearner state'):
        target.load_state_dict({'model': 1})
    with pytest.raises(ValueError, match='version'):
        target.load_state_dict({**state, 'version': 99})
    assert state_difference(before['state'], target.state_dict()['state']) is None
    with pytest.raises(RuntimeError, match='before fit'):
        Unlearner(copy.deepcopy(model), Retrain(), task=task).state_dict()


def test_checkpoint_never_names_code_to_run():
    # A tampered checkpoint naming an arbitrary class is refused (nothing is imported/run).
    for cls in ('os:system', 'builtins:eval', 'subprocess:Popen'):
        with pytest.raises(ValueError, match='not rebuilt'):
            decode({TAG: 'object', 'cls': cls, 'state': {TAG: 'dict', 'items': []}, 'id': 0})
    with pytest.raises(ValueError, match='unknown tag'):
        decode({TAG: 'pickle', 'id': 0})


def test_unencodable_values_are_skipped_and_kept_on_load(setup):
    data, model, task, requests = setup
    pick = lambda data, request, model, task: request.index  # noqa: E731 (a user callable)
    u = Unlearner(copy.deepcopy(model), GIF(iterations=2, influenced_nodes=pick), task=task)
    u.fit(data)
    state = u.state_dict()
    algo = GIF(iterations=2, influenced_nodes=pick)
    Unlearner(copy.deepcopy(model), algo, task=task).load_state_dict(state)
    assert algo.influenced_nodes is pick
    assert isinstance(decode(encode(lambda: 1)), Skipped)


def test_encode_decode_round_trip_of_containers():
    from collections import OrderedDict
    t = torch.arange(4.)
    value = {'a': (1, 2.5, 'x', None), 'b': [t, t], 'c': {3, 4}, ('k', 1): OrderedDict(z=t),
             'd': torch.float64, 'e': torch.nn.Parameter(torch.ones(2), requires_grad=False)}
    out = decode(encode(value))
    assert out['a'] == value['a'] and out['c'] == {3, 4} and out['d'] is torch.float64
    assert out['b'][0] is out['b'][1] and out['b'][0] is not t  # shared, but a copy
    assert torch.equal(out[('k', 1)]['z'], t) and isinstance(out[('k', 1)], OrderedDict)
    assert isinstance(out['e'], torch.nn.Parameter) and not out['e'].requires_grad


def test_unlearnrec_bipartite_audit_atomicity_and_resume(tmp_path, monkeypatch):
    # UnlearnRec on a bipartite graph: every reliability property in one small stream.
    unlearnrec = pytest.importorskip('torch_geometric_unlearn.algorithm.unlearnrec')
    from tests._reliability import inject
    from torch_geometric_unlearn import UnlearningRequest
    from torch_geometric_unlearn.datasets import powerlaw_bipartite
    from torch_geometric_unlearn.nn.recsys import build_recsys_model
    from torch_geometric_unlearn.task.recommendation import RecommendationTask, get_interactions
    data = powerlaw_bipartite(40, 60, 500, seed=0)
    task = RecommendationTask(epochs=3, batch_size=256, lr=5e-3, seed=0)
    model = reinitialize(build_recsys_model('lightgcn', 40, 60, 8), 0)
    task.train(model, data)
    make = lambda: unlearnrec.UnlearnRec(pretrain_epochs=1, finetune_epochs=1,  # noqa: E731
                                         max_steps_per_epoch=2)
    pairs = get_interactions(data, 'train')
    requests = [UnlearningRequest.interactions(pairs[0, k:k + 1], pairs[1, k:k + 1])
                for k in (0, 9, 17)]
    user = int(pairs[0, 40])
    requests.append(UnlearningRequest.nodes([user], node_type='user'))
    runs = []
    for _ in range(2):  # two runs: identical (determinism)
        u = Unlearner(copy.deepcopy(model), make(), task=task).fit(data)
        for r in requests[:2]:
            u.unlearn(r)
        runs.append(u)
    a, b = runs
    assert state_difference(a.state_dict()['state'], b.state_dict()['state']) is None
    before = a.state_dict()
    inject(monkeypatch, unlearnrec.UnlearnRec, 'make_result', torch.OutOfMemoryError('x'))
    with pytest.raises(torch.OutOfMemoryError):
        a.unlearn(requests[2])
    monkeypatch.undo()
    assert state_difference(before['state'], a.state_dict()['state']) is None
    a.save(tmp_path / 'rec.pt')
    resumed = Unlearner(reinitialize(model, 7), make(), task=task)
    resumed.load(tmp_path / 'rec.pt')
    for r in requests[2:]:
        x, y = a.unlearn(r), resumed.unlearn(r)
        assert torch.equal(x.model.embedding.weight, y.model.embedding.weight)
    report = audit(resumed)
    assert report.passed, report.summary()
    assert report.removed == {'nodes': 1, 'edges': 6, 'feature_nodes': 0}


def test_algorithm_level_state_dict(setup):
    data, model, task, requests = setup
    u = make_unlearner('cge', data, model, task)
    u.unlearn(requests[0])
    state = u.algorithm.state_dict()
    other = ALGORITHMS['cge']()
    with pytest.raises(ValueError, match='cannot be loaded'):
        GIF().load_state_dict(state)
    other.load_state_dict(state, template=model)  # the GNN on the mapped graph: GCN
    assert torch.equal(other.communities, u.algorithm.communities)
    with torch.no_grad():
        assert torch.equal(other.model(data.x, data.edge_index),
                           u.algorithm.model(data.x, data.edge_index))
    with pytest.raises(ValueError, match='cannot rebuild'):
        ALGORITHMS['cge']().load_state_dict(state)  # no template for the GCN

import copy

import torch

import torch_geometric_unlearn.task.node as node_task
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize


def test_sgc_training_propagates_once_with_the_same_weights(cora, monkeypatch):
    r"""SGC trains its linear layer on :math:`\hat{A}^K X` computed once per training run
    (as SGC is meant to be used; Retrain on SGC was otherwise 400 propagations): the trained
    weights and selected epoch are bit for bit those of the per-epoch forward."""
    task = NodeClassificationTask(epochs=30, seed=0)
    model = reinitialize(build_node_model('sgc', cora.num_features, 7), seed=0)
    calls = []
    conv_propagate = type(model.conv).propagate

    def counting(self, *args, **kwargs):
        calls.append(1)
        return conv_propagate(self, *args, **kwargs)

    monkeypatch.setattr(type(model.conv), 'propagate', counting)
    fast = copy.deepcopy(model)
    info_fast = task.train(fast, cora)
    assert len(calls) == model.conv.K  # one propagation of K hops for the whole run
    monkeypatch.setattr(node_task, 'sgc_features', lambda *args: None)
    slow = copy.deepcopy(model)
    info_slow = task.train(slow, cora)
    assert len(calls) > 30 * model.conv.K
    assert info_fast['best_epoch'] == info_slow['best_epoch']
    for p, q in zip(fast.parameters(), slow.parameters()):
        assert torch.equal(p, q)
    # Nothing is kept: the model still propagates on whatever graph it is given.
    assert not fast.conv.cached and fast.conv._cached_x is None


def test_sgc_features_only_for_the_plain_sgc(cora):
    task = NodeClassificationTask(epochs=1)
    gcn = build_node_model('gcn', cora.num_features, 7)
    assert node_task.sgc_features(gcn, task, cora) is None
    sgc = build_node_model('sgc', cora.num_features, 7)
    with torch.no_grad():
        assert torch.equal(sgc.conv.lin(node_task.sgc_features(sgc, task, cora)),
                           task.logits(sgc, cora))

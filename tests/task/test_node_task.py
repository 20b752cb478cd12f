import copy

import pytest
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


def _train_pair(data, name, epochs=40, **kwargs):
    r"""The same model trained on dense and on automatic (sparse where usable) features."""
    model = reinitialize(build_node_model(name, data.num_features, 7, **kwargs), seed=0)
    out = {}
    for sparse in (False, None):
        task = NodeClassificationTask(epochs=epochs, seed=0, sparse_features=sparse)
        trained = copy.deepcopy(model)
        info = task.train(trained, data)
        with torch.no_grad():
            out[sparse] = (info, trained, task.logits(trained, data), task)
    return out


def test_training_on_sparse_features_same_model(cora, monkeypatch):
    r"""Full-batch training feeds Cora's bag of words (1.3% non-zero) as CSR: the first
    layer's product runs through :class:`CSRMatmul` (Retrain is not slowed by a dense product
    that SGU and GIF avoid) and the trained model is the dense one up to float rounding."""
    from torch_geometric_unlearn.influence.sparse import CSRMatmul
    calls = []
    apply = CSRMatmul.apply
    monkeypatch.setattr(CSRMatmul, 'apply', lambda *a: calls.append(1) or apply(*a))
    out = _train_pair(cora, 'gcn')
    assert len(calls) >= 2 * 40  # every epoch's training and validation pass (automatic)
    (info_d, dense, logit_d, task_d), (info_s, sparse, logit_s, task_s) = out[False], out[None]
    assert task_d._sparse_ok is None and task_s._sparse_ok[1] is True
    assert info_d['best_epoch'] == info_s['best_epoch']
    assert torch.allclose(logit_d, logit_s, atol=1e-4)
    for p, q in zip(dense.parameters(), sparse.parameters()):
        assert torch.allclose(p, q, atol=1e-4)
    assert not dense.training and not sparse.training


class _InputDropout(torch.nn.Module):
    r"""A GCN that drops out its *input* features in training mode (a CSR tensor cannot be
    dropped out), with batch norm (training-mode statistics)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv
        self.conv = GCNConv(in_channels, out_channels)
        self.norm = torch.nn.BatchNorm1d(out_channels)

    def forward(self, x, edge_index):
        return self.norm(self.conv(torch.nn.functional.dropout(x, 0.5, self.training),
                                   edge_index))


def test_sparse_training_falls_back_when_training_mode_rejects_csr(cora):
    r"""The evaluation-mode trial passes (no dropout), the training-mode one fails: training
    stays dense, gives exactly the dense result, leaves the caller's generator alone and
    the model's batch-norm statistics untouched by the trial; :obj:`True` raises."""
    torch.manual_seed(123)
    model = _InputDropout(cora.num_features, 7)
    state = copy.deepcopy(model.state_dict())
    task = NodeClassificationTask(epochs=3, seed=0)
    assert task._sparse_training(model, cora) is False
    assert task._sparse_ok[1] is False
    for k, v in model.state_dict().items():  # the trial changed nothing
        assert torch.equal(v, state[k])
    rng = torch.get_rng_state()
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    task.train(a, cora)
    NodeClassificationTask(epochs=3, seed=0, sparse_features=False).train(b, cora)
    assert torch.equal(torch.get_rng_state(), rng)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)
    strict = NodeClassificationTask(epochs=1, sparse_features=True)
    with pytest.raises(ValueError, match='sparse_features=True'):
        strict.train(copy.deepcopy(model), cora)
    with pytest.raises(ValueError, match='sparse_features must be'):
        NodeClassificationTask(sparse_features='yes')


class _IndexesInput(torch.nn.Module):
    r"""Reads one column block of its input (a CSR tensor raises there)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(16, out_channels)

    def forward(self, x, edge_index):
        return self.lin(x[:, :16])


def test_sparse_training_never_breaks_a_dense_model(cora):
    model = reinitialize(_IndexesInput(cora.num_features, 7), seed=0)
    dense = copy.deepcopy(model)
    task = NodeClassificationTask(epochs=5, seed=0)
    task.train(model, cora)
    assert task._sparse_ok[1] is False
    NodeClassificationTask(epochs=5, seed=0, sparse_features=False).train(dense, cora)
    for p, q in zip(model.parameters(), dense.parameters()):
        assert torch.equal(p, q)

r"""ScaleGUN: certified unlearning on lazily propagated features, compared with retraining the
same certified model from scratch on the retained graph."""
import pytest
import torch

from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm.scalegun import (Certificate, ScaleGUN, ScaleGUNDeep,
                                                        certificate_budget)
from torch_geometric_unlearn.nn.node import build_node_model
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.task import NodeClassificationTask


def _fit(cora, **kw):
    kw.setdefault('max_iter', 60)
    alg = ScaleGUN(**kw)
    u = Unlearner(build_node_model('sgc', cora.num_features, 7), alg,
                  task=NodeClassificationTask(epochs=1))
    u.fit(cora)
    u.model = alg.model
    return u, alg


def _train_edges(cora, k):
    ei = cora.edge_index
    tr = cora.train_mask
    sel = (ei[0] < ei[1]) & (tr[ei[0]] | tr[ei[1]])
    return ei[:, sel][:, :k]


def test_edge_request_matches_retraining_from_scratch(cora):
    u, alg = _fit(cora)
    acc = u.evaluate()['accuracy']
    assert acc > 0.65
    cert = alg.certificate
    assert cert.budget == pytest.approx(certificate_budget(7, 0.1, 1.0, 1e-4))
    req = UnlearningRequest.edges(_train_edges(cora, 5))
    W_before = alg.W.clone()
    res = u.unlearn(req)
    assert res.guarantee == 'certified' and isinstance(res.certificate, Certificate)
    c = res.certificate.as_dict()
    assert c['spent'] <= c['budget'] and c['requests'] == 1 and c['spent'] > 0
    assert res.extras['train_rows_changed'] > 0
    # The retained graph really lacks the edges; the model predicts from the new features.
    assert not bool(alg.propagation.edge_alive(req.edge_index).any())
    assert torch.allclose(res.model(res.data.x, res.data.edge_index),
                          (alg.propagation.embedding @ alg.W).float())
    # Reference: the same certified model retrained from scratch (same noise) on propagation
    # recomputed from scratch on the retained graph.
    ref, ref_alg = _fit(res.data)
    assert not res.extras['retrained']
    rel = float((alg.W - ref_alg.W).norm() / ref_alg.W.norm())
    assert rel < 1e-3, rel
    assert float((alg.W - ref_alg.W).norm()) < 0.1 * float((ref_alg.W - W_before).norm())
    pred = res.model().argmax(-1)
    ref_pred = ref_alg.model().argmax(-1)
    assert float((pred == ref_pred).float().mean()) > 0.995
    assert abs(u.evaluate()['accuracy'] - ref.evaluate()['accuracy']) < 0.01


def test_node_and_feature_requests_and_budget_triggers_retrain(cora):
    u, alg = _fit(cora, std=0.01)  # a small budget: big requests must retrain
    node = cora.train_mask.nonzero().view(-1)[:3]
    res = u.unlearn(UnlearningRequest.nodes(node))
    pos = alg.pos[node]
    assert bool((alg.m[pos] == 0).all())  # removed nodes left the loss
    assert torch.count_nonzero(alg.propagation.x[node]) == 0
    c = res.certificate
    assert c.spent <= c.budget
    before = c.retrained
    for i in range(3):
        req = UnlearningRequest.features(cora.train_mask.nonzero().view(-1)[10 + 5 * i:15 + 5 * i])
        res = u.unlearn(req)
        assert res.certificate.spent <= res.certificate.budget  # never silently over budget
    assert res.certificate.retrained > before  # budget exhausted -> fresh-noise retrain
    assert res.certificate.requests == 4
    cols = torch.tensor([0, 5])
    v = cora.train_mask.nonzero().view(-1)[40:42]
    u.unlearn(UnlearningRequest.features(v, cols))
    assert torch.count_nonzero(alg.propagation.x[v][:, cols]) == 0


def test_failed_request_is_atomic_and_seed_reproducible(cora):
    u, alg = _fit(cora, max_iter=30)
    W, z = alg.W.clone(), alg.propagation.embedding.clone()
    cert = alg.certificate.as_dict()
    ei = cora.edge_index[:, :1]
    bad = torch.cat([ei, torch.tensor([[0], [2000]])], dim=1)  # second edge absent
    with pytest.raises(ValueError):
        u.unlearn(UnlearningRequest.edges(bad))
    # Also when the algorithm itself fails after touching the propagation state.
    alg.certificate.budget = 0.0  # propagation term alone now exceeds the budget
    with pytest.raises(RuntimeError, match='cannot be certified'):
        u.unlearn(UnlearningRequest.edges(_train_edges(cora, 2)))
    assert torch.equal(alg.W, W) and torch.equal(alg.propagation.embedding, z)
    assert alg.certificate.as_dict()['budget'] == 0.0
    alg.certificate.budget = cert['budget']
    _, alg2 = _fit(cora, max_iter=30)  # same seed, same model
    assert torch.equal(alg2.W, W)
    assert not torch.equal(alg2._noise(1), alg2._noise(0))  # a retrain draws fresh noise


def test_deep_variant_is_approximate(cora):
    alg = ScaleGUNDeep(epochs=30, finetune_epochs=5)
    u = Unlearner(build_node_model('sgc', cora.num_features, 7), alg,
                  task=NodeClassificationTask(epochs=1))
    u.fit(cora)
    u.model = alg.model
    assert alg.guarantee == 'approximate'
    assert u.evaluate()['accuracy'] > 0.6
    res = u.unlearn(UnlearningRequest.edges(_train_edges(cora, 3)))
    assert res.certificate is None
    assert u.evaluate()['accuracy'] > 0.6


def test_registered_with_cli():
    from torch_geometric_unlearn.benchmark.registry import ALGORITHMS
    assert 'scalegun' in ALGORITHMS and 'scalegun-deep' in ALGORITHMS

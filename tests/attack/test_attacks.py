import numpy as np
import pytest
import torch

from torch_geometric_unlearn.attack import (
    ShadowMIA,
    edge_mia_auc,
    mi_bf,
    mi_ng,
    posterior_shift_auc,
    recsys_membership,
    sample_non_edges,
    shadow_split,
    sorted_posterior_features,
    threshold_mia_auc,
)


def _dirichlet(n, c, conc, seed):
    # Softmax of scaled Gaussians: small conc -> peaked (member-like), large -> flat.
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g) / conc).softmax(-1)


@pytest.mark.parametrize('score', ['confidence', 'loss', 'entropy'])
def test_threshold_perfect_leak_and_identical(score):
    n, c = 400, 5
    y = torch.arange(n) % c
    proba = torch.full((n, c), 1.0 / c)
    members = torch.arange(0, 200)
    proba[members] = torch.nn.functional.one_hot(y[members], c).float() * 0.99 + 0.01 / c
    non = torch.arange(200, 400)
    assert threshold_mia_auc(proba, y, members, non, score) == 1.0
    same = _dirichlet(4000, c, 1.0, 0)
    y2 = torch.zeros(4000, dtype=torch.long)
    auc = threshold_mia_auc(same, y2, torch.arange(2000), torch.arange(2000, 4000), score)
    assert abs(auc - 0.5) < 0.05


def test_shadow_classifier_known_answers():
    c = 6
    peaked = _dirichlet(600, c, 0.1, 1)      # member-like: nearly one-hot
    flat = _dirichlet(600, c, 5.0, 2)         # non-member-like
    feats = np.concatenate([sorted_posterior_features(peaked[:300]),
                            sorted_posterior_features(flat[:300])])
    labels = np.r_[np.ones(300), np.zeros(300)].astype(np.int64)
    attack = ShadowMIA(classifier='logreg', seed=0).fit_features(feats, labels)
    proba = torch.cat([peaked[300:], flat[300:]])
    assert attack.auc(proba, torch.arange(300), torch.arange(300, 600)) > 0.99
    same = _dirichlet(2000, c, 1.0, 3)
    auc = attack.auc(same, torch.arange(1000), torch.arange(1000, 2000))
    assert abs(auc - 0.5) < 0.05
    # Sorting makes the features class-agnostic.
    perm = torch.randperm(c, generator=torch.Generator().manual_seed(0))
    assert np.allclose(sorted_posterior_features(proba), sorted_posterior_features(proba[:, perm]))
    with pytest.raises(RuntimeError):
        ShadowMIA().score(proba)
    with pytest.raises(ValueError):
        ShadowMIA(classifier='svm')


def test_shadow_split_is_disjoint_and_seeded():
    from tests.conftest import toy_graph
    from torch_geometric.data import Data
    g = torch.Generator().manual_seed(0)
    n = 200
    ei = torch.randint(n, (2, 800), generator=g)
    data = Data(x=torch.randn(n, 4, generator=g), y=torch.randint(3, (n,), generator=g),
                edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=n)
    exclude = torch.arange(0, 100)
    a = shadow_split(data, exclude, seed=1)
    b = shadow_split(data, exclude, seed=1)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    # Every shadow row is a non-excluded node's feature row.
    rows = (a.x.unsqueeze(1) == data.x[100:].unsqueeze(0)).all(-1).any(-1)
    assert bool(rows.all()) and a.num_nodes == 50
    assert not bool((a.train_mask & a.test_mask).any())
    with pytest.raises(ValueError, match='shadow graph'):
        shadow_split(toy_graph(), torch.arange(6))


def test_edge_mia_and_non_edges():
    n = 50
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    ei = torch.cat([ring, ring.flip(0)], 1)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    ne = sample_non_edges(ei, n, 300, g1)
    assert torch.equal(ne, sample_non_edges(ei, n, 300, g2))
    keys = set((ei[0] * n + ei[1]).tolist())
    assert all(int(u) * n + int(v) not in keys and u != v for u, v in ne.t())
    # Perfect leak: linked nodes share an embedding, others are orthogonal.
    z = torch.eye(n)
    members = torch.stack([torch.arange(10), torch.arange(10)])
    assert edge_mia_auc(z, members, ne) == 1.0
    zr = torch.randn(n, 8, generator=torch.Generator().manual_seed(0))
    auc = edge_mia_auc(zr, sample_non_edges(ei, n, 2000, g1), sample_non_edges(ei, n, 2000, g1))
    assert abs(auc - 0.5) < 0.05


def test_posterior_shift_auc():
    before = _dirichlet(100, 4, 1.0, 0)
    after = before.clone()
    after[:20] = _dirichlet(20, 4, 1.0, 9)
    assert posterior_shift_auc(before, after, torch.arange(20), torch.arange(20, 100)) == 1.0
    assert posterior_shift_auc(before, before, torch.arange(20), torch.arange(20, 100)) == 0.5


def test_mi_bf_mi_ng_known_values():
    assert mi_bf(torch.tensor([0.8, 0.8]), torch.tensor([0.2, 0.2])) == pytest.approx(4.0)
    assert mi_ng(torch.tensor([0.3]), torch.tensor([0.1, 0.2])) == pytest.approx(2.0)
    ue = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ie_before = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    ie_after = torch.tensor([[-3.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    removed = torch.tensor([[0], [0]])
    neg = torch.tensor([[0, 1], [2, 2]])
    res = recsys_membership(ue, ie_before, ue, ie_after, removed, neg, return_scores=True)
    s3 = torch.tensor(3.0).sigmoid().item()
    sm3 = torch.tensor(-3.0).sigmoid().item()
    assert res['mi_bf'] == pytest.approx(s3 / sm3)
    assert res['mi_ng'] == pytest.approx(0.5 / sm3)
    assert res['interaction_mia_auc'] == 0.0   # removed now scores below every negative
    assert res['scores']['removed_before'] == pytest.approx([s3])

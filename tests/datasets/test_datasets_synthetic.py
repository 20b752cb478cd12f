"""Synthetic graphs: the planted-partition SBM and the power-law user-item graph."""
from __future__ import annotations

import pytest
import torch

from torch_geometric_unlearn.datasets import (
    is_bipartite,
    powerlaw_bipartite,
    stochastic_block_model,
)

RATES, REV = ('user', 'rates', 'item'), ('item', 'rev_rates', 'user')


def test_sbm_structure_and_reproducibility():
    state = torch.get_rng_state()
    data = stochastic_block_model(5000, 25000, num_classes=5, num_features=16, seed=0)
    assert torch.equal(torch.get_rng_state(), state)  # never touches the global generator
    N, ei = 5000, data.edge_index
    assert data.num_nodes == N and data.x.shape == (N, 16) and data.y.shape == (N, )
    assert ei.size(1) == 2 * 25000  # exactly the requested undirected edges, both directions
    assert data.is_undirected() and not data.has_self_loops()
    key = ei[0] * N + ei[1]
    assert bool((key.diff() > 0).all())  # sorted, no duplicates
    assert torch.bincount(data.y).tolist() == [1000] * 5  # balanced classes

    same = stochastic_block_model(5000, 25000, num_classes=5, num_features=16, seed=0)
    other = stochastic_block_model(5000, 25000, num_classes=5, num_features=16, seed=1)
    for attr in ('edge_index', 'x', 'y', 'train_mask', 'val_mask', 'test_mask'):
        assert torch.equal(data[attr], same[attr])
    assert not torch.equal(data.edge_index, other.edge_index)
    assert not torch.equal(data.y, other.y)


def test_sbm_labels_drive_edges_and_features():
    data = stochastic_block_model(5000, 25000, num_classes=5, num_features=32, homophily=0.8,
                                  feature_signal=0.5, seed=0)
    row, col = data.edge_index
    homophily = (data.y[row] == data.y[col]).float().mean().item()
    assert 0.75 < homophily < 0.85
    # Features: a nearest-class-mean classifier fitted on the training nodes beats chance (20%).
    tr = data.train_mask
    means = torch.stack([data.x[tr & (data.y == k)].mean(0) for k in range(5)])
    pred = torch.cdist(data.x[data.test_mask], means).argmin(1)
    assert (pred == data.y[data.test_mask]).float().mean().item() > 0.5
    # Planetoid-style masks below 20k nodes.
    assert [int(data[m].sum()) for m in ('train_mask', 'val_mask', 'test_mask')] == \
        [100, 500, 1000]
    assert torch.bincount(data.y[tr]).tolist() == [20] * 5
    assert not ((data.train_mask & data.val_mask) | (data.val_mask & data.test_mask)
                | (data.train_mask & data.test_mask)).any()
    # No homophily: about 1/K of the edges within a class; uninformative features allowed.
    flat = stochastic_block_model(2000, 10000, num_classes=5, homophily=0.0, seed=0)
    r, c = flat.edge_index
    assert (flat.y[r] == flat.y[c]).sum() == 0


def test_sbm_fraction_split_and_errors():
    data = stochastic_block_model(30000, 60000, num_classes=3, num_features=4, seed=2)
    assert data.edge_index.size(1) == 120000
    assert [int(data[m].sum()) for m in ('train_mask', 'val_mask', 'test_mask')] == \
        [18000, 6000, 6000]  # 'auto' above 20k nodes: 60/20/20
    d = stochastic_block_model(1000, 2000, split=(0.5, 0.1, 0.1), seed=0)
    assert int(d.train_mask.sum()) == 500 and int(d.test_mask.sum()) == 100
    with pytest.raises(ValueError, match='sparse'):
        stochastic_block_model(10, 40)
    with pytest.raises(ValueError, match='homophily'):
        stochastic_block_model(100, 100, homophily=1.5)
    with pytest.raises(ValueError, match='split'):
        stochastic_block_model(100, 100, split='halves')


def test_powerlaw_bipartite():
    state = torch.get_rng_state()
    data = powerlaw_bipartite(2000, 3000, 30000, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert is_bipartite(data) and set(data.edge_types) == {RATES, REV}
    U, I = 2000, 3000
    assert data['user'].num_nodes == U and data['item'].num_nodes == I
    train, test = data[RATES].edge_index, data[RATES].edge_label_index
    assert train.size(1) + test.size(1) == 30000  # exactly, after deduplication
    for ei in (train, test):
        assert bool(((ei[0] * I + ei[1]).diff() > 0).all())
        assert int(ei[0].max()) < U and int(ei[1].max()) < I and int(ei.min()) >= 0
    assert not torch.isin(test[0] * I + test[1], train[0] * I + train[1]).any()
    assert torch.equal(data[REV].edge_index, train.flip(0))
    deg_train = torch.bincount(train[0], minlength=U)
    assert bool((deg_train >= 1).all())  # every user has a training interaction
    assert 0.15 < test.size(1) / 30000 < 0.2
    # Power-law: a heavy head of items and users.
    item_deg = torch.bincount(torch.cat([train[1], test[1]]), minlength=I).sort(
        descending=True).values
    assert item_deg[:30].sum() > 0.2 * 30000  # top 1% of items: > 20% of interactions
    user_deg = (deg_train + torch.bincount(test[0], minlength=U)).float()
    assert user_deg.max() > 10 * user_deg.median()

    same = powerlaw_bipartite(2000, 3000, 30000, seed=0)
    other = powerlaw_bipartite(2000, 3000, 30000, seed=1)
    assert torch.equal(same[RATES].edge_index, train)
    assert torch.equal(same[RATES].edge_label_index, test)
    assert not torch.equal(other[RATES].edge_index, train)


def test_powerlaw_bipartite_errors():
    with pytest.raises(ValueError, match='num_interactions >= num_users'):
        powerlaw_bipartite(100, 10, 50)
    with pytest.raises(ValueError, match='sparse'):
        powerlaw_bipartite(10, 10, 60)
    one = powerlaw_bipartite(5, 5, 5, seed=0)  # one interaction per user, all training
    assert one[RATES].num_edges == 5 and one[RATES].edge_label_index.size(1) == 0

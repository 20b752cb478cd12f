"""Benchmark dataset names (load_dataset) and is_bipartite."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.datasets import (
    DATASET_NAMES,
    is_bipartite,
    load_dataset,
    to_homogeneous_bipartite,
)

RATES = ('user', 'rates', 'item')


def test_planetoid_names():
    data = load_dataset('Cora')
    assert isinstance(data, Data) and data.num_nodes == 2708 and not is_bipartite(data)
    with pytest.raises(FileNotFoundError, match='only Cora ships'):
        load_dataset('citeseer')


def test_synthetic_names():
    sbm = load_dataset('sbm:1000,3000', seed=1)
    assert isinstance(sbm, Data) and sbm.num_nodes == 1000 and sbm.edge_index.size(1) == 6000
    assert torch.equal(sbm.edge_index, load_dataset(' SBM:1_000, 3000 ', seed=1).edge_index)
    assert not torch.equal(sbm.edge_index, load_dataset('sbm:1000,3000', seed=2).edge_index)
    opt = load_dataset('sbm:1000,3000?num_classes=4&num_features=8&homophily=0.9')
    assert opt.x.size(1) == 8 and int(opt.y.max()) == 3

    bip = load_dataset('bipartite:100,300,1500?test_ratio=0.5', seed=3)
    assert isinstance(bip, HeteroData) and is_bipartite(bip)
    assert (bip['user'].num_nodes, bip['item'].num_nodes) == (100, 300)
    assert bip[RATES].edge_index.size(1) + bip[RATES].edge_label_index.size(1) == 1500
    assert bip[RATES].edge_label_index.size(1) > 500


@pytest.mark.parametrize('name, match', [
    ('imagenet', 'valid names: cora, citeseer'),
    ('', 'non-empty'),
    ('sbm', 'unknown dataset'),
    ('sbm:100', r'sbm:<nodes>,<edges>'),
    ('sbm:100,x', 'edges must be a non-negative integer'),
    ('sbm:100,1.5', 'edges must be a non-negative integer'),
    ('bipartite:1,2', r'bipartite:<users>,<items>,<interactions>'),
    ('sbm:100,200?colour=red', "unknown option 'colour'"),
    ('sbm:100,200?homophily=high', "option 'homophily' has an invalid value"),
    ('gowalla?max_users=many', "option 'max_users' has an invalid value"),
    ('cora:extra', 'unknown dataset'),
    ('lightgcn:', 'give the folder'),
])
def test_bad_names(name, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(name)


def test_every_documented_name_is_listed():
    msg = ''
    try:
        load_dataset('nope')
    except ValueError as e:
        msg = str(e)
    for name in DATASET_NAMES:
        assert name in msg


def test_missing_default_folders(tmp_path, monkeypatch):
    monkeypatch.setenv('TGU_SHARED_DATA', str(tmp_path / 'absent'))
    for name in ('gowalla', 'movielens100k', 'ogbn-arxiv'):
        with pytest.raises(FileNotFoundError, match='no root given'):
            load_dataset(name)
    with pytest.raises(FileNotFoundError, match='train.txt'):
        load_dataset('gowalla', root=tmp_path)


def test_is_bipartite():
    bip = load_dataset('bipartite:20,30,60')
    assert is_bipartite(bip) and is_bipartite(to_homogeneous_bipartite(bip))
    hetero = HeteroData()
    hetero['paper'].num_nodes = 3
    hetero['author'].num_nodes = 2
    hetero['author', 'writes', 'paper'].edge_index = torch.tensor([[0], [1]])
    assert not is_bipartite(hetero)
    assert not is_bipartite(Data(num_nodes=3))
    assert not is_bipartite(None)

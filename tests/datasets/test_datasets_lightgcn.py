"""LightGCN-format reader, the bipartite HeteroData convention and the homogeneous view."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import HeteroData

from torch_geometric_unlearn.datasets import (
    bipartite_to_homogeneous,
    homogeneous_to_bipartite,
    is_bipartite,
    load_dataset,
    load_lightgcn,
    read_lightgcn_file,
    to_homogeneous_bipartite,
)

SHARED = Path(os.environ.get('TGU_SHARED_DATA',
                             Path(__file__).resolve().parents[2] / '..' / 'shared' / 'data'))
RATES, REV = ('user', 'rates', 'item'), ('item', 'rev_rates', 'user')


def gowalla_dir() -> Path:
    path = SHARED / 'gowalla'
    if not (path / 'train.txt').is_file():
        pytest.skip(f'{path} not present (real-data test)')
    return path


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*'))}


def pairs(t: torch.Tensor) -> set:
    return set(map(tuple, t.t().tolist()))


def check_convention(data: HeteroData) -> None:
    r"""The package-wide bipartite convention."""
    assert isinstance(data, HeteroData) and is_bipartite(data)
    assert set(data.node_types) == {'user', 'item'}
    assert set(data.edge_types) == {RATES, REV}
    U, I = data['user'].num_nodes, data['item'].num_nodes
    train, test = data[RATES].edge_index, data[RATES].edge_label_index
    for ei in (train, test):
        assert ei.dtype == torch.long and ei.dim() == 2 and ei.size(0) == 2
        assert int(ei[0].min()) >= 0 and int(ei[0].max()) < U
        assert int(ei[1].min()) >= 0 and int(ei[1].max()) < I
        keys = ei[0] * I + ei[1]
        assert bool((keys[1:] > keys[:-1]).all())  # sorted by (user, item), no duplicates
    train_keys, test_keys = train[0] * I + train[1], test[0] * I + test[1]
    pos = torch.searchsorted(train_keys, test_keys).clamp(max=max(train_keys.numel() - 1, 0))
    assert train_keys.numel() == 0 or not (train_keys[pos] == test_keys).any()  # disjoint
    assert torch.equal(data[REV].edge_index, train.flip(0))


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    # User 3 has no training items, user 4 appears only in test.txt, a duplicate pair (0, 2),
    # a test pair (1, 0) that is also a training pair, Windows line endings and a blank line.
    (tmp_path / 'train.txt').write_bytes(b'0 2 1 2\r\n1 0 3\n\n2 4\n3\n')
    (tmp_path / 'test.txt').write_text('0 3\n1 0 4\n2 1\n4 0 5\n')
    return tmp_path


def test_read_lightgcn_file(tiny_dir):
    users, items, line_users = read_lightgcn_file(tiny_dir / 'train.txt')
    assert users.tolist() == [0, 0, 0, 1, 1, 2]
    assert items.tolist() == [2, 1, 2, 0, 3, 4]
    assert line_users.tolist() == [0, 1, 2, 3]


def test_tiny_lightgcn_convention(tiny_dir):
    data = load_lightgcn(tiny_dir)
    check_convention(data)
    assert data['user'].num_nodes == 5 and data['item'].num_nodes == 6
    assert data[RATES].edge_index.tolist() == [[0, 0, 1, 1, 2], [1, 2, 0, 3, 4]]
    assert data[RATES].edge_label_index.tolist() == [[0, 1, 2, 4, 4], [3, 4, 1, 0, 5]]


def test_bad_file_is_reported(tmp_path):
    (tmp_path / 'train.txt').write_text('0 1 2\n1 -3\n')
    (tmp_path / 'test.txt').write_text('0 3\n')
    with pytest.raises(ValueError, match="line 2: unexpected character '-'"):
        load_lightgcn(tmp_path)
    with pytest.raises(FileNotFoundError, match='test.txt'):
        load_lightgcn(tmp_path / 'nothing')


def test_tiny_subset(tiny_dir):
    sub = load_lightgcn(tiny_dir, max_users=2, subset='first')
    check_convention(sub)
    # Users 0 and 1, and the items they have in train.txt (0, 1, 2, 3) re-indexed in order.
    assert sub['user'].n_id.tolist() == [0, 1] and sub['item'].n_id.tolist() == [0, 1, 2, 3]
    assert sub[RATES].edge_index.tolist() == [[0, 0, 1, 1], [1, 2, 0, 3]]
    assert sub[RATES].edge_label_index.tolist() == [[0], [3]]  # (1, 4): item 4 not kept
    with pytest.raises(ValueError, match='subset'):
        load_lightgcn(tiny_dir, max_users=2, subset='last')


def test_homogeneous_view_roundtrip(tiny_dir):
    data = load_lightgcn(tiny_dir)
    homo = to_homogeneous_bipartite(data)
    U, I = 5, 6
    assert homo.num_nodes == U + I and homo.num_users == U and homo.num_items == I
    assert is_bipartite(homo)
    assert homo.is_undirected() and homo.edge_index.size(1) == 2 * data[RATES].num_edges
    row, col = homo.edge_index
    assert bool(((row < U) != (col < U)).all())  # every edge joins a user and an item
    fwd = homo.edge_index[:, row < U]
    assert torch.equal(homogeneous_to_bipartite(fwd, U, I), data[RATES].edge_index)
    label = homo.edge_label_index
    assert bool((label[0] < U).all() and (label[1] >= U).all())
    assert torch.equal(homogeneous_to_bipartite(label.flip(0), U), data[RATES].edge_label_index)
    assert torch.equal(bipartite_to_homogeneous(data[RATES].edge_label_index, U), label)
    with pytest.raises(ValueError, match='do not join a user'):
        homogeneous_to_bipartite(torch.tensor([[0], [1]]), U)  # user-user pair
    with pytest.raises(ValueError, match='do not join a user'):
        homogeneous_to_bipartite(torch.tensor([[0], [U + I]]), U, I)


def test_lightgcn_name(tiny_dir):
    a = load_dataset(f'lightgcn:{tiny_dir}')
    b = load_dataset('lightgcn:', root=tiny_dir)
    c = load_dataset('gowalla', root=tiny_dir)  # gowalla with an explicit root
    for d in (b, c):
        assert torch.equal(a[RATES].edge_index, d[RATES].edge_index)
    sub = load_dataset(f'lightgcn:{tiny_dir}?max_users=3&subset=first')
    assert sub['user'].num_nodes == 3


def test_gowalla_full():
    root = gowalla_dir()
    before = snapshot(root)
    data = load_lightgcn(root)
    check_convention(data)
    # Counts of the LightGCN Gowalla split (see ../shared/data/PROVENANCE.md).
    assert (data['user'].num_nodes, data['item'].num_nodes) == (29858, 40981)
    assert data[RATES].num_edges == 810128
    assert data[RATES].edge_label_index.size(1) == 217242
    assert snapshot(root) == before


def test_gowalla_subset_is_deterministic():
    root = gowalla_dir()
    a = load_lightgcn(root, max_users=2000, seed=0)
    check_convention(a)
    assert a['user'].num_nodes == 2000
    U, I = a['user'].num_nodes, a['item'].num_nodes
    train = a[RATES].edge_index
    # Only items the kept users interact with in training; every one of them is used.
    assert torch.equal(torch.unique(train[1]), torch.arange(I))
    assert a[RATES].edge_label_index.size(1) > 0
    assert bool((a['user'].n_id[1:] > a['user'].n_id[:-1]).all())

    b = load_dataset('gowalla?max_users=2000', seed=0)
    assert torch.equal(a[RATES].edge_index, b[RATES].edge_index)
    assert torch.equal(a[RATES].edge_label_index, b[RATES].edge_label_index)
    assert torch.equal(a['user'].n_id, b['user'].n_id)
    c = load_lightgcn(root, max_users=2000, seed=1)
    assert not torch.equal(a['user'].n_id, c['user'].n_id)
    assert U == c['user'].num_nodes

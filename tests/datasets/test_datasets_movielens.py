"""MovieLens-100K as implicit feedback (needs ../shared/data/ml-100k; skipped without it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from torch_geometric_unlearn.datasets import (
    is_bipartite,
    load_dataset,
    load_movielens100k,
    per_user_split,
)

SHARED = Path(os.environ.get('TGU_SHARED_DATA',
                             Path(__file__).resolve().parents[2] / '..' / 'shared' / 'data'))
RATES, REV = ('user', 'rates', 'item'), ('item', 'rev_rates', 'user')


def ml100k() -> Path:
    path = SHARED / 'ml-100k'
    if not (path / 'raw' / 'u1.base').is_file():
        pytest.skip(f'{path} not present (real-data test)')
    return path


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*'))}


def keys(ei: torch.Tensor) -> torch.Tensor:
    return ei[0] * 1682 + ei[1]


@pytest.fixture(scope='module')
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('ml-cache')  # PyG processes the raw files once per module


def test_u1_split(cache, monkeypatch):
    root = ml100k()
    before = snapshot(root)
    data = load_movielens100k(root, cache_dir=cache)
    assert snapshot(root) == before and not (root / 'processed').exists()
    assert is_bipartite(data)
    assert set(data.edge_types) == {RATES, REV}
    assert data['user'].num_nodes == 943 and data['item'].num_nodes == 1682
    assert data['user'].x.size(0) == 943 and data['item'].x.size(0) == 1682
    train, test = data[RATES].edge_index, data[RATES].edge_label_index
    # Ratings >= 4 of u1.base / u1.test (55,375 of the 100,000 ratings are >= 4).
    raw = {}
    for part in ('base', 'test'):
        rows = torch.tensor([[int(v) for v in line.split('\t')[:3]]
                             for line in (root / 'raw' / f'u1.{part}').read_text().splitlines()])
        liked = rows[rows[:, 2] >= 4]
        raw[part] = set(zip((liked[:, 0] - 1).tolist(), (liked[:, 1] - 1).tolist()))
    assert set(map(tuple, train.t().tolist())) == raw['base']
    assert set(map(tuple, test.t().tolist())) == raw['test']
    assert train.size(1) + test.size(1) == 55375
    assert bool((keys(train).diff() > 0).all())
    assert not torch.isin(keys(test), keys(train)).any()
    assert torch.equal(data[REV].edge_index, train.flip(0))

    # A lower threshold keeps more ratings; the name resolves to the same loader.
    everything = load_movielens100k(root, min_rating=1, cache_dir=cache)
    assert everything[RATES].edge_index.size(1) == 80000
    monkeypatch.setenv('TGU_CACHE', str(cache))
    named = load_dataset('movielens100k', root=root)
    assert torch.equal(named[RATES].edge_index, train)


def test_random_split(cache):
    root = ml100k()
    a = load_movielens100k(root, split='random', seed=0, cache_dir=cache)
    b = load_movielens100k(root, split='random', seed=0, cache_dir=cache)
    c = load_movielens100k(root, split='random', seed=1, cache_dir=cache)
    assert torch.equal(a[RATES].edge_index, b[RATES].edge_index)
    assert torch.equal(a[RATES].edge_label_index, b[RATES].edge_label_index)
    assert not torch.equal(a[RATES].edge_index, c[RATES].edge_index)
    train, test = a[RATES].edge_index, a[RATES].edge_label_index
    assert train.size(1) + test.size(1) == 55375
    assert not torch.isin(keys(test), keys(train)).any()
    deg_train = torch.bincount(train[0], minlength=943)
    deg_test = torch.bincount(test[0], minlength=943)
    deg = deg_train + deg_test
    assert torch.equal(deg_test, torch.floor(deg * 0.2 + 1e-9).long())  # 20% of each user
    assert bool((deg_train[deg > 0] > 0).all())


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='u1.base'):
        load_movielens100k(tmp_path, cache_dir=tmp_path / 'cache')
    with pytest.raises(ValueError, match='split'):
        load_movielens100k(tmp_path, split='u9')


def test_per_user_split():
    pairs = torch.tensor([[0] * 10 + [1] * 3 + [2], list(range(10)) + [0, 1, 2] + [5]])
    train, test = per_user_split(pairs, 3, test_ratio=0.3, seed=0)
    assert torch.bincount(test[0], minlength=3).tolist() == [3, 0, 0]
    assert torch.bincount(train[0], minlength=3).tolist() == [7, 3, 1]
    both = torch.cat([train, test], 1)
    assert sorted(map(tuple, both.t().tolist())) == sorted(map(tuple, pairs.t().tolist()))

"""The dense (k-core) subsets of LightGCN-format data: ``load_lightgcn(min_interactions=k)``."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import shared_data
from torch_geometric_unlearn.datasets import load_dataset, load_lightgcn
from torch_geometric_unlearn.datasets.lightgcn import k_core, subset_stats

RATES = ('user', 'rates', 'item')


def write_lightgcn(folder: Path, pairs: torch.Tensor, name: str) -> None:
    r"""Writes (user, item) pairs as a LightGCN text file (one line per user)."""
    lines = {}
    for u, i in pairs.t().tolist():
        lines.setdefault(u, []).append(str(i))
    (folder / name).write_text(''.join(f"{u} {' '.join(its)}\n"
                                       for u, its in sorted(lines.items())))


@pytest.fixture
def skewed_dir(tmp_path) -> Path:
    r"""60 users, 80 items, power-law-ish degrees: a proper, non-trivial 4-core."""
    gen = torch.Generator().manual_seed(7)
    U, I, E = 60, 80, 700
    user_w = torch.arange(1, U + 1, dtype=torch.float).pow(-0.8)
    item_w = torch.arange(1, I + 1, dtype=torch.float).pow(-0.9)
    users = torch.multinomial(user_w, E, replacement=True, generator=gen)
    items = torch.multinomial(item_w, E, replacement=True, generator=gen)
    pairs = torch.stack([users, items])
    is_test = torch.rand(E, generator=gen) < 0.2
    write_lightgcn(tmp_path, pairs[:, ~is_test], 'train.txt')
    write_lightgcn(tmp_path, pairs[:, is_test], 'test.txt')
    return tmp_path


def reference_core(pairs: set, k: int) -> set:
    r"""The k-core by the textbook loop (sets, no tensors)."""
    pairs = set(pairs)
    while True:
        du, di = {}, {}
        for u, i in pairs:
            du[u] = du.get(u, 0) + 1
            di[i] = di.get(i, 0) + 1
        kept = {(u, i) for u, i in pairs if du[u] >= k and di[i] >= k}
        if kept == pairs:
            return kept
        pairs = kept


def original_pairs(data, key: str = 'edge_index') -> set:
    ei = data[RATES][key]
    return set(zip(data['user'].n_id[ei[0]].tolist(), data['item'].n_id[ei[1]].tolist()))


def file_pairs(path: Path) -> set:
    out = set()
    for line in path.read_text().split('\n'):
        ids = [int(t) for t in line.split()]
        out.update((ids[0], i) for i in ids[1:])
    return out


@pytest.mark.parametrize('max_users', [None, 40])
def test_k_core_holds_and_matches_reference(skewed_dir, max_users):
    k = 4
    data = load_lightgcn(skewed_dir, max_users=max_users, seed=3, min_interactions=k)
    train = data[RATES].edge_index
    U, I = data['user'].num_nodes, data['item'].num_nodes
    assert 0 < U < 60 and 0 < I < 80  # the filter removed something and kept something
    # Every kept user and item has >= k training interactions (and at least one).
    assert int(torch.bincount(train[0], minlength=U).min()) >= k
    assert int(torch.bincount(train[1], minlength=I).min()) >= k
    # Same pairs as the textbook k-core of the chosen users' training interactions.
    full = file_pairs(skewed_dir / 'train.txt')
    if max_users is not None:
        chosen = load_lightgcn(skewed_dir, max_users=max_users, seed=3)
        chosen_users = set(chosen['user'].n_id.tolist())
        full = {(u, i) for u, i in full if u in chosen_users}
        assert set(data['user'].n_id.tolist()) <= chosen_users
    assert original_pairs(data) == reference_core(full, k)


def test_test_set_restricted_to_kept_users_and_items(skewed_dir):
    data = load_lightgcn(skewed_dir, max_users=40, seed=3, min_interactions=4)
    users, items = set(data['user'].n_id.tolist()), set(data['item'].n_id.tolist())
    train = original_pairs(data)
    expected = {(u, i) for u, i in file_pairs(skewed_dir / 'test.txt')
                if u in users and i in items and (u, i) not in train}
    assert len(expected) > 0
    assert original_pairs(data, 'edge_label_index') == expected


def test_dense_subset_is_deterministic(skewed_dir):
    a = load_lightgcn(skewed_dir, max_users=40, seed=3, min_interactions=3)
    b = load_dataset(f'lightgcn:{skewed_dir}?max_users=40&min_interactions=3', seed=3)
    for store in (('user', 'n_id'), ('item', 'n_id'), (RATES, 'edge_index'),
                  (RATES, 'edge_label_index')):
        assert torch.equal(a[store[0]][store[1]], b[store[0]][store[1]])
    c = load_lightgcn(skewed_dir, max_users=40, seed=4, min_interactions=3)
    assert not torch.equal(a['user'].n_id, c['user'].n_id)  # the seed picks the users


def test_k_core_function_and_order_independence():
    gen = torch.Generator().manual_seed(0)
    pairs = torch.stack([torch.randint(0, 30, (300, ), generator=gen),
                         torch.randint(0, 40, (300, ), generator=gen)])
    pairs = torch.unique(pairs[0] * 40 + pairs[1])
    pairs = torch.stack([pairs // 40, pairs % 40])
    mask = k_core(pairs, 30, 40, 5)
    perm = torch.randperm(pairs.size(1), generator=gen)
    assert torch.equal(k_core(pairs[:, perm], 30, 40, 5), mask[perm])
    assert set(map(tuple, pairs[:, mask].t().tolist())) == \
        reference_core(set(map(tuple, pairs.t().tolist())), 5)
    assert bool(k_core(pairs, 30, 40, 1).all())


def test_bad_values_raise(skewed_dir):
    for k in (0, -2):
        with pytest.raises(ValueError, match='min_interactions must be a positive integer'):
            load_lightgcn(skewed_dir, min_interactions=k)
    with pytest.raises(ValueError, match='min_interactions must be a positive integer'):
        k_core(torch.zeros(2, 0, dtype=torch.long), 1, 1, 0)
    with pytest.raises(ValueError, match=r'10000-core .* is empty; lower min_interactions'):
        load_lightgcn(skewed_dir, min_interactions=10_000)
    with pytest.raises(ValueError, match="option 'min_interactions' has an invalid value"):
        load_dataset(f'lightgcn:{skewed_dir}?min_interactions=dense')
    with pytest.raises(ValueError, match='max_users must be positive'):
        load_lightgcn(skewed_dir, max_users=0, min_interactions=2)


def test_subset_stats_line(skewed_dir):
    data = load_lightgcn(skewed_dir, min_interactions=4)
    line = subset_stats(data)
    E = data[RATES].edge_index.size(1)
    assert f"{data['user'].num_nodes:,} users" in line and f'{E:,} training' in line
    assert 'per user' in line and 'density' in line


@pytest.mark.parametrize('max_users,stats', [
    (10000, (2600, 2972, 65551, 15257)),
    (16000, (6586, 7490, 176784, 41817)),
])
def test_gowalla_dense_subsets_of_the_benchmark(max_users, stats):
    root = shared_data('gowalla')
    data = load_dataset(f'gowalla?max_users={max_users}&min_interactions=10', root=root.parent)
    train = data[RATES].edge_index
    U, I = data['user'].num_nodes, data['item'].num_nodes
    # The statistics documented in benchmarks/unlearnrec/GOWALLA.md and run_gowalla.sh.
    assert (U, I, train.size(1), data[RATES].edge_label_index.size(1)) == stats
    assert int(torch.bincount(train[0], minlength=U).min()) >= 10
    assert int(torch.bincount(train[1], minlength=I).min()) >= 10

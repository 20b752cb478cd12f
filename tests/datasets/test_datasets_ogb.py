"""ogbn loading through ogb's PygNodePropPredDataset on a tiny dataset written in OGB's layout."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('ogb')

from torch_geometric_unlearn.datasets import load_dataset, load_ogb_node  # noqa: E402

N, E, F = 30, 60, 5


def _write_csv(path: Path, rows: np.ndarray, fmt: str = '%d') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, 'wt') as f:
        np.savetxt(f, rows, fmt=fmt, delimiter=',')


def write_tiny_arxiv(root: Path, seed: int = 0) -> dict:
    r"""Writes :obj:`root/ogbn_arxiv/` as OGB lays it out (raw/*.csv.gz, split/time/*.csv.gz);
    returns the arrays written."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, N, E)
    dst = (src + rng.integers(1, N, E)) % N  # no self loops
    edges = np.unique(np.stack([src, dst], 1), axis=0)  # directed citations, some reciprocal
    x = rng.standard_normal((N, F)).astype(np.float32)
    y = rng.integers(0, 40, N)
    perm = rng.permutation(N)
    d = root / 'ogbn_arxiv'
    _write_csv(d / 'raw' / 'edge.csv.gz', edges)
    _write_csv(d / 'raw' / 'num-node-list.csv.gz', np.array([[N]]))
    _write_csv(d / 'raw' / 'num-edge-list.csv.gz', np.array([[len(edges)]]))
    _write_csv(d / 'raw' / 'node-feat.csv.gz', x, fmt='%.6f')
    _write_csv(d / 'raw' / 'node-label.csv.gz', y[:, None])
    _write_csv(d / 'raw' / 'node_year.csv.gz', rng.integers(1990, 2020, (N, 1)))
    splits = {'train': perm[:18], 'valid': perm[18:24], 'test': perm[24:]}
    for key, idx in splits.items():
        _write_csv(d / 'split' / 'time' / f'{key}.csv.gz', idx[:, None])
    return dict(edges=edges, x=x, y=y, splits=splits)


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob('*')}


def test_tiny_ogbn_arxiv_loads_without_network_or_stdin(tmp_path, monkeypatch):
    written = write_tiny_arxiv(tmp_path / 'data')
    before = _snapshot(tmp_path / 'data')

    def no_input(*args, **kwargs):  # ogb must never prompt
        raise AssertionError('ogb asked for input')

    monkeypatch.setattr('builtins.input', no_input)
    data = load_ogb_node('ogbn-arxiv', tmp_path / 'data', cache_dir=tmp_path / 'cache')

    assert data.num_nodes == N
    assert torch.allclose(data.x, torch.from_numpy(written['x']), atol=1e-5)
    assert data.y.dim() == 1 and torch.equal(data.y, torch.from_numpy(written['y']))
    assert data.is_undirected() and not data.has_self_loops()
    # Exactly the raw citations, in both directions.
    e = written['edges']
    expected = {(int(a), int(b)) for a, b in e} | {(int(b), int(a)) for a, b in e}
    assert set(map(tuple, data.edge_index.t().tolist())) == expected
    assert data.edge_index.size(1) == len(expected)
    for attr, key in (('train_mask', 'train'), ('val_mask', 'valid'), ('test_mask', 'test')):
        mask = getattr(data, attr)
        assert mask.dtype == torch.bool
        assert sorted(mask.nonzero().view(-1).tolist()) == sorted(written['splits'][key])
    assert not (data.train_mask & data.test_mask).any()
    # The source folder is only read: OGB processed into the cache.
    assert _snapshot(tmp_path / 'data') == before
    assert list((tmp_path / 'cache').rglob('geometric_data_processed.pt'))

    # Changed source files are reprocessed, not served from the cache.
    new_y = (written['y'] + 1) % 40
    _write_csv(tmp_path / 'data' / 'ogbn_arxiv' / 'raw' / 'node-label.csv.gz', new_y[:, None])
    changed = load_ogb_node('ogbn-arxiv', tmp_path / 'data', cache_dir=tmp_path / 'cache')
    assert torch.equal(changed.y, torch.from_numpy(new_y))

    # Second load from the cache gives the same graph; the benchmark name and a root that is
    # the dataset folder itself work too.
    again = load_dataset('ogbn-arxiv', root=tmp_path / 'data' / 'ogbn_arxiv')
    assert torch.equal(again.edge_index, data.edge_index)
    assert torch.equal(again.train_mask, data.train_mask)
    assert torch.equal(again.y, changed.y)


def test_missing_ogb_files_are_named(tmp_path):
    write_tiny_arxiv(tmp_path)
    (tmp_path / 'ogbn_arxiv' / 'raw' / 'node-feat.csv.gz').unlink()
    (tmp_path / 'ogbn_arxiv' / 'split' / 'time' / 'valid.csv.gz').unlink()
    with pytest.raises(FileNotFoundError, match='node-feat.csv.gz') as err:
        load_ogb_node('ogbn-arxiv', tmp_path, cache_dir=tmp_path / 'cache')
    assert 'split/time/valid.csv.gz' in str(err.value)
    with pytest.raises(FileNotFoundError, match='edge.csv.gz'):
        load_ogb_node('ogbn-products', tmp_path / 'empty', cache_dir=tmp_path / 'cache')
    with pytest.raises(ValueError, match='ogbn-arxiv'):
        load_ogb_node('ogbn-papers100m', tmp_path)


def test_install_hint_without_ogb(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'ogb.nodeproppred', None)  # import now fails
    with pytest.raises(ImportError, match=r'pip install torch-geometric-unlearn\[ogb\]'):
        load_ogb_node('ogbn-arxiv', tmp_path)

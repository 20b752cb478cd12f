"""Planetoid loading: the vendored Cora, other layouts, caching, splits and errors."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from torch_geometric_unlearn.datasets import load_dataset, load_planetoid
from torch_geometric_unlearn.datasets.planetoid import VENDORED_ROOT, planetoid_raw_file_names

SHARED = Path(os.environ.get('TGU_SHARED_DATA',
                             Path(__file__).resolve().parents[2] / '..' / 'shared' / 'data'))


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*'))}


def check_public_cora(data) -> None:
    assert data.num_nodes == 2708
    assert data.edge_index.size(1) == 10556
    assert data.x.shape == (2708, 1433)
    assert int(data.y.max()) + 1 == 7
    assert data.is_undirected() and not data.has_self_loops()
    assert [int(data[m].sum()) for m in ('train_mask', 'val_mask', 'test_mask')] == \
        [140, 500, 1000]
    assert not (data.train_mask & data.val_mask).any()
    assert not (data.val_mask & data.test_mask).any()


def test_vendored_cora(tmp_path):
    before = snapshot(VENDORED_ROOT)
    data = load_planetoid('Cora', cache_dir=tmp_path)
    check_public_cora(data)
    # The public split: training nodes are 0..139, as in the Planetoid paper.
    assert torch.equal(data.train_mask.nonzero().view(-1), torch.arange(140))
    assert snapshot(VENDORED_ROOT) == before  # PyG processed in the cache, not the package
    assert list(tmp_path.rglob('processed'))
    # Cached: a second load reads the processed file and gives the same graph.
    again = load_planetoid('cora', cache_dir=tmp_path)
    assert torch.equal(again.edge_index, data.edge_index)
    assert torch.equal(again.x, data.x)


def test_shared_cora_is_never_written(tmp_path):
    if not (SHARED / 'Cora' / 'raw').is_dir():
        pytest.skip(f'{SHARED} not present (real-data test)')
    before = snapshot(SHARED)
    data = load_planetoid('Cora', root=SHARED, cache_dir=tmp_path)
    check_public_cora(data)
    assert snapshot(SHARED) == before
    assert not (SHARED / 'Cora' / 'processed').exists()


def test_layouts_cache_keys_and_refresh(tmp_path):
    # root holding cora/raw (any case of the name), and root being the Cora folder itself.
    shutil.copytree(VENDORED_ROOT / 'Cora' / 'raw', tmp_path / 'a' / 'cora' / 'raw')
    shutil.copytree(VENDORED_ROOT / 'Cora' / 'raw', tmp_path / 'b' / 'Cora' / 'raw')
    cache = tmp_path / 'cache'
    check_public_cora(load_planetoid('Cora', root=tmp_path / 'a', cache_dir=cache))
    check_public_cora(load_planetoid('Cora', root=tmp_path / 'b' / 'Cora', cache_dir=cache))
    assert len(list((cache / 'planetoid').iterdir())) == 2  # keyed by source folder

    # A changed source file invalidates the cached raw copy and the processed data.
    stamp = max(p.stat().st_mtime_ns for p in cache.rglob('processed/data.pt'))
    for raw in ((tmp_path / 'a' / 'cora' / 'raw'), (tmp_path / 'b' / 'Cora' / 'raw')):
        os.utime(raw / 'ind.cora.x', ns=(stamp + 10**9, stamp + 10**9))
    check_public_cora(load_planetoid('Cora', root=tmp_path / 'a', cache_dir=cache))
    check_public_cora(load_planetoid('Cora', root=tmp_path / 'b' / 'Cora', cache_dir=cache))
    assert all(p.stat().st_mtime_ns > stamp for p in cache.rglob('processed/data.pt'))


def test_missing_files_are_named(tmp_path):
    shutil.copytree(VENDORED_ROOT / 'Cora' / 'raw', tmp_path / 'Cora' / 'raw')
    (tmp_path / 'Cora' / 'raw' / 'ind.cora.graph').unlink()
    with pytest.raises(FileNotFoundError, match=r'ind\.cora\.graph'):
        load_planetoid('Cora', root=tmp_path, cache_dir=tmp_path / 'cache')
    with pytest.raises(FileNotFoundError, match=r'ind\.citeseer\.x'):
        load_planetoid('CiteSeer', root=tmp_path, cache_dir=tmp_path / 'cache')
    with pytest.raises(FileNotFoundError, match='only Cora ships'):
        load_planetoid('PubMed')
    with pytest.raises(ValueError, match='unknown Planetoid dataset'):
        load_planetoid('Cornell')
    with pytest.raises(ValueError, match='unknown Planetoid split'):
        load_planetoid('Cora', split='geom-gcn', cache_dir=tmp_path)


def test_full_and_random_splits(tmp_path):
    full = load_planetoid('Cora', split='full', cache_dir=tmp_path)
    assert int(full.train_mask.sum()) == 2708 - 500 - 1000
    assert not (full.train_mask & (full.val_mask | full.test_mask)).any()

    state = torch.get_rng_state()
    a = load_planetoid('Cora', split='random', seed=3, cache_dir=tmp_path)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not touched
    b = load_dataset('cora?split=random', seed=3)
    c = load_planetoid('Cora', split='random', seed=4, cache_dir=tmp_path)
    assert torch.equal(a.train_mask, b.train_mask) and torch.equal(a.test_mask, b.test_mask)
    assert not torch.equal(a.train_mask, c.train_mask)
    assert [int(a[m].sum()) for m in ('train_mask', 'val_mask', 'test_mask')] == \
        [140, 500, 1000]
    assert torch.equal(torch.bincount(a.y[a.train_mask]), torch.full((7, ), 20))
    assert not ((a.train_mask & a.val_mask) | (a.val_mask & a.test_mask)
                | (a.train_mask & a.test_mask)).any()


def test_raw_file_names():
    assert planetoid_raw_file_names('PubMed')[0] == 'ind.pubmed.x'
    assert len(planetoid_raw_file_names('Cora')) == 8


def test_concurrent_processes_share_the_cache_safely(tmp_path):
    """Several processes loading Cora into one fresh cache at once (parallel examples or test
    workers): staging and PyG processing are serialised by a lock, so none reads a half-written
    processed file."""
    import subprocess
    import sys
    code = ('from torch_geometric_unlearn.datasets import load_planetoid; '
            'd = load_planetoid("Cora", cache_dir=%r); print(int(d.num_nodes))' % str(tmp_path))
    procs = [subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == '2708'

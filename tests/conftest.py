"""Shared fixtures: real data from ../shared/data when present, small graphs otherwise."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data, HeteroData

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('TGU_SHARED_DATA', REPO.parent / 'shared' / 'data'))

# PyG writes temporary .py files into $TMPDIR and we cache datasets: keep both throw-away.
_TMP = tempfile.mkdtemp(prefix='tgu-tests-')
os.environ.setdefault('TGU_CACHE', os.path.join(_TMP, 'cache'))


def shared_data(name: str) -> Path:
    r"""Path of a dataset in ../shared/data; skips the test where it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f'{path} not present (real-data test)')
    return path


def require_sparse() -> None:
    r"""Skips without torch-sparse, except in CI's sparse pass (TGU_REQUIRE_SPARSE=1) where a
    missing extension is a failure."""
    from torch_geometric_unlearn.task.node import neighbor_sampling_available
    if not neighbor_sampling_available():
        if os.environ.get('TGU_REQUIRE_SPARSE') == '1':
            pytest.fail('torch-sparse/pyg-lib required in this pass but not importable')
        pytest.skip('needs torch-sparse or pyg-lib')


@pytest.fixture(scope='session')
def cora() -> Data:
    from torch_geometric_unlearn.datasets import load_planetoid
    return load_planetoid('Cora')  # the vendored copy: always present


@pytest.fixture(scope='session')
def trained_gcn(cora):
    r"""A GCN trained on Cora's public split (seed 0) and its task."""
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
    task = NodeClassificationTask(epochs=200, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7), seed=0)
    task.train(model, cora)
    return model, task


def toy_graph() -> Data:
    r"""A 6-node undirected graph with features, labels, masks and an edge attribute."""
    row = torch.tensor([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0, 2])
    col = torch.tensor([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 2, 0])
    edge_index = torch.stack([row, col])
    x = torch.arange(6 * 3, dtype=torch.float).view(6, 3) + 1
    data = Data(x=x, edge_index=edge_index, y=torch.tensor([0, 1, 0, 1, 0, 1]),
                edge_attr=(row * 10 + col).float().view(-1, 1))
    data.train_mask = torch.tensor([True, True, True, False, False, False])
    data.val_mask = torch.tensor([False, False, False, True, False, False])
    data.test_mask = torch.tensor([False, False, False, False, True, True])
    return data


def toy_bipartite() -> HeteroData:
    r"""4 users x 5 items with a reverse edge type and test interactions."""
    data = HeteroData()
    data['user'].num_nodes = 4
    data['item'].num_nodes = 5
    ei = torch.tensor([[0, 0, 1, 2, 2, 3], [0, 1, 2, 3, 4, 0]])
    data['user', 'rates', 'item'].edge_index = ei
    data['user', 'rates', 'item'].edge_label_index = torch.tensor([[0, 1, 3], [4, 0, 2]])
    data['item', 'rev_rates', 'user'].edge_index = ei.flip(0)
    return data


@pytest.fixture
def single_thread():
    r"""Runs a test with one torch thread (restored afterwards); used with
    ``pytestmark = pytest.mark.usefixtures('single_thread')``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

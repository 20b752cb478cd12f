r"""The mini-batch path (PyG NeighborLoader): needs torch-sparse or pyg-lib.
Run in CI's second pass, where a missing extension fails instead of skipping."""
import pytest

from tests.conftest import require_sparse
from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

pytestmark = pytest.mark.sparse


def test_neighbor_loader_training_and_retrain(cora):
    require_sparse()
    task = NodeClassificationTask(epochs=15, batch_size=64, num_neighbors=(10, 10), seed=0)
    model = reinitialize(build_node_model('sage', cora.num_features, 7), seed=0)
    task.train(model, cora)
    acc = task.evaluate(model, cora)['accuracy']
    assert acc >= 0.70, acc
    request = select_request(cora, 'node', count=3, seed=1)
    result = Unlearner(model, Retrain(), task=task).fit(cora).unlearn(request)
    assert task.evaluate(result.model, result.data)['accuracy'] >= 0.68


def test_mini_batch_without_extension_has_install_hint(cora, monkeypatch):
    import torch_geometric_unlearn.task.node as node
    monkeypatch.setattr(node, 'neighbor_sampling_available', lambda: False)
    task = NodeClassificationTask(epochs=1, batch_size=64)
    model = build_node_model('sage', cora.num_features, 7)
    with pytest.raises(ImportError, match=r'torch-geometric-unlearn\[sparse\]'):
        task.train(model, cora)

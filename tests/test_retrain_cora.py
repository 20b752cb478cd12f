import torch

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize


def test_gcn_cora_public_split_accuracy(cora, trained_gcn):
    model, task = trained_gcn
    metrics = task.evaluate(model, cora)
    assert metrics['accuracy'] >= 0.78, metrics
    assert 0.7 <= metrics['macro_f1'] <= 1.0


def test_retrain_after_half_percent_nodes_within_two_points(cora, trained_gcn):
    model, task = trained_gcn
    before = task.evaluate(model, cora)['accuracy']
    request = select_request(cora, 'node', ratio=0.005, seed=0)
    assert request.num_removed == 1  # 0.5% of 140 training nodes
    unlearner = Unlearner(model, Retrain(), task=task).fit(cora)
    result = unlearner.unlearn(request)
    after = task.evaluate(result.model, result.data)['accuracy']
    assert abs(after - before) <= 0.02, (before, after)
    removed = int(request.node_index[0])
    assert not bool(result.data.train_mask[removed])
    ei = result.data.edge_index
    assert not bool(((ei[0] == removed) | (ei[1] == removed)).any())
    assert result.model is not model  # fresh model, original untouched


def test_same_seed_same_result(cora):
    # Building a torch module draws from the global RNG (plain PyTorch); our code must not.
    arch = build_node_model('gcn', cora.num_features, 7)

    def run(seed):
        task = NodeClassificationTask(epochs=30, seed=seed)
        model = reinitialize(arch, seed=seed)
        task.train(model, cora)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    rng_before = torch.random.get_rng_state()
    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(rng_before, torch.random.get_rng_state())  # global RNG untouched


def test_all_node_backbones_train(cora):
    for name in ('gat', 'sage', 'sgc', 'gin'):
        task = NodeClassificationTask(epochs=20, seed=0)
        model = reinitialize(build_node_model(name, cora.num_features, 7, hidden_channels=16),
                             seed=0)
        info = task.train(model, cora)
        assert task.evaluate(model, cora, 'val')['accuracy'] > 0.3, name
        assert info['epochs'] == 20

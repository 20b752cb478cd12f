import copy

import pytest
import torch
from torch_geometric.data import HeteroData

from torch_geometric_unlearn.algorithm import Retrain
from torch_geometric_unlearn.forget import adversarial_interactions, random_request
from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
from torch_geometric_unlearn.unlearner import Unlearner


def _serve(model, task, data, request):
    u = Unlearner(copy.deepcopy(model), Retrain(), task=task)
    u.fit(data)
    return u.unlearn(request)


@pytest.fixture(scope='module')
def overfit_cora(cora):
    # Public split (140 training nodes), no weight decay, no dropout: the GCN fits its training
    # nodes almost perfectly, so their confidence gives them away. Small (16 hidden units,
    # 40 epochs) to keep the test fast; the same recipe as benchmarks/evaluation/node_mia.py.
    task = NodeClassificationTask(epochs=40, lr=0.03, weight_decay=0.0, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7, hidden_channels=16,
                                          dropout=0.0), 0)
    task.train(model, cora)
    request = random_request(cora, 'node', count=50, seed=0)
    return task, model, request, _serve(model, task, cora, request)


def test_overfit_gcn_leaks_membership_and_retrain_forgets(cora, overfit_cora):
    task, model, request, result = overfit_cora
    out = evaluate_unlearning(task, cora, model, result, result, shadow=False, seed=0)
    # Measured over seeds 0-4 (benchmarks/evaluation/README.md): before 0.78-0.87, after
    # Retrain 0.50-0.53.
    assert out['mia_confidence_auc_before'] > 0.7
    assert abs(out['mia_confidence_auc_retrain'] - 0.5) < 0.1
    assert out['mia_auc'] == out['mia_confidence_auc']      # shadow=False falls back ...
    assert out['mia_shadow_auc'] is None and 'skipped' in out['mia_shadow_note']  # ... and says
    assert out['agreement_with_retrain'] == 1.0 and out['kl_to_retrain'] < 1e-6
    assert out['param_l2_to_retrain'] == 0.0
    assert out['edge_mia_auc'] is None and 'node request' in out['edge_mia_note']
    assert out['mi_bf'] is None and 'recommendation' in out['mi_note']
    # The original model, served as "unlearned", keeps the leak and differs from Retrain.
    leak = evaluate_unlearning(task, cora, model, model, result, request=request,
                               shadow=False)
    assert leak['mia_confidence_auc'] == out['mia_confidence_auc_before']
    assert leak['agreement_with_retrain'] < 1.0 and leak['param_l2_to_retrain'] > 0


@pytest.fixture(scope='module')
def homophilous():
    from torch_geometric.data import Data
    g = torch.Generator().manual_seed(0)
    n = 300
    y = torch.randint(3, (n,), generator=g)
    x = torch.randn(n, 8, generator=g) + torch.nn.functional.one_hot(y, 8).float() * 2
    src = torch.randint(n, (1500,), generator=g)
    dst = torch.randint(n, (1500,), generator=g)
    keep = (y[src] == y[dst]) & (src != dst)
    ei = torch.unique(torch.cat([torch.stack([src[keep], dst[keep]]),
                                 torch.stack([dst[keep], src[keep]])], 1), dim=1)
    masks = torch.zeros(3, n, dtype=torch.bool)
    masks[0, :150], masks[1, 150:180], masks[2, 180:] = True, True, True
    data = Data(x=x, y=y, edge_index=ei, train_mask=masks[0], val_mask=masks[1],
                test_mask=masks[2])
    task = NodeClassificationTask(epochs=30, seed=0)
    model = reinitialize(build_node_model('sgc', 8, 3), 0)
    task.train(model, data)
    return data, task, model


def test_edge_request_fields(homophilous):
    data, task, model = homophilous
    req = random_request(data, 'edge', count=20, seed=0)
    res = _serve(model, task, data, req)
    out = evaluate_unlearning(task, data, model, res, res)
    assert out['edge_mia_auc'] == out['edge_mia_auc_retrain']
    assert out['edge_mia_auc_before'] > 0.5
    assert out['mia_auc'] is None and 'edge request' in out['mia_note']
    assert out['mia_shadow_auc'] is None
    with pytest.raises(ValueError, match='request'):
        evaluate_unlearning(task, data, model, model)


def test_shadow_fields_and_cache(homophilous):
    data, task, model = homophilous
    nreq = random_request(data, 'node', count=20, seed=0)
    nres = _serve(model, task, data, nreq)
    cache = {}
    out = evaluate_unlearning(task, data, model, nres, nres, cache=cache)
    assert 'shadow model' in out['mia_attack'] and 0 <= out['mia_auc'] <= 1
    assert out['mia_auc'] == out['mia_shadow_auc'] == out['mia_auc_retrain']
    assert 'mia_shadow_note' not in out and 'mia_non_members_note' not in out
    attack = cache['shadow_attack']
    again = evaluate_unlearning(task, data, model, nres, nres, cache=cache)  # reuses it
    assert cache['shadow_attack'] is attack and again['mia_auc'] == out['mia_auc']


def test_non_members_fallback_without_test_nodes(homophilous):
    from torch_geometric_unlearn.metric.evaluate import default_non_members
    data, task, model = homophilous
    non, note = default_non_members(data)
    assert note is None and torch.equal(non, data.test_mask.nonzero().view(-1))
    # A split without test nodes (e.g. a Planetoid-style split of a small graph): the
    # never-trained labelled nodes are the non-members, and the record says so.
    no_test = data.clone()
    no_test.test_mask = torch.zeros_like(data.test_mask)
    no_test.y = data.y.clone()
    no_test.y[200] = -1                                     # unlabelled: never a non-member
    non, note = default_non_members(no_test)
    assert 'no test nodes' in note and 200 not in non.tolist()
    assert set(non.tolist()) == set(range(150, 300)) - {200}
    req = random_request(no_test, 'node', count=10, seed=1)
    out = evaluate_unlearning(task, no_test, model, model, request=req, shadow=False)
    assert 'no test nodes' in out['mia_non_members_note'] and 0 <= out['mia_auc'] <= 1
    # Only non-training nodes requested: no members, and the reason is given.
    from torch_geometric_unlearn.request import UnlearningRequest
    out = evaluate_unlearning(task, data, model, model,
                              request=UnlearningRequest.nodes(torch.tensor([250, 251])),
                              shadow=False)
    assert out['mia_auc'] is None and 'training node' in out['mia_note']
    assert out['mia_members_note']


def _bipartite(U=40, I=30, seed=0):
    # Two communities: users 0..U/2 like items 0..I/2, the rest the other half.
    g = torch.Generator().manual_seed(seed)
    users = torch.randint(U, (500,), generator=g)
    half = (users >= U // 2).long()
    items = torch.randint(I // 2, (500,), generator=g) + half * (I // 2)
    pairs = torch.unique(torch.stack([users, items]), dim=1)
    perm = torch.randperm(pairs.size(1), generator=g)
    test, train = pairs[:, perm[:60]], pairs[:, perm[60:]]
    data = HeteroData()
    data['user'].num_nodes, data['item'].num_nodes = U, I
    data['user', 'rates', 'item'].edge_index = train
    data['user', 'rates', 'item'].edge_label_index = test
    data['item', 'rev_rates', 'user'].edge_index = train.flip(0)
    return data


def test_adversarial_interactions_lightgcn_mi_ng_above_one():
    from torch_geometric_unlearn.nn.recsys import LightGCN
    from torch_geometric_unlearn.task.recommendation import RecommendationTask
    data = _bipartite()
    task = RecommendationTask(epochs=60, batch_size=128, lr=0.02, seed=0)
    U, I = 40, 30
    clean = reinitialize(LightGCN(U, I, embedding_dim=16, num_layers=2), 0)
    task.train(clean, data)
    emb = task.embeddings(clean, data)
    attacked, request = adversarial_interactions(data, emb[:U], emb[U:], count=20, seed=0)
    model = reinitialize(LightGCN(U, I, embedding_dim=16, num_layers=2), 1)
    task.train(model, attacked)
    res = _serve(model, task, attacked, request)
    out = evaluate_unlearning(task, attacked, model, res, res, seed=0, return_scores=True)
    # Before unlearning, adversarial edges score like positives (they were trained on) ...
    assert out['removed_prob_before'] > 0.8 * out['positive_prob_after']
    assert out['mi_ng_before'] < 1
    # ... after Retrain they score below random negatives: MI-NG > 1, MI-BF > 1.
    assert out['mi_ng_retrain'] > 1 and out['mi_bf_retrain'] > 1
    assert out['mi_ng'] == out['mi_ng_retrain']
    assert out['mia_auc'] is None and 'recommendation' in out['mia_note']
    assert len(out['score_distributions']['removed_after']) == 20
    assert out['kl_to_retrain'] is None and out['agreement_with_retrain'] == 1.0


def test_link_prediction_fields(cora):
    r"""Link prediction: the link-score attack compares the removed training edges with held-out
    test edges (the original model scores its own edges higher; Retrain does not), StealLink
    runs on the embeddings, class-posterior attacks are None with notes, and node requests get
    None link attacks with a note."""
    from torch_geometric_unlearn.request import UnlearningRequest
    from torch_geometric_unlearn.task.link import LinkPredictionTask
    data = LinkPredictionTask.split(cora, seed=0)
    task = LinkPredictionTask(epochs=60, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 32), seed=0)
    task.train(model, data)
    request = random_request(data, 'edge', count=150, seed=0)
    retrain = _serve(model, task, data, request)
    cache = {}
    out = evaluate_unlearning(task, data, model, retrain, retrain, seed=0, cache=cache)
    assert out['mia_auc_before'] > 0.6 and abs(out['mia_auc_retrain'] - 0.5) < 0.1
    assert out['mia_auc'] == out['mia_auc_retrain'] and 'test edges' in out['mia_attack']
    assert out['edge_mia_auc'] is not None and 'embeddings' in out['edge_mia_attack']
    assert out['agreement_with_retrain'] == 1.0 and out['param_l2_to_retrain'] == 0.0
    assert set(out['utility_unlearned']) == {'auc'}
    for key in ('mia_shadow_auc', 'posterior_shift_auc', 'mi_bf', 'mi_ng'):
        assert out[key] is None
    assert 'link_prediction' in out['mia_shadow_note'] and 'link_prediction' in out['mi_note']
    # The original model unchanged, a bare module: evaluated on request.apply(data).
    same = evaluate_unlearning(task, data, model, model, retrain, request, cache=cache)
    assert same['mia_auc'] > out['mia_auc'] and same['agreement_with_retrain'] < 1.0
    node = UnlearningRequest.nodes([0, 1])
    none = evaluate_unlearning(task, data, model, model, None, node)
    assert none['mia_auc'] is None and none['edge_mia_auc'] is None
    assert none['mia_auc_before'] is None and none['edge_mia_auc_retrain'] is None
    assert 'edge' in none['mia_note'] and none['distance_note'] == 'no retrained model given'

import copy

import pytest
import torch

from torch_geometric_unlearn import Retrain, Unlearner
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.influence.nim import NIM
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.influence.sparse import dense_to_csr, transpose_csr


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _true_conf(task, model, data, nodes):
    proba = task.predict_proba(model, data)  # on the ORIGINAL graph: what the model memorised
    return float(proba[nodes, data.y[nodes]].mean())


@pytest.fixture(scope='module')
def node_runs(cora, trained_gcn):
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=0)
    retrain = Unlearner(copy.deepcopy(model), Retrain(), task=task).fit(cora).unlearn(request)
    sgu = Unlearner(copy.deepcopy(model), SGU(), task=task).fit(cora).unlearn(request)
    return request, retrain, sgu


def test_sgu_keeps_accuracy_near_retrain_and_forgets(cora, trained_gcn, node_runs):
    model, task = trained_gcn
    request, retrain, sgu = node_runs
    acc_retrain = task.evaluate(retrain.model, retrain.data)['accuracy']
    acc_sgu = task.evaluate(sgu.model, sgu.data)['accuracy']
    assert abs(acc_sgu - acc_retrain) <= 0.02, (acc_sgu, acc_retrain)
    removed = request.node_index
    before = _true_conf(task, model, cora, removed)
    after = _true_conf(task, sgu.model, cora, removed)
    assert after < before - 0.1, (before, after)  # the removed nodes' confidence drops
    assert sgu.extras['forgotten'] and sgu.extras['num_hie'] > 0
    assert sgu.guarantee == 'approximate'


def test_request_is_applied_to_the_graph(node_runs):
    request, _, sgu = node_runs
    data = sgu.data
    removed = request.node_index
    ei = data.edge_index
    assert not bool(torch.isin(ei, removed).any())
    assert bool(data.removed_mask[removed].all())
    assert not bool(data.train_mask[removed].any())
    assert not bool(torch.isin(sgu.extras['hie'], removed).any())


def test_edge_and_feature_requests(cora, trained_gcn):
    model, task = trained_gcn
    edges = select_request(cora, 'edge', count=20, seed=1)
    res = Unlearner(copy.deepcopy(model), SGU(epochs=5), task=task).fit(cora).unlearn(edges)
    ei = res.data.edge_index
    n = cora.num_nodes
    present = set((ei[0] * n + ei[1]).tolist())
    for u, v in edges.edge_index.t().tolist():
        assert u * n + v not in present and v * n + u not in present
    assert not torch.equal(_params(res.model), _params(model))
    feats = UnlearningRequest.features([0, 1, 2])
    res = Unlearner(copy.deepcopy(model), SGU(epochs=5), task=task).fit(cora).unlearn(feats)
    assert float(res.data.x[[0, 1, 2]].abs().sum()) == 0.0


def test_selection_uses_validation_not_test(cora, trained_gcn):
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=2)
    other = cora.clone()
    # A different test split (same validation split): the selected weights must not change.
    test = cora.test_mask.nonzero().view(-1)
    other.test_mask = torch.zeros_like(cora.test_mask)
    other.test_mask[test[: test.numel() // 3]] = True
    runs = []
    for data in (cora, other):
        alg = SGU(epochs=10)
        res = Unlearner(copy.deepcopy(model), alg, task=task).fit(data).unlearn(request)
        runs.append(res)
    assert torch.equal(_params(runs[0].model), _params(runs[1].model))
    assert runs[0].extras['best_epoch'] >= 1  # never the untouched original weights
    # Same seed, same result (the shuffled labels come from a seeded generator).
    again = Unlearner(copy.deepcopy(model), SGU(epochs=10), task=task).fit(cora).unlearn(request)
    assert torch.equal(_params(again.model), _params(runs[0].model))


def test_bad_input_is_rejected_and_state_kept(cora, trained_gcn):
    model, task = trained_gcn
    with pytest.raises(ValueError, match='lam'):
        SGU(lam=1.5)
    with pytest.raises(TypeError, match='selector'):
        SGU(selector=3)
    with pytest.raises(ValueError, match='forget_loss'):
        SGU(forget_loss='random')
    assert SGU().forget_loss == 'match'
    with pytest.raises(ValueError, match='utility_tolerance'):
        SGU(utility_tolerance=-0.1)
    bad = SGU(selector=lambda data, request, model, task: torch.tensor([cora.num_nodes + 5]))
    m = copy.deepcopy(model)
    before = _params(m)
    unlearner = Unlearner(m, bad, task=task).fit(cora)
    with pytest.raises(ValueError, match='outside'):
        unlearner.unlearn(UnlearningRequest.nodes([0]))
    assert torch.equal(_params(unlearner.model), before)


def test_custom_selector_plugs_in(cora, trained_gcn):
    model, task = trained_gcn
    alg = SGU(selector=NIM(budget=2), epochs=3)
    res = Unlearner(copy.deepcopy(model), alg, task=task).fit(cora).unlearn(
        UnlearningRequest.nodes([0, 1]))
    assert res.extras['num_hie'] <= 2


def test_cli_registration():
    from torch_geometric_unlearn.benchmark.registry import ALGORITHMS, build_algorithm
    assert isinstance(build_algorithm('sgu', None), SGU)
    gif = build_algorithm('gif-nim', None)
    assert isinstance(gif.influenced_nodes, NIM)
    assert 'gif-nim' in ALGORITHMS


def test_node_request_stream_stays_near_retrain(cora):
    r"""Issue 8: 20 sequential one-node requests (training nodes) on Cora. Teaching each
    removed node a shuffled wrong label, and ranking any *forgotten* epoch first whatever its
    validation accuracy, accumulated damage across requests (measured on this stream: 0.695
    vs Retrain's 0.780, 0.085 below; 0.128 on the 100-request mixed stream). Now: 0.779."""
    from tests._reliability import request_stream
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize
    task = NodeClassificationTask(epochs=50, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 7), seed=0)
    task.train(model, cora)
    requests = request_stream(cora, 20, seed=0, kinds=('node', ))
    u = Unlearner(copy.deepcopy(model), SGU(), task=task).fit(cora)
    for request in requests:
        u.unlearn(request)
    graph = cora
    for request in requests:
        graph = request.apply(graph)
    fresh = task.fresh_model(model)
    task.train(fresh, graph)
    acc_retrain = task.evaluate(fresh, graph)['accuracy']
    acc = u.evaluate()['accuracy']
    assert acc >= acc_retrain - 0.04, (acc, acc_retrain)


def test_forget_matches_never_trained_nodes_not_below(cora, trained_gcn):
    r"""Issue 8: the forget objective lands the removed nodes' true-class confidences (queried
    on the original graph, as a membership attacker does) at the level of never-trained
    nodes, not below. Measured on this request (1-D Wasserstein distance to the original
    weights' validation confidences on G'): 'match' 0.069, Retrain 0.059, the previous
    one-sided 'away' objective (30 epochs, lr 1e-3) 0.196 (mean 0.515 vs the validation
    nodes' 0.613: over-forgetting, which made the demo's MIA AUC 0.29 vs Retrain's 0.63)."""
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=1)
    removed = request.node_index
    val = cora.val_mask.nonzero().view(-1)
    ref = task.predict_proba(model, request.apply(cora))[val, cora.y[val]]
    levels = (torch.arange(removed.numel()) + 0.5) / removed.numel()
    q = torch.quantile(ref, levels)

    def w1(alg):
        res = Unlearner(copy.deepcopy(model), alg, task=task).fit(cora).unlearn(request)
        conf = task.predict_proba(res.model, cora)[removed, cora.y[removed]]
        return float((conf.sort().values - q).abs().mean()), float(conf.mean()), res

    gap, mean, res = w1(SGU())
    assert gap <= 0.1, gap
    assert mean >= float(ref.mean()) - 0.05, (mean, float(ref.mean()))
    assert res.extras['forgotten'] and len(res.extras['forget_gap_curve']) >= 1
    gap_away, mean_away, _ = w1(SGU(epochs=30, lr=1e-3, forget_loss='away',
                                    forget_tolerance=0.0))
    assert gap_away > gap + 0.05, (gap_away, gap)


def test_nim_reuses_soft_labels_and_matches_own_inference(cora, trained_gcn):
    r"""SGU hands NIM the original model's soft labels on G (no second inference); the HIE
    are those NIM selects on its own."""
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=0)
    calls = []

    class Counting(NIM):
        def __call__(self, data, request, model=None, task=None, soft_labels=None):
            calls.append(soft_labels is not None)
            return super().__call__(data, request, model, task, soft_labels)

    res = Unlearner(copy.deepcopy(model), SGU(selector=Counting(), epochs=1),
                    task=task).fit(cora).unlearn(request)
    assert calls == [True]
    own = NIM()(cora, request, model, task)
    mask = torch.zeros(cora.num_nodes, dtype=torch.bool)
    mask[own] = True
    assert torch.equal(res.extras['hie'], mask.nonzero().view(-1))


def test_link_prediction_edge_request(cora):
    r"""Issue 8, link prediction: after SGU with its defaults the removed edges' scores (on G')
    drop from the original weights' toward Retrain's (held-out-edge level), the edges are gone
    and test AUC stays near Retrain's. The forget gap is measured in units of the validation
    edge/non-edge separation: with the earlier absolute gap (0.05 in probability) the untouched
    weights already counted as forgotten and the defaults barely moved the removed edges
    (0.859 -> 0.852, Retrain 0.826); now 0.859 -> 0.817, test AUC 0.9026 vs Retrain's 0.9065."""
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import reinitialize
    from torch_geometric_unlearn.task.link import LinkPredictionTask, undirected_pairs
    data = LinkPredictionTask.split(cora, seed=0)
    task = LinkPredictionTask(epochs=100, seed=0)
    model = reinitialize(build_node_model('gcn', cora.num_features, 32), seed=0)
    task.train(model, data)
    pairs = undirected_pairs(data.edge_index)
    gen = torch.Generator().manual_seed(1)
    removed = pairs[:, torch.randperm(pairs.size(1), generator=gen)[:100]]
    request = UnlearningRequest.edges(removed)
    retrain = Unlearner(copy.deepcopy(model), Retrain(), task=task).fit(data).unlearn(request)
    sgu = Unlearner(copy.deepcopy(model), SGU(), task=task).fit(data).unlearn(request)
    gaps = sgu.extras['forget_gap_curve']
    assert sgu.extras['forgotten'] and abs(gaps[sgu.extras['best_epoch'] - 1]) <= 0.05

    def prob(m, g):
        return float(torch.sigmoid(task.score(task.embeddings(m, g), removed)).mean())

    before, after = prob(model, sgu.data), prob(sgu.model, sgu.data)
    ret = prob(retrain.model, retrain.data)
    assert after < before - 0.02, (before, after)
    assert abs(after - ret) < abs(before - ret), (before, after, ret)
    auc, auc_ret = task.evaluate(sgu.model, sgu.data)['auc'], \
        task.evaluate(retrain.model, retrain.data)['auc']
    assert abs(auc - auc_ret) <= 0.01, (auc, auc_ret)
    left = undirected_pairs(sgu.data.edge_index)
    n = cora.num_nodes
    assert not bool(torch.isin(left[0] * n + left[1], removed.min(0).values * n +
                               removed.max(0).values).any())
    assert sgu.extras['num_hie'] > 0 and 'best_val_auc' in sgu.extras
    with pytest.raises(ValueError, match='edge requests'):
        Unlearner(copy.deepcopy(model), SGU(epochs=1), task=task).fit(data).unlearn(
            UnlearningRequest.nodes([0]))


def test_link_prediction_sgc_propagation_cache_is_the_retained_graphs(cora):
    r"""SGC on link prediction: SGU keeps A^K X of the current graph (built at fit) and per
    edge request recomputes only the rows around the removed edges; afterwards the cache
    equals a fresh propagation of the retained graph (no removed edge survives in it) and a
    second request reuses it."""
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import reinitialize
    from torch_geometric_unlearn.task.link import LinkPredictionTask, undirected_pairs
    from torch_geometric_unlearn.task.node import sgc_features
    data = LinkPredictionTask.split(cora, seed=0)
    task = LinkPredictionTask(epochs=30, seed=0)
    model = reinitialize(build_node_model('sgc', cora.num_features, 32), seed=0)
    task.train(model, data)
    pairs = undirected_pairs(data.edge_index)
    perm = torch.randperm(pairs.size(1), generator=torch.Generator().manual_seed(1))
    algo = SGU()
    unlearner = Unlearner(copy.deepcopy(model), algo, task=task).fit(data)
    assert algo._prop_cache is not None and algo._prop_cache.holds(data)
    first = unlearner.unlearn(UnlearningRequest.edges(pairs[:, perm[:60]]))
    assert algo._prop_cache.holds(first.data) and not algo._prop_cache.holds(data)
    fresh = sgc_features(first.model, task, first.data)
    assert torch.allclose(algo._prop_cache.prop, fresh, atol=1e-5)
    assert not torch.allclose(fresh, sgc_features(model, task, data), atol=1e-3)
    second = unlearner.unlearn(UnlearningRequest.edges(pairs[:, perm[60:90]]))
    assert torch.allclose(algo._prop_cache.prop, sgc_features(second.model, task, second.data),
                          atol=1e-5)


def test_sparse_features_same_result_and_no_removed_rows_cached(cora, trained_gcn, node_runs):
    r"""Sparse CSR features (automatic on Cora's bag of words): the same fine-tuned model as
    the dense path; the features cache holds the RETAINED graph's rows after the request
    (no entry of a removed node, not even a stored zero)."""
    model, task = trained_gcn
    request, _, sgu = node_runs
    assert sgu.extras['sparse_features']
    algo = SGU(sparse_features=False)
    dense = Unlearner(copy.deepcopy(model), algo, task=task).fit(cora).unlearn(request)
    assert not dense.extras['sparse_features'] and algo._x_cache is None
    assert dense.extras['best_epoch'] == sgu.extras['best_epoch']
    # Same posteriors (Adam may amplify rounding of near-zero gradients of single weights:
    # 4e-5 from a dense-trained model, 1.5e-4 from the sparse-trained fixture; both are
    # fine-tuned alike, same validation curve).
    assert dense.extras['val_curve'] == sgu.extras['val_curve']
    assert torch.allclose(task.predict_proba(dense.model, cora),
                          task.predict_proba(sgu.model, cora), atol=5e-4)
    algo = SGU()
    unlearner = Unlearner(copy.deepcopy(model), algo, task=task).fit(cora)
    assert algo._x_cache is not None and algo._x_cache[0] is cora.x  # built at fit
    res = unlearner.unlearn(request)
    x, _, csr = algo._x_cache
    assert x is res.data.x
    rows = torch.repeat_interleave(torch.arange(csr.size(0)), csr.crow_indices().diff())
    assert not bool(torch.isin(rows, request.node_index).any())
    assert torch.equal(csr.to_dense(), res.data.x)
    assert '_x_cache' not in algo._state_items()  # never persisted


def test_sparse_features_true_rejects_a_model_without_them(cora):
    from torch_geometric_unlearn.nn.node import build_node_model
    from torch_geometric_unlearn.task.node import NodeClassificationTask
    task = NodeClassificationTask(epochs=2)
    model = build_node_model('sgc', cora.num_features, int(cora.y.max()) + 1)
    with pytest.raises(ValueError, match='sparse CSR'):
        Unlearner(model, SGU(sparse_features=True), task=task).fit(cora)
    with pytest.raises(ValueError, match='sparse_features'):
        SGU(sparse_features='yes')


def test_csr_helpers_match_dense():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 12, generator=g) * (torch.rand(30, 12, generator=g) < 0.2)
    csr = dense_to_csr(x)
    assert torch.equal(csr.to_dense(), x)
    assert torch.equal(transpose_csr(csr).to_dense(), x.t())
    rows = torch.tensor([0, 7, 29])
    dropped = SGU._csr_drop_rows(csr, rows)
    expected = x.clone()
    expected[rows] = 0
    assert torch.equal(dropped.to_dense(), expected)
    assert dropped.values().numel() == int(torch.count_nonzero(expected))
    assert torch.equal(SGU._stack_rows(csr, dropped).to_dense(), torch.cat([x, expected]))


def test_sgc_propagates_once_with_the_same_logits(cora):
    r"""SGC's propagation does not depend on the weights: SGU runs it once per request and
    each epoch is the linear layer; the logits equal the model's forward."""
    from torch_geometric_unlearn.nn.node import build_node_model
    from torch_geometric_unlearn.task.node import NodeClassificationTask
    task = NodeClassificationTask(epochs=2)
    model = build_node_model('sgc', cora.num_features, int(cora.y.max()) + 1)
    fixed = SGU._sgc_propagation(model, task, cora)
    assert fixed is not None
    with torch.no_grad():
        assert torch.equal(model.conv.lin(fixed), task.logits(model, cora))
    gcn = build_node_model('gcn', cora.num_features, 7)
    assert SGU._sgc_propagation(gcn, task, cora) is None
    request = select_request(cora, 'node', ratio=0.05, seed=0)
    task.train(model, cora)
    res = Unlearner(copy.deepcopy(model), SGU(), task=task).fit(cora).unlearn(request)
    ref = SGU()
    # The per-epoch forward on G' and the removed nodes' subgraph of G.
    ref._cached_propagation = lambda *args: None
    slow = Unlearner(copy.deepcopy(model), ref, task=task).fit(cora).unlearn(request)
    assert res.extras['best_epoch'] == slow.extras['best_epoch']
    assert torch.allclose(_params(res.model), _params(slow.model), atol=1e-3)


@pytest.mark.parametrize('kind', ['node', 'edge', 'feature'])
def test_sgc_propagation_cache_is_exact_local_and_never_saved(cora, kind, monkeypatch):
    r"""SGC: SGU keeps :math:`\hat{A}^K X` of the current graph and updates only the rows
    around each request: after two requests it equals the propagation of the retained graph
    (removed nodes' rows zero), only a neighbourhood was recomputed, and the cache is not in
    the algorithm's saved state."""
    import torch_geometric_unlearn.algorithm.sgu as sgu_module
    from torch_geometric_unlearn.nn.node import build_node_model
    from torch_geometric_unlearn.task.node import NodeClassificationTask, sgc_features
    task = NodeClassificationTask(epochs=30)
    model = build_node_model('sgc', cora.num_features, 7)
    task.train(model, cora)
    rows = []
    propagate = sgu_module.propagate_features

    def recording(*args, nodes=None, **kwargs):
        rows.append(int(nodes.numel()))
        return propagate(*args, nodes=nodes, **kwargs)

    monkeypatch.setattr(sgu_module, 'propagate_features', recording)
    algo = SGU(epochs=2, max_epochs=2)
    unlearner = Unlearner(copy.deepcopy(model), algo, task=task).fit(cora)
    data = cora
    for seed in (1, 2):
        request = select_request(data, kind, count=5, seed=seed)
        res = unlearner.unlearn(request)
        data = res.data
        cached = algo._prop_cache[4]
        assert torch.allclose(cached, sgc_features(model, task, data), atol=1e-5)
        assert 0 < rows[-1] < cora.num_nodes // 2
    if kind == 'node':
        assert cached[data.removed_mask].abs().max() == 0
    assert '_prop_cache' not in algo._state_items()
    # The removal audit checks it against the retained graph's propagation, and catches a
    # cache that still holds the training graph's rows.
    from torch_geometric_unlearn.audit import audit
    assert audit(unlearner).passed
    algo._prop_cache = algo._prop_cache._replace(prop=sgc_features(model, task, cora))
    report = audit(unlearner)
    assert not report.passed
    assert any(c.location.endswith('_prop_cache') and not c.passed for c in report.checks)
    assert '_prop_cache' in algo.state_snapshot()  # (kept across a failed request)


def test_fine_tuning_goes_on_until_forgotten(cora, trained_gcn):
    r"""Issue 8 (SGC under-forgot: five steps left the removed nodes far above the never-trained
    level and the selection then took the least fine-tuned epoch): while no epoch is forgotten,
    fine-tuning continues past :obj:`epochs` up to :obj:`max_epochs` and stops at the first
    forgotten one."""
    model, task = trained_gcn
    request = select_request(cora, 'node', ratio=0.05, seed=1)
    kw = dict(epochs=1, lr=2e-3)  # one small step cannot forget
    short = Unlearner(copy.deepcopy(model), SGU(max_epochs=1, **kw),
                      task=task).fit(cora).unlearn(request)
    assert not short.extras['forgotten'] and len(short.extras['forget_gap_curve']) == 1
    long = Unlearner(copy.deepcopy(model), SGU(max_epochs=40, **kw),
                     task=task).fit(cora).unlearn(request)
    gaps = long.extras['forget_gap_curve']
    assert long.extras['forgotten'] and 1 < len(gaps) < 40, gaps
    assert long.extras['best_epoch'] == len(gaps)  # stopped at the first forgotten epoch
    assert all(g > 0 for g in gaps[:-1])  # approached from above, never crossed
    with pytest.raises(ValueError, match='max_epochs'):
        SGU(epochs=5, max_epochs=3)
    assert SGU(epochs=5).max_epochs == 20


def test_ce_weight_switches_the_cross_entropy_term(cora, trained_gcn):
    r"""With every other loss term off, :obj:`ce_weight=0` leaves the weights untouched (zero
    gradients), while the retained nodes' cross-entropy moves them."""
    model, task = trained_gcn
    request = select_request(cora, 'edge', count=5, seed=0)
    off = dict(lam=0.0, kl_weight=0.0, weight_distance=0.0, contrastive_weight=0.0,
               epochs=2)
    res = Unlearner(copy.deepcopy(model), SGU(ce_weight=0.0, **off),
                    task=task).fit(cora).unlearn(request)
    assert torch.equal(_params(res.model), _params(model))
    res = Unlearner(copy.deepcopy(model), SGU(ce_weight=1.0, **off),
                    task=task).fit(cora).unlearn(request)
    assert not torch.equal(_params(res.model), _params(model))
    with pytest.raises(ValueError, match='ce_weight'):
        SGU(ce_weight=-1.0)


@pytest.mark.parametrize('sparse', [False, True])
def test_forget_subgraph_gives_the_training_graph_logits(cora, trained_gcn, sparse):
    r"""The removed nodes' outputs the forget loss moves are exactly their outputs on the
    training graph (what an attacker queries): the K-hop subgraph cuts the K-hop nodes'
    degrees (GCN's normalisation), the (K + 1)-hop one does not."""
    model, task = trained_gcn
    nodes = select_request(cora, 'node', ratio=0.05, seed=3).node_index
    nodes = nodes[cora.train_mask[nodes]]
    x_csr = dense_to_csr(cora.x) if sparse else None
    sub, pos = SGU._forget_subgraph(model, cora, nodes, x_csr)
    assert sub.num_nodes < cora.num_nodes
    with torch.no_grad():
        ref = task.logits(model, cora)[nodes]
        if sparse:
            sub.x = sub.x.to_dense()
        got = task.logits(model, sub)[pos]
    assert torch.allclose(got, ref, atol=1e-5)
    # The K-hop subgraph (what SGU used before) does not give them.
    from torch_geometric.data import Data
    from torch_geometric.utils import k_hop_subgraph
    subset, ei, mapping, _ = k_hop_subgraph(nodes, 2, cora.edge_index, relabel_nodes=True,
                                            num_nodes=cora.num_nodes)
    with torch.no_grad():
        cut = task.logits(model, Data(x=cora.x[subset], edge_index=ei))[mapping]
    assert not torch.allclose(cut, ref, atol=1e-3)

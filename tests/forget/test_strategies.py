import networkx as nx
import pytest
import torch
from torch_geometric.data import Data, HeteroData

from tests.conftest import toy_bipartite
from torch_geometric_unlearn.forget import (
    STRATEGIES,
    adversarial_edges,
    adversarial_interactions,
    adversarial_request,
    greedy_coverage,
    select_request,
    training_nodes,
)
from torch_geometric_unlearn.forget.centrality import pagerank


def _graph(n=120, e=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(n, (2, e), generator=g)
    ei = ei[:, ei[0] != ei[1]]
    ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
    y = torch.randint(3, (n,), generator=g)
    train = torch.zeros(n, dtype=torch.bool)
    train[:60] = True
    test = ~train
    return Data(x=torch.randn(n, 5, generator=g), y=y, edge_index=ei, train_mask=train,
                val_mask=torch.zeros(n, dtype=torch.bool), test_mask=test)


class _FakeTask:
    name = 'node_classification'

    def predict_proba(self, model, data):
        return model(data.x, data.edge_index).softmax(-1)


class _Lin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 3)
        torch.nn.init.normal_(self.lin.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, x, edge_index):
        return self.lin(x)


@pytest.mark.parametrize('strategy', ['degree', 'low_degree', 'pagerank', 'worst_case',
                                      'influence_greedy'])
def test_node_strategies_training_only_and_seeded(strategy):
    data = _graph()
    kw = {'model': _Lin(), 'task': _FakeTask()}
    a = select_request(data, 'node', strategy, count=10, seed=3, **kw)
    b = select_request(data, 'node', strategy, count=10, seed=3, **kw)
    assert torch.equal(a.index, b.index) and a.num_removed == 10
    assert bool(data.train_mask[a.index].all())
    assert a.index.unique().numel() == 10
    # Removed nodes are never candidates again.
    kept = a.apply(data)
    c = select_request(kept, 'node', strategy, count=10, seed=3, **kw)
    assert not bool(kept.removed_mask[c.index].any())


def test_degree_and_pagerank_rankings():
    data = _graph()
    deg = torch.zeros(data.num_nodes).index_add_(0, data.edge_index[1],
                                                 torch.ones(data.edge_index.size(1)))
    req = select_request(data, 'node', 'degree', count=5)
    top = deg[training_nodes(data)].sort(descending=True).values[:5]
    assert torch.equal(deg[req.index].sort(descending=True).values, top)
    g = nx.Graph()
    g.add_nodes_from(range(data.num_nodes))
    g.add_edges_from(data.edge_index.t().tolist())
    ref = nx.pagerank(g, alpha=0.85, tol=1e-12)
    pr = pagerank(data.edge_index, data.num_nodes)
    assert torch.allclose(pr, torch.tensor([ref[i] for i in range(data.num_nodes)]), atol=1e-5)


def test_greedy_coverage_prefers_disjoint_hubs():
    # Two stars with centres 0 and 10 (leaves 1-9 and 11-19) and a clone of star 0 (node 20
    # links to the same leaves): after picking 0, the clone adds nothing, star 10 does.
    edges = [(0, i) for i in range(1, 10)] + [(10, i) for i in range(11, 18)] + \
        [(20, i) for i in range(1, 10)]
    ei = torch.tensor(edges).t()
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=21)
    picked = greedy_coverage(data, torch.tensor([0, 10, 20]), 2, hops=1)
    assert set(picked.tolist()) in ({0, 10}, {20, 10})


def test_worst_case_needs_model_and_rejects_bad_kind():
    data = _graph()
    with pytest.raises(ValueError, match='model'):
        select_request(data, 'node', 'worst_case', count=3)
    with pytest.raises(ValueError, match="kind 'node'"):
        select_request(data, 'edge', 'degree', count=3)
    with pytest.raises(ValueError, match='unknown strategy'):
        select_request(data, 'node', 'nope', count=3)


def test_edge_influence_and_adversarial_edges():
    data = _graph()
    req = select_request(data, 'edge', 'edge_influence', count=7, seed=1)
    assert req.num_removed == 7
    keys = set((data.edge_index[0] * 1000 + data.edge_index[1]).tolist())
    assert all(int(u) * 1000 + int(v) in keys for u, v in req.edge_index.t())
    attacked, adv = adversarial_edges(data, _Lin(), _FakeTask(), count=15, seed=2)
    a_keys = set((attacked.edge_index[0] * 1000 + attacked.edge_index[1]).tolist())
    for u, v in adv.edge_index.t().tolist():
        assert u * 1000 + v not in keys and u * 1000 + v in a_keys and v * 1000 + u in a_keys
        assert data.train_mask[u]
    restored = adv.apply(attacked)
    assert torch.equal(torch.unique(restored.edge_index, dim=1),
                       torch.unique(data.edge_index, dim=1))


def test_interaction_strategies():
    data = toy_bipartite()
    assert {'active_users', 'inactive_users'} <= set(STRATEGIES)
    req = select_request(data, 'interaction', 'active_users', count=2, seed=0)
    # Users 0 and 2 have two interactions each; the top-2 interactions belong to one of them.
    assert req.edge_index[0].unique().numel() == 1 and int(req.edge_index[0, 0]) in (0, 2)
    low = select_request(data, 'interaction', 'inactive_users', count=2, seed=0)
    assert set(low.edge_index[0].tolist()) == {1, 3}
    rnd = select_request(data, 'interaction', 'random', count=3, seed=0)
    assert rnd.num_removed == 3
    ue = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    ie = torch.tensor([[1.0], [2.0], [-5.0], [0.0], [3.0]])
    attacked, adv = adversarial_interactions(data, ue, ie, count=3, seed=0)
    et = ('user', 'rates', 'item')
    for u, i in adv.edge_index.t().tolist():
        assert i == 2 or (u == 1 and i == 3)   # least probable non-interacted item
    assert attacked[et].edge_index.size(1) == 6 + 3
    assert attacked['item', 'rev_rates', 'user'].edge_index.size(1) == 6 + 3
    assert isinstance(attacked, HeteroData)


class _EmbTask:
    name = 'recommendation'

    def embeddings(self, model, data):
        return model


def test_adversarial_request_dispatch_and_errors():
    data = _graph()
    lin = _Lin()
    attacked, req = adversarial_request(data, 'edge', lin, _FakeTask(), count=6, seed=4)
    a2, r2 = adversarial_edges(data, lin, _FakeTask(), count=6, seed=4)
    assert torch.equal(req.edge_index, r2.edge_index)
    assert torch.equal(attacked.edge_index, a2.edge_index)
    # ratio counts clean undirected edges
    _, by_ratio = adversarial_request(data, 'edge', _Lin(), _FakeTask(), ratio=0.05, seed=0)
    n_und = int((data.edge_index[0] < data.edge_index[1]).sum())
    assert by_ratio.num_removed == round(0.05 * n_und)
    bip = toy_bipartite()
    emb = torch.tensor([[1.0], [1.0], [1.0], [1.0], [1.0], [2.0], [-5.0], [0.0], [3.0]])
    att, ireq = adversarial_request(bip, 'interaction', emb, _EmbTask(), count=2, seed=0)
    assert ireq.num_removed == 2 and att['user', 'rates', 'item'].edge_index.size(1) == 8
    with pytest.raises(ValueError, match="kind 'edge' or 'interaction'"):
        adversarial_request(data, 'node', _Lin(), _FakeTask(), count=2)
    with pytest.raises(ValueError, match='clean graph'):
        adversarial_request(data, 'edge', None, None, count=2)
    with pytest.raises(ValueError, match='attacked graph'):
        select_request(data, 'edge', 'adversarial', count=2)

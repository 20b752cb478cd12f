import time

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from torch_geometric_unlearn.influence.nim import NIM, propagate_features
from torch_geometric_unlearn.request import UnlearningRequest


def ring_graph(n: int = 60, f: int = 8, c: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n)
    chords = torch.randint(0, n, (n // 2, ), generator=g)
    a = torch.cat([src, chords])
    b = torch.cat([(src + 1) % n, (chords + 7) % n])
    ei = torch.cat([torch.stack([a, b]), torch.stack([b, a])], dim=1)
    x = torch.randn(n, f, generator=g)
    soft = torch.softmax(torch.randn(n, c, generator=g), dim=-1)
    return Data(x=x, edge_index=ei, num_nodes=n), soft


def test_propagation_matches_dense_normalised_adjacency():
    data, _ = ring_graph(20)
    a = torch.zeros(20, 20)
    a.index_put_((data.edge_index[1], data.edge_index[0]), torch.ones(data.edge_index.size(1)),
                 accumulate=True)  # multi-edges count, as in gcn_norm
    a = a + torch.eye(20)
    d = a.sum(1).pow(-0.5)
    a_hat = d.view(-1, 1) * a * d.view(1, -1)
    expected = a_hat @ (a_hat @ data.x)
    assert torch.allclose(propagate_features(data.x, data.edge_index, 20, 2), expected, atol=1e-5)


def test_no_removed_node_budget_and_determinism():
    data, soft = ring_graph(80)
    data.removed_mask = torch.zeros(80, dtype=torch.bool)
    data.removed_mask[[40, 41]] = True  # removed by an earlier request
    req = UnlearningRequest.nodes([3, 30, 39])
    nim = NIM(num_hops=2)
    hie = nim(data, req, soft_labels=soft)
    assert hie.dtype == torch.long and hie.numel() > 0
    assert hie.numel() <= 9  # default budget 3 |U|
    assert len(set(hie.tolist())) == hie.numel()
    assert not set(hie.tolist()) & {3, 30, 39, 40, 41}
    assert torch.equal(hie, nim(data, req, soft_labels=soft))
    assert NIM(budget=4, num_hops=2)(data, req, soft_labels=soft).numel() <= 4
    assert NIM(budget=0, num_hops=2)(data, req, soft_labels=soft).numel() == 0


def test_threshold_only_keeps_activated_nodes():
    data, soft = ring_graph(80)
    req = UnlearningRequest.nodes([5, 50])
    loose = NIM(num_hops=3, budget=40, threshold=-1.0)(data, req, soft_labels=soft)
    strict = NIM(num_hops=3, budget=40, threshold=0.5)(data, req, soft_labels=soft)
    assert strict.numel() < loose.numel()
    xp = F.normalize(propagate_features(data.x, data.edge_index, 80, 3), dim=-1)
    p = F.normalize(soft, dim=-1)
    infl = (xp[[5, 50]] @ xp[strict].t() + 0.8 * p[[5, 50]] @ p[strict].t()) / 1.8
    assert bool((infl.max(0).values > 0.5).all())  # each HIE is activated by some UE


def test_additive_mode_is_top_budget_of_authors_score():
    data, soft = ring_graph(30)
    req = UnlearningRequest.nodes([2, 17])
    # Enough hops that every node is a candidate of every UE; threshold -1 activates all.
    hie = NIM(num_hops=15, budget=6, threshold=-1.0, coverage=False, per_entity=100)(
        data, req, soft_labels=soft)
    xp = F.normalize(propagate_features(data.x, data.edge_index, 30, 15), dim=-1)
    p = F.normalize(soft, dim=-1)
    score = (xp[[2, 17]] @ xp.t()).sum(0) + 0.8 * (p[[2, 17]] @ p.t()).sum(0)
    score[[2, 17]] = -float('inf')
    assert set(hie.tolist()) == set(score.topk(6).indices.tolist())


def test_coverage_spreads_hie_over_removed_nodes():
    # Two disconnected clusters; the UE of cluster A are far more similar to their neighbours.
    g = torch.Generator().manual_seed(0)
    n = 40
    a = torch.arange(0, 19)
    ei = torch.cat([torch.stack([a, a + 1]), torch.stack([a + 20, a + 21])], dim=1)
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    x = torch.randn(n, 6, generator=g)
    x[:20] = x[0] + 0.01 * torch.randn(20, 6, generator=g)
    data = Data(x=x, edge_index=ei, num_nodes=n)
    req = UnlearningRequest.nodes([5, 30])
    hie = NIM(num_hops=3, budget=6, label_weight=0.0)(data, req)
    assert any(v < 20 for v in hie.tolist()) and any(v >= 20 for v in hie.tolist())


def test_chunked_similarity_search_is_exact():
    data, soft = ring_graph(90)
    req = UnlearningRequest.nodes([1, 44, 70])
    big = NIM(num_hops=1, num_similar=4, chunk_size=1000)(data, req, soft_labels=soft)
    small = NIM(num_hops=1, num_similar=4, chunk_size=7)(data, req, soft_labels=soft)
    assert torch.equal(big, small)


def test_edge_request_excludes_endpoints():
    data, soft = ring_graph(50)
    req = UnlearningRequest.edges([[3, 20], [4, 21]])
    hie = NIM(num_hops=2)(data, req, soft_labels=soft)
    assert hie.numel() > 0 and not set(hie.tolist()) & {3, 4, 20, 21}


def test_bad_input_raises():
    with pytest.raises(ValueError, match='threshold'):
        NIM(threshold=1.5)
    with pytest.raises(ValueError, match='budget'):
        NIM(budget=-1)
    data, soft = ring_graph(20)
    with pytest.raises(ValueError, match='outside'):
        NIM(num_hops=1)(data, UnlearningRequest.nodes([25]), soft_labels=soft)
    with pytest.raises(ValueError, match='model'):
        NIM(num_hops=1)(data, UnlearningRequest.nodes([2]))


def test_scales_to_50k_nodes_without_dense_matrices():
    n, m = 50_000, 200_000
    g = torch.Generator().manual_seed(0)
    src = torch.randint(0, n, (m, ), generator=g)
    dst = (src + torch.randint(1, 500, (m, ), generator=g)) % n
    data = Data(x=torch.randn(n, 32, generator=g),
                edge_index=torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1),
                num_nodes=n)
    soft = torch.softmax(torch.randn(n, 10, generator=g), -1)
    req = UnlearningRequest.nodes(torch.randperm(n, generator=g)[:250])
    t = time.perf_counter()
    hie = NIM(num_hops=2)(data, req, soft_labels=soft)
    elapsed = time.perf_counter() - t
    assert hie.numel() == 750
    assert elapsed < 30.0, elapsed  # ~1 s on an idle core; an n x n path would need 10 GB


def _sequential_greedy(nim, rows, cols, vals, num_u, num_c, budget, quota):
    """Reference: Algorithm 1 one pick at a time (the previous implementation)."""
    from torch_geometric_unlearn.influence.nim import _rank_within
    top = _rank_within(rows, vals) < quota
    residual = torch.zeros(num_u).index_add_(0, rows[top], vals[top])
    taken = torch.zeros(num_c, dtype=torch.bool)
    extra = torch.zeros(num_c).index_add_(0, cols, vals) * nim.fill_weight
    chosen = []
    for _ in range(min(budget, num_c)):
        contrib = torch.minimum(vals, residual[rows])
        gain = extra.clone().index_add_(0, cols, contrib)
        gain[taken] = -1.0
        best = int(gain.argmax())
        if float(gain[best]) <= 0:
            break
        chosen.append(best)
        taken[best] = True
        hit = cols == best
        residual.index_add_(0, rows[hit], -contrib[hit])
        residual.clamp_min_(0.0)
    return chosen


@pytest.mark.parametrize('seed,num_u,num_c,m', [(0, 40, 300, 900), (1, 40, 300, 900),
                                                 (2, 10, 50, 400), (3, 200, 3000, 6000)])
def test_batched_greedy_equals_sequential_greedy(seed, num_u, num_c, m):
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, num_u, (m, ), generator=g)
    cols = torch.randint(0, num_c, (m, ), generator=g)
    key = torch.unique(rows * num_c + cols)
    rows, cols = key // num_c, key % num_c
    vals = torch.rand(rows.numel(), generator=g)
    vals[::7] = vals[3]  # ties
    nim = NIM()
    for budget, quota in ((120, 3), (500, 2), (30, 1)):
        got, gains = nim._greedy(rows, cols, vals, num_u, num_c, budget, quota)
        ref = _sequential_greedy(nim, rows, cols, vals, num_u, num_c, budget, quota)
        assert got.tolist() == ref
        assert bool((gains > 0).all()) and gains.numel() == len(ref)


def test_local_propagation_equals_the_full_rows():
    r"""NIM propagates features only around the UE and candidates (``nodes=``): the rows
    must equal those of the full propagation (walks stay within K hops; the edge weights use
    the whole graph's degrees), here with multi-edges, a self loop and a one-way edge."""
    data, _ = ring_graph(50)
    ei = torch.cat([data.edge_index, torch.tensor([[4, 9, 9], [4, 30, 30]])], dim=1)
    nodes = torch.tensor([0, 9, 30, 31])
    for k in (0, 1, 2, 3):
        full = propagate_features(data.x, ei, 50, k)
        local = propagate_features(data.x, ei, 50, k, nodes=nodes)
        assert local.shape == (4, data.x.size(1))
        assert torch.allclose(local, full[nodes], atol=1e-6), k


def test_sparse_csr_features_give_the_dense_rows():
    r"""Bag-of-words features as sparse CSR (what SGU passes): the first propagation step
    scatters the non-zeros only; the rows equal the dense propagation's."""
    data, _ = ring_graph(50, f=30)
    x = data.x * (torch.rand(data.x.shape, generator=torch.Generator().manual_seed(1)) < 0.1)
    nodes = torch.tensor([0, 9, 30, 31])
    for k in (0, 1, 2, 3):
        dense = propagate_features(x, data.edge_index, 50, k)
        sparse = propagate_features(x.to_sparse_csr(), data.edge_index, 50, k, nodes=nodes)
        assert sparse.layout == torch.strided
        assert torch.allclose(sparse, dense[nodes], atol=1e-6), k
    assert torch.allclose(propagate_features(x.to_sparse_csr(), data.edge_index, 50, 2),
                          propagate_features(x, data.edge_index, 50, 2), atol=1e-6)


def test_sampled_pair_influence_equals_row_gathers():
    data, soft = ring_graph(60)
    nim = NIM(num_hops=2)
    xp = F.normalize(propagate_features(data.x, data.edge_index, 60, 2), dim=-1)
    p = F.normalize(soft, dim=-1)
    key = torch.unique(torch.randint(0, 60 * 60, (300, ), generator=torch.Generator()
                                     .manual_seed(2)))
    u, v = key // 60, key % 60
    fast = nim._pair_influence(u, v, xp, p, sorted_pairs=True)
    slow = nim._pair_influence(u, v, xp, p, sorted_pairs=False)
    assert NIM._sampled_dot(u, v, xp) is not None  # the sampled product ran
    assert torch.allclose(fast, slow, atol=1e-6)
    # The selection is unchanged by the sparse features.
    req = UnlearningRequest.nodes([3, 30, 39])
    x = data.x * (data.x > 0.5)
    a = NIM(num_hops=2)(Data(x=x, edge_index=data.edge_index, num_nodes=60), req,
                        soft_labels=soft)
    b = NIM(num_hops=2)(Data(x=x.to_sparse_csr(), edge_index=data.edge_index, num_nodes=60),
                        req, soft_labels=soft)
    assert torch.equal(a, b)

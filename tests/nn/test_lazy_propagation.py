r"""LazyPropagation: lazily updated features stay within the stated r_max error bound of the
propagation recomputed from scratch, updates are local, atomic (rollback) and validated."""
import pytest
import torch
from torch_geometric.utils import to_undirected

from torch_geometric_unlearn.nn.lazy_propagation import LazyPropagation
from torch_geometric_unlearn.request import UnlearningRequest


def _synthetic(n=300, m=1200, f=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, m), generator=g)
    ei = to_undirected(ei[:, ei[0] != ei[1]], num_nodes=n)
    return torch.rand(n, f, generator=g, dtype=torch.float64), ei


def _check(lp):
    err = (lp.exact() - lp.embedding).abs().sum(0)
    bound = lp.error_bound()
    assert bool((err <= bound + 1e-9).all()), (err, bound)


@pytest.mark.parametrize('r_max', [1e-9, 1e-3])
def test_sequential_updates_match_exact_within_bound(r_max):
    x, ei = _synthetic()
    lp = LazyPropagation(x, ei, num_steps=2, r_max=r_max)
    _check(lp)
    und = ei[:, ei[0] < ei[1]]
    lp.remove_edges(und[:, :7])
    _check(lp)
    lp.remove_nodes(torch.tensor([5, 17]))
    _check(lp)
    lp.remove_features(torch.tensor([30, 31]), torch.tensor([0, 4]))
    _check(lp)
    # From-scratch build on the same final graph and features agrees within both bounds.
    alive = lp.alive & (lp.col != lp._row_of(torch.arange(lp.keys.numel())))
    rest = torch.stack([lp._row_of(torch.arange(lp.keys.numel()))[alive], lp.col[alive]])
    fresh = LazyPropagation(lp.x, rest, num_steps=2, r_max=r_max)
    tol = (lp.error_bound() + fresh.error_bound()) + 1e-9
    assert bool(((fresh.embedding - lp.embedding).abs().sum(0) <= tol).all())
    if r_max == 1e-9:
        assert torch.allclose(fresh.embedding, lp.embedding, atol=1e-8)
    else:
        assert float(lp.error_bound().max()) > 0  # the bound is not vacuous-zero here


def test_update_is_local_and_removed_node_is_gone():
    x, ei = _synthetic(n=200, m=600)
    # A second component far away: never touched by requests in the first one.
    x2, ei2 = _synthetic(n=200, m=600, seed=1)
    x = torch.cat([x, x2])
    ei = torch.cat([ei, ei2 + 200], dim=1)
    lp = LazyPropagation(x, ei, num_steps=2, r_max=1e-10)
    z0 = lp.embedding.clone()
    rows = lp.remove_nodes(torch.tensor([3]))
    assert int(rows.max()) < 200
    assert torch.equal(lp.embedding[200:], z0[200:])
    assert torch.count_nonzero(lp.x[3]) == 0
    assert float(lp.embedding[3].abs().max()) <= float(lp.error_bound().max()) + 1e-12
    changed = (lp.embedding != z0).any(1).nonzero().view(-1)
    assert bool(torch.isin(changed, rows).all())


def test_cora_edge_and_node_requests(cora):
    x = cora.x[:, :200].double()  # Cora's graph; fewer columns keep the test fast
    lp = LazyPropagation(x, cora.edge_index, num_steps=2, r_max=1e-7)
    req = UnlearningRequest.edges(torch.tensor([[0, 1], [633, 2]]))
    lp.remove_edges(req.edge_index)
    retained = req.apply(cora)
    ref = LazyPropagation(x, retained.edge_index, num_steps=2, r_max=1e-7)
    tol = lp.error_bound() + ref.error_bound() + 1e-9
    assert bool(((ref.exact() - lp.embedding).abs().sum(0) <= tol).all())
    lp.remove_nodes(torch.tensor([10, 11]))
    _check(lp)


def test_rollback_and_bad_input_leave_state_unchanged():
    x, ei = _synthetic()
    lp = LazyPropagation(x, ei, num_steps=2, r_max=1e-6)
    before = [t.clone() for t in (lp.embedding, lp.q[0], lp.res[0], lp.deg, lp.x)]
    lp.begin()
    lp.update(remove_edges=ei[:, :3], remove_nodes=torch.tensor([9]),
              feature_nodes=torch.tensor([1]))
    lp.rollback()
    after = (lp.embedding, lp.q[0], lp.res[0], lp.deg, lp.x)
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    cand = torch.stack([torch.zeros(299, dtype=torch.long), torch.arange(1, 300)])
    missing = cand[:, ~lp.edge_alive(cand)][:, :1]
    with pytest.raises(ValueError, match='not in the current graph'):
        lp.remove_edges(torch.cat([ei[:, :1], missing], dim=1))
    with pytest.raises(ValueError, match='self-loops'):
        lp.remove_edges(torch.tensor([[7], [7]]))
    with pytest.raises(ValueError, match='outside'):
        lp.remove_nodes(torch.tensor([10_000]))
    assert torch.equal(lp.embedding, before[0])


def test_propagate_matches_exact_and_embedding_for_dispatches():
    from torch_geometric_unlearn.nn.lazy_propagation import propagate
    x, ei = _synthetic()
    lp = LazyPropagation(x, ei, num_steps=2, r_max=1e-12)
    assert torch.allclose(propagate(x, ei, num_steps=2), lp.exact(), atol=1e-12)
    und = ei[:, ei[0] < ei[1]]
    lp.remove_nodes(torch.tensor([5, 17]))
    lp.remove_edges(und[:, :7])
    # The current graph: the maintained embedding itself is returned (no recomputation).
    keep = lp.alive & (lp.col != lp._row_of(torch.arange(lp.keys.numel())))
    cur = torch.stack([lp._row_of(torch.arange(lp.keys.numel()))[keep], lp.col[keep]])
    assert lp.matches(lp.x, cur) and lp.embedding_for(lp.x, cur) is lp.embedding
    # The original graph is no longer the state: it is propagated exactly, so removed nodes
    # get their full-graph features back (what any GNN queried on that graph would see).
    assert not lp.matches(x, ei)
    z_orig = lp.embedding_for(x, ei)
    assert torch.allclose(z_orig, propagate(x, ei, num_steps=2))
    assert float(z_orig[5].abs().sum()) > 0.1 and float(lp.embedding[5].abs().sum()) < 1e-12
    with pytest.raises(ValueError, match='both'):
        lp.embedding_for(x, None)


@pytest.mark.parametrize('weights', [None, [0.2, 0.3, 0.5]])
def test_frobenius_bound_flush_and_rollback(weights):
    # r = 1/2: ||Z - Z_hat||_F <= sum_l |w_l| sum_{j<=l} ||D^{-1/2} R_j||_F, maintained
    # incrementally through degree changes; much tighter than the l1 bound, never below the
    # true error. flush() empties every residue, so the embedding becomes exact.
    x, ei = _synthetic(n=400, m=2400, f=8)
    lp = LazyPropagation(x, ei, num_steps=2, weights=weights, r_max=3e-4)
    und = ei[:, ei[0] < ei[1]]
    late = und[:, 40:120]
    late = late[:, ~torch.isin(late, torch.tensor([3, 50])).any(0)][:, :50]
    steps = [dict(remove_edges=und[:, :5]), dict(remove_nodes=torch.tensor([3, 50])),
             dict(feature_nodes=torch.tensor([7, 8]), feature_index=torch.tensor([1])),
             dict(remove_edges=late)]
    for kw in steps:
        lp.update(**kw)
        true = float((lp.exact() - lp.embedding).norm())
        fro, l1 = lp.error_norm(), float(lp.error_bound().norm())
        assert true <= fro + 1e-12 and fro <= l1
        dinv = lp.deg.reciprocal()
        for level, res in enumerate(lp.res):  # running sums equal the exact sums
            assert bool((res.ne(0).any(-1) <= lp.dirty[level]).all())  # flush finds them all
            assert abs(float(lp.res_sq[level]) - float((res.pow(2).sum(-1) * dinv).sum())) \
                <= 1e-12 * max(1.0, float(lp.res_sq[level]))
    assert true > 0 and fro < 0.5 * l1  # not vacuous, and tighter than l1
    z, state = lp.embedding.clone(), [t.clone() for t in lp.res + lp.q]
    norms = (lp.error_norm(), lp.error_bound().clone())
    lp.begin()
    rows = lp.flush()
    assert rows.numel() > 0 and lp.error_norm() == 0 and float(lp.error_bound().max()) == 0
    assert torch.allclose(lp.embedding, lp.exact(), atol=1e-12)
    changed = (lp.embedding != z).any(1).nonzero().view(-1)
    assert bool(torch.isin(changed, rows).all())
    lp.rollback()
    assert torch.equal(lp.embedding, z) and all(
        torch.equal(a, b) for a, b in zip(lp.res + lp.q, state))
    assert lp.error_norm() == norms[0] and torch.equal(lp.error_bound(), norms[1])


def test_full_build_shows_a_progress_bar(capsys):
    from torch_geometric_unlearn.utils import set_progress
    x, ei = _synthetic()
    try:
        LazyPropagation(x, ei)
        assert 'propagation' not in capsys.readouterr().err  # silent by default
        set_progress(True)
        LazyPropagation(x, ei)
        assert 'propagation (push levels)' in capsys.readouterr().err
    finally:
        set_progress(None)

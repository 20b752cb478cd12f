import pytest
import torch

from torch_geometric_unlearn.nn.influence_encoder import (InfluenceEncoder,
                                                          influence_dependency_matrix)


# Small sparse ops: one thread is faster and keeps results thread-count independent.
pytestmark = pytest.mark.usefixtures('single_thread')


U, I = 4, 5
# Removed interactions of a toy request: user 0 -> items 0, 1; user 2 -> item 1.
REMOVED = torch.tensor([[0, 0, 2], [0, 1, 1]])


def dense_idm(removed, num_users, num_items):
    n = num_users + num_items
    A = torch.zeros(n, n, dtype=torch.float64)
    A[removed[0], removed[1] + num_users] = 1.
    A[removed[1] + num_users, removed[0]] = 1.
    d = A.sum(1)
    dinv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return dinv[:, None] * A * dinv[None, :]


def test_idm_is_sparse_and_matches_hand_computed_values():
    idm = influence_dependency_matrix(REMOVED, U, I)
    assert idm.layout == torch.sparse_csr and idm.shape == (U + I, U + I)
    assert idm._nnz() == 2 * REMOVED.size(1)  # two entries per removed interaction
    dense = idm.to_dense().double()
    # deg(u0) = 2, deg(u2) = 1, deg(i0) = 1, deg(i1) = 2.
    expected = torch.zeros(U + I, U + I, dtype=torch.float64)
    for u, i, val in [(0, 0, 1 / 2 ** 0.5), (0, 1, 1 / 2), (2, 1, 1 / 2 ** 0.5)]:
        expected[u, U + i] = expected[U + i, u] = val
    assert torch.allclose(dense, expected)
    assert torch.allclose(dense, dense_idm(REMOVED, U, I))
    untouched = torch.tensor([1, 3, U + 2, U + 3, U + 4])
    assert dense[untouched].abs().sum() == 0


def test_zero_init_and_identity_mlp_leave_embeddings_unchanged():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(U + I, 8, generator=gen)
    ebar = torch.randn(U + I, 8, generator=gen)
    enc = InfluenceEncoder(U + I, 8, num_layers=3, weight_init=0.)
    assert torch.all(enc.h0 == 0) and torch.all(enc.w_eta == 0)
    for lin in enc.mlp:
        assert torch.equal(lin.weight, torch.eye(8)) and torch.all(lin.bias == 0)
    idm = influence_dependency_matrix(REMOVED, U, I)
    out = enc(idm, x0, ebar)
    assert torch.equal(out, x0)
    # With the authors' W_eta init (0.002) only the request's nodes move.
    enc2 = InfluenceEncoder(U + I, 8, num_layers=3)
    out2 = enc2(idm, x0, ebar)
    moved = (out2 - x0).abs().sum(1) > 0
    touched = torch.zeros(U + I, dtype=torch.bool)
    touched[torch.cat([REMOVED[0], REMOVED[1] + U])] = True
    assert torch.equal(moved, touched)


def test_forward_matches_dense_formula():
    gen = torch.Generator().manual_seed(1)
    d, L = 6, 3
    enc = InfluenceEncoder(U + I, d, num_layers=L, beta=0.1)
    with torch.no_grad():
        enc.h0.copy_(torch.randn(U + I, d, generator=gen))
        enc.w_eta.copy_(torch.randn(U + I, 1, generator=gen))
        for lin in enc.mlp:
            lin.weight.add_(0.1 * torch.randn(d, d, generator=gen))
            lin.bias.copy_(0.1 * torch.randn(d, generator=gen))
    x0 = torch.randn(U + I, d, generator=gen)
    ebar = torch.randn(U + I, d, generator=gen)
    idm = influence_dependency_matrix(REMOVED, U, I)
    A = dense_idm(REMOVED, U, I)
    h0, w = enc.h0.detach().double(), enc.w_eta.detach().double()
    H = sum(torch.linalg.matrix_power(A, l) @ h0 for l in range(L + 1))
    Ew = torch.linalg.matrix_power(A, L) @ (ebar.double() * w)
    delta = H - 0.1 * Ew
    x = delta
    for lin in enc.mlp:
        x = torch.nn.functional.leaky_relu(x @ lin.weight.detach().double().t()
                                           + lin.bias.detach().double(), 0.99)
    expected = x0.double() + x
    assert torch.allclose(enc.delta(idm, ebar).double(), delta, atol=1e-5)
    assert torch.allclose(enc(idm, x0, ebar).double(), expected, atol=1e-5)


def test_stages_choose_trainable_parameters():
    enc = InfluenceEncoder(U + I, 4)
    assert enc.h0.requires_grad and enc.w_eta.requires_grad
    assert not any(p.requires_grad for p in enc.mlp.parameters())
    enc.set_stage('finetune')
    assert not enc.h0.requires_grad and not enc.w_eta.requires_grad
    assert all(p.requires_grad for p in enc.mlp.parameters())
    enc.set_stage('frozen')
    assert not any(p.requires_grad for p in enc.parameters())
    with pytest.raises(ValueError, match='stage'):
        enc.set_stage('train')


def test_pretrain_gradients_reach_h0_and_w_eta_only():
    gen = torch.Generator().manual_seed(2)
    enc = InfluenceEncoder(U + I, 4)
    x0 = torch.randn(U + I, 4, generator=gen)
    ebar = torch.randn(U + I, 4, generator=gen)
    idm = influence_dependency_matrix(REMOVED, U, I)
    out = enc(idm, x0, ebar)
    (out[REMOVED[0]] * out[REMOVED[1] + U]).sum().backward()
    assert enc.h0.grad is not None and enc.h0.grad.abs().sum() > 0
    assert enc.w_eta.grad is not None and enc.w_eta.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.mlp.parameters())


def test_contrast_loss_is_finite_and_trains_h0():
    gen = torch.Generator().manual_seed(3)
    enc = InfluenceEncoder(U + I, 4)
    with torch.no_grad():
        enc.h0.copy_(torch.randn(U + I, 4, generator=gen))
    removed = torch.tensor([[0, 0, 1, 2, 3, 3], [0, 1, 2, 1, 3, 4]])
    idm = influence_dependency_matrix(removed, U, I)
    idm_d = InfluenceEncoder.dropped_idm(removed, U, I, 0.3, gen)
    nodes = torch.unique(torch.cat([removed[0], removed[1] + U]))
    loss = enc.contrast_loss(idm, idm_d, nodes, temperature=1.0)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert enc.h0.grad.abs().sum() > 0
    # Fewer than two nodes: a zero loss that still has a graph.
    assert float(enc.contrast_loss(idm, idm_d, nodes[:1]).detach()) == 0.


def test_shape_errors_are_clear():
    enc = InfluenceEncoder(U + I, 4)
    idm = influence_dependency_matrix(REMOVED, U, I)
    with pytest.raises(ValueError, match='x0 must be'):
        enc(idm, torch.zeros(U + I, 5), torch.zeros(U + I, 4))
    with pytest.raises(ValueError, match='influence dependency matrix'):
        enc(influence_dependency_matrix(REMOVED, U, I + 1), torch.zeros(U + I, 4),
            torch.zeros(U + I, 4))
    with pytest.raises(ValueError, match='positive'):
        InfluenceEncoder(0, 4)

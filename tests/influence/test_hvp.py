"""Hessian-vector products by double back-propagation against the full autograd Hessian."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.functional import hessian

from torch_geometric_unlearn.influence import hessian_vector_product, hvp, make_hvp_fn
from torch_geometric_unlearn.nn import build_node_model
from tests.conftest import toy_graph


def _setup():
    torch.manual_seed(0)
    data = toy_graph()
    x = data.x.double() / 10
    model = build_node_model('gcn', 3, 2, hidden_channels=4, dropout=0.0).double().eval()
    params = tuple(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def loss_of(flat):
        # Functional loss of the flattened parameters (for the reference Hessian).
        chunks = flat.split(sizes)
        state = {n: c.view(s) for (n, _), c, s in
                 zip(model.named_parameters(), chunks, shapes)}
        out = torch.func.functional_call(model, state, (x, data.edge_index))
        return F.cross_entropy(out[data.train_mask], data.y[data.train_mask],
                               reduction='sum')

    loss = F.cross_entropy(model(x, data.edge_index)[data.train_mask],
                           data.y[data.train_mask], reduction='sum')
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    H = hessian(loss_of, flat)
    return model, params, loss, H, sizes, shapes


def test_hvp_equals_full_hessian_times_v():
    model, params, loss, H, sizes, shapes = _setup()
    g = torch.Generator().manual_seed(1)
    vs = [torch.randn(H.size(0), generator=g, dtype=torch.float64) for _ in range(3)]
    grads = torch.autograd.grad(loss, params, create_graph=True)
    assert H.abs().max() > 1e-3  # a non-trivial Hessian (non-zero curvature)
    for v in vs:
        v_tuple = tuple(c.view(s) for c, s in zip(v.split(sizes), shapes))
        ref = H @ v
        out = torch.cat([t.reshape(-1) for t in hvp(grads, params, v_tuple)])
        assert torch.allclose(out, ref, rtol=1e-8, atol=1e-10)
        fn_out = torch.cat([t.reshape(-1) for t in make_hvp_fn(loss, params)(v_tuple)])
        assert torch.allclose(fn_out, ref, rtol=1e-8, atol=1e-10)
    # Convenience form (builds its own gradient graph).
    loss2 = F.cross_entropy(model(toy_graph().x.double() / 10, toy_graph().edge_index)[:3],
                            toy_graph().y[:3], reduction='sum')
    v_tuple = tuple(c.view(s) for c, s in zip(vs[0].split(sizes), shapes))
    single = torch.cat([t.reshape(-1) for t in hessian_vector_product(loss2, params, v_tuple)])
    assert torch.allclose(single, H @ vs[0], rtol=1e-8, atol=1e-10)
    # Linear in v.
    a = torch.cat([t.reshape(-1) for t in hvp(grads, params, tuple(2 * t for t in v_tuple))])
    assert torch.allclose(a, 2 * (H @ vs[0]), rtol=1e-8, atol=1e-10)


def test_hvp_bad_input():
    model, params, loss, *_ = _setup()
    grads_no_graph = torch.autograd.grad(loss, params, retain_graph=True)
    v = tuple(torch.zeros_like(p) for p in params)
    with pytest.raises(ValueError, match='create_graph'):
        hvp(grads_no_graph, params, v)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    with pytest.raises(ValueError, match='shape'):
        hvp(grads, params, (torch.zeros(3), ) + v[1:])
    with pytest.raises(ValueError, match='tensors'):
        hvp(grads, params, v[:-1])
    with pytest.raises(ValueError, match='scalar'):
        hessian_vector_product(loss.view(1).repeat(2), params, v)


def test_hvp_under_no_grad_and_unused_params():
    # Parameters the loss does not reach twice get zero curvature; no_grad callers work.
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, dtype=torch.float64, requires_grad=True)
    loss = (w ** 3).sum() + 2 * b.sum()
    grads = torch.autograd.grad(loss, (w, b), create_graph=True)
    v = (torch.ones(3, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    with torch.no_grad():
        hw, hb = hvp(grads, (w, b), v)
    assert torch.allclose(hw, 6 * w.detach())
    assert torch.equal(hb, torch.zeros(1, dtype=torch.float64))

"""Inverse-HVP solvers on explicit SPD / indefinite matrices split into parameter tuples."""
from __future__ import annotations

import pytest
import torch

from torch_geometric_unlearn.influence import (LiSSADivergenceError, hessian_eigenvalue_bounds,
                                              inverse_hvp_cg, inverse_hvp_lissa)


def _problem(n=12, indefinite=False):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(n, n, generator=g, dtype=torch.float64)
    H = A @ A.T / n + 0.5 * torch.eye(n, dtype=torch.float64)
    if indefinite:
        H = H - 3.0 * torch.eye(n, dtype=torch.float64)
    v = torch.randn(n, generator=g, dtype=torch.float64)
    split = (4, 8)  # two "parameter" tensors of shapes [4] and [2, 4]

    def to_tuple(x):
        a, b = x.split(split)
        return a, b.view(2, 4)

    def hvp_fn(t):
        return to_tuple(H @ torch.cat([t[0], t[1].reshape(-1)]))

    return H, v, to_tuple, hvp_fn


def _flat(t):
    return torch.cat([x.reshape(-1) for x in t])


def test_cg_solves_damped_system():
    H, v, to_tuple, hvp_fn = _problem()
    for damping in (0.0, 0.3):
        x, info = inverse_hvp_cg(hvp_fn, to_tuple(v), damping=damping, tol=1e-12,
                                 return_info=True)
        ref = torch.linalg.solve(H + damping * torch.eye(12, dtype=H.dtype), v)
        assert torch.allclose(_flat(x), ref, rtol=1e-8, atol=1e-10)
        assert info['iterations'] <= 12 + 2 and not info['negative_curvature']
        assert info['relative_residual'] < 1e-10
        assert x[1].shape == (2, 4)


def test_lissa_converges_to_damped_inverse_and_truncates():
    H, v, to_tuple, hvp_fn = _problem()
    lam_max = float(torch.linalg.eigvalsh(H).max())
    scale = 1.5 * lam_max
    for damp in (0.0, 0.1):
        x, info = inverse_hvp_lissa(hvp_fn, to_tuple(v), damp=damp, scale=scale,
                                    iterations=800, return_info=True)
        ref = torch.linalg.solve(H + damp * scale * torch.eye(12, dtype=H.dtype), v)
        assert torch.allclose(_flat(x), ref, rtol=1e-6, atol=1e-8)
        assert info['iterations'] == 800 and info['update_norm'] < 1e-8
    # T = 0: h_0 / scale = v / scale; T = 1: (2v - Hv/scale)/scale (GIF's recursion).
    x0 = inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=10.0, iterations=0)
    assert torch.allclose(_flat(x0), v / 10.0)
    x1 = inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=10.0, iterations=1)
    assert torch.allclose(_flat(x1), (2 * v - H @ v / 10.0) / 10.0)


def test_lissa_and_cg_agree():
    H, v, to_tuple, hvp_fn = _problem()
    scale = 2.0 * float(torch.linalg.eigvalsh(H).max())
    a = inverse_hvp_lissa(hvp_fn, to_tuple(v), damp=0.05, scale=scale, iterations=600)
    b = inverse_hvp_cg(hvp_fn, to_tuple(v), damping=0.05 * scale, tol=1e-12)
    assert torch.allclose(_flat(a), _flat(b), rtol=1e-6, atol=1e-9)


def test_cg_reports_negative_curvature():
    H, v, to_tuple, hvp_fn = _problem(indefinite=True)
    assert float(torch.linalg.eigvalsh(H).min()) < 0
    x, info = inverse_hvp_cg(hvp_fn, to_tuple(v), return_info=True, max_iter=50)
    assert all(torch.isfinite(t).all() for t in x)
    # Either a non-positive curvature direction was met or CG reached the indefinite solve.
    if not info['negative_curvature']:
        assert torch.allclose(_flat(x), torch.linalg.solve(H, v), rtol=1e-5, atol=1e-7)


def test_solver_bad_input():
    H, v, to_tuple, hvp_fn = _problem()
    with pytest.raises(ValueError, match='scale'):
        inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=0.0)
    with pytest.raises(ValueError, match='damp'):
        inverse_hvp_lissa(hvp_fn, to_tuple(v), damp=1.0)
    with pytest.raises(ValueError, match='iterations'):
        inverse_hvp_lissa(hvp_fn, to_tuple(v), iterations=-1)
    with pytest.raises(ValueError, match='damping'):
        inverse_hvp_cg(hvp_fn, to_tuple(v), damping=-1.0)
    with pytest.raises(ValueError, match='max_iter'):
        inverse_hvp_cg(hvp_fn, to_tuple(v), max_iter=-1)


def test_lanczos_eigenvalue_bounds():
    for indefinite in (False, True):
        H, v, to_tuple, hvp_fn = _problem(indefinite=indefinite)
        eig = torch.linalg.eigvalsh(H)
        like = to_tuple(v)
        # n steps span the whole space: exact extremes; few steps: inner estimates, and the
        # top one is already close (what scale='auto' relies on).
        lo, hi = hessian_eigenvalue_bounds(hvp_fn, like, steps=12)
        assert abs(lo - float(eig[0])) < 1e-6 and abs(hi - float(eig[-1])) < 1e-6
        lo, hi = hessian_eigenvalue_bounds(hvp_fn, like, steps=6)
        assert float(eig[0]) - 1e-9 <= lo and hi <= float(eig[-1]) + 1e-9
        assert hi > 0.9 * float(eig[-1])
        again = hessian_eigenvalue_bounds(hvp_fn, like, steps=6)
        assert again == (lo, hi)  # deterministic start vector
    with pytest.raises(ValueError, match='steps'):
        hessian_eigenvalue_bounds(hvp_fn, like, steps=0)


def test_lissa_divergence_guard_raises_instead_of_returning_garbage():
    H, v, to_tuple, hvp_fn = _problem()
    lam_max = float(torch.linalg.eigvalsh(H).max())
    # scale below lambda_max / 2: |1 - lambda/scale| > 1, the recursion blows up.
    with pytest.raises(LiSSADivergenceError, match='diverged') as err:
        inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=0.3 * lam_max, iterations=100)
    assert err.value.growth > 10 and err.value.iteration < 100
    # The growth rate identifies the offending eigenvalue.
    assert abs(err.value.lambda_estimate - lam_max) < 0.05 * lam_max
    # A convergent scale never trips the guard and reports bounded growth.
    _, info = inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=0.6 * lam_max, iterations=100,
                                return_info=True)
    assert info['growth'] <= 1.0 + 1e-9
    # The guard can be disabled, but non-finite iterates always raise.
    with pytest.raises(LiSSADivergenceError, match='non-finite'):
        inverse_hvp_lissa(hvp_fn, to_tuple(v), scale=1e-3 * lam_max, iterations=400,
                          max_growth=None)
    with pytest.raises(ValueError, match='max_growth'):
        inverse_hvp_lissa(hvp_fn, to_tuple(v), max_growth=0.5)

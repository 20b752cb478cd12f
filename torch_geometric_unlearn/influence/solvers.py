r"""Inverse Hessian-vector product solvers :math:`\mathbf{H}^{-1}\mathbf{v}` that only need a
function :obj:`hvp_fn(v) -> H v` (see :func:`~torch_geometric_unlearn.influence.make_hvp_fn`).

* :func:`inverse_hvp_lissa`: the truncated Neumann series / LiSSA recursion of GIF
  (Wu et al., WWW'23; Agarwal et al., JMLR'17), with GIF's :obj:`damp` and :obj:`scale`.
* :func:`inverse_hvp_cg`: conjugate gradient on :math:`\mathbf{H} + \lambda\mathbf{I}`
  (Koh & Liang, ICML'17; as used by CEU-style certified edge unlearning).
* :func:`hessian_eigenvalue_bounds`: Lanczos estimates of the extreme eigenvalues, to set
  LiSSA's scale and CG's damping relative to the spectrum.

Vectors are tuples of tensors shaped like the parameters; nothing is flattened or copied to
the CPU, so the solvers run on any device.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_geometric_unlearn.influence.hvp import HVPFn, TensorTuple


def _dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _norm(a: Sequence[Tensor]) -> float:
    return math.sqrt(max(float(_dot(a, a)), 0.0))


class LiSSADivergenceError(RuntimeError):
    r"""Raised by :func:`inverse_hvp_lissa` when the recursion diverges (its steps grow, so
    :obj:`scale` is below half the top Hessian eigenvalue or the Hessian has strongly negative
    curvature). :obj:`growth` is the last step norm over the first one, :obj:`iteration` the
    step where it was detected, and :obj:`lambda_estimate` an estimate of the offending
    eigenvalue from the growth rate (the step recursion is a power iteration on
    :math:`(1 - \text{damp})\mathbf{I} - \mathbf{H}/\text{scale}`)."""

    def __init__(self, message: str, iteration: int, growth: float,
                 lambda_estimate: float) -> None:
        super().__init__(message)
        self.iteration, self.growth, self.lambda_estimate = iteration, growth, lambda_estimate


def inverse_hvp_lissa(hvp_fn: HVPFn, v: Sequence[Tensor], damp: float = 0.0,
                      scale: float = 500.0, iterations: int = 100,
                      max_growth: Optional[float] = 10.0, return_info: bool = False):
    r"""LiSSA / Neumann-series estimate of :math:`\mathbf{H}^{-1}\mathbf{v}` (GIF's solver):

    .. math::
        \mathbf{h}_0 = \mathbf{v}, \qquad \mathbf{h}_t = \mathbf{v} + (1 - \text{damp})\,
        \mathbf{h}_{t-1} - \mathbf{H}\mathbf{h}_{t-1} / \text{scale}, \qquad
        \text{returns } \mathbf{h}_T / \text{scale}.

    Its fixed point is :math:`(\mathbf{H} + \text{damp}\cdot\text{scale}\,\mathbf{I})^{-1}
    \mathbf{v}`; it converges when the eigenvalues of :math:`\mathbf{H}/\text{scale} +
    \text{damp}\,\mathbf{I}` lie in :math:`(0, 2)`. With a small :obj:`iterations` it is a
    truncated series (an implicitly regularised inverse, eigenvalues below about
    :math:`\text{scale}/(T+1)` are treated as :math:`\text{scale}/(T+1)`), which is how GIF
    uses it.

    **Divergence guard.** The steps :math:`\mathbf{d}_t = \mathbf{h}_t - \mathbf{h}_{t-1}`
    obey :math:`\mathbf{d}_{t+1} = ((1-\text{damp})\mathbf{I} - \mathbf{H}/\text{scale})
    \mathbf{d}_t`, so they never grow when the recursion converges. If
    :math:`\|\mathbf{d}_t\|` exceeds :obj:`max_growth` times :math:`\|\mathbf{d}_1\|` (or an
    iterate is not finite), :class:`LiSSADivergenceError` is raised instead of returning a
    meaningless estimate. (Mild negative curvature, as in non-convex networks, makes the steps
    grow slowly; the default tolerates a 10x growth.)

    Args:
        hvp_fn (callable): :obj:`hvp_fn(vec_tuple) -> tuple` computing
            :math:`\mathbf{H}\mathbf{v}`.
        v (Sequence[Tensor]): Right-hand side, one tensor per parameter.
        damp (float, optional): Damping in :math:`[0, 1)`. (default: :obj:`0.0`)
        scale (float, optional): Scale, larger than half the top Hessian eigenvalue for
            convergence (see :func:`hessian_eigenvalue_bounds`). (default: :obj:`500.0`)
        iterations (int, optional): Recursion steps :math:`T`. (default: :obj:`100`)
        max_growth (float, optional): Divergence threshold on the step-norm growth;
            :obj:`None` disables the guard (non-finite iterates still raise).
            (default: :obj:`10.0`)
        return_info (bool, optional): Also return :obj:`{'iterations', 'update_norm',
            'growth'}` (:obj:`update_norm` is the norm of the last step
            :math:`\|\mathbf{h}_T - \mathbf{h}_{T-1}\|/\text{scale}`, :obj:`growth` the
            largest step-norm ratio to the first step). (default: :obj:`False`)
    """
    if scale <= 0:
        raise ValueError(f'scale must be positive, got {scale}')
    if not 0.0 <= damp < 1.0:
        raise ValueError(f'damp must be in [0, 1), got {damp}')
    if iterations < 0:
        raise ValueError(f'iterations must be non-negative, got {iterations}')
    if max_growth is not None and not max_growth > 1.0:
        raise ValueError(f'max_growth must be > 1 or None, got {max_growth}')
    v = tuple(t.detach() for t in v)
    h = v
    step = first = prev = 0.0
    growth = 1.0
    for it in range(1, int(iterations) + 1):
        hv = hvp_fn(h)
        with torch.no_grad():
            new = tuple(a + (1.0 - damp) * b - c / scale for a, b, c in zip(v, h, hv))
        norm = _norm(tuple(a - b for a, b in zip(new, h)))
        if not math.isfinite(norm):
            raise LiSSADivergenceError(
                f'LiSSA diverged: non-finite iterate at step {it} (scale={scale:g} is far below '
                'the top Hessian eigenvalue)', it, math.inf, math.inf)
        if it == 1:
            first = norm
        elif first > 0:
            growth = max(growth, norm / first)
            if max_growth is not None and norm > max_growth * first:
                # ||d_t|| / ||d_{t-1}|| -> max |1 - damp - lambda/scale|: the eigenvalue
                # behind the growth is about scale * (1 - damp + ratio) (lambda > 2 scale).
                ratio = norm / prev if prev > 0 else growth
                lam = scale * (1.0 - damp + ratio)
                raise LiSSADivergenceError(
                    f'LiSSA diverged: the step norm grew {norm / first:.3g}x by step {it} '
                    f'(scale={scale:g}, damp={damp:g}); the Hessian has an eigenvalue of about '
                    f'{lam:.4g} > 2*scale (or strong negative curvature): use a scale above '
                    'the top eigenvalue (e.g. from hessian_eigenvalue_bounds) or add damping',
                    it, norm / first, lam)
        prev = norm
        step = norm / scale
        h = new
    out = tuple(t / scale for t in h)
    if return_info:
        return out, {'iterations': int(iterations), 'update_norm': step, 'growth': growth}
    return out


def hessian_eigenvalue_bounds(hvp_fn: HVPFn, like: Sequence[Tensor], steps: int = 10,
                              generator: Optional[torch.Generator] = None) -> Tuple[float, float]:
    r"""Estimates the smallest and largest Hessian eigenvalues by :obj:`steps` Lanczos
    iterations (one Hessian-vector product each) from a random start vector; the extreme Ritz
    values converge much faster than power iteration (10 steps give the top eigenvalue of a
    Cora GCN's Hessian to 4 digits). Both are inner estimates: :math:`\lambda_{\min}
    \le \hat\lambda_{\min}` and :math:`\hat\lambda_{\max} \le \lambda_{\max}`.

    Used to choose LiSSA's :obj:`scale` and CG's damping relative to the spectrum (the
    summed-loss Hessian grows with the number of training nodes).

    Args:
        hvp_fn (callable): :obj:`hvp_fn(vec_tuple) -> tuple` computing
            :math:`\mathbf{H}\mathbf{v}`.
        like (Sequence[Tensor]): Tensors shaped like the parameters (e.g. the parameters).
        steps (int, optional): Lanczos steps. (default: :obj:`10`)
        generator (torch.Generator, optional): Generator of the start vector (on the CPU);
            :obj:`None` uses a fixed seed (deterministic). (default: :obj:`None`)

    Returns:
        (float, float): :math:`(\hat\lambda_{\min}, \hat\lambda_{\max})`.
    """
    if steps < 1:
        raise ValueError(f'steps must be positive, got {steps}')
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    q = tuple(torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device)
              for t in like)
    nrm = _norm(q)
    q = tuple(t / nrm for t in q)
    q_prev: Optional[TensorTuple] = None
    alphas, betas = [], []
    beta = 0.0
    with torch.no_grad():
        for _ in range(int(steps)):
            w = hvp_fn(q)
            alpha = float(_dot(w, q))
            if q_prev is None:
                w = tuple(a - alpha * b for a, b in zip(w, q))
            else:
                w = tuple(a - alpha * b - beta * c for a, b, c in zip(w, q, q_prev))
            alphas.append(alpha)
            beta = _norm(w)
            if not math.isfinite(alpha) or not math.isfinite(beta):
                raise RuntimeError('hessian_eigenvalue_bounds: non-finite Hessian-vector '
                                   'product')
            if beta <= 1e-12 * max(abs(alpha), 1e-30):  # invariant subspace: exact
                break
            betas.append(beta)
            q_prev, q = q, tuple(t / beta for t in w)
    k = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        off = torch.tensor(betas[:k - 1], dtype=torch.float64)
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    eig = torch.linalg.eigvalsh(T)
    return float(eig[0]), float(eig[-1])


def inverse_hvp_cg(hvp_fn: HVPFn, v: Sequence[Tensor], damping: float = 0.0,
                   max_iter: int = 100, tol: float = 1e-6, return_info: bool = False):
    r"""Conjugate gradient for :math:`(\mathbf{H} + \lambda\mathbf{I})\mathbf{x} = \mathbf{v}`.

    Exact (up to :obj:`tol`) when :math:`\mathbf{H} + \lambda\mathbf{I}` is positive
    definite, e.g. for L2-regularised convex models; on non-convex networks add
    :obj:`damping`. Stops when :math:`\|\mathbf{r}\| \le \text{tol}\cdot\|\mathbf{v}\|`, after
    :obj:`max_iter` products, or on a direction of non-positive curvature (then the current
    iterate is returned and :obj:`info['negative_curvature']` is :obj:`True`).

    Args:
        hvp_fn (callable): :obj:`hvp_fn(vec_tuple) -> tuple` computing
            :math:`\mathbf{H}\mathbf{v}`.
        v (Sequence[Tensor]): Right-hand side, one tensor per parameter.
        damping (float, optional): :math:`\lambda \ge 0`. (default: :obj:`0.0`)
        max_iter (int, optional): Maximum Hessian-vector products. (default: :obj:`100`)
        tol (float, optional): Relative residual tolerance. (default: :obj:`1e-6`)
        return_info (bool, optional): Also return :obj:`{'iterations', 'residual_norm',
            'relative_residual', 'negative_curvature'}`. (default: :obj:`False`)
    """
    if damping < 0:
        raise ValueError(f'damping must be non-negative, got {damping}')
    if max_iter < 0:
        raise ValueError(f'max_iter must be non-negative, got {max_iter}')
    v = tuple(t.detach() for t in v)

    def A(p: TensorTuple) -> TensorTuple:
        hp = hvp_fn(p)
        return tuple(a + damping * b for a, b in zip(hp, p)) if damping else tuple(hp)

    x = tuple(torch.zeros_like(t) for t in v)
    r = v
    p = r
    rr = float(_dot(r, r))
    v_norm = math.sqrt(rr)
    it, negative = 0, False
    with torch.no_grad():
        while it < max_iter and math.sqrt(rr) > tol * max(v_norm, 1e-30):
            Ap = A(p)
            pAp = float(_dot(p, Ap))
            it += 1
            if not math.isfinite(pAp):
                raise RuntimeError('inverse_hvp_cg: non-finite Hessian-vector product')
            if pAp <= 0:
                negative = True
                break
            alpha = rr / pAp
            x = tuple(a + alpha * b for a, b in zip(x, p))
            r = tuple(a - alpha * b for a, b in zip(r, Ap))
            rr_new = float(_dot(r, r))
            p = tuple(a + (rr_new / rr) * b for a, b in zip(r, p))
            rr = rr_new
    if return_info:
        res = math.sqrt(rr)
        return x, {'iterations': it, 'residual_norm': res,
                   'relative_residual': res / v_norm if v_norm > 0 else 0.0,
                   'negative_curvature': negative}
    return x

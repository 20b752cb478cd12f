r"""Inverse Hessian-vector product solvers :math:`\mathbf{H}^{-1}\mathbf{v}` that only need a
function :obj:`hvp_fn(v) -> H v` (see :func:`~torch_geometric_unlearn.influence.make_hvp_fn`).

* :func:`inverse_hvp_lissa`: the truncated Neumann series / LiSSA recursion of GIF
  (Wu et al., WWW'23; Agarwal et al., JMLR'17), with GIF's :obj:`damp` and :obj:`scale`.
* :func:`inverse_hvp_cg`: conjugate gradient on :math:`\mathbf{H} + \lambda\mathbf{I}`
  (Koh & Liang, ICML'17; as used by CEU-style certified edge unlearning).

Vectors are tuples of tensors shaped like the parameters; nothing is flattened or copied to
the CPU, so the solvers run on any device.
"""
from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

from torch_geometric_unlearn.influence.hvp import HVPFn, TensorTuple


def _dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _norm(a: Sequence[Tensor]) -> float:
    return math.sqrt(max(float(_dot(a, a)), 0.0))


def inverse_hvp_lissa(hvp_fn: HVPFn, v: Sequence[Tensor], damp: float = 0.0,
                      scale: float = 500.0, iterations: int = 100,
                      return_info: bool = False):
    r"""LiSSA / Neumann-series estimate of :math:`\mathbf{H}^{-1}\mathbf{v}` (GIF's solver):

    .. math::
        \mathbf{h}_0 = \mathbf{v}, \qquad \mathbf{h}_t = \mathbf{v} + (1 - \text{damp})\,
        \mathbf{h}_{t-1} - \mathbf{H}\mathbf{h}_{t-1} / \text{scale}, \qquad
        \text{returns } \mathbf{h}_T / \text{scale}.

    Its fixed point is :math:`(\mathbf{H} + \text{damp}\cdot\text{scale}\,\mathbf{I})^{-1}
    \mathbf{v}`; it converges when the eigenvalues of :math:`\mathbf{H}/\text{scale} +
    \text{damp}\,\mathbf{I}` lie in :math:`(0, 2)`. With a small :obj:`iterations` it is a
    truncated series (an implicitly regularised inverse), which is how GIF uses it.

    Args:
        hvp_fn (callable): :obj:`hvp_fn(vec_tuple) -> tuple` computing
            :math:`\mathbf{H}\mathbf{v}`.
        v (Sequence[Tensor]): Right-hand side, one tensor per parameter.
        damp (float, optional): Damping in :math:`[0, 1)`. (default: :obj:`0.0`)
        scale (float, optional): Scale, larger than the top Hessian eigenvalue for
            convergence. (default: :obj:`500.0`)
        iterations (int, optional): Recursion steps :math:`T`. (default: :obj:`100`)
        return_info (bool, optional): Also return :obj:`{'iterations', 'update_norm'}`
            (the norm of the last step :math:`\|\mathbf{h}_T - \mathbf{h}_{T-1}\|/
            \text{scale}`). (default: :obj:`False`)
    """
    if scale <= 0:
        raise ValueError(f'scale must be positive, got {scale}')
    if not 0.0 <= damp < 1.0:
        raise ValueError(f'damp must be in [0, 1), got {damp}')
    if iterations < 0:
        raise ValueError(f'iterations must be non-negative, got {iterations}')
    v = tuple(t.detach() for t in v)
    h = v
    step = 0.0
    for _ in range(int(iterations)):
        hv = hvp_fn(h)
        with torch.no_grad():
            new = tuple(a + (1.0 - damp) * b - c / scale for a, b, c in zip(v, h, hv))
        step = _norm(tuple(a - b for a, b in zip(new, h))) / scale
        h = new
    out = tuple(t / scale for t in h)
    if return_info:
        return out, {'iterations': int(iterations), 'update_norm': step}
    return out


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

r"""Hessian-vector products by double back-propagation (Pearlmutter's trick).

Used by influence-function unlearning (GIF, Wu et al., WWW'23) and any later method that needs
:math:`\mathbf{H}\mathbf{v}` without materialising the Hessian: the cost of one product is about
two backward passes and the memory that of one training step.
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch
from torch import Tensor

TensorTuple = Tuple[Tensor, ...]
HVPFn = Callable[[TensorTuple], TensorTuple]


def _check(params: Sequence[Tensor], v: Sequence[Tensor], what: str = 'v') -> None:
    if len(params) != len(v):
        raise ValueError(f'{what} has {len(v)} tensors but there are {len(params)} parameters')
    for i, (p, t) in enumerate(zip(params, v)):
        if p.shape != t.shape:
            raise ValueError(f'{what}[{i}] has shape {tuple(t.shape)} but parameter {i} has '
                             f'shape {tuple(p.shape)}')


def hvp(grads: Sequence[Tensor], params: Sequence[Tensor], v: Sequence[Tensor],
        retain_graph: bool = True) -> TensorTuple:
    r"""Hessian-vector product :math:`\mathbf{H}\mathbf{v} = \nabla_\theta
    (\nabla_\theta L \cdot \mathbf{v})` by double back-propagation.

    Args:
        grads (Sequence[Tensor]): :math:`\nabla_\theta L`, computed with
            :obj:`torch.autograd.grad(loss, params, create_graph=True)`. The graph is kept
            (:obj:`retain_graph=True`), so one gradient serves many products (e.g. the
            iterations of :func:`inverse_hvp_lissa`).
        params (Sequence[Tensor]): The parameters :math:`\theta` (same order as
            :obj:`grads`).
        v (Sequence[Tensor]): The vector, one tensor per parameter (treated as a constant).
        retain_graph (bool, optional): Keep the graph of :obj:`grads` for further products.
            (default: :obj:`True`)

    Returns:
        Tuple[Tensor, ...]: :math:`\mathbf{H}\mathbf{v}`, one tensor per parameter (zeros for
        parameters the loss does not reach twice, e.g. the last bias of a linear model).
    """
    params, grads, v = tuple(params), tuple(grads), tuple(v)
    _check(params, grads, 'grads')
    _check(params, v)
    if not any(g.requires_grad for g in grads):
        raise ValueError('grads carry no graph: compute them with '
                         'torch.autograd.grad(loss, params, create_graph=True)')
    with torch.enable_grad():  # callers may run under no_grad (e.g. a solver loop)
        dot = sum((g * t.detach()).sum() for g, t in zip(grads, v) if g.requires_grad)
        out = torch.autograd.grad(dot, params, retain_graph=retain_graph, allow_unused=True)
    return tuple(torch.zeros_like(p) if o is None else o.detach()
                 for o, p in zip(out, params))


def hessian_vector_product(loss: Tensor, params: Sequence[Tensor],
                           v: Sequence[Tensor]) -> TensorTuple:
    r"""Convenience form of :func:`hvp` for a single product: :math:`\nabla^2_\theta L\,
    \mathbf{v}` of a scalar :obj:`loss`.

    Args:
        loss (Tensor): A scalar loss with a graph to :obj:`params`.
        params (Sequence[Tensor]): The parameters :math:`\theta`.
        v (Sequence[Tensor]): The vector, one tensor per parameter.
    """
    if loss.dim() != 0:
        raise ValueError(f'loss must be a scalar, got shape {tuple(loss.shape)}')
    params = tuple(params)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, params))
    return hvp(grads, params, v, retain_graph=False)


def make_hvp_fn(loss: Tensor, params: Sequence[Tensor]) -> HVPFn:
    r"""Returns :obj:`hvp_fn(v) -> H v` for the Hessian of :obj:`loss`, computing the
    differentiable gradient once and reusing its graph for every product (the form the
    solvers in :mod:`torch_geometric_unlearn.influence.solvers` take)."""
    params = tuple(params)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, params))

    def hvp_fn(v: TensorTuple) -> TensorTuple:
        return hvp(grads, params, v)

    return hvp_fn

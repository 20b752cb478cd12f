r"""Registers :class:`~torch_geometric_unlearn.algorithm.gif.GIF` (``gif``, ``gif-cg``) and the
plain influence function :class:`~torch_geometric_unlearn.algorithm.gif.IF` (``if``) with the
benchmark CLI: ``gif``/``if`` with the authors' recursion (100 LiSSA steps, damp 0) and
``scale='auto'`` (3x the Hessian's top eigenvalue: the authors' fixed 500 diverges on larger
training sets), ``gif-cg`` with 8 damped conjugate-gradient products (the fast variant)."""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


@register_algorithm('gif')
def _gif(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.gif import GIF
    return GIF()


@register_algorithm('gif-cg')
def _gif_cg(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.gif import GIF
    # CG on H + 0.01 * scale * I: the damping that matches the implicit regularisation of
    # 100 LiSSA steps (scale / (T + 1)) and exceeds the GCN Hessian's negative curvature; 8
    # products land within ~5-10% of the converged solve and of LiSSA-100.
    return GIF(solver='cg', iterations=8, damp=0.01)


@register_algorithm('if')
def _if(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.gif import IF
    return IF()

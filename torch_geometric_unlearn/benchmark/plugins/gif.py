r"""Registers :class:`~torch_geometric_unlearn.algorithm.gif.GIF` (``gif``, ``gif-cg``) and the
plain influence function :class:`~torch_geometric_unlearn.algorithm.gif.IF` (``if``) with the
benchmark CLI, with the authors' defaults (100 LiSSA iterations, scale 500, damp 0)."""
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
    return GIF(solver='cg', iterations=30, damp=0.001)  # CG on H + 0.5 I (damp * scale)


@register_algorithm('if')
def _if(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.gif import IF
    return IF()

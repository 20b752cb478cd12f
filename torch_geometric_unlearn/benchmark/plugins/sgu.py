r"""Registers :class:`~torch_geometric_unlearn.algorithm.sgu.SGU` (``sgu``: NIM-guided
fine-tuning with the defaults, 5 epochs at lr 1e-2; ``sgu-fast``: 3 epochs; ``sgu-lr5e-3``:
5 epochs at lr 5e-3, smaller steps for small training sets) and, where GIF is available,
``gif-nim``: GIF whose influenced set is the NIM selection
(:class:`~torch_geometric_unlearn.influence.nim.NIM` as a plug-in)."""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


@register_algorithm('sgu')
def _sgu(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.sgu import SGU
    return SGU()


@register_algorithm('sgu-fast')
def _sgu_fast(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.sgu import SGU
    return SGU(epochs=3)  # fewer fine-tuning steps (speed vs forgetting trade-off)


@register_algorithm('sgu-lr5e-3')
def _sgu_small_lr(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.sgu import SGU
    return SGU(lr=5e-3)  # half the training rate: moves a small-training-set model less


try:  # GIF is another issue's module: register the plug-in only where it exists.
    from torch_geometric_unlearn.algorithm.gif import GIF as _GIF  # noqa: F401
except ImportError:  # pragma: no cover
    _GIF = None

if _GIF is not None:
    @register_algorithm('gif-nim')
    def _gif_nim(args: argparse.Namespace) -> UnlearningAlgorithm:
        from torch_geometric_unlearn.algorithm.gif import GIF
        from torch_geometric_unlearn.influence.nim import NIM
        return GIF(influenced_nodes=NIM())


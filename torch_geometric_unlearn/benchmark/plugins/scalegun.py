r"""Registers :class:`~torch_geometric_unlearn.algorithm.scalegun.ScaleGUN` (``scalegun``,
certified linear model on lazily propagated features, library defaults: 2 propagation steps,
r_max 1e-7, lambda 1e-3, sigma 0.1, (epsilon, delta) = (1, 1e-4)) and its deep variant
:class:`~torch_geometric_unlearn.algorithm.scalegun.ScaleGUNDeep` (``scalegun-deep``,
approximate) with the benchmark CLI. ScaleGUN trains its own model: the CLI's ``--model`` is
only used by Retrain."""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


@register_algorithm('scalegun')
def _scalegun(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.scalegun import ScaleGUN
    return ScaleGUN(seed=int(str(getattr(args, 'seeds', '0')).split(',')[0] or 0))


@register_algorithm('scalegun-deep')
def _scalegun_deep(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.scalegun import ScaleGUNDeep
    return ScaleGUNDeep(hidden=getattr(args, 'hidden', 64))

r"""Registers CGE (community-centric graph eraser, Issue 5) with the benchmark CLI as
:obj:`--algorithms cge` (exact: mapped model retrained from scratch) and :obj:`cge-warm`
(approximate: fine-tuned mapped model)."""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


@register_algorithm('cge')
def _cge(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.cge import CGE
    return CGE()


@register_algorithm('cge-warm')
def _cge_warm(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.cge import CGE
    return CGE(warm_start=True)

r"""Registers :class:`~torch_geometric_unlearn.algorithm.graph_eraser.GraphEraser` with the
benchmark CLI: ``grapheraser`` (BLPA, learned aggregation, the paper's default), and
``grapheraser-blpa``, ``grapheraser-bekm``, ``grapheraser-random``, ``grapheraser-community``
(learned aggregation), ``grapheraser-mean`` (BLPA, mean aggregation)."""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


def _factory(partition: str, aggregation: str = 'learned'):
    def build(args: argparse.Namespace) -> UnlearningAlgorithm:
        from torch_geometric_unlearn.algorithm.graph_eraser import GraphEraser
        return GraphEraser(partition=partition, aggregation=aggregation)
    return build


register_algorithm('grapheraser')(_factory('blpa'))
register_algorithm('grapheraser-mean')(_factory('blpa', 'mean'))
for _p in ('blpa', 'bekm', 'random', 'community'):
    register_algorithm(f'grapheraser-{_p}')(_factory(_p))

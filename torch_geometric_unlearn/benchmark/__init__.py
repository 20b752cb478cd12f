r"""Benchmark CLI: ``python -m torch_geometric_unlearn.benchmark --help``."""
from torch_geometric_unlearn.benchmark.registry import (
    ALGORITHMS,
    RECORD_HOOKS,
    build_algorithm,
    register_algorithm,
)
from torch_geometric_unlearn.benchmark.runner import build_parser, main, run_benchmark

__all__ = ['main', 'run_benchmark', 'build_parser', 'ALGORITHMS', 'register_algorithm',
           'build_algorithm', 'RECORD_HOOKS']

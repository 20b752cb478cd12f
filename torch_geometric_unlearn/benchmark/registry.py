"""Name -> algorithm factory registry used by the benchmark CLI (``--algorithms``)."""
from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm

AlgorithmFactory = Callable[[argparse.Namespace], UnlearningAlgorithm]

#: Algorithm name (lower case) -> factory taking the parsed CLI arguments.
ALGORITHMS: Dict[str, AlgorithmFactory] = {}

#: Extra evaluations: each ``fn(context) -> dict`` adds fields to a benchmark record. The
#: context holds ``task``, ``data`` (original graph), ``original`` (model), ``result`` (the
#: algorithm's UnlearningResult), ``retrain`` (Retrain's UnlearningResult), ``request``,
#: ``args``, ``seed``, ``record`` (fields so far) and ``cache`` (shared across one seed).
RECORD_HOOKS: List[Callable[[Dict[str, Any]], Dict[str, Any]]] = []


def register_algorithm(name: str) -> Callable[[AlgorithmFactory], AlgorithmFactory]:
    r"""Registers a factory :obj:`fn(args) -> UnlearningAlgorithm` under :obj:`name`."""
    def wrap(fn: AlgorithmFactory) -> AlgorithmFactory:
        ALGORITHMS[name.lower()] = fn
        return fn
    return wrap


@register_algorithm('retrain')
def _retrain(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm import Retrain
    return Retrain()


def build_algorithm(name: str, args: argparse.Namespace) -> UnlearningAlgorithm:
    key = name.strip().lower()
    if key not in ALGORITHMS:
        raise ValueError(f"unknown algorithm '{name}' (available: {sorted(ALGORITHMS)})")
    return ALGORITHMS[key](args)


def _load_plugins() -> None:
    import importlib
    import pkgutil

    from torch_geometric_unlearn.benchmark import plugins
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        importlib.import_module(f'{plugins.__name__}.{info.name}')


_load_plugins()

r"""Forget-set strategies: which entities a benchmark asks to unlearn."""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from torch_geometric_unlearn.forget.random import (
    random_request,
    resolve_count,
    training_nodes,
    undirected_edges,
)
from torch_geometric_unlearn.forget.strategies import (
    active_users_request,
    adversarial_edges,
    adversarial_interactions,
    adversarial_request,
    degree_request,
    edge_influence_request,
    greedy_coverage,
    influence_greedy_request,
    node_influence_scores,
    pagerank_request,
    worst_case_request,
)
from torch_geometric_unlearn.request import UnlearningRequest

#: Strategy name -> function(data, kind, ratio=, count=, seed=, model=, task=) -> request.
STRATEGIES: Dict[str, Callable[..., UnlearningRequest]] = {}


def register_strategy(name: str) -> Callable:
    r"""Decorator registering a forget-set strategy under :obj:`name` (used by the CLI's
    :obj:`--strategy`)."""
    def wrap(fn: Callable[..., UnlearningRequest]) -> Callable[..., UnlearningRequest]:
        STRATEGIES[name] = fn
        return fn
    return wrap


@register_strategy('random')
def _random(data: Any, kind: str, ratio: Optional[float] = None, count: Optional[int] = None,
            seed: int = 0, **kwargs: Any) -> UnlearningRequest:
    return random_request(data, kind, ratio=ratio, count=count, seed=seed)


@register_strategy('degree')
def _degree(data: Any, kind: str, ratio: Optional[float] = None, count: Optional[int] = None,
            seed: int = 0, **kwargs: Any) -> UnlearningRequest:
    return degree_request(data, kind, ratio=ratio, count=count, seed=seed)


@register_strategy('low_degree')
def _low_degree(data: Any, kind: str, ratio: Optional[float] = None,
                count: Optional[int] = None, seed: int = 0, **kwargs: Any) -> UnlearningRequest:
    return degree_request(data, kind, ratio=ratio, count=count, seed=seed, largest=False)


@register_strategy('pagerank')
def _pagerank(data: Any, kind: str, ratio: Optional[float] = None, count: Optional[int] = None,
              seed: int = 0, **kwargs: Any) -> UnlearningRequest:
    return pagerank_request(data, kind, ratio=ratio, count=count, seed=seed)


@register_strategy('worst_case')
def _worst_case(data: Any, kind: str, ratio: Optional[float] = None,
                count: Optional[int] = None, seed: int = 0, **kwargs: Any) -> UnlearningRequest:
    if kind == 'edge':
        return edge_influence_request(data, kind, ratio=ratio, count=count, seed=seed,
                                      model=kwargs.get('model'), task=kwargs.get('task'))
    return worst_case_request(data, kind, ratio=ratio, count=count, seed=seed,
                              model=kwargs.get('model'), task=kwargs.get('task'))


@register_strategy('influence_greedy')
def _influence_greedy(data: Any, kind: str, ratio: Optional[float] = None,
                      count: Optional[int] = None, seed: int = 0,
                      **kwargs: Any) -> UnlearningRequest:
    return influence_greedy_request(data, kind, ratio=ratio, count=count, seed=seed)


@register_strategy('edge_influence')
def _edge_influence(data: Any, kind: str, ratio: Optional[float] = None,
                    count: Optional[int] = None, seed: int = 0,
                    **kwargs: Any) -> UnlearningRequest:
    return edge_influence_request(data, kind, ratio=ratio, count=count, seed=seed,
                                  model=kwargs.get('model'), task=kwargs.get('task'))


@register_strategy('active_users')
def _active_users(data: Any, kind: str, ratio: Optional[float] = None,
                  count: Optional[int] = None, seed: int = 0,
                  **kwargs: Any) -> UnlearningRequest:
    return active_users_request(data, kind, ratio=ratio, count=count, seed=seed, most=True)


@register_strategy('inactive_users')
def _inactive_users(data: Any, kind: str, ratio: Optional[float] = None,
                    count: Optional[int] = None, seed: int = 0,
                    **kwargs: Any) -> UnlearningRequest:
    return active_users_request(data, kind, ratio=ratio, count=count, seed=seed, most=False)


def select_request(data: Any, kind: str, strategy: str = 'random',
                   ratio: Optional[float] = None, count: Optional[int] = None, seed: int = 0,
                   **kwargs: Any) -> UnlearningRequest:
    r"""Builds a request of :obj:`kind` with the named :obj:`strategy` (see
    :obj:`STRATEGIES`); extra keyword arguments (e.g. :obj:`model`, :obj:`task`) are passed on
    to strategies that need a trained model."""
    if strategy == 'adversarial':
        raise ValueError("strategy 'adversarial' adds edges to the graph, so it returns the "
                         'attacked graph too: call adversarial_request(data, kind, model=, '
                         'task=) -> (attacked_data, request), train on attacked_data, then '
                         'unlearn the request (the benchmark CLI does this)')
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy '{strategy}' (available: "
                         f"{sorted(STRATEGIES) + ['adversarial']})")
    return STRATEGIES[strategy](data, kind, ratio=ratio, count=count, seed=seed, **kwargs)


__all__ = ['random_request', 'select_request', 'register_strategy', 'STRATEGIES',
           'resolve_count', 'training_nodes', 'undirected_edges', 'degree_request',
           'pagerank_request', 'worst_case_request', 'influence_greedy_request',
           'edge_influence_request', 'adversarial_edges', 'adversarial_interactions',
           'adversarial_request',
           'active_users_request', 'greedy_coverage', 'node_influence_scores']

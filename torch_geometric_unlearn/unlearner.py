"""The :class:`Unlearner`: the front object users work with (PyG ``Explainer`` style)."""
from __future__ import annotations

import copy
import time
from typing import Any, List, Optional, Union

import torch
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task import Task, model_device, resolve_task
from torch_geometric_unlearn.transforms.functional import graph_is_undirected, validate_request
from torch_geometric_unlearn.utils import PeakMemory

GraphData = Union[Data, HeteroData]


class Unlearner:
    r"""Serves unlearning requests on a trained model with a pluggable algorithm.

    .. code-block:: python

        unlearner = Unlearner(model, Retrain(), task='node_classification', epochs=200)
        unlearner.fit(data)                       # data the model was trained on
        result = unlearner.unlearn(UnlearningRequest.nodes([3, 14]))
        result.model, result.data, result.unlearn_seconds

    Requests are served sequentially: the :class:`Unlearner` keeps the current model, the
    current retained graph and the :obj:`history` of served requests. A request is validated
    against the current graph and history before anything runs (unknown or already removed
    ids, edges not in the graph, duplicates, wrong dtype or device all raise). Unlearning is
    atomic: if the algorithm raises, the model, the graph, the history and the algorithm's
    state are restored to what they were before the call.

    Args:
        model (torch.nn.Module): The trained model.
        algorithm (UnlearningAlgorithm): The unlearning method.
        task (str or Task, optional): :obj:`"node_classification"`, :obj:`"recommendation"`
            or a :class:`~torch_geometric_unlearn.task.Task`. (default:
            :obj:`"node_classification"`)
        **task_kwargs: Passed to the task's constructor when :obj:`task` is a name.
    """

    def __init__(self, model: torch.nn.Module, algorithm: UnlearningAlgorithm,
                 task: Union[str, Task] = 'node_classification', **task_kwargs: Any) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f'model must be a torch.nn.Module, got {type(model).__name__}')
        if not isinstance(algorithm, UnlearningAlgorithm):
            raise TypeError('algorithm must be an UnlearningAlgorithm, got '
                            f'{type(algorithm).__name__}')
        self.task = resolve_task(task, **task_kwargs)
        algorithm.connect(self.task)  # raises if the algorithm does not support the task
        self.model = model
        self.algorithm = algorithm
        self.data: Optional[GraphData] = None
        self.history: List[UnlearningRequest] = []
        self.results: List[UnlearningResult] = []
        self._undirected: Optional[bool] = None

    @property
    def is_fitted(self) -> bool:
        return self.data is not None

    def fit(self, data: GraphData, train: bool = False) -> 'Unlearner':
        r"""Registers the training graph and runs the algorithm's :meth:`fit` hook.

        Args:
            data (Data or HeteroData): The graph :obj:`model` was trained on.
            train (bool, optional): Train :obj:`model` first with the task's recipe.
                (default: :obj:`False`)
        """
        if not isinstance(data, (Data, HeteroData)):
            raise TypeError(f'expected Data or HeteroData, got {type(data).__name__}')
        data = data.to(model_device(self.model))
        if train:
            self.task.train(self.model, data)
        self.algorithm.fit(self.model, data)
        self.data = data
        self._undirected = graph_is_undirected(data) if isinstance(data, Data) else False
        self.history, self.results = [], []
        return self

    def validate(self, request: UnlearningRequest) -> None:
        r"""Raises if :obj:`request` cannot be served now (see
        :meth:`UnlearningRequest.validate`)."""
        if self.data is None:
            raise RuntimeError('Unlearner.unlearn() called before fit(data)')
        if not isinstance(request, UnlearningRequest):
            raise TypeError(f'expected an UnlearningRequest, got {type(request).__name__}')
        if not self.algorithm.supports_request(request):
            raise ValueError(f"{self.algorithm.name} does not support '{request.kind}' requests "
                             f'(supported: {self.algorithm.request_types})')
        validate_request(request, self.data, self.history, undirected=self._undirected)

    def unlearn(self, request: UnlearningRequest) -> UnlearningResult:
        r"""Serves :obj:`request` and returns an :class:`UnlearningResult` with timing and
        peak memory. On failure nothing changes and the exception propagates."""
        self.validate(request)
        model_state = copy.deepcopy(self.model.state_dict())
        algo_state = self.algorithm.state_snapshot()
        try:
            with PeakMemory(model_device(self.model)) as meter:
                result = self.algorithm(self.model, self.data, request)
            if not isinstance(result, UnlearningResult):
                raise TypeError(f'{self.algorithm.name} returned {type(result).__name__}, '
                                'expected UnlearningResult')
        except BaseException:
            self.model.load_state_dict(model_state)
            self.algorithm.restore_snapshot(algo_state)
            raise
        result.unlearn_seconds = meter.seconds
        result.peak_memory_bytes = meter.peak_bytes
        self.model, self.data = result.model, result.data
        self.history.append(request)
        self.results.append(result)
        return result

    __call__ = unlearn

    def evaluate(self, split: str = 'test') -> dict:
        r"""Utility of the current model on the current graph."""
        if self.data is None:
            raise RuntimeError('Unlearner.evaluate() called before fit(data)')
        return self.task.evaluate(self.model, self.data, split)

    def __repr__(self) -> str:
        return (f'Unlearner(algorithm={self.algorithm!r}, task={self.task!r}, '
                f'requests_served={len(self.history)})')

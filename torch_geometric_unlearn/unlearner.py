"""The :class:`Unlearner`: the front object users work with (PyG ``Explainer`` style)."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Union

import torch
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task import Task, model_device, resolve_task
from torch_geometric_unlearn.transforms.functional import graph_is_undirected, validate_request
from torch_geometric_unlearn.utils import PeakMemory

GraphData = Union[Data, HeteroData]


def _training_modes(model: torch.nn.Module) -> List[bool]:
    return [m.training for m in model.modules()]


def _restore_modes(model: torch.nn.Module, modes: List[bool]) -> None:
    # Per module: a model may mix modes (e.g. a shard ensemble of models in eval mode).
    for m, mode in zip(model.modules(), modes):
        m.training = mode


def _hold_journals(algorithm: UnlearningAlgorithm) -> List[Any]:
    r"""State objects with an undo journal (:obj:`begin`/:obj:`commit`/:obj:`rollback`, e.g.
    the lazy propagation) whose commit is deferred until the whole call succeeded: an
    algorithm that commits before a later step fails can still be rolled back."""
    held = []
    for value in list(algorithm.__dict__.values()):
        if all(callable(getattr(value, f, None)) for f in ('begin', 'commit', 'rollback')) \
                and not isinstance(value, type) and hasattr(value, '__dict__'):
            value.commit = _no_commit
            held.append(value)
    return held


def _no_commit() -> None:
    return None


def _release_journals(held: List[Any], commit: bool) -> None:
    for value in held:
        value.__dict__.pop('commit', None)
        if commit:
            value.commit()


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
    state are restored to what they were before the call (the same holds for :meth:`fit`).

    The full state (model, retained graph, history and the algorithm's internal state) is
    saved with :meth:`state_dict` and restored with :meth:`load_state_dict`; the checkpoint
    loads with :obj:`torch.load(..., weights_only=True)`, and a stream resumed from it gives
    the same results as an uninterrupted one. :func:`~torch_geometric_unlearn.audit.audit`
    checks that removed data is gone from the graph and from every internal state.

    Args:
        model (torch.nn.Module): The trained model.
        algorithm (UnlearningAlgorithm): The unlearning method.
        task (str or Task, optional): :obj:`"node_classification"`, :obj:`"recommendation"`
            or a :class:`~torch_geometric_unlearn.task.Task`. (default:
            :obj:`"node_classification"`)
        keep_results (int, optional): How many of the latest
            :class:`UnlearningResult` objects :obj:`results` keeps (each holds a model and a
            retained graph, so keeping all of them grows memory linearly in a long stream);
            :obj:`None` keeps all. :obj:`history` always keeps every request.
            (default: :obj:`1`)
        **task_kwargs: Passed to the task's constructor when :obj:`task` is a name.
    """

    def __init__(self, model: torch.nn.Module, algorithm: UnlearningAlgorithm,
                 task: Union[str, Task] = 'node_classification',
                 keep_results: Optional[int] = 1, **task_kwargs: Any) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f'model must be a torch.nn.Module, got {type(model).__name__}')
        if not isinstance(algorithm, UnlearningAlgorithm):
            raise TypeError('algorithm must be an UnlearningAlgorithm, got '
                            f'{type(algorithm).__name__}')
        self.task = resolve_task(task, **task_kwargs)
        algorithm.connect(self.task)  # raises if the algorithm does not support the task
        self.model = model
        self.base_model = model  # the user's architecture: template when loading checkpoints
        self.algorithm = algorithm
        self.data: Optional[GraphData] = None
        self.history: List[UnlearningRequest] = []
        if keep_results is not None and (not isinstance(keep_results, int) or keep_results < 0):
            raise ValueError(f'keep_results must be a non-negative int or None, got '
                             f'{keep_results!r}')
        self.keep_results = keep_results
        #: The latest results (at most :obj:`keep_results`), aligned with the end of
        #: :obj:`history`.
        self.results: List[UnlearningResult] = []
        self._undirected: Optional[bool] = None

    @property
    def is_fitted(self) -> bool:
        return self.data is not None

    def fit(self, data: GraphData, train: bool = False) -> 'Unlearner':
        r"""Registers the training graph and runs the algorithm's :meth:`fit` hook. When the
        algorithm trains its own model (its :meth:`fit` returns a module, or
        :meth:`~UnlearningAlgorithm.fitted_model` gives one: e.g. GraphEraser's shard
        ensemble, CGE's mapped-graph model, ScaleGUN's certified model), that model becomes
        :obj:`self.model`, the one :meth:`evaluate` scores and requests start from. Atomic: if
        anything raises, the model and the algorithm are left as they were.

        Args:
            data (Data or HeteroData): The graph :obj:`model` was trained on.
            train (bool, optional): Train :obj:`model` first with the task's recipe.
                (default: :obj:`False`)
        """
        if not isinstance(data, (Data, HeteroData)):
            raise TypeError(f'expected Data or HeteroData, got {type(data).__name__}')
        data = data.to(model_device(self.model))
        model_state = copy.deepcopy(self.model.state_dict())
        modes = _training_modes(self.model)
        algo_state = self.algorithm.state_snapshot()
        try:
            if train:
                self.task.train(self.model, data)
            out = self.algorithm.fit(self.model, data)
            fitted = out if isinstance(out, torch.nn.Module) else self.algorithm.fitted_model()
        except BaseException:
            self.model.load_state_dict(model_state)
            _restore_modes(self.model, modes)
            self.algorithm.restore_snapshot(algo_state)
            raise
        self._commit_snapshot()
        if fitted is not None:
            self.model = fitted
        self.data = data
        self._undirected = graph_is_undirected(data) if isinstance(data, Data) else False
        self.history, self.results = [], []
        return self

    def _commit_snapshot(self) -> None:
        # State with an undo journal (the lazy propagation) closes it on success.
        _release_journals(_hold_journals(self.algorithm), commit=True)

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
        modes = _training_modes(self.model)
        # Attributes of the algorithm that ARE the served model stay that object on failure.
        linked = [k for k, v in self.algorithm.__dict__.items() if v is self.model]
        algo_state = self.algorithm.state_snapshot()
        journals = _hold_journals(self.algorithm)
        try:
            with PeakMemory(model_device(self.model)) as meter:
                result = self.algorithm(self.model, self.data, request)
            if not isinstance(result, UnlearningResult):
                raise TypeError(f'{self.algorithm.name} returned {type(result).__name__}, '
                                'expected UnlearningResult')
        except BaseException:
            self.model.load_state_dict(model_state)
            _restore_modes(self.model, modes)
            _release_journals(journals, commit=False)
            self.algorithm.restore_snapshot(algo_state)
            for k in linked:
                self.algorithm.__dict__[k] = self.model
            raise
        _release_journals(journals, commit=True)
        result.unlearn_seconds = meter.seconds
        result.peak_memory_bytes = meter.peak_bytes
        self.model, self.data = result.model, result.data
        self.history.append(request)
        self.results.append(result)
        if self.keep_results is not None and len(self.results) > self.keep_results:
            del self.results[:len(self.results) - self.keep_results]
        return result

    __call__ = unlearn

    def evaluate(self, split: str = 'test') -> dict:
        r"""Utility of the current model on the current graph."""
        if self.data is None:
            raise RuntimeError('Unlearner.evaluate() called before fit(data)')
        return self.task.evaluate(self.model, self.data, split)

    # Persistence ################################################################

    def state_dict(self) -> Dict[str, Any]:
        r"""The full unlearning state: the current model, the retained graph, the history of
        served requests and the algorithm's internal state (models, shards, communities,
        propagation reserves and residues, certificate, ...). Write it with
        :func:`torch.save`; it loads with :obj:`torch.load(path, weights_only=True)`.
        Tensors are copied (a snapshot). Per-request :obj:`results` are not saved."""
        from torch_geometric_unlearn.serialization import FORMAT_VERSION, Encoder
        if self.data is None:
            raise RuntimeError('Unlearner.state_dict() called before fit(data)')
        state = Encoder().encode({
            'model': self.model, 'data': self.data, 'history': list(self.history),
            'undirected': self._undirected, 'algorithm': self.algorithm._state_items()})
        return {'format': 'torch_geometric_unlearn.Unlearner', 'version': FORMAT_VERSION,
                'algorithm': type(self.algorithm).__qualname__, 'task': repr(self.task),
                'state': state}

    def load_state_dict(self, state: Dict[str, Any]) -> 'Unlearner':
        r"""Restores a :meth:`state_dict` into this unlearner, which must have been built
        with the same algorithm class and task (and a model of the same architecture, used as
        the template of the saved models); :meth:`fit` need not run first. Atomic: nothing
        changes if the checkpoint does not fit."""
        from torch_geometric_unlearn.serialization import FORMAT_VERSION, Decoder
        if not isinstance(state, dict) or state.get('format') != \
                'torch_geometric_unlearn.Unlearner':
            raise ValueError('not an Unlearner state dict')
        if state.get('version') != FORMAT_VERSION:
            raise ValueError(f"checkpoint format version {state.get('version')} is not "
                             f'supported (expected {FORMAT_VERSION})')
        if state['algorithm'] != type(self.algorithm).__qualname__:
            raise ValueError(f"checkpoint of {state['algorithm']} cannot be loaded into an "
                             f'Unlearner with {type(self.algorithm).__qualname__}')
        if state['task'] != repr(self.task):
            raise ValueError(f"checkpoint task {state['task']} differs from {self.task!r}")
        tree = Decoder(template=[self.base_model, self.model]).decode(state['state'])
        snapshot = self.algorithm.state_snapshot()
        try:
            self.algorithm._load_state_items(tree['algorithm'])
            self.algorithm._fitted = True
        except BaseException:
            self.algorithm.restore_snapshot(snapshot)
            raise
        self.model, self.data = tree['model'], tree['data']
        self.history, self.results = list(tree['history']), []
        self._undirected = tree['undirected']
        return self

    def save(self, path: Any) -> None:
        r"""Writes :meth:`state_dict` to :obj:`path` with :func:`torch.save`."""
        torch.save(self.state_dict(), path)

    def load(self, path: Any, map_location: Any = None) -> 'Unlearner':
        r"""Loads a checkpoint written by :meth:`save` (with :obj:`weights_only=True`)."""
        return self.load_state_dict(torch.load(path, map_location=map_location,
                                               weights_only=True))

    def __repr__(self) -> str:
        return (f'Unlearner(algorithm={self.algorithm!r}, task={self.task!r}, '
                f'requests_served={len(self.history)})')

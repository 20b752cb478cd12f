"""Base class of unlearning algorithms (PyG ``ExplainerAlgorithm`` style)."""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import torch
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task.base import Task

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric_unlearn.audit import AuditCheck, RemovedSet

GraphData = Union[Data, HeteroData]


class UnlearningAlgorithm(ABC):
    r"""Abstract base class of unlearning algorithms.

    An algorithm is connected to a :class:`~torch_geometric_unlearn.task.Task` (the training
    recipe and metrics) by the :class:`~torch_geometric_unlearn.Unlearner`, which first checks
    :meth:`supports`. :meth:`fit` runs once on the training graph (e.g. to build shards or
    propagation state); :meth:`forward` (alias :meth:`unlearn`) serves one request and returns an
    :class:`~torch_geometric_unlearn.UnlearningResult`.

    Subclasses set the class attributes :obj:`exact` (the result equals, in distribution,
    training without the removed data), :obj:`certified` (an :math:`(\epsilon, \delta)`
    certificate is returned), :obj:`tasks` (task names supported) and :obj:`request_types`.
    """

    #: Whether the method is exact: removed data never reaches the new model.
    exact: bool = False
    #: Whether the method returns an (epsilon, delta) certificate.
    certified: bool = False
    #: Task names this algorithm supports.
    tasks: Tuple[str, ...] = ('node_classification', )
    #: Request kinds this algorithm supports.
    request_types: Tuple[str, ...] = ('node', 'edge', 'feature')

    def __init__(self) -> None:
        self.task: Optional[Task] = None
        self._fitted = False

    @property
    def name(self) -> str:
        return self.__class__.__name__

    @property
    def guarantee(self) -> str:
        r""":obj:`"exact"`, :obj:`"certified"` or :obj:`"approximate"`."""
        return 'exact' if self.exact else 'certified' if self.certified else 'approximate'

    def supports(self, task: Task) -> bool:
        r"""Whether the algorithm can serve :obj:`task`."""
        return task.name in self.tasks

    def supports_request(self, request: UnlearningRequest) -> bool:
        r"""Whether the algorithm can serve requests of this kind."""
        return request.kind in self.request_types

    def connect(self, task: Task) -> None:
        r"""Connects the algorithm to a task (called by the
        :class:`~torch_geometric_unlearn.Unlearner`)."""
        if not self.supports(task):
            raise ValueError(f"{self.name} does not support the task '{task.name}' (supported: "
                             f'{self.tasks})')
        self.task = task

    def _require_task(self) -> Task:
        if self.task is None:
            raise RuntimeError(f'{self.name} is not connected to a task; use it through an '
                               'Unlearner or call connect(task) first')
        return self.task

    def fit(self, model: torch.nn.Module, data: GraphData) -> None:
        r"""Prepares the algorithm on the training graph (default: nothing to do)."""
        self._fitted = True

    @abstractmethod
    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        r"""Serves :obj:`request` on :obj:`model` trained on :obj:`data`. Must not modify
        :obj:`data`; may modify :obj:`model` only if it returns it (the
        :class:`~torch_geometric_unlearn.Unlearner` restores it on failure)."""

    def unlearn(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        r"""Alias of :meth:`forward`."""
        return self.forward(model, data, request)

    __call__ = unlearn

    def state_snapshot(self) -> Dict[str, Any]:
        r"""A copy of the algorithm's internal state, restored by :meth:`restore_snapshot` when
        an unlearning call fails (atomicity). The default deep-copies every attribute except
        the connected task."""
        return {k: (v if k == 'task' else copy.deepcopy(v)) for k, v in self.__dict__.items()}

    def restore_snapshot(self, snapshot: Dict[str, Any]) -> None:
        self.__dict__.clear()
        self.__dict__.update(snapshot)

    def fitted_model(self) -> Optional[torch.nn.Module]:
        r"""The model this algorithm serves after :meth:`fit` when it trains its own (e.g. a
        shard ensemble, a model on a mapped graph, a certified linear model), else
        :obj:`None` (the given model is served). The
        :class:`~torch_geometric_unlearn.Unlearner` adopts it, so that
        :meth:`Unlearner.evaluate` scores what the algorithm serves before the first request.
        Default: the :obj:`model` attribute when it is a :class:`torch.nn.Module`."""
        model = self.__dict__.get('model')
        return model if isinstance(model, torch.nn.Module) else None

    # Persistence ################################################################

    def _state_items(self) -> Dict[str, Any]:
        r"""The attributes written by :meth:`state_dict` (default: every attribute but the
        connected task). Override to leave out what can be recomputed."""
        return {k: v for k, v in self.__dict__.items() if k != 'task'}

    def _load_state_items(self, items: Dict[str, Any]) -> None:
        r"""Restores what :meth:`_state_items` returned (values the checkpoint could not hold,
        e.g. a user's callable, keep what this instance was constructed with)."""
        from torch_geometric_unlearn.serialization import Skipped
        for key, value in items.items():
            if not isinstance(value, Skipped):
                self.__dict__[key] = value

    def state_dict(self) -> Dict[str, Any]:
        r"""The algorithm's full internal state (shards, communities, propagation state,
        certificate, ...) as a tree that :func:`torch.save` writes and
        :obj:`torch.load(weights_only=True)` reads back (see
        :mod:`torch_geometric_unlearn.serialization`). Tensors are copied."""
        from torch_geometric_unlearn.serialization import encode
        return {'algorithm': type(self).__qualname__, 'state': encode(self._state_items())}

    def load_state_dict(self, state: Dict[str, Any],
                        template: Optional[torch.nn.Module] = None) -> None:
        r"""Restores :meth:`state_dict`; :obj:`template` is a model of the user's architecture
        (needed when the state holds such models, e.g. GraphEraser's shard models)."""
        from torch_geometric_unlearn.serialization import decode
        if state.get('algorithm') != type(self).__qualname__:
            raise ValueError(f"state of {state.get('algorithm')!r} cannot be loaded into "
                             f'{type(self).__qualname__}')
        self._load_state_items(decode(state['state'], template))

    # Audit ######################################################################

    def audit_state(self, removed: 'RemovedSet') -> List['AuditCheck']:
        r"""Checks that no internal state holds removed data; returns what was checked (see
        :func:`~torch_geometric_unlearn.audit.audit`). The default walks the attributes and
        checks every graph (:class:`~torch_geometric.data.Data` with global node ids or
        all nodes), propagation state and object with a registered auditor
        (:func:`~torch_geometric_unlearn.audit.register_auditor`); override to add checks."""
        from torch_geometric_unlearn.audit import audit_object_state
        return audit_object_state(self, removed)

    def make_result(self, model: torch.nn.Module, data: GraphData,
                    request: UnlearningRequest, **kwargs: Any) -> UnlearningResult:
        r"""Builds an :class:`UnlearningResult` with this algorithm's name and guarantee."""
        return UnlearningResult(model=model, data=data, request=request, algorithm=self.name,
                                guarantee=self.guarantee, **kwargs)

    def __repr__(self) -> str:
        return f'{self.name}()'

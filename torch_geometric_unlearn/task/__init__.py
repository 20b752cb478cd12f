r"""Tasks: the training recipe and utility metrics an unlearning algorithm works with."""
from __future__ import annotations

from typing import Any, Union

from torch_geometric_unlearn.task.base import Task, make_generator, model_device, reinitialize
from torch_geometric_unlearn.task.node import NodeClassificationTask

TASKS = ('node_classification', 'recommendation', 'link_prediction')


def resolve_task(task: Union[str, Task], **kwargs: Any) -> Task:
    r"""Returns :obj:`task` if it is a :class:`Task`, else builds the named task with
    :obj:`kwargs` (:obj:`"node_classification"`, :obj:`"recommendation"` or
    :obj:`"link_prediction"`)."""
    if isinstance(task, Task):
        if kwargs:
            raise ValueError('task keyword arguments given together with a Task instance')
        return task
    if task == 'node_classification':
        return NodeClassificationTask(**kwargs)
    if task == 'recommendation':
        from torch_geometric_unlearn.task.recommendation import RecommendationTask
        return RecommendationTask(**kwargs)
    if task == 'link_prediction':
        from torch_geometric_unlearn.task.link import LinkPredictionTask
        return LinkPredictionTask(**kwargs)
    raise ValueError(f"unknown task '{task}' (expected one of {TASKS} or a Task instance)")


def __getattr__(name: str) -> Any:  # lazy: the recommendation task is optional to import
    if name == 'RecommendationTask':
        from torch_geometric_unlearn.task.recommendation import RecommendationTask
        return RecommendationTask
    if name == 'LinkPredictionTask':
        from torch_geometric_unlearn.task.link import LinkPredictionTask
        return LinkPredictionTask
    raise AttributeError(name)


__all__ = ['Task', 'NodeClassificationTask', 'RecommendationTask', 'LinkPredictionTask',
           'resolve_task',
           'reinitialize', 'model_device', 'make_generator', 'TASKS']

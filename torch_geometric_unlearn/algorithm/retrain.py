from __future__ import annotations

from typing import Optional

import torch

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult


class Retrain(UnlearningAlgorithm):
    r"""Exact unlearning by retraining: the same architecture, freshly initialised, trained from
    scratch on the retained graph with the task's training recipe. This is the gold standard
    every other method is compared against (same split, same request).

    Args:
        seed (int, optional): Seed of the fresh initialisation and training; defaults to the
            task's seed, so Retrain of an empty request reproduces the original model.
            (default: :obj:`None`)
    """
    exact = True
    tasks = ('node_classification', 'recommendation', 'link_prediction')
    request_types = ('node', 'edge', 'feature', 'interaction')

    def __init__(self, seed: Optional[int] = None) -> None:
        super().__init__()
        self.seed = seed

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        task = self._require_task()
        retained = request.apply(data)
        new_model = task.fresh_model(model, self.seed)
        info = task.train(new_model, retained, seed=self.seed)
        return self.make_result(new_model, retained, request, extras={'train': info})

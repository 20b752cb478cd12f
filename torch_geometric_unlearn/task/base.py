"""Task abstraction: how a model of a given kind is trained, scored and evaluated.

An :class:`UnlearningAlgorithm` never hard-codes a training loop: it asks the task that the
:class:`~torch_geometric_unlearn.Unlearner` connected to it. This keeps every algorithm
comparable with :class:`~torch_geometric_unlearn.algorithm.Retrain` (same recipe, same split).
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor


class Task(ABC):
    r"""Base class of a learning task (node classification, recommendation, ...).

    A task owns the training recipe (optimiser, epochs, model selection, seed) and the utility
    metrics. Subclasses implement :meth:`train` and :meth:`evaluate`.

    Args:
        seed (int, optional): Seed of every random choice made while training. (default: :obj:`0`)
        device (torch.device or str, optional): Device to train on; defaults to the device of
            the model's parameters. (default: :obj:`None`)
    """

    #: Short name used by the :class:`~torch_geometric_unlearn.Unlearner` and the CLI.
    name: str = 'task'
    #: Request types that make sense for this task.
    request_types: Tuple[str, ...] = ()

    def __init__(self, seed: int = 0, device: Optional[torch.device | str] = None) -> None:
        self.seed = seed
        self.device = torch.device(device) if device is not None else None

    @abstractmethod
    def train(self, model: torch.nn.Module, data: Any, seed: Optional[int] = None) -> Dict[str, Any]:
        r"""Trains :obj:`model` in place on :obj:`data` and returns a dict of training info
        (e.g. :obj:`epochs`, :obj:`best_val`, :obj:`seconds`)."""

    @abstractmethod
    def evaluate(self, model: torch.nn.Module, data: Any, split: str = 'test') -> Dict[str, float]:
        r"""Returns utility metrics of :obj:`model` on the given split of :obj:`data`."""

    def fresh_model(self, model: torch.nn.Module, seed: Optional[int] = None) -> torch.nn.Module:
        r"""Returns a deep copy of :obj:`model` with freshly initialised parameters
        (same architecture), using :obj:`seed` without touching the global RNG state."""
        return reinitialize(model, self.seed if seed is None else seed)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(seed={self.seed})'


def reinitialize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    r"""Deep-copies :obj:`model` and calls :meth:`reset_parameters` on every sub-module that has
    one, seeded by :obj:`seed`. The global RNG state is restored afterwards."""
    new = copy.deepcopy(model)
    devices = [p.device for p in new.parameters() if p.device.type == 'cuda']
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for module in new.modules():
            if module is not new and hasattr(module, 'reset_parameters'):
                module.reset_parameters()
        if hasattr(new, 'reset_parameters'):
            new.reset_parameters()
    return new


def model_device(model: torch.nn.Module) -> torch.device:
    r"""The device of the first parameter of :obj:`model` (CPU for parameter-free models)."""
    for p in model.parameters():
        return p.device
    return torch.device('cpu')


def make_generator(seed: int, device: torch.device | str = 'cpu') -> torch.Generator:
    r"""A :class:`torch.Generator` on :obj:`device` seeded with :obj:`seed`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen

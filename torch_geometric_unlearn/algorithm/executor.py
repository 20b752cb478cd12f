r"""Shard-training executors for shard-based unlearning (GraphEraser).

A :class:`ShardExecutor` runs a picklable :obj:`train_fn` over a list of independent
:class:`ShardJob` objects and returns the results in order. Shards share nothing, so they can
run sequentially (:class:`SequentialExecutor`, the default), in local worker processes
(:class:`ProcessExecutor`), or, later, on other machines: a distributed engine only needs to
implement :meth:`ShardExecutor.map` (jobs and results are plain picklable objects: a model,
a :class:`~torch_geometric.data.Data` shard, the task, a seed; a :obj:`state_dict` and a dict).
"""
from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import torch

from torch_geometric_unlearn.utils import progress


@dataclass
class ShardJob:
    r"""One shard to train: a freshly initialised :obj:`model`, the shard's graph :obj:`data`,
    the training :obj:`task` and the :obj:`seed` of its training run."""
    shard: int
    model: torch.nn.Module
    data: Any
    task: Any
    seed: int
    extras: Dict[str, Any] = field(default_factory=dict)


def train_shard(job: ShardJob) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    r"""Default :obj:`train_fn`: trains :obj:`job.model` on :obj:`job.data` with the task's
    recipe and returns its :obj:`state_dict` (on CPU) and the training info."""
    info = job.task.train(job.model, job.data, seed=job.seed)
    state = {k: v.detach().cpu().clone() for k, v in job.model.state_dict().items()}
    return state, info


@runtime_checkable
class ShardExecutor(Protocol):
    r"""Runs :obj:`train_fn(job)` for every job and returns the results in job order."""

    def map(self, train_fn: Callable[[ShardJob], Any], shard_jobs: Sequence[ShardJob]
            ) -> List[Any]:
        ...


class SequentialExecutor:
    r"""Trains shards one after another in this process (deterministic, the default)."""

    def map(self, train_fn: Callable[[ShardJob], Any], shard_jobs: Sequence[ShardJob]
            ) -> List[Any]:
        return [train_fn(job) for job in progress(shard_jobs, desc='shards')]

    def __repr__(self) -> str:
        return 'SequentialExecutor()'


def _init_worker(num_threads: int) -> None:
    torch.set_num_threads(num_threads)


class ProcessExecutor:
    r"""Trains shards in local worker processes (:mod:`torch.multiprocessing` spawn context
    through :class:`concurrent.futures.ProcessPoolExecutor`). Results equal the sequential
    executor's: every job carries its own seed, and training forks the RNG.

    Args:
        max_workers (int, optional): Worker processes. (default: :obj:`2`)
        threads_per_worker (int, optional): :func:`torch.set_num_threads` in each worker.
            (default: :obj:`1`)
    """

    def __init__(self, max_workers: int = 2, threads_per_worker: int = 1) -> None:
        if max_workers < 1:
            raise ValueError(f'max_workers must be >= 1, got {max_workers}')
        self.max_workers, self.threads_per_worker = max_workers, threads_per_worker

    def map(self, train_fn: Callable[[ShardJob], Any], shard_jobs: Sequence[ShardJob]
            ) -> List[Any]:
        if len(shard_jobs) <= 1:
            return [train_fn(job) for job in shard_jobs]
        import torch.multiprocessing as mp
        ctx = mp.get_context('spawn')
        with cf.ProcessPoolExecutor(max_workers=self.max_workers, mp_context=ctx,
                                    initializer=_init_worker,
                                    initargs=(self.threads_per_worker, )) as pool:
            return list(progress(pool.map(train_fn, shard_jobs), desc='shards',
                                 total=len(shard_jobs)))

    def __repr__(self) -> str:
        return f'ProcessExecutor(max_workers={self.max_workers})'


def resolve_executor(executor: Optional[Any]) -> ShardExecutor:
    r""":obj:`None` or :obj:`"sequential"` -> :class:`SequentialExecutor`; :obj:`"process"` ->
    :class:`ProcessExecutor`; any object with a :meth:`map` method is used as is."""
    if executor is None or executor == 'sequential':
        return SequentialExecutor()
    if executor == 'process':
        return ProcessExecutor()
    if not isinstance(executor, ShardExecutor):
        raise TypeError(f'executor must be "sequential", "process" or have a map(train_fn, '
                        f'jobs) method, got {executor!r}')
    return executor

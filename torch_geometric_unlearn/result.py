"""The typed result of one unlearning call."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

import torch
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.request import UnlearningRequest


@dataclass
class UnlearningResult:
    r"""What an :class:`~torch_geometric_unlearn.algorithm.UnlearningAlgorithm` returns.

    Args:
        model (torch.nn.Module): The model after unlearning.
        data (Data or HeteroData): The retained graph (the request applied).
        request (UnlearningRequest): The request that was served.
        algorithm (str): Name of the algorithm.
        guarantee (str): :obj:`"exact"`, :obj:`"certified"` or :obj:`"approximate"`.
        unlearn_seconds (float): Wall time of the unlearning call. (default: :obj:`0.0`)
        peak_memory_bytes (int): Peak memory above the level at the start of the call (CUDA:
            allocator peak; CPU: resident-set-size peak sampled every few ms). (default: :obj:`0`)
        certificate (Any, optional): The certificate of certified methods, else :obj:`None`.
        extras (Dict[str, Any]): Algorithm-specific information (e.g. retrained shards).
    """
    model: torch.nn.Module
    data: Union[Data, HeteroData]
    request: UnlearningRequest
    algorithm: str = ''
    guarantee: str = 'approximate'
    unlearn_seconds: float = 0.0
    peak_memory_bytes: int = 0
    certificate: Optional[Any] = None
    extras: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f'UnlearningResult(algorithm={self.algorithm!r}, request={self.request}, '
                f'guarantee={self.guarantee!r}, unlearn_seconds={self.unlearn_seconds:.4f}, '
                f'peak_memory_bytes={self.peak_memory_bytes})')

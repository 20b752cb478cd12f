r"""Sparse CSR node features for the many forward/backward passes of influence- and
fine-tuning-based unlearning: bag-of-words features (Cora: 1.3% non-zero) make the first
layer's :math:`XW` and its gradients about 2x cheaper as a CSR product, with the same result.
Shared by :class:`~torch_geometric_unlearn.algorithm.gif.GIF` and
:class:`~torch_geometric_unlearn.algorithm.sgu.SGU`."""
from __future__ import annotations

import copy
import warnings
from typing import Any, Optional

import torch
from torch import Tensor


def to_sparse_csr(x: Tensor) -> Tensor:
    r"""The sparse CSR form of a dense 2-D tensor (PyTorch's beta warning silenced)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        return x.to_sparse_csr()


def csr_rows(csr: Tensor, index: Tensor) -> Tensor:
    r"""Rows :obj:`index` of a 2-D sparse CSR tensor, vectorised (no densification)."""
    crow, col, val = csr.crow_indices(), csr.col_indices(), csr.values()
    start, counts = crow[index], crow[index + 1] - crow[index]
    new_crow = torch.zeros(index.numel() + 1, dtype=crow.dtype, device=crow.device)
    new_crow[1:] = counts.cumsum(0)
    pos = torch.arange(int(new_crow[-1]), device=crow.device, dtype=crow.dtype)
    pos = pos - torch.repeat_interleave(new_crow[:-1] - start, counts)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(new_crow, col[pos], val[pos],
                                       (index.numel(), csr.size(1)))


def with_features(data: Any, x: Optional[Tensor]) -> Any:
    r"""A shallow copy of :obj:`data` with features :obj:`x` (:obj:`data` itself if
    :obj:`None`)."""
    if x is None:
        return data
    out = copy.copy(data)
    out.x = x
    return out


def sparse_features_usable(task: Any, model: torch.nn.Module, data: Any,
                           max_density: float = 0.1) -> bool:
    r"""Whether :obj:`data.x` is a dense floating-point matrix with fewer than
    :obj:`max_density` non-zeros that :obj:`model` accepts as sparse CSR with the same logits
    (one trial forward pass each way, no gradients)."""
    x = getattr(data, 'x', None)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.layout != torch.strided \
            or not x.is_floating_point() or x.numel() == 0:
        return False
    if int(torch.count_nonzero(x)) >= max_density * x.numel():
        return False
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            dense = task.logits(model, data)
            sparse = task.logits(model, with_features(data, to_sparse_csr(x)))
        return sparse.shape == dense.shape and bool(torch.allclose(sparse, dense, rtol=1e-4,
                                                                   atol=1e-5))
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return False
    finally:
        model.train(was_training)

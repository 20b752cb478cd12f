r"""Sparse CSR node features for the many forward/backward passes of influence- and
fine-tuning-based unlearning: bag-of-words features (Cora: 1.3% non-zero) make the first
layer's :math:`XW` and its gradients about 2x cheaper as a CSR product, with the same result.
Shared by :class:`~torch_geometric_unlearn.algorithm.gif.GIF` and
:class:`~torch_geometric_unlearn.algorithm.sgu.SGU`."""
from __future__ import annotations

import contextlib
import copy
import warnings
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from torch_geometric_unlearn.nn.sparse import csr_from_sorted, csr_tensor
from torch_geometric_unlearn.utils import eval_mode


def to_sparse_csr(x: Tensor) -> Tensor:
    r"""The sparse CSR form of a dense 2-D tensor (PyTorch's beta warning silenced)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        return x.to_sparse_csr()


def _row_of(csr: Tensor) -> Tensor:
    r"""The row index of each stored entry of a 2-D CSR tensor."""
    return torch.repeat_interleave(torch.arange(csr.size(0), device=csr.device),
                                   csr.crow_indices().diff())


def csr_rows(csr: Tensor, index: Tensor) -> Tensor:
    r"""Rows :obj:`index` of a 2-D sparse CSR tensor, vectorised (no densification)."""
    crow, col, val = csr.crow_indices(), csr.col_indices(), csr.values()
    start, counts = crow[index], crow[index + 1] - crow[index]
    new_crow = torch.zeros(index.numel() + 1, dtype=crow.dtype, device=crow.device)
    new_crow[1:] = counts.cumsum(0)
    pos = torch.arange(int(new_crow[-1]), device=crow.device, dtype=crow.dtype)
    pos = pos - torch.repeat_interleave(new_crow[:-1] - start, counts)
    return csr_tensor(new_crow, col[pos], val[pos], (index.numel(), csr.size(1)))


def transpose_csr(csr: Tensor) -> Tensor:
    r"""The CSR form of the transpose of a 2-D CSR tensor (one stable sort of the entries)."""
    col = csr.col_indices()
    perm = torch.argsort(col, stable=True)
    return csr_from_sorted(col[perm], _row_of(csr)[perm], csr.values()[perm], csr.size(1),
                           csr.size(0))


def dense_to_csr(x: Tensor) -> Tensor:
    r"""The CSR form of a dense 2-D tensor (one :func:`nonzero` scan; faster than
    :meth:`Tensor.to_sparse_csr` on CPU)."""
    row, col = x.nonzero().unbind(1)
    return csr_from_sorted(row, col, x[row, col], x.size(0), x.size(1))


def csr_zeroed(x: Tensor, csr: Tensor) -> Optional[Tensor]:
    r"""The CSR form of :obj:`x` when :obj:`x` is the matrix of :obj:`csr` with some entries
    zeroed (what node and feature requests do to the features): the values are re-read from
    :obj:`x` at :obj:`csr`'s pattern and the zeros dropped, so no removed entry survives, not
    even as a stored zero, without a dense scan-and-convert. :obj:`None` when :obj:`x` has a
    non-zero outside the pattern (or another shape or device)."""
    if csr.shape != x.shape or csr.device != x.device:
        return None
    rows, cols = _row_of(csr), csr.col_indices()
    values = x[rows, cols]
    nz = values != 0
    if int(nz.sum()) != int(torch.count_nonzero(x)):
        return None
    return csr_from_sorted(rows[nz], cols[nz], values[nz], x.size(0), x.size(1))


def drop_entries(csr: Tensor, row_hit: Optional[Tensor],
                 col_hit: Optional[Tensor]) -> Tensor:
    r"""A copy of the 2-D CSR tensor without the entries whose row is in :obj:`row_hit` and
    whose column is in :obj:`col_hit` (boolean masks; :obj:`None` matches all), in
    :math:`O(\text{nnz})`; the dropped entries are gone, not stored as zeros."""
    col, val = csr.col_indices(), csr.values()
    row_of = _row_of(csr)
    drop = torch.ones_like(col, dtype=torch.bool)
    if row_hit is not None:
        drop &= row_hit[row_of]
    if col_hit is not None:
        drop &= col_hit[col]
    keep = ~drop
    return csr_from_sorted(row_of[keep], col[keep], val[keep], csr.size(0), csr.size(1))


def cached_csr(x: Tensor, cache: Optional[tuple]) -> Tensor:
    r"""The CSR form of :obj:`x`, given :obj:`cache` :obj:`(x0, x0._version, csr0, ...)` of an
    earlier graph's features (or :obj:`None`): :obj:`csr0` when :obj:`x` is that tensor,
    unchanged; derived from :obj:`csr0`'s pattern when :obj:`x` is a copy of it with entries
    zeroed (:func:`csr_zeroed`: what node and feature requests do; no removed entry survives,
    not even as a stored zero); else a full conversion (:func:`dense_to_csr`)."""
    if cache is not None and cache[0] is x and cache[1] == x._version:
        return cache[2]
    return csr_of(x, None if cache is None else cache[2])


def csr_of(x: Tensor, pattern: Optional[Tensor] = None) -> Tensor:
    r"""The CSR form of :obj:`x`: derived from the CSR matrix :obj:`pattern` when :obj:`x`
    is a copy of it with entries zeroed (:func:`csr_zeroed`), else a full conversion
    (:func:`dense_to_csr`)."""
    out = None if pattern is None else csr_zeroed(x, pattern)
    return dense_to_csr(x) if out is None else out


def with_features(data: Any, x: Optional[Tensor]) -> Any:
    r"""A shallow copy of :obj:`data` with features :obj:`x` (:obj:`data` itself if
    :obj:`None`)."""
    if x is None:
        return data
    out = copy.copy(data)
    out.x = x
    return out


def sparse_features_usable(task: Any, model: torch.nn.Module, data: Any,
                           max_density: Optional[float] = 0.1, training: bool = False) -> bool:
    r"""Whether :obj:`data.x` is a dense floating-point matrix with fewer than
    :obj:`max_density` non-zeros that :obj:`model` accepts as sparse CSR with the same logits
    (one trial forward pass each way, no gradients); with :obj:`training`, also in training
    mode (a model may drop out or normalise its input only there), through
    :func:`sparse_mode` as training runs it, on a forked generator and with the model's
    buffers (batch-norm statistics) restored, so the trial changes nothing. Any failure of a
    trial means :obj:`False` (dense), never a crash."""
    x = getattr(data, 'x', None)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.layout != torch.strided \
            or not x.is_floating_point() or x.numel() == 0:
        return False
    if max_density is not None and int(torch.count_nonzero(x)) >= max_density * x.numel():
        return False
    try:
        csr = to_sparse_csr(x)
        with eval_mode(model), torch.no_grad():
            dense = task.logits(model, data)
            sparse = task.logits(model, with_features(data, csr))
        if not _same_logits(dense, sparse):
            return False
        return not training or _training_trial(task, model, data, csr)
    except Exception:
        return False


def _same_logits(dense: Tensor, sparse: Tensor) -> bool:
    return sparse.shape == dense.shape and bool(torch.allclose(sparse, dense, rtol=1e-4,
                                                               atol=1e-5))


def _training_trial(task: Any, model: torch.nn.Module, data: Any, csr: Tensor) -> bool:
    r"""One training-mode forward each way under the same seed (no gradients); the model's
    mode and buffers are restored and the caller's generator is untouched."""
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    devices = [data.x.device] if data.x.device.type == 'cuda' else []
    was_training = model.training
    try:
        model.train()
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            dense = task.logits(model, data)
            torch.manual_seed(0)
            with sparse_mode(csr):
                sparse = task.logits(model, with_features(data, csr))
        return _same_logits(dense, sparse)
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, buf in model.named_buffers():
                buf.copy_(buffers[name])


class CSRMatmul(torch.autograd.Function):
    r""":math:`\mathbf{A}\mathbf{M}` for a constant sparse CSR :math:`\mathbf{A}` (the node
    features), differentiable in :math:`\mathbf{M}` to any order: the backward pass is
    :math:`\mathbf{A}^\top\mathbf{G}` with the precomputed CSR transpose (PyTorch converts
    :math:`\mathbf{A}^\top` to CSR on every backward pass otherwise, which dominated a
    Hessian-vector product with Cora's bag-of-words features)."""

    @staticmethod
    def forward(ctx: Any, m: Tensor, a: Tensor, a_t: Tensor) -> Tensor:  # type: ignore
        ctx.a, ctx.a_t = a, a_t
        return a @ m

    @staticmethod
    def backward(ctx: Any, grad: Tensor):  # type: ignore
        return CSRMatmul.apply(grad, ctx.a_t, ctx.a), None, None


class SparseFeatures(TorchFunctionMode):
    r"""Routes :obj:`F.linear(x, W, b)` (and :obj:`x @ W`) on the sparse CSR features
    :obj:`x` fed to the model through :class:`CSRMatmul`, computing :math:`(\mathbf{X}
    \mathbf{W}^\top)[\text{rows}] + \mathbf{b}` from the whole graph's features
    :math:`\mathbf{X}` and their cached transpose (exactly the same product; :obj:`x` is
    :obj:`X[rows]` on a subgraph). Every other operation runs unchanged."""

    _LINEAR = (F.linear, )
    _MATMUL = (torch.matmul, torch.mm, torch.Tensor.matmul, torch.Tensor.__matmul__,
               torch.sparse.mm)

    def __init__(self, x: Tensor, a: Tensor, a_t: Tensor, rows: Optional[Tensor]) -> None:
        super().__init__()
        self.x, self.a, self.a_t, self.rows = x, a, a_t, rows

    def _product(self, m: Tensor) -> Tensor:
        out = CSRMatmul.apply(m, self.a, self.a_t)
        return out if self.rows is None else out.index_select(0, self.rows)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if args and args[0] is self.x:
            if func in self._LINEAR and len(args) + len(kwargs) <= 3:
                weight = args[1] if len(args) > 1 else kwargs.get('weight')
                bias = args[2] if len(args) > 2 else kwargs.get('bias')
                if isinstance(weight, Tensor) and weight.dim() == 2 and weight.layout == \
                        torch.strided:
                    out = self._product(weight.t())
                    return out if bias is None else out + bias
            elif func in self._MATMUL and len(args) == 2 and not kwargs \
                    and isinstance(args[1], Tensor) and args[1].dim() == 2 \
                    and args[1].layout == torch.strided:
                return self._product(args[1])
        return func(*args, **kwargs)


def sparse_mode(csr: Optional[Tensor], csr_t: Optional[Tensor] = None) -> Any:
    r"""Within it, a model's first :obj:`F.linear` on the CSR features :obj:`csr`
    differentiates through the CSR transpose :obj:`csr_t` (computed when not given; PyTorch
    otherwise converts :math:`X^\top` on every backward pass); a no-op for :obj:`None`."""
    if csr is None:
        return contextlib.nullcontext()
    return SparseFeatures(csr, csr, transpose_csr(csr) if csr_t is None else csr_t, None)


def resolve_sparse_features(algorithm: Any, task: Any, model: torch.nn.Module,
                            data: Any, training: bool = False) -> bool:
    r"""Whether :obj:`algorithm` (with a :obj:`sparse_features` option: :obj:`None` = when
    under 10% non-zero, :obj:`True` = always, :obj:`False` = never) feeds :obj:`data.x` to
    :obj:`model` as sparse CSR: decided once per model class and feature shape by
    :func:`sparse_features_usable` (:obj:`training`: also a training-mode trial) and cached
    in :obj:`algorithm._sparse_ok` (a boolean only, no data). Raises for
    :obj:`sparse_features=True` with a model that cannot take them."""
    x = getattr(data, 'x', None)
    if algorithm.sparse_features is False or not isinstance(x, Tensor):
        return False
    key = (type(model).__qualname__, tuple(x.shape))
    cached = algorithm._sparse_ok
    if cached is not None and cached[0] == key:
        return cached[1]
    ok = sparse_features_usable(task, model, data,
                                max_density=None if algorithm.sparse_features else 0.1,
                                training=training)
    if not ok and algorithm.sparse_features:
        raise ValueError(f'{type(algorithm).__name__}(sparse_features=True): the model does '
                         'not accept sparse CSR features (or gives different logits'
                         f'{" in evaluation or training mode" if training else ""}); use '
                         'None or False')
    algorithm._sparse_ok = (key, ok)
    return ok

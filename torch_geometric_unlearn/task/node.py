"""Node classification: training recipe with validation-based model selection."""
from __future__ import annotations

import copy
import time
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from torch_geometric_unlearn.influence.sparse import (dense_to_csr, resolve_sparse_features,
                                                      sparse_mode, with_features)
from torch_geometric_unlearn.metric.classification import accuracy, macro_f1
from torch_geometric_unlearn.task.base import Task, make_generator, model_device
from torch_geometric_unlearn.utils import eval_mode, progress


def neighbor_sampling_available() -> bool:
    r"""Whether PyG's :class:`NeighborLoader` can run here (needs :obj:`pyg-lib` or
    :obj:`torch-sparse`)."""
    import torch_geometric.typing as tg_typing
    return bool(getattr(tg_typing, 'WITH_PYG_LIB', False)
                or getattr(tg_typing, 'WITH_TORCH_SPARSE', False))


def _require_neighbor_sampling() -> None:
    if not neighbor_sampling_available():
        raise ImportError("mini-batch training (batch_size=...) needs PyG's neighbour sampler: "
                          "pip install 'torch-geometric-unlearn[sparse]' (torch-sparse and "
                          'torch-scatter, or pyg-lib). Full-batch training (batch_size=None) '
                          'works without them.')


def sgc_features(model: torch.nn.Module, task: Any, data: Any) -> Optional[Tensor]:
    r"""For the library's :class:`~torch_geometric_unlearn.nn.node.SGC` (logits
    :math:`\hat{A}^K X W`, no cache across calls) under the plain node-classification or
    link-prediction logits (:obj:`model(x, edge_index)`):
    the propagated features :math:`\hat{A}^K X` of :obj:`data`, computed once with the
    model's own :func:`gcn_norm` and message passing (the same values its forward computes,
    bit for bit), so that a run on a fixed graph (training, one unlearning request) trains the
    linear layer only, as SGC is meant to be used; :obj:`None` for any other model."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from torch_geometric_unlearn.nn.node import SGC
    from torch_geometric_unlearn.task.link import LinkPredictionTask
    plain = (NodeClassificationTask.logits, LinkPredictionTask.logits)  # model(x, edge_index)
    if type(model) is not SGC or getattr(type(task), 'logits', None) not in plain or \
            model.conv.cached or \
            not isinstance(data.x, Tensor) or data.x.layout != torch.strided:
        return None
    conv, x = model.conv, data.x
    with torch.no_grad():
        edge_index, edge_weight = gcn_norm(data.edge_index, None, x.size(conv.node_dim), False,
                                           conv.add_self_loops, conv.flow, dtype=x.dtype)
        for _ in range(conv.K):
            x = conv.propagate(edge_index, x=x, edge_weight=edge_weight)
    return x


class NodeClassificationTask(Task):
    r"""Semi-supervised node classification on a :class:`~torch_geometric.data.Data` graph
    with :obj:`x`, :obj:`y`, :obj:`edge_index` and :obj:`train_mask`/:obj:`val_mask`/
    :obj:`test_mask`.

    Training: Adam on the cross-entropy of training nodes; the parameters with the best
    validation accuracy (ties: lower validation loss) are kept. Full-batch by default; with
    :obj:`batch_size`, mini-batches from PyG's :class:`NeighborLoader` (needs the
    :obj:`sparse` extra). Models are called as :obj:`model(x, edge_index)`. The library's
    :class:`~torch_geometric_unlearn.nn.node.SGC` trains its linear layer on
    :math:`\hat{A}^K X` computed once per run (:func:`sgc_features`; the same weights, bit
    for bit, as propagating at every epoch). Full-batch training feeds sparse bag-of-words
    features (Cora: 1.3% non-zero) to the model as a CSR matrix (:obj:`sparse_features`):
    the first layer's :math:`XW` and its weight gradient cost :math:`O(\mathrm{nnz}(X))`
    instead of :math:`O(nF)`, the same product up to float rounding (Cora, GCN: same
    selected epoch, posteriors within 1e-6, 1.6x faster training); SGU and GIF unlearn with
    the same product, so Retrain is not slowed by a dense product they avoid.

    Args:
        epochs (int, optional): Training epochs. (default: :obj:`200`)
        lr (float, optional): Learning rate. (default: :obj:`0.01`)
        weight_decay (float, optional): L2 weight decay. (default: :obj:`5e-4`)
        patience (int, optional): Stop after this many epochs without a better validation
            score; :obj:`None` trains all epochs. (default: :obj:`None`)
        batch_size (int, optional): Mini-batch size of seed nodes; :obj:`None` for full-batch.
            (default: :obj:`None`)
        num_neighbors (Sequence[int], optional): Neighbours sampled per layer in mini-batch
            mode. (default: :obj:`(10, 10)`)
        seed (int, optional): Seed of initialisation-independent randomness (dropout,
            batching). (default: :obj:`0`)
        device (torch.device or str, optional): Training device; default: the model's.
        sparse_features (bool, optional): Full-batch training on sparse CSR features:
            :obj:`None` when fewer than 10% of the entries are non-zero and trial forwards
            (evaluation and training mode, once per model class and feature shape) give the
            dense logits, else dense; :obj:`True` raises if the model does not accept them;
            :obj:`False` never. (default: :obj:`None`)
    """
    name = 'node_classification'
    request_types = ('node', 'edge', 'feature')

    def __init__(self, epochs: int = 200, lr: float = 0.01, weight_decay: float = 5e-4,
                 patience: Optional[int] = None, batch_size: Optional[int] = None,
                 num_neighbors: Sequence[int] = (10, 10), seed: int = 0,
                 device: Optional[torch.device | str] = None,
                 sparse_features: Optional[bool] = None) -> None:
        super().__init__(seed=seed, device=device)
        if sparse_features not in (None, True, False):
            raise ValueError(f'sparse_features must be None, True or False, got '
                             f'{sparse_features!r}')
        self.sparse_features = sparse_features
        self._sparse_ok: Optional[tuple] = None  # ((model class, feature shape), usable)
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.patience, self.batch_size = patience, batch_size
        self.num_neighbors = list(num_neighbors)

    # Model outputs ##########################################################

    def logits(self, model: torch.nn.Module, data: Data) -> Tensor:
        r"""Logits of every node (full-batch forward; :meth:`train` mode untouched)."""
        return model(data.x, data.edge_index)

    @torch.no_grad()
    def predict_proba(self, model: torch.nn.Module, data: Data) -> Tensor:
        r"""Softmax posteriors of every node, in evaluation mode."""
        with eval_mode(model):
            if self.batch_size is not None and neighbor_sampling_available():
                out = self._batched_logits(model, data)
            else:
                out = self.logits(model, data.to(model_device(model)))
        return out.softmax(dim=-1)

    def loss(self, model: torch.nn.Module, data: Data, mask: Optional[Tensor] = None,
             reduction: str = 'sum') -> Tensor:
        r"""Cross-entropy of :obj:`model` on nodes :obj:`mask` (default: training nodes),
        full-batch, with autograd (used by influence-based methods)."""
        mask = data.train_mask if mask is None else mask
        out = self.logits(model, data)
        return F.cross_entropy(out[mask], data.y[mask], reduction=reduction)

    # Training ###############################################################

    def train(self, model: torch.nn.Module, data: Data,
              seed: Optional[int] = None) -> Dict[str, Any]:
        seed = self.seed if seed is None else seed
        device = self.device or model_device(model)
        model.to(device)
        data = data.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best_state, best_key, best_epoch = None, None, -1
        t0 = time.perf_counter()
        devices = [device] if device.type == 'cuda' else []
        loader = self._train_loader(data, seed) if self.batch_size is not None else None
        # SGC: the propagation does not depend on the weights (computed once, not kept).
        fixed = sgc_features(model, self, data) if loader is None else None
        csr = None
        if loader is None and fixed is None and self._sparse_training(model, data):
            # Bag-of-words features as CSR (built per run, not kept): the first layer's XW
            # and its weight gradient (through the precomputed transpose) cost O(nnz(X)).
            csr = dense_to_csr(data.x)
            data = with_features(data, csr)
        with torch.random.fork_rng(devices=devices), sparse_mode(csr):
            # Dropout draws from the global generator: fork it so training is reproducible
            # without touching the caller's RNG state.
            torch.manual_seed(seed)
            epoch = 0
            for epoch in progress(range(self.epochs), desc='train (node)'):
                model.train()
                if loader is None:
                    opt.zero_grad()
                    if fixed is not None:
                        out = model.conv.lin(fixed)[data.train_mask]
                        loss = F.cross_entropy(out, data.y[data.train_mask])
                    else:
                        loss = self.loss(model, data, reduction='mean')
                    loss.backward()
                    opt.step()
                else:
                    for batch in loader:
                        opt.zero_grad()
                        out = model(batch.x, batch.edge_index)[:batch.batch_size]
                        F.cross_entropy(out, batch.y[:batch.batch_size]).backward()
                        opt.step()
                key = self._val_key(model, data, fixed)
                if best_key is None or key > best_key:
                    best_key, best_epoch = key, epoch
                    best_state = copy.deepcopy(model.state_dict())
                elif self.patience is not None and epoch - best_epoch >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        return {'epochs': epoch + 1, 'best_epoch': best_epoch,
                'best_val_accuracy': best_key[0] if best_key else float('nan'),
                'seconds': time.perf_counter() - t0}

    def _sparse_training(self, model: torch.nn.Module, data: Data) -> bool:
        r"""Whether full-batch training feeds :obj:`data.x` as sparse CSR
        (:func:`resolve_sparse_features` with its training-mode trial; decided once per model
        class and feature shape)."""
        return resolve_sparse_features(self, self, model, data, training=True)

    @torch.no_grad()
    def _val_key(self, model: torch.nn.Module, data: Data,
                 fixed: Optional[Tensor] = None) -> tuple:
        model.eval()
        mask = data.val_mask
        if fixed is not None:
            out = model.conv.lin(fixed)[mask]
            y = data.y[mask]
        elif self.batch_size is not None:
            out = self._batched_logits(model, data, mask)
            y = data.y[mask]
        else:
            out = self.logits(model, data)[mask]
            y = data.y[mask]
        if y.numel() == 0:
            return (0.0, 0.0)
        return (accuracy(out, y), -float(F.cross_entropy(out, y)))

    def _train_loader(self, data: Data, seed: int):
        _require_neighbor_sampling()
        from torch_geometric.loader import NeighborLoader
        return NeighborLoader(data, num_neighbors=self.num_neighbors, batch_size=self.batch_size,
                              input_nodes=data.train_mask, shuffle=True,
                              generator=make_generator(seed))

    def _batched_logits(self, model: torch.nn.Module, data: Data,
                        mask: Optional[Tensor] = None) -> Tensor:
        r"""Logits of the nodes in :obj:`mask` (all nodes if :obj:`None`) with full
        neighbourhoods, batch by batch (same order as :obj:`mask`)."""
        _require_neighbor_sampling()
        from torch_geometric.loader import NeighborLoader
        loader = NeighborLoader(data, num_neighbors=[-1] * len(self.num_neighbors),
                                batch_size=max(self.batch_size or 1024, 1024),
                                input_nodes=mask, shuffle=False)
        outs = [model(b.x, b.edge_index)[:b.batch_size] for b in loader]
        return torch.cat(outs, dim=0)

    # Evaluation #############################################################

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, data: Data,
                 split: str = 'test') -> Dict[str, float]:
        r"""Accuracy and macro-F1 on :obj:`split` (:obj:`"train"`, :obj:`"val"`,
        :obj:`"test"`); removed nodes are in no mask, so they are never scored."""
        mask = data[f'{split}_mask']
        proba = self.predict_proba(model, data)
        mask = mask.to(proba.device)
        pred, y = proba[mask].argmax(-1), data.y.to(proba.device)[mask]
        return {'accuracy': accuracy(pred, y),
                'macro_f1': macro_f1(pred, y, num_classes=proba.size(-1))}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(epochs={self.epochs}, lr={self.lr}, '
                f'weight_decay={self.weight_decay}, batch_size={self.batch_size}, '
                f'seed={self.seed})')

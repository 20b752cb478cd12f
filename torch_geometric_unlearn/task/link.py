r"""Link prediction: a GNN encoder with a dot-product decoder, trained with binary
cross-entropy on the training edges against uniformly sampled non-edges."""
from __future__ import annotations

import copy
import time
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from torch_geometric_unlearn.metric.classification import link_auc
from torch_geometric_unlearn.task.base import Task, make_generator, model_device
from torch_geometric_unlearn.utils import eval_mode

#: Held-out pairs a split adds to the graph (``2 x m`` node-id pairs, never in ``edge_index``).
SPLIT_KEYS = ('val_pos', 'val_neg', 'test_pos', 'test_neg')


def undirected_pairs(edge_index: Tensor) -> Tensor:
    r"""Unique undirected pairs :math:`(u, v)`, :math:`u < v`, of :obj:`edge_index`."""
    lo, hi = edge_index.min(0).values, edge_index.max(0).values
    keep = lo != hi
    lo, hi = lo[keep], hi[keep]
    n = int(edge_index.max()) + 1 if edge_index.numel() else 1
    key = torch.unique(lo * n + hi)
    return torch.stack([key // n, key % n])


def sample_non_edges(edge_index: Tensor, num_nodes: int, num: int, gen: torch.Generator,
                     allowed: Optional[Tensor] = None) -> Tensor:
    r"""About :obj:`num` uniformly drawn node pairs (:math:`u \ne v`, both :obj:`allowed`)
    that are no edge of :obj:`edge_index` (either direction); vectorised rejection, seeded."""
    device = edge_index.device
    nodes = torch.arange(num_nodes, device=device) if allowed is None else \
        allowed.nonzero().view(-1)
    if nodes.numel() < 2 or num <= 0:
        return torch.empty(2, 0, dtype=torch.long, device=device)
    existing = torch.cat([edge_index[0] * num_nodes + edge_index[1],
                          edge_index[1] * num_nodes + edge_index[0]])
    draw = 2 * num + 16
    pick = torch.randint(0, nodes.numel(), (2, draw), generator=gen, device='cpu').to(device)
    u, v = nodes[pick[0]], nodes[pick[1]]
    ok = (u != v) & ~torch.isin(u * num_nodes + v, existing)
    return torch.stack([u[ok], v[ok]])[:, :num]


class LinkPredictionTask(Task):
    r"""Link prediction with a node encoder :obj:`model(x, edge_index) -> Z` and the
    dot-product decoder :math:`s(u, v) = z_u^\top z_v`: binary cross-entropy of the training
    edges (:obj:`data.edge_index`, the message-passing graph) against as many uniformly drawn
    non-edges per epoch (a seeded :class:`torch.Generator`), full batch, Adam; the epoch is
    selected by validation AUC (:obj:`data.val_pos` vs :obj:`data.val_neg`), never on test.
    :meth:`split` builds the held-out pairs. Pairs touching a removed node are not scored.
    With the library's :class:`~torch_geometric_unlearn.nn.node.SGC`, a training run computes
    :math:`\hat{A}^K X` once and trains the linear layer
    (:func:`~torch_geometric_unlearn.task.node.sgc_features`, as the node task does).

    Args:
        epochs (int, optional): Training epochs. (default: :obj:`200`)
        lr (float, optional): Learning rate. (default: :obj:`0.01`)
        weight_decay (float, optional): Weight decay. (default: :obj:`0.0`)
        seed (int, optional): Seed of the negative samples and dropout. (default: :obj:`0`)
        device (torch.device or str, optional): Training device. (default: :obj:`None`)
    """
    name = 'link_prediction'
    request_types = ('edge', 'node', 'feature')

    def __init__(self, epochs: int = 200, lr: float = 0.01, weight_decay: float = 0.0,
                 seed: int = 0, device: Optional[torch.device | str] = None) -> None:
        super().__init__(seed=seed, device=device)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f'epochs must be a positive int, got {epochs!r}')
        if not lr > 0:
            raise ValueError(f'lr must be positive, got {lr}')
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay

    # Data ###################################################################

    @staticmethod
    def split(data: Data, val_ratio: float = 0.05, test_ratio: float = 0.1,
              seed: int = 0) -> Data:
        r"""A copy of :obj:`data` whose :obj:`edge_index` keeps the training edges (both
        directions) and which holds :obj:`val_pos`/:obj:`test_pos` (held-out undirected
        edges) and :obj:`val_neg`/:obj:`test_neg` (as many non-edges of the whole graph),
        drawn with a :class:`torch.Generator` seeded by :obj:`seed`."""
        if not (0 <= val_ratio and 0 <= test_ratio and val_ratio + test_ratio < 1):
            raise ValueError(f'need 0 <= val_ratio, test_ratio and val_ratio + test_ratio < 1, '
                             f'got {val_ratio}, {test_ratio}')
        gen = make_generator(seed)
        pairs = undirected_pairs(data.edge_index)
        perm = torch.randperm(pairs.size(1), generator=gen).to(pairs.device)
        n_val, n_test = int(val_ratio * pairs.size(1)), int(test_ratio * pairs.size(1))
        val, test = pairs[:, perm[:n_val]], pairs[:, perm[n_val:n_val + n_test]]
        train = pairs[:, perm[n_val + n_test:]]
        neg = sample_non_edges(data.edge_index, data.num_nodes, n_val + n_test, gen)
        out = copy.copy(data)
        out.edge_index = torch.cat([train, train.flip(0)], dim=1)
        for key in ('edge_attr', 'edge_weight'):
            if key in out:
                del out[key]
        out.val_pos, out.test_pos = val, test
        out.val_neg, out.test_neg = neg[:, :n_val], neg[:, n_val:]
        return out

    # Model outputs ##########################################################

    def logits(self, model: torch.nn.Module, data: Data) -> Tensor:
        r"""Node embeddings :math:`Z` (full batch; :meth:`train` mode untouched)."""
        return model(data.x, data.edge_index)

    @staticmethod
    def score(z: Tensor, pairs: Tensor) -> Tensor:
        r"""Dot-product decoder: the logit :math:`z_u^\top z_v` of each pair."""
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    def loss(self, model: torch.nn.Module, data: Data, gen: torch.Generator,
             fixed: Optional[Tensor] = None) -> Tensor:
        r"""Mean binary cross-entropy of the training edges and as many sampled non-edges
        (:obj:`fixed`: SGC's :math:`\hat{A}^K X` of :obj:`data`, see :meth:`train`)."""
        z = self.logits(model, data) if fixed is None else model.conv.lin(fixed)
        pos = undirected_pairs(data.edge_index)
        neg = sample_non_edges(data.edge_index, data.num_nodes, pos.size(1), gen,
                               self._alive(data))
        return self.bce(z, pos, neg)

    def bce(self, z: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        r"""Mean binary cross-entropy of the pairs :obj:`pos` (label 1) and :obj:`neg`
        (label 0) under the embeddings :obj:`z`."""
        s = torch.cat([self.score(z, pos), self.score(z, neg)])
        y = torch.cat([s.new_ones(pos.size(1)), s.new_zeros(neg.size(1))])
        return F.binary_cross_entropy_with_logits(s, y)

    @staticmethod
    def _alive(data: Data) -> Optional[Tensor]:
        removed = data.get('removed_mask')
        return None if removed is None else ~removed

    @staticmethod
    def held_out(data: Data, split: str) -> Tuple[Tensor, Tensor]:
        r"""The :obj:`split`'s held-out edges and non-edges, without pairs touching a removed
        node."""
        pos, neg = data[f'{split}_pos'], data[f'{split}_neg']
        removed = data.get('removed_mask')
        if removed is not None:  # a removed node's pairs are not scored
            pos = pos[:, ~(removed[pos[0]] | removed[pos[1]])]
            neg = neg[:, ~(removed[neg[0]] | removed[neg[1]])]
        return pos, neg

    # Training ###############################################################

    def train(self, model: torch.nn.Module, data: Data,
              seed: Optional[int] = None) -> Dict[str, Any]:
        for key in ('val_pos', 'val_neg'):
            if data.get(key) is None:
                raise ValueError(f"data has no '{key}': build the split with "
                                 'LinkPredictionTask.split(data)')
        seed = self.seed if seed is None else seed
        device = self.device or model_device(model)
        model.to(device)
        data = data.to(device)
        gen = make_generator(seed)
        from torch_geometric_unlearn.task.node import sgc_features

        # SGC: the propagation does not depend on the weights (computed once, not kept).
        fixed = sgc_features(model, self, data)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best_state, best_key, best_epoch = None, None, -1
        t0 = time.perf_counter()
        devices = [device] if device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)  # dropout, without touching the caller's RNG
            for epoch in range(self.epochs):
                model.train()
                opt.zero_grad()
                self.loss(model, data, gen, fixed).backward()
                opt.step()
                key = self.val_auc(model, data, fixed)
                if best_key is None or key > best_key:
                    best_key, best_epoch = key, epoch
                    best_state = copy.deepcopy(model.state_dict())
        model.load_state_dict(best_state)
        model.eval()
        return {'epochs': self.epochs, 'best_epoch': best_epoch, 'best_val_auc': best_key,
                'seconds': time.perf_counter() - t0}

    @torch.no_grad()
    def embeddings(self, model: torch.nn.Module, data: Data) -> Tensor:
        r"""Node embeddings in evaluation mode."""
        with eval_mode(model):
            return self.logits(model, data.to(model_device(model)))

    def val_auc(self, model: torch.nn.Module, data: Data,
                fixed: Optional[Tensor] = None) -> float:
        r"""Validation AUC (the model-selection score; :obj:`fixed` as in :meth:`loss`)."""
        if fixed is None:
            z = self.embeddings(model, data)
        else:
            with torch.no_grad(), eval_mode(model):
                z = model.conv.lin(fixed)
        pos, neg = self.held_out(data, 'val')
        return link_auc(self.score(z, pos), self.score(z, neg))

    def evaluate(self, model: torch.nn.Module, data: Data,
                 split: str = 'test') -> Dict[str, float]:
        r"""AUC of the :obj:`split`'s held-out edges against its non-edges."""
        z = self.embeddings(model, data)
        pos, neg = self.held_out(data, split)
        return {'auc': link_auc(self.score(z, pos), self.score(z, neg))}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(epochs={self.epochs}, lr={self.lr}, '
                f'seed={self.seed})')

r"""Top-:math:`k` recommendation on a bipartite user-item graph: BPR training of a
:mod:`~torch_geometric_unlearn.nn.recsys` backbone and full-ranking evaluation.

Data convention (:class:`~torch_geometric.data.HeteroData`, mandatory): node types
:obj:`'user'` and :obj:`'item'` with :obj:`num_nodes`; edge type
:obj:`('user', 'rates', 'item')` whose :obj:`edge_index` holds the *training* interactions
(row 0 user ids, row 1 item ids) and :obj:`edge_label_index` the *test* interactions; the
reverse type :obj:`('item', 'rev_rates', 'user')` is ignored here (it mirrors the forward one).
An optional :obj:`val_edge_label_index` on the forward edge type is used for model selection.

A homogeneous :class:`~torch_geometric.data.Data` view is accepted too: nodes
:obj:`0..U-1` are users and :obj:`U..U+I-1` items, attributes :obj:`num_users` and
:obj:`num_items`, an undirected :obj:`edge_index` (training) and :obj:`edge_label_index`
(test pairs, homogeneous ids).
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.metric.ranking import full_ranking_metrics
from torch_geometric_unlearn.nn.sparse import bipartite_norm_adj
from torch_geometric_unlearn.task.base import Task, make_generator, model_device
from torch_geometric_unlearn.utils import eval_mode, progress

GraphData = Union[HeteroData, Data]


# Data access ################################################################

def _rating_edge_type(data: HeteroData) -> Tuple[str, str, str]:
    if ('user', 'rates', 'item') in data.edge_types:
        return ('user', 'rates', 'item')
    for et in data.edge_types:
        if et[0] == 'user' and et[2] == 'item':
            return et
    raise ValueError("HeteroData has no ('user', *, 'item') edge type")


def num_users_items(data: GraphData) -> Tuple[int, int]:
    r"""(number of users, number of items) of :obj:`data`."""
    if isinstance(data, HeteroData):
        if 'user' not in data.node_types or 'item' not in data.node_types:
            raise ValueError("recommendation data needs node types 'user' and 'item' "
                             f'(got {data.node_types})')
        return int(data['user'].num_nodes), int(data['item'].num_nodes)
    if getattr(data, 'num_users', None) is None or getattr(data, 'num_items', None) is None:
        raise ValueError('a homogeneous recommendation graph needs the attributes num_users '
                         'and num_items (or use HeteroData with user/item node types)')
    return int(data.num_users), int(data.num_items)


def _check_model(model: torch.nn.Module, data: GraphData) -> Tuple[int, int]:
    U, I = num_users_items(data)
    mu, mi = getattr(model, 'num_users', None), getattr(model, 'num_items', None)
    if mu is None or mi is None or not hasattr(model, 'loss'):
        raise TypeError(f'{model.__class__.__name__} does not follow the recommendation model '
                        'interface (num_users, num_items, loss(adj, users, pos, neg)); use '
                        'torch_geometric_unlearn.nn.recsys.LightGCN/SGL/SimGCL')
    if (mu, mi) != (U, I):
        raise ValueError(f'model is built for {mu} users x {mi} items but the data has '
                         f'{U} x {I}')
    return U, I


def get_interactions(data: GraphData, split: str = 'train') -> Tensor:
    r"""User-item pairs :obj:`[2, E]` (user id, *local* item id in :obj:`[0, I)`) of a split.

    Args:
        data (HeteroData or Data): The graph (see the module docstring).
        split (str, optional): :obj:`"train"` (the :obj:`edge_index`), :obj:`"test"` (the
            :obj:`edge_label_index`; pairs with :obj:`edge_label == 0` are dropped if labels
            exist) or any :obj:`name` with a :obj:`{name}_edge_label_index` attribute.
            (default: :obj:`"train"`)
    """
    U, _ = num_users_items(data)
    store = data[_rating_edge_type(data)] if isinstance(data, HeteroData) else data
    if split == 'train':
        ei = store.edge_index
    else:
        attr = 'edge_label_index' if split == 'test' else f'{split}_edge_label_index'
        ei = getattr(store, attr, None)
        if ei is None:
            raise ValueError(f"data has no '{attr}' for split '{split}'")
        label = getattr(store, 'edge_label' if split == 'test' else f'{split}_edge_label',
                        None)
        if label is not None and label.numel() == ei.size(1):
            ei = ei[:, label > 0]
    ei = ei.long()
    if isinstance(data, HeteroData):
        return ei
    # Homogeneous view: keep user->item pairs (either orientation), items shifted to [0, I).
    src, dst = ei[0], ei[1]
    fwd = (src < U) & (dst >= U)
    if split == 'train':
        return torch.stack([src[fwd], dst[fwd] - U])
    bwd = (src >= U) & (dst < U)
    return torch.stack([torch.cat([src[fwd], dst[bwd]]),
                        torch.cat([dst[fwd], src[bwd]]) - U])


class NegativeSampler:
    r"""Uniform negative items: for every user, an item drawn uniformly among those the user
    has no training interaction with. Vectorised rejection sampling against the sorted keys
    :math:`u \cdot I + i` of the positives (:func:`torch.searchsorted`); rejected draws are
    redrawn together, at most :obj:`max_tries` rounds (a user who interacted with every item
    keeps an arbitrary, positive draw).

    Args:
        edge_index (torch.Tensor): Positive interactions :obj:`[2, E]` (user, local item).
        num_items (int): Number of items :math:`I`.
        max_tries (int, optional): Rejection rounds. (default: :obj:`100`)
    """

    def __init__(self, edge_index: Tensor, num_items: int, max_tries: int = 100) -> None:
        self.num_items, self.max_tries = int(num_items), max_tries
        self.keys = torch.unique(edge_index[0].long() * self.num_items
                                 + edge_index[1].long())

    def is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        r"""Whether each (user, item) pair is a positive interaction."""
        if self.keys.numel() == 0:
            return torch.zeros_like(users, dtype=torch.bool)
        q = users * self.num_items + items
        pos = torch.searchsorted(self.keys, q).clamp(max=self.keys.numel() - 1)
        return self.keys[pos] == q

    def __call__(self, users: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        r"""One negative item per entry of :obj:`users`."""
        users = users.long()
        items = torch.randint(self.num_items, users.shape, generator=generator,
                              device=users.device)
        todo = torch.nonzero(self.is_positive(users, items)).view(-1)
        for _ in range(self.max_tries):
            if todo.numel() == 0:
                break
            items[todo] = torch.randint(self.num_items, todo.shape, generator=generator,
                                        device=users.device)
            todo = todo[self.is_positive(users[todo], items[todo])]
        return items


class RecommendationTask(Task):
    r"""Top-:math:`k` recommendation with BPR training and full-ranking Recall/NDCG@k.

    Training (:meth:`train`): Adam on the model's :meth:`loss` (BPR + L2, plus the SSL term of
    SGL/SimGCL). One epoch visits every training interaction once in a seeded random order, in
    mini-batches of :obj:`batch_size` (user, positive item, uniform negative item) triples;
    every step propagates over the full graph with the normalised adjacency of the training
    interactions (rebuilt from the data at every :meth:`train` call, never cached).

    Model selection: by default none (a fixed number of :obj:`epochs`, the honest choice when
    no validation split exists: the test split is never used for selection). With
    :obj:`val_ratio > 0`, a seeded fraction of the *training* interactions is held out (removed
    from the training graph and from the positives), Recall@k on it is computed every
    :obj:`eval_every` epochs, the best parameters are kept and training stops after
    :obj:`patience` epochs without improvement. A :obj:`val_edge_label_index` on the data is
    used instead of carving one if present and :obj:`val_ratio == 0`.

    Evaluation (:meth:`evaluate`): full ranking over all items with the user's training items
    masked, averaged over users with at least one test item, in user batches of
    :obj:`eval_batch_size` (memory :obj:`eval_batch_size x I`).

    Models must follow the :mod:`~torch_geometric_unlearn.nn.recsys` interface
    (:class:`~torch_geometric_unlearn.nn.recsys.LightGCN`, :class:`SGL`, :class:`SimGCL`).

    Args:
        epochs (int, optional): Maximum training epochs. (default: :obj:`100`)
        batch_size (int, optional): BPR triples per step. (default: :obj:`2048`)
        lr (float, optional): Adam learning rate. (default: :obj:`1e-3`)
        weight_decay (float, optional): Adam weight decay (the models already regularise
            the batch's embeddings; keep 0). (default: :obj:`0.`)
        val_ratio (float, optional): Fraction of training interactions held out for
            validation; 0 disables. (default: :obj:`0.`)
        eval_every (int, optional): Validation period in epochs. (default: :obj:`5`)
        patience (int, optional): Early-stopping patience in epochs (validation only);
            :obj:`None` trains all epochs. (default: :obj:`None`)
        k (int or Sequence[int], optional): Cut-off(s) of the metrics. (default: :obj:`20`)
        eval_batch_size (int, optional): Users ranked at once. (default: :obj:`1024`)
        seed (int, optional): Seed of batching, negative sampling and augmentations.
            (default: :obj:`0`)
        device (torch.device or str, optional): Training device; default: the model's.
    """
    name = 'recommendation'
    request_types = ('interaction', 'node')

    def __init__(self, epochs: int = 100, batch_size: int = 2048, lr: float = 1e-3,
                 weight_decay: float = 0., val_ratio: float = 0., eval_every: int = 5,
                 patience: Optional[int] = None, k: Union[int, Sequence[int]] = 20,
                 eval_batch_size: int = 1024, seed: int = 0,
                 device: Optional[torch.device | str] = None) -> None:
        super().__init__(seed=seed, device=device)
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.weight_decay, self.val_ratio = weight_decay, val_ratio
        self.eval_every, self.patience = max(1, eval_every), patience
        self.k = k
        self.eval_batch_size = eval_batch_size

    # Graph helpers ##########################################################

    @staticmethod
    def interactions(data: GraphData, split: str = 'train') -> Tensor:
        r"""See :func:`get_interactions`."""
        return get_interactions(data, split)

    def build_adj(self, data: GraphData, device: Optional[torch.device] = None) -> Tensor:
        r"""Normalised adjacency :math:`\bar{\mathbf{A}}` (sparse CSR, :obj:`[U+I, U+I]`) of
        the training interactions of :obj:`data` as they are now (no cache)."""
        U, I = num_users_items(data)
        ei = get_interactions(data, 'train')
        if device is not None:
            ei = ei.to(device)
        return bipartite_norm_adj(ei, U, I)

    def _device(self, model: torch.nn.Module) -> torch.device:
        return self.device or model_device(model)

    # Model outputs ##########################################################

    @torch.no_grad()
    def embeddings(self, model: torch.nn.Module, data: GraphData,
                   adj: Optional[Tensor] = None) -> Tensor:
        r"""Final embeddings :obj:`[U+I, d]` in evaluation mode."""
        with eval_mode(model):
            adj = self.build_adj(data, model_device(model)) if adj is None else adj
            return model(adj)

    @torch.no_grad()
    def scores(self, model: torch.nn.Module, data: GraphData,
               users: Optional[Tensor] = None) -> Tensor:
        r"""Scores :obj:`[len(users), I]` of :obj:`users` (default: all; beware memory)
        against every item (training items not masked)."""
        emb = self.embeddings(model, data)
        U, _ = num_users_items(data)
        users = torch.arange(U, device=emb.device) if users is None else users.to(emb.device)
        return emb[users] @ emb[U:].t()

    @torch.no_grad()
    def predict_edges(self, model: torch.nn.Module, data: GraphData, edge_index: Tensor,
                      prob: bool = True) -> Tensor:
        r"""Predicted probabilities :math:`\sigma(\mathbf{e}_u^\top\mathbf{e}_i)` (or raw
        scores with :obj:`prob=False`) of user-item pairs :obj:`edge_index` (user, local
        item), e.g. for membership-inference metrics."""
        emb = self.embeddings(model, data)
        U, _ = num_users_items(data)
        ei = edge_index.to(emb.device).long()
        out = (emb[ei[0]] * emb[ei[1] + U]).sum(dim=-1)
        return out.sigmoid() if prob else out

    def loss(self, model: torch.nn.Module, data: GraphData,
             edge_index: Optional[Tensor] = None, neg_items: Optional[Tensor] = None,
             seed: Optional[int] = None, **kwargs: Any) -> Tensor:
        r"""Full-batch training loss of :obj:`model` on interactions :obj:`edge_index`
        (default: all training interactions of :obj:`data`) with autograd, for
        influence-based methods. Negatives are :obj:`neg_items` or drawn with :obj:`seed`
        (default: the task's seed), so repeated calls give the same loss.
        :obj:`kwargs` go to :meth:`model.loss` (e.g. :obj:`x0`)."""
        U, I = _check_model(model, data)
        device = model_device(model)
        train = get_interactions(data, 'train').to(device)
        ei = train if edge_index is None else edge_index.to(device).long()
        gen = make_generator(self.seed if seed is None else seed, device)
        if neg_items is None:
            neg_items = NegativeSampler(train, I)(ei[0], gen)
        adj = bipartite_norm_adj(train, U, I)
        ctx = model.loss_context(train, gen) if hasattr(model, 'loss_context') else {}
        ctx.update(kwargs)
        return model.loss(adj, ei[0], ei[1], neg_items.to(device), generator=gen, **ctx)

    # Training ###############################################################

    def _split_validation(self, data: GraphData, train: Tensor, gen: torch.Generator,
                          device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
        if self.val_ratio > 0:
            perm = torch.randperm(train.size(1), generator=gen, device=device)
            n_val = int(round(self.val_ratio * train.size(1)))
            return train[:, perm[n_val:]], train[:, perm[:n_val]]
        try:
            return train, get_interactions(data, 'val').to(device)
        except (ValueError, AttributeError, KeyError):
            return train, None

    def train(self, model: torch.nn.Module, data: GraphData,
              seed: Optional[int] = None) -> Dict[str, Any]:
        r"""Trains :obj:`model` in place; returns :obj:`{'epochs', 'best_epoch', 'best_val',
        'loss', 'seconds'}` (:obj:`best_val` is the validation Recall@k, NaN without
        validation)."""
        seed = self.seed if seed is None else seed
        U, I = _check_model(model, data)
        device = self._device(model)
        model.to(device)
        gen = make_generator(seed, device)
        t0 = time.perf_counter()
        train, val = self._split_validation(data, get_interactions(data, 'train').to(device),
                                            gen, device)
        adj = bipartite_norm_adj(train, U, I)
        sampler = NegativeSampler(train, I)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        k0 = self.k if isinstance(self.k, int) else list(self.k)[0]
        best_val, best_epoch, best_state = -math.inf, -1, None
        loss_history = []
        E, epoch = train.size(1), -1
        devices = [device] if device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)  # any stray draw from the global RNG is reproducible too
            for epoch in progress(range(self.epochs), desc='train (BPR)'):
                model.train()
                ctx = model.loss_context(train, gen) if hasattr(model, 'loss_context') else {}
                perm = torch.randperm(E, generator=gen, device=device)
                users, pos = train[0, perm], train[1, perm]
                neg = sampler(users, gen)
                total = torch.zeros((), device=device)
                for start in range(0, E, self.batch_size):
                    sl = slice(start, start + self.batch_size)
                    opt.zero_grad()
                    loss = model.loss(adj, users[sl], pos[sl], neg[sl], generator=gen,
                                      edge_index=train, **ctx)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * users[sl].numel()
                loss_history.append(float(total) / max(E, 1))
                if val is not None and ((epoch + 1) % self.eval_every == 0
                                        or epoch + 1 == self.epochs):
                    score = self._validate(model, adj, train, val, U, I, k0)
                    if score > best_val:
                        best_val, best_epoch = score, epoch
                        best_state = copy.deepcopy(model.state_dict())
                    elif self.patience is not None and epoch - best_epoch >= self.patience:
                        break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        return {'epochs': epoch + 1, 'best_epoch': best_epoch if val is not None else epoch,
                'best_val': best_val if val is not None else math.nan,
                'loss': loss_history[-1] if loss_history else math.nan,
                'loss_history': loss_history, 'seconds': time.perf_counter() - t0}

    @torch.no_grad()
    def _validate(self, model: torch.nn.Module, adj: Tensor, train: Tensor, val: Tensor,
                  U: int, I: int, k: int) -> float:
        model.eval()
        emb = model(adj)
        res = full_ranking_metrics(lambda u: emb[u] @ emb[U:].t(), train, val, U, I, k=k,
                                   batch_size=self.eval_batch_size)
        return res[f'recall@{k}']

    # Evaluation #############################################################

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, data: GraphData,
                 split: str = 'test') -> Dict[str, float]:
        r"""Returns :obj:`{'recall@k': ..., 'ndcg@k': ...}` on :obj:`split` (full ranking,
        training items masked, users with ground truth only; NaN if there are none)."""
        U, I = _check_model(model, data)
        device = model_device(model)
        emb = self.embeddings(model, data)
        train = get_interactions(data, 'train').to(device)
        target = get_interactions(data, split).to(device)
        res = full_ranking_metrics(lambda u: emb[u] @ emb[U:].t(), train, target, U, I,
                                   k=self.k, batch_size=self.eval_batch_size)
        res.pop('num_users')
        return res

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(epochs={self.epochs}, batch_size={self.batch_size}, '
                f'lr={self.lr}, k={self.k}, seed={self.seed})')

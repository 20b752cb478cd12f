r"""GraphEraser: shard, train, aggregate (Chen et al., "Graph Unlearning", CCS'22;
``ALGORITHMS.md`` section 2).

Guarantee: **exact**. Every shard model is trained only on its shard's data (the shard's nodes,
their features and labels, and the edges among them); unlearning rebuilds the data of the shards
holding removed elements from the retained graph and retrains only those shards from fresh
initialisations, so removed data never reaches a new model. Caveat shared with the paper: the
*assignment* of nodes to shards (BLPA/BEKM/community) was computed once on the original graph
and is kept; it decides which retained nodes share a shard, but no removed feature, label or edge
enters any shard's training data.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.algorithm.executor import (ShardJob, resolve_executor,
                                                        train_shard)
from torch_geometric_unlearn.partition.balanced import (PARTITIONERS, bekm, blpa,
                                                        community_partition, random_partition)
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task.base import model_device

AGGREGATIONS = ('mean', 'majority', 'learned')


class ShardEnsemble(torch.nn.Module):
    r"""The GraphEraser node classifier: :obj:`forward(x, edge_index)` runs every shard model
    with non-zero weight on the graph it is given (at inference: the full retained graph, so
    each shard model sees the query node's whole neighbourhood, as in the paper) and returns the
    log of the aggregated class distribution of every node.

    Args:
        models (Sequence[torch.nn.Module]): One model per shard.
        weights (torch.Tensor): Shard weights :obj:`[k]` (non-negative, summing to one; zero
            for shards that are skipped, e.g. shards without training nodes).
        aggregation (str, optional): :obj:`"mean"` / :obj:`"learned"` (weighted mean of the
            posteriors) or :obj:`"majority"` (weighted vote of the shard predictions).
            (default: :obj:`"mean"`)
    """

    def __init__(self, models: Sequence[torch.nn.Module], weights: Tensor,
                 aggregation: str = 'mean') -> None:
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation '{aggregation}' (expected {AGGREGATIONS})")
        self.models = torch.nn.ModuleList(models)
        self.register_buffer('weights', weights.detach().float().clone())
        self.aggregation = aggregation

    def shard_posteriors(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Softmax posteriors :obj:`[k, n, C]` of every shard model (zeros for skipped
        shards)."""
        outs: List[Optional[Tensor]] = []
        for w, model in zip(self.weights.tolist(), self.models):
            outs.append(model(x, edge_index).softmax(dim=-1) if w > 0 else None)
        ref = next(o for o in outs if o is not None)
        return torch.stack([o if o is not None else torch.zeros_like(ref) for o in outs])

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        post = self.shard_posteriors(x, edge_index)
        w = self.weights.to(post.device).view(-1, 1, 1)
        if self.aggregation == 'majority':
            post = F.one_hot(post.argmax(-1), post.size(-1)).to(post.dtype)
        proba = (w * post).sum(0) / w.sum().clamp(min=1e-12)
        return proba.clamp(min=1e-12).log()


def learn_shard_weights(posteriors: Tensor, y: Tensor, active: Tensor, epochs: int = 100,
                        lr: float = 0.01, reg: float = 0.01) -> Tensor:
    r"""GraphEraser's learning-based aggregation: weights :math:`w` (init :math:`1/k`,
    clamped :math:`\geq 0`) minimising :math:`\mathrm{CE}(\mathrm{softmax}(\sum_i w_i p_i), y) +
    \mathrm{reg}\,\lVert w \rVert_2` on the given nodes, then normalised to sum one.

    Args:
        posteriors (torch.Tensor): Shard posteriors :obj:`[k, m, C]` on :math:`m` nodes.
        y (torch.Tensor): Labels :obj:`[m]`.
        active (torch.Tensor): Bool :obj:`[k]`; inactive shards get weight zero.
    """
    k = posteriors.size(0)
    active = active.to(posteriors.device)
    w = torch.where(active, 1.0 / k, 0.0).to(posteriors.dtype).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    posteriors = posteriors.detach()
    for _ in range(epochs):
        opt.zero_grad()
        logits = (w.view(-1, 1, 1) * posteriors).sum(0)
        loss = F.cross_entropy(logits, y) + reg * w.norm(p=2)
        loss.backward()
        opt.step()
        with torch.no_grad():
            w.clamp_(min=0).mul_(active)
    w = w.detach()
    if float(w.sum()) <= 0:  # degenerate: fall back to the mean
        w = active.to(w.dtype)
    return w / w.sum()


class GraphEraser(UnlearningAlgorithm):
    r"""GraphEraser (Chen et al., "Graph Unlearning", CCS'22): the nodes are split into
    :math:`k` balanced shards (BLPA, BEKM, random or community), one GNN is trained per shard on
    the shard's training nodes and the edges among the shard's nodes (PyG
    :func:`~torch_geometric.utils.subgraph`), and the shard posteriors are aggregated (mean,
    majority vote or learned weights). Unlearning retrains only the shards holding removed data:
    node requests, the removed nodes' shards; edge requests, the shards containing both
    endpoints (an edge across shards is in no shard's data: nothing to retrain); feature
    requests, the nodes' shards. Guarantee: **exact** (see the module docstring for the caveat
    on the partition itself).

    The returned model is a :class:`ShardEnsemble`; each shard model predicts on the full
    retained graph at inference.

    Args:
        num_shards (int, optional): Number of shards :math:`k`. :obj:`None` picks
            :math:`\min(20, \max(2, \lfloor n_{train} / 20 \rfloor))`: the paper's 20 shards
            when there are enough labels, otherwise about 20 training nodes per shard (Cora's
            public split: 7 shards). (default: :obj:`None`)
        partition (str, optional): :obj:`"blpa"`, :obj:`"bekm"`, :obj:`"random"` or
            :obj:`"community"`. (default: :obj:`"blpa"`)
        aggregation (str, optional): :obj:`"mean"`, :obj:`"majority"` or :obj:`"learned"`.
            (default: :obj:`"learned"`)
        model_factory (Callable[[int], torch.nn.Module], optional): Builds a fresh shard model
            from a seed; default: a fresh copy of the given model's architecture
            (:meth:`Task.fresh_model`). (default: :obj:`None`)
        seed (int, optional): Base seed (partition; shard :math:`j` initialises and trains with
            :obj:`seed + j`); default: the task's seed. (default: :obj:`None`)
        executor (str or ShardExecutor, optional): :obj:`"sequential"`, :obj:`"process"` or an
            object with :obj:`map(train_fn, jobs)`. (default: :obj:`None`, sequential)
        partition_kwargs (dict, optional): Extra arguments of the partitioner.
        weight_epochs (int, optional): Epochs of the learned aggregation. (default: :obj:`100`)
        weight_lr (float, optional): Its learning rate. (default: :obj:`0.01`)
        weight_reg (float, optional): Its :math:`\lVert w\rVert_2` coefficient (a coefficient
            of 1 collapses the weights onto two or three shards on Cora and costs ~15 points of
            accuracy). (default: :obj:`0.01`)
    """
    exact = True
    tasks = ('node_classification', )
    request_types = ('node', 'edge', 'feature')

    def __init__(self, num_shards: Optional[int] = None, partition: str = 'blpa',
                 aggregation: str = 'learned',
                 model_factory: Optional[Callable[[int], torch.nn.Module]] = None,
                 seed: Optional[int] = None, executor: Any = None,
                 partition_kwargs: Optional[Dict[str, Any]] = None, weight_epochs: int = 100,
                 weight_lr: float = 0.01, weight_reg: float = 0.01) -> None:
        super().__init__()
        if partition not in PARTITIONERS:
            raise ValueError(f"unknown partition '{partition}' (expected one of {PARTITIONERS})")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation '{aggregation}' (expected {AGGREGATIONS})")
        if num_shards is not None and num_shards < 1:
            raise ValueError(f'num_shards must be >= 1, got {num_shards}')
        self.num_shards, self.partition, self.aggregation = num_shards, partition, aggregation
        self.model_factory, self.seed = model_factory, seed
        self.executor = resolve_executor(executor)
        self.partition_kwargs = dict(partition_kwargs or {})
        self.weight_epochs, self.weight_lr, self.weight_reg = weight_epochs, weight_lr, weight_reg
        self.assignment: Optional[Tensor] = None
        self.shard_data: List[Data] = []
        self.shard_states: List[Dict[str, Tensor]] = []
        self.weights: Optional[Tensor] = None
        self.ensemble: Optional[ShardEnsemble] = None

    # Set-up ###############################################################

    @property
    def base_seed(self) -> int:
        return self._require_task().seed if self.seed is None else self.seed

    def _fresh(self, shard: int) -> torch.nn.Module:
        seed = self.base_seed + shard
        if self.model_factory is not None:
            return self.model_factory(seed)
        return self._require_task().fresh_model(self._template, seed)

    def _partition(self, model: torch.nn.Module, data: Data, k: int) -> Tensor:
        n = data.num_nodes
        mask = ~data.removed_mask if 'removed_mask' in data else None
        kw, seed = self.partition_kwargs, self.base_seed
        if self.partition == 'random':
            return random_partition(n, k, seed, mask, device=data.edge_index.device)
        if self.partition == 'blpa':
            return blpa(data.edge_index, n, k, seed=seed, node_mask=mask, **kw)
        if self.partition == 'community':
            return community_partition(data.edge_index, n, k, seed=seed, node_mask=mask, **kw)
        # BEKM: embeddings from the given trained GNN (its class posteriors), as in the paper.
        emb = self._require_task().predict_proba(model, data)
        return bekm(emb, k, seed=seed, node_mask=mask, **kw)

    @staticmethod
    def _build_shard(data: Data, nodes: Tensor) -> Data:
        r"""The shard's graph: its nodes (ids kept in :obj:`node_id`), their features, labels
        and masks, and only the edges among them."""
        edge_index, _ = subgraph(nodes, data.edge_index, relabel_nodes=True,
                                 num_nodes=data.num_nodes)
        shard = Data(x=data.x[nodes], y=data.y[nodes], edge_index=edge_index, node_id=nodes)
        for key in ('train_mask', 'val_mask'):
            shard[key] = data[key][nodes]
        shard.test_mask = torch.zeros_like(shard.train_mask)
        return shard

    def _train_shards(self, shards: Sequence[int]) -> None:
        task = self._require_task()
        jobs = [ShardJob(j, self._fresh(j), self.shard_data[j], task, self.base_seed + j)
                for j in shards if bool(self.shard_data[j].train_mask.any())]
        for job, (state, _) in zip(jobs, self.executor.map(train_shard, jobs)):
            self.shard_states[job.shard] = state
        for j in shards:  # a shard without training nodes has no model (weight zero)
            if not bool(self.shard_data[j].train_mask.any()):
                self.shard_states[j] = {}

    def _assemble(self, data: Data) -> ShardEnsemble:
        k = len(self.shard_data)
        device = data.x.device
        active = torch.tensor([bool(s) for s in self.shard_states], device=device)
        if not bool(active.any()):
            raise RuntimeError('GraphEraser: no shard holds a training node')
        models = []
        for j in range(k):
            m = self._fresh(j).to(device)
            if self.shard_states[j]:
                m.load_state_dict(self.shard_states[j])
            models.append(m.eval())
        uniform = active.float() / active.float().sum()
        ensemble = ShardEnsemble(models, uniform, self.aggregation)
        if self.aggregation == 'learned':
            # Weights learned on the retained training nodes only (removed nodes are in no
            # mask), recomputed after every request.
            train = data.train_mask.nonzero().view(-1)
            with torch.no_grad():
                post = ensemble.shard_posteriors(data.x, data.edge_index)[:, train]
            ensemble.weights.copy_(learn_shard_weights(post, data.y[train], active,
                                                       self.weight_epochs, self.weight_lr,
                                                       self.weight_reg))
        self.weights = ensemble.weights.clone()
        return ensemble

    def fit(self, model: torch.nn.Module, data: GraphData) -> None:
        r"""Partitions :obj:`data`, trains every shard model and the aggregation."""
        if not isinstance(data, Data):
            raise TypeError('GraphEraser needs a homogeneous Data graph')
        task = self._require_task()
        n_train = int(data.train_mask.sum())
        k = self.num_shards or min(20, max(2, n_train // 20))
        # Architecture template: freshly initialised, so no trained parameter is carried over.
        self._template = task.fresh_model(model, self.base_seed).to(model_device(model))
        self.assignment = self._partition(model, data, k)
        self.shard_data = [self._build_shard(data, (self.assignment == j).nonzero().view(-1))
                           for j in range(k)]
        self.shard_states = [{} for _ in range(k)]
        self._train_shards(range(k))
        self.ensemble = self._assemble(data)
        self._fitted = True

    # Unlearning ###########################################################

    def affected_shards(self, request: UnlearningRequest) -> List[int]:
        r"""Shards whose stored data holds an element of :obj:`request`."""
        a = self.assignment
        if request.kind in ('node', 'feature'):
            s = a[request.node_index.to(a.device)]
        else:
            ei = request.edge_index.to(a.device)
            su, sv = a[ei[0]], a[ei[1]]
            s = su[su == sv]
        return sorted(int(j) for j in torch.unique(s[s >= 0]).tolist())

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        if self.assignment is None:
            raise RuntimeError('GraphEraser.fit(model, data) must run before unlearning')
        retained = request.apply(data)
        affected = self.affected_shards(request)
        if request.kind == 'node':
            self.assignment = self.assignment.clone()
            self.assignment[request.node_index.to(self.assignment.device)] = -1
        for j in affected:  # rebuilt from the retained graph: removed data is gone
            self.shard_data[j] = self._build_shard(
                retained, (self.assignment == j).nonzero().view(-1))
        self._train_shards(affected)
        self.ensemble = self._assemble(retained)
        return self.make_result(self.ensemble, retained, request,
                                extras={'retrained_shards': affected,
                                        'num_shards': len(self.shard_data),
                                        'weights': self.weights.tolist()})

    def audit(self, request: UnlearningRequest) -> bool:
        r"""Whether no stored shard data holds the elements of :obj:`request` (node ids, edges
        between shard members, or non-zero removed feature entries)."""
        for shard in self.shard_data:
            ids = shard.node_id
            if request.kind == 'node':
                if bool(torch.isin(ids, request.node_index.to(ids.device)).any()):
                    return False
            elif request.kind == 'edge':
                g = ids[shard.edge_index]
                ei = request.edge_index.to(ids.device)
                big = max(int(ids.max()) if ids.numel() else 0, int(ei.max())) + 1
                key = g[0] * big + g[1]
                rem = torch.cat([ei[0] * big + ei[1], ei[1] * big + ei[0]])
                if bool(torch.isin(key, rem).any()):
                    return False
            else:
                pos = torch.isin(ids, request.node_index.to(ids.device))
                cols = request.feature_index
                rows = shard.x[pos]
                vals = rows if cols is None else rows[:, cols.to(rows.device)]
                if bool((vals != 0).any()):
                    return False
        return True

    # Issue 10 (reliability): the Unlearner serves the shard ensemble from fit() on.
    def fitted_model(self) -> Optional[torch.nn.Module]:
        return self.ensemble

    def __repr__(self) -> str:
        return (f'{self.name}(num_shards={self.num_shards}, partition={self.partition!r}, '
                f'aggregation={self.aggregation!r})')

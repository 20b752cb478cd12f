r"""Recommendation-unlearning baselines of UnlearnRec's comparison (SIGIR'25, section 4.1.6),
adapted to the embedding backbones of :mod:`~torch_geometric_unlearn.nn.recsys`:

* :class:`EmbeddingGIF`: GIF's influence-function update (Wu et al., WWW'23) on the layer-0
  embedding table :math:`\mathbf{E}_0` (the only parameters of LightGCN/SGL/SimGCL);
* :class:`RecEraser`: RecEraser-style partition unlearning (Chen et al., WWW'22): interaction
  shards, one sub-model per shard, attention (or mean) aggregation; a request retrains only the
  shards holding removed interactions.
"""
from __future__ import annotations

import copy
from typing import Any, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.algorithm.unlearnrec import (check_backbone, interaction_keys,
                                                          removed_interactions,
                                                          removed_node_ids, with_embeddings)
from torch_geometric_unlearn.influence.hvp import make_hvp_fn
from torch_geometric_unlearn.influence.solvers import inverse_hvp_cg, inverse_hvp_lissa
from torch_geometric_unlearn.nn.sparse import bipartite_norm_adj
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task.base import make_generator, model_device, reinitialize
from torch_geometric_unlearn.task.recommendation import (NegativeSampler, get_interactions,
                                                         num_users_items)


# GIF on the embedding table ###################################################

def top_eigenvalue(hvp_fn, like: Tensor, steps: int = 20) -> float:
    r"""Largest-magnitude Hessian eigenvalue by :obj:`steps` power iterations from a fixed
    seeded start vector (deterministic)."""
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(like.shape, generator=gen, dtype=like.dtype).to(like.device)
    q = q / q.norm()
    lam = 0.0
    for _ in range(steps):
        hq = hvp_fn((q, ))[0]
        lam = float(hq.norm())
        if lam == 0.0 or not torch.isfinite(hq).all():
            break
        q = hq / lam
    return lam


class EmbeddingGIF(UnlearningAlgorithm):
    r"""GIF (Wu et al., WWW'23) for embedding-based recommenders: one influence-function step
    on :math:`\theta = \mathbf{E}_0`,

    .. math::
        \theta' = \theta + \mathbf{H}^{-1}\left(\nabla_\theta L(\mathcal{I}\cup\mathcal{R}, G)
        - \nabla_\theta L(\mathcal{I}, G')\right), \qquad
        \mathbf{H} = \nabla^2_\theta L_{\text{train}}(G),

    where :math:`\mathcal{R}` are the removed interactions, :math:`\mathcal{I}` the retained
    training interactions with an endpoint within :obj:`num_hops` hops (default: the backbone's
    layers) of a removed interaction's endpoints, :math:`G'` the retained graph, and every
    :math:`L` the backbone's **summed** training loss (:meth:`loss` per interaction times the
    number of interactions: BPR + L2, plus the SSL term, whose random views/noise are drawn
    from the same seed in every evaluation so that the losses are deterministic functions of
    :math:`\theta`). Negatives are fixed per interaction (seeded). :math:`\mathbf{H}^{-1}v`
    uses the shared solvers of :mod:`~torch_geometric_unlearn.influence` (LiSSA with GIF's
    defaults, or CG) with Hessian-vector products by double back-propagation; memory is that
    of one full-batch training step plus its double-backward graph.

    Guarantee: **approximate**. As the UnlearnRec paper reports, the first-order estimate
    under-shoots on SSL backbones (MI-NG below 1 in its Table 2).

    Args:
        iterations (int, optional): LiSSA steps / CG iterations. (default: :obj:`100`)
        scale (float, optional): LiSSA scale. (default: :obj:`500.0`)
        damp (float, optional): LiSSA damping; CG uses :math:`\text{damp}\cdot\text{scale}`.
            (default: :obj:`0.0`)
        solver (str, optional): :obj:`"lissa"` or :obj:`"cg"`. (default: :obj:`"lissa"`)
        num_hops (int, optional): Hops of the influenced set. (default: :obj:`None`)
        auto_scale (bool, optional): If LiSSA diverges at :obj:`scale` (a summed-loss Hessian
            eigenvalue above :math:`2\cdot\text{scale}`, e.g. SimGCL on MovieLens-100K:
            about 1450), retry once with scale :math:`4\,|\hat\lambda|_{\max}` from 20 power
            iterations (margin for the negative curvature of the non-convex BPR loss, which
            also makes the recursion grow; recorded as :obj:`extras['scale_used']`).
            (default: :obj:`True`)
        seed (int, optional): Seed of negatives and SSL randomness (default: the task's).
    """
    exact = False
    certified = False
    tasks = ('recommendation', )
    request_types = ('interaction', 'edge', 'node')

    def __init__(self, iterations: int = 100, scale: float = 500.0, damp: float = 0.0,
                 solver: str = 'lissa', num_hops: Optional[int] = None,
                 auto_scale: bool = True, seed: Optional[int] = None) -> None:
        super().__init__()
        if solver not in ('lissa', 'cg'):
            raise ValueError(f"solver must be 'lissa' or 'cg', got {solver!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f'iterations must be a non-negative int, got {iterations!r}')
        if not scale > 0 or not 0.0 <= damp < 1.0:
            raise ValueError(f'need scale > 0 and damp in [0, 1), got {scale} and {damp}')
        if num_hops is not None and num_hops < 0:
            raise ValueError(f'num_hops must be non-negative, got {num_hops}')
        self.iterations, self.scale, self.damp = iterations, float(scale), float(damp)
        self.solver, self.num_hops, self.seed = solver, num_hops, seed
        self.auto_scale = bool(auto_scale)

    @property
    def name(self) -> str:
        return 'GIF-Rec'

    @staticmethod
    def influenced(train: Tensor, removed: Tensor, num_users: int, num_items: int,
                   hops: int) -> Tensor:
        r"""Boolean mask over :obj:`train` interactions with an endpoint within :obj:`hops`
        hops of a removed interaction's endpoints (vectorised frontier expansion)."""
        U = num_users
        reach = torch.zeros(U + num_items, dtype=torch.bool, device=train.device)
        reach[removed[0]] = True
        reach[removed[1] + U] = True
        u, i = train[0], train[1] + U
        for _ in range(hops):
            new = reach.clone()
            new[i[reach[u]]] = True
            new[u[reach[i]]] = True
            if torch.equal(new, reach):
                break
            reach = new
        return reach[u] | reach[i]

    def _summed_loss(self, model, adj, ctx_edges, users, pos, neg, x0, seed) -> Tensor:
        if users.numel() == 0:
            return x0.sum() * 0.
        gen = make_generator(seed, x0.device)
        ctx = model.loss_context(ctx_edges, gen)
        return users.numel() * model.loss(adj, users, pos, neg, x0=x0, generator=gen,
                                          edge_index=ctx_edges, **ctx)

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        check_backbone(model, self.name)
        task = self._require_task()
        seed = int(self.seed if self.seed is not None else getattr(task, 'seed', 0))
        U, I = num_users_items(data)
        device = model_device(model)
        retained = request.apply(data)
        train = get_interactions(data, 'train').to(device)
        removed = removed_interactions(data, retained).to(device)
        if removed.size(1) == 0:
            raise ValueError(f'{self.name}: the request removes no training interaction')
        kept = get_interactions(retained, 'train').to(device)
        hops = self.num_hops if self.num_hops is not None else model.num_layers
        infl = kept[:, self.influenced(kept, removed, U, I, hops)]
        neg_all = NegativeSampler(train, I)(train[0], make_generator(seed, device))
        # Fixed negatives per interaction, looked up by key so every loss uses the same ones.
        keys_all = interaction_keys(train, I)
        order = torch.argsort(keys_all)

        def negatives(pairs: Tensor) -> Tensor:
            pos = torch.searchsorted(keys_all[order], interaction_keys(pairs, I))
            return neg_all[order[pos]]

        adj_g, adj_r = bipartite_norm_adj(train, U, I), bipartite_norm_adj(kept, U, I)
        theta = torch.nn.Parameter(model.embedding.weight.detach().clone())
        was = model.training
        model.eval()
        frozen = [p for p in model.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            both = torch.cat([infl, removed], dim=1)
            l1 = self._summed_loss(model, adj_g, train, both[0], both[1], negatives(both),
                                   theta, seed)
            g1 = torch.autograd.grad(l1, theta)[0]
            l2 = self._summed_loss(model, adj_r, kept, infl[0], infl[1], negatives(infl),
                                   theta, seed)
            g2 = torch.autograd.grad(l2, theta, allow_unused=True)[0]
            v = g1 - (torch.zeros_like(g1) if g2 is None else g2)
            full = self._summed_loss(model, adj_g, train, train[0], train[1], neg_all, theta,
                                     seed)
            hvp_fn = make_hvp_fn(full, [theta])
            scale = self.scale
            if self.solver == 'lissa':
                try:
                    delta, info = inverse_hvp_lissa(hvp_fn, (v, ), damp=self.damp,
                                                    scale=scale, iterations=self.iterations,
                                                    return_info=True)
                    if not torch.isfinite(delta[0]).all():
                        raise RuntimeError('LiSSA returned a non-finite estimate')
                except RuntimeError:  # diverged: the summed-loss Hessian outgrew the scale
                    if not self.auto_scale:
                        raise
                    scale = max(self.scale, 4.0 * top_eigenvalue(hvp_fn, theta))
                    delta, info = inverse_hvp_lissa(hvp_fn, (v, ), damp=self.damp,
                                                    scale=scale, iterations=self.iterations,
                                                    return_info=True)
            else:
                delta, info = inverse_hvp_cg(hvp_fn, (v, ), damping=self.damp * self.scale,
                                             max_iter=self.iterations, return_info=True)
            del hvp_fn
        finally:
            for p in frozen:
                p.requires_grad_(True)
            model.train(was)
        if not torch.isfinite(delta[0]).all():
            raise RuntimeError(f'{self.name}: the inverse-HVP estimate is not finite; use a '
                               'larger scale, fewer iterations or damping')
        new_x0 = theta.detach() + delta[0]
        gone = removed_node_ids(data, request)
        if gone is not None:
            new_x0[gone.to(device)] = 0.
        extras = {'influenced_interactions': int(infl.size(1)),
                  'removed_interactions': int(removed.size(1)), 'num_hops': hops,
                  'v_norm': float(v.norm()), 'update_norm': float(delta[0].norm()),
                  'solver': self.solver, 'solver_iterations': info['iterations'],
                  'scale_used': scale}
        return self.make_result(with_embeddings(model, new_x0), retained, request,
                                extras=extras)

    def __repr__(self) -> str:
        return (f'{self.name}(iterations={self.iterations}, scale={self.scale}, '
                f'damp={self.damp}, solver={self.solver!r})')


# RecEraser-style partition baseline ############################################

class ShardedRecommender(torch.nn.Module):
    r"""The RecEraser recommender: :obj:`model(adj)` returns the aggregated final embeddings
    :obj:`[U+I, d]` of the shard models, each propagated on **its own shard's** interactions
    (kept as buffers; the :obj:`adj` argument of the task is ignored). Aggregation (RecEraser's
    attention, per node): :math:`\mathbf{e} = \sum_k a_k\mathbf{e}^{(k)}`,
    :math:`a_k = \mathrm{softmax}_k(\mathbf{q}^\top\tanh(\mathbf{W}\mathbf{e}^{(k)} +
    \mathbf{b}))`, or the plain mean.

    Args:
        models (Sequence[torch.nn.Module]): One backbone per shard.
        shards (Sequence[torch.Tensor]): Interactions :obj:`[2, E_k]` of every shard.
        aggregation (str, optional): :obj:`"attention"` or :obj:`"mean"`.
            (default: :obj:`"attention"`)
    """

    def __init__(self, models: Sequence[torch.nn.Module], shards: Sequence[Tensor],
                 aggregation: str = 'attention') -> None:
        super().__init__()
        if aggregation not in ('attention', 'mean'):
            raise ValueError(f"aggregation must be 'attention' or 'mean', got {aggregation!r}")
        self.models = torch.nn.ModuleList(models)
        first = self.models[0]
        self.num_users, self.num_items = first.num_users, first.num_items
        self.embedding_dim, self.num_layers = first.embedding_dim, first.num_layers
        self.aggregation = aggregation
        for k, s in enumerate(shards):
            self.register_buffer(f'shard_{k}', s.detach().clone())
        d = self.embedding_dim
        self.att_lin = torch.nn.Linear(d, d)
        self.att_q = torch.nn.Parameter(torch.zeros(d))

    def shard(self, k: int) -> Tensor:
        return getattr(self, f'shard_{k}')

    def shard_embeddings(self) -> Tensor:
        r"""Final embeddings of every shard model :obj:`[k, U+I, d]` (no gradient)."""
        out = []
        with torch.no_grad():
            for k, m in enumerate(self.models):
                adj = bipartite_norm_adj(self.shard(k), self.num_users, self.num_items)
                out.append(m.propagate(adj))
        return torch.stack(out)

    def aggregate(self, embs: Tensor) -> Tensor:
        if self.aggregation == 'mean':
            return embs.mean(0)
        att = torch.tanh(self.att_lin(embs)) @ self.att_q  # [k, N]
        return (att.softmax(0).unsqueeze(-1) * embs).sum(0)

    def forward(self, adj: Any = None, edge_label_index: Optional[Tensor] = None) -> Tensor:
        emb = self.aggregate(self.shard_embeddings())
        if edge_label_index is None:
            return emb
        return (emb[edge_label_index[0]] * emb[edge_label_index[1]]).sum(-1)

    def score(self, emb: Tensor, users: Tensor, items: Tensor) -> Tensor:
        return (emb[users] * emb[items + self.num_users]).sum(-1)

    def loss(self, adj: Any, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             **kwargs: Any) -> Tensor:
        r"""BPR loss of the aggregated embeddings (trains the attention only)."""
        emb = self.aggregate(kwargs['shard_embeddings']) if 'shard_embeddings' in kwargs \
            else self(adj)
        return F.softplus(self.score(emb, users, neg_items)
                          - self.score(emb, users, pos_items)).mean()


class RecEraser(UnlearningAlgorithm):
    r"""RecEraser-style partition unlearning (Chen et al., "Recommendation Unlearning",
    WWW'22), as compared in UnlearnRec: the training interactions are split into
    :obj:`num_shards` balanced shards, one backbone (same architecture, fresh seeded
    initialisation, the task's training recipe) is trained per shard on that shard's
    interactions only, and an aggregator (RecEraser's attention, trained with BPR on the
    retained interactions with the shard models frozen) combines their embeddings.

    Partition: :obj:`"kmeans"` is RecEraser's interaction-based balanced partition (balanced
    k-means, :func:`~torch_geometric_unlearn.partition.balanced.bekm`, of the concatenated user
    and item embeddings of the trained model); :obj:`"random"` is SISA's uniform split.
    Unlearning removes the interactions from their shards, retrains the affected shards from
    scratch and retrains the aggregator.

    Guarantee: **exact** for the trained parameters (no shard model or aggregator ever sees a
    removed interaction after the request). Caveat shared with the paper: with
    :obj:`"kmeans"` the *assignment* of retained interactions to shards was computed from a
    model trained on all data.

    Args:
        num_shards (int, optional): Number of shards. (default: :obj:`4`)
        partition (str, optional): :obj:`"kmeans"` or :obj:`"random"`.
            (default: :obj:`"kmeans"`)
        aggregation (str, optional): :obj:`"attention"` or :obj:`"mean"`.
            (default: :obj:`"attention"`)
        aggregator_epochs (int, optional): Epochs of attention training.
            (default: :obj:`5`)
        seed (int, optional): Seed (default: the task's).
    """
    exact = True
    certified = False
    tasks = ('recommendation', )
    request_types = ('interaction', 'edge', 'node')

    def __init__(self, num_shards: int = 4, partition: str = 'kmeans',
                 aggregation: str = 'attention', aggregator_epochs: int = 5,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
            raise ValueError(f'num_shards must be a positive int, got {num_shards!r}')
        if partition not in ('kmeans', 'random'):
            raise ValueError(f"partition must be 'kmeans' or 'random', got {partition!r}")
        if aggregation not in ('attention', 'mean'):
            raise ValueError(f"aggregation must be 'attention' or 'mean', got {aggregation!r}")
        self.num_shards, self.partition, self.aggregation = num_shards, partition, aggregation
        self.aggregator_epochs, self.seed = aggregator_epochs, seed
        self.ensemble: Optional[ShardedRecommender] = None

    def _seed(self) -> int:
        return int(self.seed if self.seed is not None else getattr(self.task, 'seed', 0))

    @staticmethod
    def _shard_data(data: GraphData, shard: Tensor) -> HeteroData:
        U, I = num_users_items(data)
        out = HeteroData()
        out['user'].num_nodes, out['item'].num_nodes = U, I
        out['user', 'rates', 'item'].edge_index = shard
        out['item', 'rev_rates', 'user'].edge_index = shard.flip(0)
        return out

    def _train_shard(self, template: torch.nn.Module, data: GraphData, shard: Tensor,
                     k: int) -> torch.nn.Module:
        task = self._require_task()
        m = reinitialize(template, self._seed() * 1000 + k)
        if shard.size(1) > 0:
            task.train(m, self._shard_data(data, shard), seed=self._seed() * 1000 + k)
        m.eval()
        return m

    def _train_aggregator(self, ens: ShardedRecommender, train: Tensor) -> None:
        if ens.aggregation == 'mean' or self.aggregator_epochs == 0 or train.size(1) == 0:
            return
        task = self._require_task()
        gen = make_generator(self._seed(), train.device)
        sampler = NegativeSampler(train, ens.num_items)
        embs = ens.shard_embeddings()
        opt = torch.optim.Adam([ens.att_q, *ens.att_lin.parameters()],
                               lr=getattr(task, 'lr', 1e-3) * 10)
        bs = getattr(task, 'batch_size', 2048)
        for _ in range(self.aggregator_epochs):
            perm = torch.randperm(train.size(1), generator=gen, device=train.device)
            for start in range(0, perm.numel(), bs):
                b = perm[start:start + bs]
                users, pos = train[0, b], train[1, b]
                opt.zero_grad()
                loss = ens.loss(None, users, pos, sampler(users, gen), shard_embeddings=embs)
                loss.backward()
                opt.step()

    def _assign(self, model: torch.nn.Module, data: GraphData, train: Tensor) -> Tensor:
        U, I = num_users_items(data)
        if self.partition == 'random' or self.num_shards == 1:
            gen = make_generator(self._seed(), 'cpu')
            perm = torch.randperm(train.size(1), generator=gen)
            labels = torch.empty(train.size(1), dtype=torch.long)
            labels[perm] = torch.arange(train.size(1)) % self.num_shards
            return labels.to(train.device)
        from torch_geometric_unlearn.partition.balanced import bekm
        with torch.no_grad():
            emb = model.propagate(bipartite_norm_adj(train, U, I))
        feats = torch.cat([emb[train[0]], emb[train[1] + U]], dim=1)
        return bekm(feats, self.num_shards, seed=self._seed()).to(train.device)

    def fit(self, model: torch.nn.Module, data: GraphData) -> None:
        r"""Partitions the training interactions and trains one model per shard plus the
        aggregator (cost: about one full training plus the aggregator)."""
        check_backbone(model, self.name)
        device = model_device(model)
        train = get_interactions(data, 'train').to(device)
        labels = self._assign(model, data, train)
        shards = [train[:, labels == k] for k in range(self.num_shards)]
        template = copy.deepcopy(model)
        models = [self._train_shard(template, data, s, k) for k, s in enumerate(shards)]
        ens = ShardedRecommender(models, shards, self.aggregation).to(device)
        self._train_aggregator(ens, train)
        ens.eval()
        self.ensemble, self._template = ens, template
        self._fitted = True

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        if self.ensemble is None:
            raise RuntimeError(f'{self.name}.unlearn() called before fit(model, data)')
        U, I = num_users_items(data)
        retained = request.apply(data)
        removed = removed_interactions(data, retained)
        old = self.ensemble
        device = old.att_q.device
        rkeys = interaction_keys(removed, I).to(device)
        models: List[torch.nn.Module] = []
        shards: List[Tensor] = []
        affected = []
        for k, m in enumerate(old.models):
            s = old.shard(k)
            hit = torch.isin(interaction_keys(s, I), rkeys)
            if bool(hit.any()):
                affected.append(k)
                s = s[:, ~hit]
                m = self._train_shard(self._template, retained, s, k)
            else:
                m = copy.deepcopy(m)
            models.append(m)
            shards.append(s)
        ens = ShardedRecommender(models, shards, self.aggregation).to(device)
        self._train_aggregator(ens, get_interactions(retained, 'train').to(device))
        ens.eval()
        self.ensemble = ens
        return self.make_result(ens, retained, request,
                                extras={'affected_shards': affected,
                                        'retrained_shards': len(affected),
                                        'removed_interactions': int(removed.size(1))})

    def __repr__(self) -> str:
        return (f'{self.name}(num_shards={self.num_shards}, partition={self.partition!r}, '
                f'aggregation={self.aggregation!r})')

r"""Collaborative-filtering backbones on the user-item graph: LightGCN, SGL and SimGCL.

All three share one interface, which :class:`~torch_geometric_unlearn.task.RecommendationTask`
and the unlearning algorithms rely on:

* node ids: users :obj:`0..U-1`, items :obj:`U..U+I-1` (PyG's homogeneous LightGCN layout);
* a single :class:`torch.nn.Embedding` :obj:`embedding` holding :math:`\mathbf{E}_0`
  (:obj:`[U+I, d]`);
* :obj:`model(adj)` returns the final embeddings :obj:`[U+I, d]`, where :obj:`adj` is the
  normalised adjacency of :func:`~torch_geometric_unlearn.nn.sparse.bipartite_norm_adj`
  (fast path) or a homogeneous undirected :obj:`edge_index` (PyG's
  :class:`~torch_geometric.nn.conv.LGConv` message passing; same values, much slower);
* :meth:`propagate(adj, x0) <LightGCN.propagate>` runs the backbone from any
  :math:`\mathbf{E}_0` (UnlearnRec feeds :math:`\tilde{\mathbf{E}}_0 = \mathbf{E}_0 +
  \delta`);
* :meth:`loss(adj, users, pos_items, neg_items, **kwargs) <LightGCN.loss>`: BPR + L2 on the
  batch's :math:`\mathbf{E}_0` rows (+ the model's self-supervised term), user and item ids
  *local* (items in :obj:`[0, I)`);
* :meth:`loss_context(edge_index, generator) <LightGCN.loss_context>`: per-epoch extra
  keyword arguments of :meth:`loss` (SGL's two edge-dropout views);
* every random draw goes through a :class:`torch.Generator` argument.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from torch_geometric_unlearn.nn.sparse import bipartite_norm_adj, drop_interactions, sym_spmm

#: Names accepted by :func:`build_recsys_model`.
RECSYS_MODELS = ('lightgcn', 'sgl', 'simgcl')


def _is_sparse_adj(adj: Tensor) -> bool:
    return isinstance(adj, Tensor) and adj.layout != torch.strided


def info_nce(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    r"""InfoNCE between two views (rows are matching pairs, other rows are negatives) with
    cosine similarity: :math:`-\frac{1}{n}\sum_i \log \frac{\exp(s(z^1_i, z^2_i)/\tau)}
    {\sum_j \exp(s(z^1_i, z^2_j)/\tau)}`.

    Args:
        z1 (torch.Tensor): First view :obj:`[n, d]`.
        z2 (torch.Tensor): Second view :obj:`[n, d]`.
        temperature (float): Temperature :math:`\tau`.
    """
    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    logits = z1 @ z2.t() / temperature
    return F.cross_entropy(logits, torch.arange(z1.size(0), device=z1.device))


class LightGCN(PyGLightGCN):
    r"""LightGCN from `"LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation" <https://arxiv.org/abs/2002.02126>`_ (He et al., SIGIR'20), on a bipartite
    user-item graph:

    .. math::
        \mathbf{E} = \sum_{l=0}^{L} \alpha_l \bar{\mathbf{A}}^l \mathbf{E}_0, \qquad
        \hat{y}_{ui} = \mathbf{e}_u^{\top} \mathbf{e}_i, \qquad
        \alpha_l = \tfrac{1}{L+1},

    with :math:`\bar{\mathbf{A}} = \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` (no self-loops),
    trained with BPR + :math:`\lambda \cdot \tfrac{1}{2B}\sum \|\mathbf{e}^{(0)}\|^2` over the
    batch's users, positive and negative items (the official implementation's regulariser).

    Derives from :class:`torch_geometric.nn.models.LightGCN` (same :obj:`embedding`,
    :obj:`alpha` and :obj:`convs` and thus the same :obj:`state_dict` layout; PyG's
    :meth:`recommend` and :meth:`recommendation_loss` keep working). Propagation with a
    :obj:`torch.sparse` adjacency uses :func:`~torch_geometric_unlearn.nn.sparse.sym_spmm`
    (10-19x faster per training step than :class:`LGConv` message passing on CPU, see
    :mod:`~torch_geometric_unlearn.nn.sparse`); a dense :obj:`edge_index` is routed through
    PyG's :class:`LGConv` layers. The adjacency is never cached: pass the one of the current
    (possibly unlearned) graph at every call.

    .. note::
        Unlike PyG's :meth:`forward`, which scores all edges of :obj:`edge_index` when
        :obj:`edge_label_index` is :obj:`None`, :obj:`model(adj)` returns the final node
        embeddings.

    Args:
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
        embedding_dim (int, optional): Embedding size :math:`d`. (default: :obj:`64`)
        num_layers (int, optional): Propagation layers :math:`L`. (default: :obj:`3`)
        reg_weight (float, optional): L2 weight :math:`\lambda` on the batch's
            :math:`\mathbf{E}_0` rows. (default: :obj:`1e-4`)
        init (str, optional): :obj:`"normal"` (:math:`\mathcal{N}(0, \sigma^2)`, the official
            LightGCN code) or :obj:`"xavier"` (Xavier-uniform, PyG's default).
            (default: :obj:`"normal"`)
        init_std (float, optional): :math:`\sigma` of the normal initialisation.
            (default: :obj:`0.1`)
        alpha (float or torch.Tensor, optional): Layer weights :math:`\alpha_l`; default
            :math:`1/(L+1)` (mean over layers). (default: :obj:`None`)
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 64,
                 num_layers: int = 3, reg_weight: float = 1e-4, init: str = 'normal',
                 init_std: float = 0.1, alpha: Optional[float | Tensor] = None) -> None:
        if init not in ('normal', 'xavier'):
            raise ValueError(f"init must be 'normal' or 'xavier' (got '{init}')")
        self.init, self.init_std = init, init_std  # read by reset_parameters in super init
        super().__init__(num_users + num_items, embedding_dim, num_layers, alpha=alpha)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.reg_weight = reg_weight

    def reset_parameters(self) -> None:
        r"""Re-initialises :math:`\mathbf{E}_0` (from the global RNG)."""
        if self.init == 'normal':
            torch.nn.init.normal_(self.embedding.weight, std=self.init_std)
        else:
            torch.nn.init.xavier_uniform_(self.embedding.weight)

    # Propagation ############################################################

    def propagate(self, adj: Tensor, x0: Optional[Tensor] = None,
                  edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Final embeddings :math:`\sum_l \alpha_l \bar{\mathbf{A}}^l \mathbf{X}_0`.

        Args:
            adj (torch.Tensor): Normalised sparse adjacency :obj:`[U+I, U+I]` or homogeneous
                undirected :obj:`edge_index`.
            x0 (torch.Tensor, optional): Layer-0 embeddings :obj:`[U+I, d]`; default
                :obj:`self.embedding.weight`. (default: :obj:`None`)
            edge_weight (torch.Tensor, optional): Edge weights (edge_index path only).
                (default: :obj:`None`)
        """
        x = self.embedding.weight if x0 is None else x0
        out = x * self.alpha[0]
        sparse = _is_sparse_adj(adj)
        for layer in range(self.num_layers):
            x = sym_spmm(adj, x) if sparse else self.convs[layer](x, adj, edge_weight)
            out = out + x * self.alpha[layer + 1]
        return out

    def get_embedding(self, adj: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Final embeddings :obj:`[U+I, d]` (PyG's name for :meth:`propagate`)."""
        return self.propagate(adj, edge_weight=edge_weight)

    def forward(self, adj: Tensor, edge_label_index: Optional[Tensor] = None,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Final embeddings :obj:`[U+I, d]`, or, given :obj:`edge_label_index`
        (homogeneous node ids, :obj:`[2, M]`), the scores of those pairs."""
        emb = self.propagate(adj, edge_weight=edge_weight)
        if edge_label_index is None:
            return emb
        return (emb[edge_label_index[0]] * emb[edge_label_index[1]]).sum(dim=-1)

    def predict_link(self, edge_index: Tensor, edge_label_index: Optional[Tensor] = None,
                     edge_weight: Optional[Tensor] = None, prob: bool = False) -> Tensor:
        r"""PyG's :meth:`predict_link` (homogeneous ids); with a sparse adjacency,
        :obj:`edge_label_index` is required."""
        if edge_label_index is None:
            if _is_sparse_adj(edge_index):
                raise ValueError('edge_label_index is required with a sparse adjacency')
            edge_label_index = edge_index
        pred = self(edge_index, edge_label_index, edge_weight).sigmoid()
        return pred if prob else pred.round()

    def split(self, emb: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Splits :obj:`[U+I, d]` embeddings into (user :obj:`[U, d]`, item :obj:`[I, d]`)."""
        return emb[:self.num_users], emb[self.num_users:]

    def score(self, emb: Tensor, users: Tensor, items: Tensor) -> Tensor:
        r"""Scores :math:`\mathbf{e}_u^{\top}\mathbf{e}_i` of matching (user, item) pairs
        (local item ids in :obj:`[0, I)`)."""
        return (emb[users] * emb[items + self.num_users]).sum(dim=-1)

    def rating(self, emb: Tensor, users: Tensor) -> Tensor:
        r"""Scores :obj:`[len(users), I]` of :obj:`users` against every item."""
        return emb[users] @ emb[self.num_users:].t()

    def build_adj(self, edge_index: Tensor) -> Tensor:
        r"""Normalised adjacency of the interactions :obj:`edge_index` (user, local item)."""
        return bipartite_norm_adj(edge_index, self.num_users, self.num_items)

    # Losses #################################################################

    def bpr_loss(self, emb: Tensor, users: Tensor, pos_items: Tensor,
                 neg_items: Tensor) -> Tensor:
        r"""Mean BPR loss :math:`-\log\sigma(\hat{y}_{ui^+} - \hat{y}_{ui^-})`."""
        pos = self.score(emb, users, pos_items)
        neg = self.score(emb, users, neg_items)
        return F.softplus(neg - pos).mean()

    def reg_loss(self, x0: Tensor, users: Tensor, pos_items: Tensor,
                 neg_items: Tensor) -> Tensor:
        r""":math:`\lambda \cdot \frac{1}{2B}(\|\mathbf{E}_0[u]\|^2 + \|\mathbf{E}_0[i^+]\|^2
        + \|\mathbf{E}_0[i^-]\|^2)` over the batch."""
        U = self.num_users
        sq = (x0[users].pow(2).sum() + x0[pos_items + U].pow(2).sum()
              + x0[neg_items + U].pow(2).sum())
        return self.reg_weight * 0.5 * sq / max(users.numel(), 1)

    def loss_context(self, edge_index: Tensor,
                     generator: Optional[torch.Generator] = None) -> Dict[str, Any]:
        r"""Extra keyword arguments of :meth:`loss` drawn once per epoch from the training
        interactions :obj:`edge_index` (none for LightGCN)."""
        return {}

    def loss(self, adj: Tensor, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             x0: Optional[Tensor] = None, emb: Optional[Tensor] = None,
             **kwargs: Any) -> Tensor:
        r"""BPR + L2 loss of a batch of (user, positive item, negative item) triples.

        Args:
            adj (torch.Tensor): Normalised adjacency of the training graph.
            users (torch.Tensor): User ids :obj:`[B]`.
            pos_items (torch.Tensor): Positive item ids :obj:`[B]` in :obj:`[0, I)`.
            neg_items (torch.Tensor): Negative item ids :obj:`[B]` in :obj:`[0, I)`.
            x0 (torch.Tensor, optional): Layer-0 embeddings replacing
                :obj:`self.embedding.weight` (both in propagation and regularisation).
                (default: :obj:`None`)
            emb (torch.Tensor, optional): The clean final embeddings
                :obj:`self.propagate(adj, x0)`, when the caller already has them (e.g. for a
                second loss on the same forward pass): saves one propagation. The caller
                guarantees they match :obj:`adj` and :obj:`x0`. (default: :obj:`None`)
            **kwargs: Ignored (accepted so that every backbone takes the same arguments,
                e.g. :obj:`edge_index`, :obj:`generator`).
        """
        x0 = self.embedding.weight if x0 is None else x0
        emb = self.propagate(adj, x0) if emb is None else emb
        return (self.bpr_loss(emb, users, pos_items, neg_items)
                + self.reg_loss(x0, users, pos_items, neg_items))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items}, embedding_dim={self.embedding_dim}, '
                f'num_layers={self.num_layers})')


class SGL(LightGCN):
    r"""Self-supervised Graph Learning (SGL-ED) from `"Self-supervised Graph Learning for
    Recommendation" <https://arxiv.org/abs/2010.10783>`_ (Wu et al., SIGIR'21): LightGCN plus
    an InfoNCE loss between two edge-dropout views of the interaction graph,

    .. math::
        \mathcal{L} = \mathcal{L}_{\mathrm{BPR}} + \lambda_{\mathrm{reg}}\|\Theta\|^2 +
        \lambda_{\mathrm{ssl}}\left(\mathcal{L}^{\mathrm{user}}_{\mathrm{NCE}}
        + \mathcal{L}^{\mathrm{item}}_{\mathrm{NCE}}\right),

    where each view keeps every training interaction with probability
    :math:`1-\rho` and is renormalised, and the InfoNCE (cosine similarity, temperature
    :math:`\tau`) contrasts the final embeddings of the batch's unique users (resp. unique
    positive items) across the views, the other in-batch nodes being negatives (as in the
    SELFRec implementation used by UnlearnRec's baselines). Views are redrawn once per epoch
    (:meth:`loss_context`, called by the task) or at each :meth:`loss` call given
    :obj:`edge_index`.

    .. note::
        The defaults (:math:`\lambda_{\mathrm{ssl}} = 10^{-3}`, :math:`\tau = 0.1`,
        :math:`\rho = 0.5`) are the SGL configuration of SSLRec, the framework of the
        UnlearnRec authors (HKUDS). The SGL paper's values for its large sparse datasets
        (:math:`\lambda_{\mathrm{ssl}} = 0.1`, :math:`\tau = 0.2`, :math:`\rho = 0.1`) let
        the InfoNCE term dominate BPR on small dense graphs: on MovieLens-100K, Recall@20
        0.041 after 10 epochs (LightGCN 0.255; the SSLRec values 0.259), and 0.09 vs 0.52 for
        LightGCN on :obj:`powerlaw_bipartite(150, 200, 4000)`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int, optional): Embedding size. (default: :obj:`64`)
        num_layers (int, optional): Propagation layers. (default: :obj:`3`)
        ssl_weight (float, optional): :math:`\lambda_{\mathrm{ssl}}`. (default: :obj:`1e-3`)
        ssl_temp (float, optional): Temperature :math:`\tau`. (default: :obj:`0.1`)
        drop_ratio (float, optional): Edge-dropout ratio :math:`\rho`. (default: :obj:`0.5`)
        reg_weight (float, optional): L2 weight. (default: :obj:`1e-4`)
        **kwargs: :obj:`init`, :obj:`init_std`, :obj:`alpha` of :class:`LightGCN`.
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 64,
                 num_layers: int = 3, ssl_weight: float = 1e-3, ssl_temp: float = 0.1,
                 drop_ratio: float = 0.5, reg_weight: float = 1e-4, **kwargs: Any) -> None:
        super().__init__(num_users, num_items, embedding_dim, num_layers,
                         reg_weight=reg_weight, **kwargs)
        self.ssl_weight, self.ssl_temp, self.drop_ratio = ssl_weight, ssl_temp, drop_ratio

    def sample_views(self, edge_index: Tensor, generator: Optional[torch.Generator] = None
                     ) -> Tuple[Tensor, Tensor]:
        r"""Two normalised adjacencies of independent edge-dropout subgraphs of the training
        interactions :obj:`edge_index` (user, local item)."""
        return tuple(self.build_adj(drop_interactions(edge_index, self.drop_ratio, generator))
                     for _ in range(2))  # type: ignore[return-value]

    def loss_context(self, edge_index: Tensor,
                     generator: Optional[torch.Generator] = None) -> Dict[str, Any]:
        r"""Returns :obj:`{'views': (adj_1, adj_2)}` for this epoch."""
        if self.ssl_weight == 0:
            return {}
        return {'views': self.sample_views(edge_index, generator)}

    def ssl_loss(self, emb1: Tensor, emb2: Tensor, users: Tensor, items: Tensor) -> Tensor:
        r"""InfoNCE on the unique :obj:`users` plus InfoNCE on the unique :obj:`items` (local
        ids) between two views' final embeddings."""
        u = torch.unique(users)
        i = torch.unique(items) + self.num_users
        return (info_nce(emb1[u], emb2[u], self.ssl_temp)
                + info_nce(emb1[i], emb2[i], self.ssl_temp))

    def loss(self, adj: Tensor, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             x0: Optional[Tensor] = None, views: Optional[Tuple[Tensor, Tensor]] = None,
             edge_index: Optional[Tensor] = None,
             generator: Optional[torch.Generator] = None, emb: Optional[Tensor] = None,
             **kwargs: Any) -> Tensor:
        r"""BPR + L2 + :math:`\lambda_{\mathrm{ssl}}` InfoNCE.

        Args:
            adj, users, pos_items, neg_items, x0, emb: As in :meth:`LightGCN.loss`.
            views (Tuple[torch.Tensor, torch.Tensor], optional): The two augmented
                adjacencies (from :meth:`loss_context`). (default: :obj:`None`)
            edge_index (torch.Tensor, optional): Training interactions (user, local item),
                used to draw fresh views when :obj:`views` is not given. (default: :obj:`None`)
            generator (torch.Generator, optional): Randomness of the views.
                (default: :obj:`None`)
        """
        x0 = self.embedding.weight if x0 is None else x0
        loss = super().loss(adj, users, pos_items, neg_items, x0=x0, emb=emb)
        if self.ssl_weight == 0:
            return loss
        if views is None:
            if edge_index is None:
                raise ValueError('SGL.loss needs views=(adj_1, adj_2) or the training '
                                 'interactions edge_index=... to draw them')
            views = self.sample_views(edge_index, generator)
        emb1, emb2 = self.propagate(views[0], x0), self.propagate(views[1], x0)
        return loss + self.ssl_weight * self.ssl_loss(emb1, emb2, users, pos_items)


class SimGCL(LightGCN):
    r"""SimGCL from `"Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for
    Recommendation" <https://arxiv.org/abs/2112.08679>`_ (Yu et al., SIGIR'22). Two views are
    obtained by adding, after every propagation layer, a random uniform noise aligned with the
    sign of the embedding and of norm :math:`\epsilon`:

    .. math::
        \mathbf{E}_l' = \bar{\mathbf{A}}\mathbf{E}_{l-1}' + \epsilon \cdot
        \mathrm{sign}(\bar{\mathbf{A}}\mathbf{E}_{l-1}') \odot
        \frac{\mathbf{\Delta}}{\|\mathbf{\Delta}\|_2},
        \quad \mathbf{\Delta} \sim \mathcal{U}(0, 1),

    and an InfoNCE on the batch's unique users and unique positive items between the two noisy
    final embeddings is added to BPR + L2 (computed on the clean propagation). The final
    embedding averages layers :math:`0..L` (:obj:`include_layer0=True`, as in the UnlearnRec
    authors' SSLRec implementation); :obj:`include_layer0=False` skips :math:`\mathbf{E}_0`
    as in the SimGCL paper and SELFRec.

    .. note::
        The defaults (:math:`\lambda = 0.01`, :math:`\tau = 0.1`, :math:`\epsilon = 0.2`,
        :math:`\mathbf{E}_0` included) are the SimGCL configuration of SSLRec, the framework
        of the UnlearnRec authors (HKUDS). The SimGCL paper's values for its large sparse
        datasets (:math:`\lambda = 0.5`, :math:`\tau = 0.2`, :math:`\epsilon = 0.1`,
        :math:`\mathbf{E}_0` skipped) collapse on small dense graphs: on MovieLens-100K the
        propagated embeddings have norm ~0.05 at initialisation (each is an average of ~50
        random neighbours), so the BPR gradient (:math:`\propto \|\mathbf{e}\|`) is ~2000x
        smaller than the cosine InfoNCE's (:math:`\propto 1/(\tau\|\mathbf{z}\|)`); Adam
        follows the uniformity term, which spreads users and items over the sphere and erases
        the popularity component, and Recall@20 stays at ~0.06 (most-popular: 0.17,
        LightGCN: 0.31). Both the smaller :math:`\lambda` and keeping :math:`\mathbf{E}_0`
        (whose norm does not shrink with the degree) are needed: Recall@20 after 10 epochs is
        0.058 (paper values), 0.098 (:math:`\lambda = 0.01`), 0.299 (:math:`\lambda = 0.01`
        with :math:`\mathbf{E}_0`) and 0.314 (these defaults), LightGCN 0.255.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int, optional): Embedding size. (default: :obj:`64`)
        num_layers (int, optional): Propagation layers. (default: :obj:`3`)
        eps (float, optional): Noise magnitude :math:`\epsilon`. (default: :obj:`0.2`)
        ssl_weight (float, optional): Contrastive weight :math:`\lambda`. (default: :obj:`0.01`)
        ssl_temp (float, optional): Temperature :math:`\tau`. (default: :obj:`0.1`)
        reg_weight (float, optional): L2 weight. (default: :obj:`1e-4`)
        include_layer0 (bool, optional): Average layers :math:`0..L`; :obj:`False` averages
            :math:`1..L` (the SimGCL paper). (default: :obj:`True`)
        **kwargs: :obj:`init`, :obj:`init_std` of :class:`LightGCN`.
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 64,
                 num_layers: int = 3, eps: float = 0.2, ssl_weight: float = 0.01,
                 ssl_temp: float = 0.1, reg_weight: float = 1e-4, include_layer0: bool = True,
                 **kwargs: Any) -> None:
        if 'alpha' not in kwargs and not include_layer0:
            kwargs['alpha'] = torch.tensor([0.] + [1. / num_layers] * num_layers)
        super().__init__(num_users, num_items, embedding_dim, num_layers,
                         reg_weight=reg_weight, **kwargs)
        self.eps, self.ssl_weight, self.ssl_temp = eps, ssl_weight, ssl_temp
        self.include_layer0 = include_layer0

    def propagate(self, adj: Tensor, x0: Optional[Tensor] = None,
                  edge_weight: Optional[Tensor] = None, perturbed: bool = False,
                  generator: Optional[torch.Generator] = None) -> Tensor:
        r"""Final embeddings; with :obj:`perturbed=True`, the noisy view (noise drawn from
        :obj:`generator`)."""
        x = self.embedding.weight if x0 is None else x0
        out = x * self.alpha[0]
        sparse = _is_sparse_adj(adj)
        for layer in range(self.num_layers):
            x = sym_spmm(adj, x) if sparse else self.convs[layer](x, adj, edge_weight)
            if perturbed and self.eps > 0:
                noise = torch.rand(x.shape, generator=generator, device=x.device,
                                   dtype=x.dtype)
                x = x + torch.sign(x) * F.normalize(noise, dim=-1) * self.eps
            out = out + x * self.alpha[layer + 1]
        return out

    def ssl_loss(self, emb1: Tensor, emb2: Tensor, users: Tensor, items: Tensor) -> Tensor:
        r"""InfoNCE on unique users plus InfoNCE on unique items between two views."""
        u = torch.unique(users)
        i = torch.unique(items) + self.num_users
        return (info_nce(emb1[u], emb2[u], self.ssl_temp)
                + info_nce(emb1[i], emb2[i], self.ssl_temp))

    def loss(self, adj: Tensor, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             x0: Optional[Tensor] = None, generator: Optional[torch.Generator] = None,
             emb: Optional[Tensor] = None, **kwargs: Any) -> Tensor:
        r"""BPR + L2 on the clean propagation + :math:`\lambda` InfoNCE between two noisy
        propagations (noise from :obj:`generator`). Other arguments (:obj:`emb`: the clean
        propagation, if already computed) as in :meth:`LightGCN.loss`."""
        x0 = self.embedding.weight if x0 is None else x0
        loss = super().loss(adj, users, pos_items, neg_items, x0=x0, emb=emb)
        if self.ssl_weight == 0:
            return loss
        emb1 = self.propagate(adj, x0, perturbed=True, generator=generator)
        emb2 = self.propagate(adj, x0, perturbed=True, generator=generator)
        return loss + self.ssl_weight * self.ssl_loss(emb1, emb2, users, pos_items)


def build_recsys_model(name: str, num_users: int, num_items: int, embedding_dim: int = 64,
                       num_layers: int = 3, **kwargs: Any) -> LightGCN:
    r"""Builds a recommendation backbone by name.

    Args:
        name (str): :obj:`"lightgcn"`, :obj:`"sgl"` or :obj:`"simgcl"`.
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int, optional): Embedding size. (default: :obj:`64`)
        num_layers (int, optional): Propagation layers. (default: :obj:`3`)
        **kwargs: Model-specific arguments (e.g. :obj:`ssl_weight`, :obj:`eps`).
    """
    key = name.lower()
    cls = {'lightgcn': LightGCN, 'sgl': SGL, 'simgcl': SimGCL}.get(key)
    if cls is None:
        raise ValueError(f"unknown recommendation model '{name}' (expected one of "
                         f'{RECSYS_MODELS})')
    return cls(num_users, num_items, embedding_dim, num_layers, **kwargs)

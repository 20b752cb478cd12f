r"""SGU: scalable graph unlearning by entity-specific fine-tuning guided by node influence
maximisation (NIM) (Li et al.; appendix: ../shared/papers/nim-sgu-scalable-graph-unlearning-
appendix.txt, ALGORITHMS.md section 6)."""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.influence.nim import NIM, propagate_features, unlearning_entities
from torch_geometric_unlearn.influence.sparse import (cached_csr, csr_of, csr_rows,
                                                      dense_to_csr, drop_entries,
                                                      resolve_sparse_features, sparse_mode,
                                                      transpose_csr, with_features)
from torch_geometric_unlearn.nn.sparse import csr_tensor
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.task.node import sgc_features

#: ``fn(data, request, model, task) -> LongTensor`` of highly influenced node ids.
SelectorFn = Callable[[GraphData, UnlearningRequest, torch.nn.Module, Any], Tensor]


class SGCPropagation(NamedTuple):
    r"""SGU's propagated features :math:`\hat{A}^K X` of the current graph for the library's
    SGC (:attr:`prop`), with the graph tensors (and their versions) they were computed from;
    audited (:mod:`~torch_geometric_unlearn.audit`) against a fresh propagation of the
    retained graph."""
    edge_index: Tensor
    edge_index_version: int
    x: Tensor
    x_version: int
    prop: Tensor
    num_hops: int

    @classmethod
    def of(cls, data: Any, prop: Tensor, num_hops: int) -> 'SGCPropagation':
        return cls(data.edge_index, data.edge_index._version, data.x, data.x._version, prop,
                   num_hops)

    def holds(self, data: Any) -> bool:
        r"""Whether it was computed from :obj:`data`'s (unmodified) tensors."""
        return self.edge_index is data.edge_index and self.x is data.x and \
            self.edge_index_version == data.edge_index._version and \
            self.x_version == data.x._version


class _BestEpoch:
    r"""Validation-based selection of the fine-tuned weights: keeps the state of the epoch
    with the largest key (forgotten first, then validation utility) and says when
    :obj:`patience` epochs passed without a better one."""

    def __init__(self, patience: Optional[int]) -> None:
        self.patience = patience
        self.key: Optional[tuple] = None
        self.epoch = -1
        self.state: Optional[dict] = None

    def offer(self, key: tuple, epoch: int, model: torch.nn.Module) -> bool:
        r"""Records :obj:`model`'s state if :obj:`key` is the best so far; returns whether
        to stop."""
        if self.key is None or key > self.key:
            self.key, self.epoch = key, epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        return self.patience is not None and epoch - self.epoch >= self.patience

    @property
    def forgotten(self) -> bool:
        r"""Whether a *forgotten* epoch was offered (they rank first)."""
        return self.key is not None and bool(self.key[0])

    def restore(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.state)
        model.eval()


class SGU(UnlearningAlgorithm):
    r"""Scalable graph unlearning (SGU): entity-specific fine-tuning of the ORIGINAL trained
    model, guided by the highly influenced entities (HIE) of
    :class:`~torch_geometric_unlearn.influence.nim.NIM`.

    The request is first applied to the graph (:math:`G'`, removed edges and nodes gone; the
    authors' code leaves the graph unmodified: not copied). The unlearning entities (UE) are the
    removed nodes, the endpoints of removed edges or the feature-masked nodes (Eq. (9)); the HIE
    are chosen by :obj:`selector` (default :class:`NIM`) on the training graph. The model is
    then fine-tuned from its trained weights :math:`W_0` for :obj:`epochs` Adam steps on

    .. math::
        \mathcal{L} = \lambda \mathcal{L}_f + (1 - \lambda) \mathcal{L}_p,

    * **forget** :math:`\mathcal{L}_f` on the UE: node requests (default
      :obj:`forget_loss='match'`): the removed training nodes' predictions (on the
      training graph, computed exactly on their :math:`(K+1)`-hop subgraph: the data the
      model memorised and what a membership attacker queries) are pushed away from their
      labels *down to the level of never-trained nodes*: their true-class log-odds
      :math:`s_u = \log p_{y_u} - \log(1 - p_{y_u})`, sorted, are matched (smooth
      :math:`\ell_1`) to the mid-quantiles of the validation nodes' log-odds under the
      original weights on :math:`G'` (a 1-D optimal-transport match of the two confidence
      distributions: Retrain makes removed nodes look like nodes it never trained on, and
      pushing further makes them look *less* confident than unseen nodes, i.e.
      over-forgetting an attacker also detects), plus a pull of the removed nodes still above
      their target toward the mean prototype of the other classes (the expectation of a
      shuffled label). :obj:`'away'` (:math:`-\log(1 - p_{y_u})` while the mean confidence
      is above the validation nodes') and :obj:`'shuffled'` (cross-entropy against a seeded
      uniformly drawn other class; teaches wrong labels that accumulate over a stream, issue
      8) are the earlier one-sided objectives. Edge/feature requests (the UE stay in the
      graph): KL from the UE's predictions on :math:`G'` to the original weights'
      predictions on :math:`G'` (the knowledge carried by the removed edges/features is the
      gap between the two);
    * **preserve** :math:`\mathcal{L}_p` on HIE and the rest, all on :math:`G'`: KL to the
      original model's soft labels (on :math:`G'`), optionally the cross-entropy of the
      retained training nodes (:obj:`ce_weight`; not in the paper),
      :math:`\alpha_W \|W - W_0\|^2`, and an InfoNCE contrastive term pulling each HIE's
      embedding toward its class prototype (mean embedding of unaffected training nodes, i.e.
      neither UE nor HIE) and away from the removed entities' original embeddings:

      .. math::
          -\log \frac{e^{s(h_v, c_{y_v})/\tau}}{e^{s(h_v, c_{y_v})/\tau} +
          \sum_{u \in U} e^{s(h_v, z_u)/\tau}}

      (:math:`s` = cosine; the authors' code multiplies the two exponentials, which pulls toward
      both anchors: not copied).

    Embeddings are the model outputs (logits), so any PyG node classifier works. Dropout is off
    during fine-tuning (deterministic; one forward per epoch on :math:`G'` both scores the
    current weights on the validation nodes and gives the losses; the epoch-0 forward is the
    teacher, so no extra inference). The NIM selector reuses the original model's soft labels
    on :math:`G` (computed once for the UE anchors) and propagates features only around the
    UE. With the library's :class:`~torch_geometric_unlearn.nn.node.SGC` (logits
    :math:`\hat{A}^K X W`), SGU keeps :math:`\hat{A}^K X` of the current graph (built at
    :meth:`fit`, never saved) and per request recomputes only its rows within :math:`K` hops
    of the nodes the request changed (exact; the removed nodes' rows become zero), takes the
    removed training nodes' rows on :math:`G` from it, and trains the linear layer alone:
    the propagation grows with the request's neighbourhood, not with the graph (link
    prediction too: the rows around the removed edges are recomputed). The epoch is
    selected by **validation** accuracy on :math:`G'` (ties: lower validation
    loss) among the fine-tuned epochs :math:`1..E` (never the untouched original weights,
    never on test); node requests rank *forgotten* epochs first (the removed nodes'
    confidences within :obj:`forget_tolerance` of the never-trained reference), but only
    those whose validation accuracy is within :obj:`utility_tolerance` of the un-fine-tuned
    weights' on :math:`G'` (otherwise every request of a stream may trade a little accuracy
    for forgetting, and it accumulates). While no epoch is forgotten, fine-tuning goes on past
    :obj:`epochs`, up to :obj:`max_epochs`, and stops at the first forgotten one (SGC's single
    linear layer needs 12-17 steps on a Cora request where a GCN mostly needs 1-5: with five
    steps and no forgotten epoch the selection returned the most accurate, barely fine-tuned
    weights).

    Guarantee: **approximate** (no certificate; forgetting is empirical, measured by MIA).
    Requests: node, edge, feature (node classification); edge (link prediction).

    Args:
        selector (callable, optional): HIE selector :obj:`fn(data, request, model, task)`;
            :obj:`None` uses :class:`NIM` with its defaults. (default: :obj:`None`)
        lam (float, optional): :math:`\lambda` in :math:`[0, 1]` (searched in the paper;
            0.1 keeps Cora's validation accuracy at the original's). (default: :obj:`0.1`)
        epochs (int, optional): Fine-tuning epochs (the paper uses 50; on Cora 5 steps at
            the training learning rate match Retrain's F1 and MIA AUC, see
            ``benchmarks/sgu/README.md``). (default: :obj:`5`)
        max_epochs (int, optional): While no epoch is *forgotten* (see
            :obj:`forget_tolerance`), fine-tuning continues past :obj:`epochs` up to this
            many steps and stops at the first forgotten epoch; :obj:`None` means
            :obj:`4 * epochs`, :obj:`epochs` turns the extension off. (default: :obj:`None`)
        lr (float, optional): Adam learning rate; :obj:`None` uses the task's. 5e-3 moves
            a 140-training-node model less (Cora public split, GCN: smaller F1 change, MIA
            AUC closer to Retrain's) but under-forgets SGC; see the README.
            (default: :obj:`1e-2`)
        weight_decay (float, optional): Adam weight decay. (default: :obj:`0.0`)
        ce_weight (float, optional): Weight of the retained training nodes' cross-entropy in
            :math:`\mathcal{L}_p` (not among the paper's preserve terms; without dropout it
            keeps sharpening the model, which raises every node's confidence and so makes
            the removed nodes, matched to the original level, look *less* confident than
            unseen nodes: over-forgetting on Cora's public split). (default: :obj:`0.0`)
        kl_weight (float, optional): Weight of the KL preserve term. (default: :obj:`1.0`)
        weight_distance (float, optional): :math:`\alpha_W`. (default: :obj:`1e-3`)
        contrastive_weight (float, optional): Weight of the contrastive term.
            (default: :obj:`0.1`)
        prototype_weight (float, optional): Weight of the forget-side prototype pull.
            (default: :obj:`0.1`)
        temperature (float, optional): :math:`\tau`. (default: :obj:`0.5`)
        patience (int, optional): Stop after this many epochs without a better validation
            score; :obj:`None` runs all epochs. (default: :obj:`None`)
        forget_tolerance (float, optional): Node requests: an epoch counts as *forgotten* when
            the removed training nodes' true-class confidences (on their subgraph of the
            training graph) are within this distance of the never-trained reference, the
            validation nodes: :obj:`'match'`: mean confidence within :math:`\pm` this of the
            loss's targets, the mid-quantiles of the original weights' validation log-odds
            on :math:`G'` (two-sided); :obj:`'away'`/:obj:`'shuffled'`: at
            most the current weights' plus this (one-sided). Link prediction (edge
            requests): the removed edges' mean probability on :math:`G'` within
            :math:`\pm` this *fraction of the separation* between the held-out validation
            edges' and non-edges' mean probabilities (original weights) of the validation
            edges' mean (true edges sit in a narrow probability band: an absolute 0.05
            counted the untouched weights as forgotten on Cora). Forgotten epochs rank first
            in the validation-based selection, and while none is, fine-tuning goes on past
            :obj:`epochs` up to :obj:`max_epochs`. :obj:`None`: select on validation
            accuracy (AUC) alone. (default: :obj:`0.05`)
        seed (int, optional): Seed of the shuffled labels (:obj:`'shuffled'`); defaults to
            the task's seed.
            (default: :obj:`None`)
        forget_loss (str, optional): Node requests' forget objective: :obj:`"match"`
            (match the removed nodes' confidences to never-trained nodes'), :obj:`"away"`
            (push them away from their labels) or :obj:`"shuffled"` (cross-entropy against
            shuffled labels). (default: :obj:`"match"`)
        utility_tolerance (float, optional): Validation accuracy a *forgotten* epoch may
            lose against the un-fine-tuned weights on :math:`G'` and still rank first;
            :obj:`None`: no limit. (default: :obj:`0.01`)
        reference (str, optional): :obj:`'match'`'s never-trained reference: the validation
            nodes on :math:`G'` under the :obj:`"original"` weights (fixed) or the
            :obj:`"current"` ones (re-read every epoch). On Cora's full split the fixed one
            lands the MIA AUC on Retrain's (ΔAUC +0.004 over 5 seeds; :obj:`"current"` -0.06,
            as fine-tuning shifts the validation confidences). (default: :obj:`"original"`)
        sparse_features (bool, optional): Feed the node features to the model as a sparse CSR
            matrix in every forward of the request (same logits: the first layer's
            :math:`XW` and its weight gradient cost :math:`O(\mathrm{nnz}(X))` instead of
            :math:`O(nF)`; Cora's bag of words is 1.3% non-zero). :obj:`None`: when fewer than
            10% of the entries are non-zero and a trial forward (once per model class and
            feature shape, at :meth:`fit`) gives the dense logits; :obj:`True` raises if the
            model does not accept them. (default: :obj:`None`)
    """
    exact = False
    certified = False
    tasks = ('node_classification', 'link_prediction')
    request_types = ('node', 'edge', 'feature')

    def __init__(self, selector: Optional[SelectorFn] = None, lam: float = 0.1,
                 epochs: int = 5, lr: Optional[float] = 1e-2, weight_decay: float = 0.0,
                 kl_weight: float = 1.0, weight_distance: float = 1e-3,
                 contrastive_weight: float = 0.1, prototype_weight: float = 0.1,
                 temperature: float = 0.5, patience: Optional[int] = None,
                 forget_tolerance: Optional[float] = 0.05,
                 seed: Optional[int] = None, forget_loss: str = 'match',
                 utility_tolerance: Optional[float] = 0.01,
                 reference: str = 'original',
                 sparse_features: Optional[bool] = None, ce_weight: float = 0.0,
                 max_epochs: Optional[int] = None) -> None:
        super().__init__()
        if sparse_features not in (None, True, False):
            raise ValueError(f'sparse_features must be None, True or False, got '
                             f'{sparse_features!r}')
        self.sparse_features = sparse_features
        self._sparse_ok: Optional[tuple] = None  # ((model class, feature shape), usable)
        # (x, x._version, CSR of x) of the CURRENT graph's features: built at fit, replaced by
        # the retained graph's after each request (removed rows dropped), never persisted.
        self._x_cache: Optional[tuple] = None
        # SGC: A^K X of the CURRENT graph: built at fit, replaced by the retained graph's after
        # each request (rows around the request recomputed), never persisted.
        self._prop_cache: Optional[SGCPropagation] = None
        if reference not in ('current', 'original'):
            raise ValueError(f"reference must be 'current' or 'original', got {reference!r}")
        self.reference = reference
        if selector is not None and not callable(selector):
            raise TypeError('selector must be a callable (data, request, model, task) -> '
                            f'LongTensor, got {type(selector).__name__}')
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f'lam must be in [0, 1], got {lam}')
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f'epochs must be a positive int, got {epochs!r}')
        if max_epochs is None:
            max_epochs = 4 * epochs
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) \
                or max_epochs < epochs:
            raise ValueError(f'max_epochs must be an int >= epochs ({epochs}), got '
                             f'{max_epochs!r}')
        self.max_epochs = max_epochs
        if lr is not None and not lr > 0:
            raise ValueError(f'lr must be positive, got {lr}')
        for name, val in (('weight_decay', weight_decay), ('kl_weight', kl_weight),
                          ('ce_weight', ce_weight),
                          ('weight_distance', weight_distance),
                          ('contrastive_weight', contrastive_weight),
                          ('prototype_weight', prototype_weight)):
            if not val >= 0:
                raise ValueError(f'{name} must be non-negative, got {val}')
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                     or patience < 1):
            raise ValueError(f'patience must be a positive int or None, got {patience!r}')
        if not temperature > 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        self.selector = selector if selector is not None else NIM()
        self.lam, self.epochs, self.lr, self.weight_decay = float(lam), epochs, lr, weight_decay
        self.kl_weight, self.weight_distance = float(kl_weight), float(weight_distance)
        self.ce_weight = float(ce_weight)
        self.contrastive_weight = float(contrastive_weight)
        self.prototype_weight, self.temperature = float(prototype_weight), float(temperature)
        self.seed, self.patience = seed, patience
        self.forget_tolerance = forget_tolerance
        if forget_loss not in ('match', 'away', 'shuffled'):
            raise ValueError(f"forget_loss must be 'match', 'away' or 'shuffled', got "
                             f'{forget_loss!r}')
        self.forget_loss = forget_loss
        if utility_tolerance is not None and not utility_tolerance >= 0:
            raise ValueError(f'utility_tolerance must be non-negative or None, got '
                             f'{utility_tolerance}')
        self.utility_tolerance = utility_tolerance

    # Helpers ################################################################

    def fit(self, model: torch.nn.Module, data: GraphData) -> None:
        super().fit(model, data)
        self._x_cache, self._prop_cache = None, None
        if self.task is not None:  # (node classification or link prediction: `tasks`)
            if self.task.name == 'node_classification' and self._resolve_sparse(model, data):
                # The training graph's features as CSR, once (every request reuses or
                # updates it).
                self._x_cache = (data.x, data.x._version, dense_to_csr(data.x))
            prop = self._sgc_propagation(model, self.task, data)
            if prop is not None:
                self._prop_cache = SGCPropagation.of(data, prop, int(model.conv.K))

    def _state_items(self) -> dict:
        items = super()._state_items()
        items.pop('_x_cache', None)  # recomputed from the graph's features
        items.pop('_prop_cache', None)  # recomputed from the graph
        return items

    def state_snapshot(self) -> dict:
        caches = (self._x_cache, self._prop_cache)
        self._x_cache, self._prop_cache = None, None
        try:
            snap = super().state_snapshot()
        finally:
            self._x_cache, self._prop_cache = caches
        # Replaced, never modified in place: no copy needed.
        snap['_x_cache'], snap['_prop_cache'] = caches
        return snap

    @staticmethod
    def _sgc_propagation(model: torch.nn.Module, task: Any, data: Any) -> Optional[Tensor]:
        r"""SGC (:func:`sgc_features`, default flow): :math:`\hat{A}^K X` of :obj:`data`;
        :obj:`None` for any other model."""
        conv = getattr(model, 'conv', None)
        if getattr(conv, 'flow', None) != 'source_to_target':
            return None
        return sgc_features(model, task, data)

    def _cached_propagation(self, model: torch.nn.Module, task: Any,
                            data: Any) -> Optional[Tensor]:
        r"""SGC: :math:`\hat{A}^K X` of :obj:`data`, from the cache when it holds this
        graph's (same tensors, unmodified), else computed."""
        cache = self._prop_cache
        if cache is not None and cache.holds(data):
            return cache.prop
        return self._sgc_propagation(model, task, data)

    @staticmethod
    def _propagation_after(prop: Tensor, data: Any, retained: Any,
                           request: UnlearningRequest, num_hops: int) -> Tensor:
        r""":math:`\hat{A}'^K X'` of the retained graph from :math:`\hat{A}^K X` of
        :obj:`data`: only the rows within :math:`K` hops (downstream, on :math:`G'`) of a node
        whose features, edges or degree the request changed are recomputed (exactly, by
        :func:`~torch_geometric_unlearn.influence.nim.propagate_features` on those rows with
        :math:`G'`'s degrees; a :math:`K`-step walk that used a removed node or edge meets
        such a node first). Time and memory grow with the request's neighbourhood."""
        n = data.num_nodes
        changed = torch.zeros(n, dtype=torch.bool, device=prop.device)
        changed[unlearning_entities(request)] = True
        if request.kind == 'node':  # the removed nodes' neighbours lose an edge (degree)
            ei = data.edge_index
            hit = changed[ei[0]] | changed[ei[1]]
            changed[ei[:, hit].reshape(-1)] = True
        rows, _, _, _ = k_hop_subgraph(changed.nonzero().view(-1), num_hops,
                                       retained.edge_index, num_nodes=n,
                                       flow='target_to_source')
        out = prop.clone()
        out[rows] = propagate_features(retained.x, retained.edge_index, n, num_hops,
                                       nodes=rows).to(prop.dtype)
        return out

    @staticmethod
    def _csr_drop_rows(csr: Tensor, rows: Tensor) -> Tensor:
        r"""A copy of the CSR matrix without the entries of :obj:`rows` (gone, not stored as
        zeros), in :math:`O(\mathrm{nnz})`."""
        hit = torch.zeros(csr.size(0), dtype=torch.bool, device=csr.device)
        hit[rows.to(csr.device)] = True
        return drop_entries(csr, hit, None)

    @staticmethod
    def _stack_rows(a: Tensor, b: Tensor) -> Tensor:
        r"""Rows of :obj:`a` then rows of :obj:`b` (dense, or both sparse CSR)."""
        if a.layout != torch.sparse_csr:
            return torch.cat([a, b], dim=0)
        crow = torch.cat([a.crow_indices(), b.crow_indices()[1:] + a.crow_indices()[-1]])
        return csr_tensor(crow, torch.cat([a.col_indices(), b.col_indices()]),
                          torch.cat([a.values(), b.values()]),
                          (a.size(0) + b.size(0), a.size(1)))

    @staticmethod
    def _forget_subgraph(model: torch.nn.Module, data: Any, nodes: Tensor,
                         x_csr: Optional[Tensor] = None) -> Tuple[Data, Tensor]:
        r"""The smallest graph on which a :math:`K`-layer :obj:`model` gives :obj:`nodes` the
        outputs they have on :obj:`data`, and their positions in it: the
        :math:`(K + 1)`-hop subgraph (a node's output reads features within :math:`K` hops,
        but also the degrees of the :math:`K`-hop nodes, e.g. GCN's
        :math:`1/\sqrt{d_i d_j}`, which count their edges to the next ring: on the
        :math:`K`-hop subgraph they are cut and Cora's logits move by up to 0.7)."""
        from torch_geometric_unlearn.nn.node import num_message_passing_layers
        k = int(num_message_passing_layers(model))
        subset, sub_ei, mapping, _ = k_hop_subgraph(nodes, k + 1, data.edge_index,
                                                    relabel_nodes=True,
                                                    num_nodes=data.num_nodes)
        x = data.x[subset] if x_csr is None else csr_rows(x_csr, subset)
        return Data(x=x, edge_index=sub_ei, num_nodes=subset.numel()), mapping

    def _resolve_sparse(self, model: torch.nn.Module, data: GraphData) -> bool:
        r"""Whether to feed sparse CSR features (decided once per model class and feature
        shape: a trial forward must give the dense logits; cached as a boolean only)."""
        return resolve_sparse_features(self, self._require_task(), model, data)

    def _optimizer(self, model: torch.nn.Module, task: Any
                   ) -> Tuple[list, list, torch.optim.Optimizer]:
        r"""Trainable parameters, their original values (for the weight-distance term) and the
        fine-tuning optimiser."""
        params = [p for p in model.parameters() if p.requires_grad]
        w0 = [p.detach().clone() for p in params]
        lr = self.lr if self.lr is not None else getattr(task, 'lr', 0.01)
        return params, w0, torch.optim.Adam(params, lr=lr, weight_decay=self.weight_decay)

    @staticmethod
    def _prototypes(emb: Tensor, y: Tensor, mask: Tensor, num_classes: int) -> Tensor:
        r"""Class means of :obj:`emb` over :obj:`mask` (zeros for empty classes)."""
        idx = mask.nonzero().view(-1)
        sums = torch.zeros(num_classes, emb.size(-1), device=emb.device).index_add_(
            0, y[idx], emb[idx])
        cnt = torch.bincount(y[idx], minlength=num_classes).clamp_min(1).unsqueeze(-1)
        return sums / cnt

    def _contrastive(self, h: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        r"""InfoNCE: :obj:`h[i]` toward :obj:`pos[i]`, away from every row of :obj:`neg`."""
        h, pos = F.normalize(h, dim=-1), F.normalize(pos, dim=-1)
        logit_pos = (h * pos).sum(-1, keepdim=True) / self.temperature
        if neg.numel() == 0:
            return h.new_zeros(())
        logit_neg = h @ F.normalize(neg, dim=-1).t() / self.temperature
        logits = torch.cat([logit_pos, logit_neg], dim=1)
        return -logits.log_softmax(dim=1)[:, 0].mean()

    @staticmethod
    def _log_odds(out: Tensor, y: Tensor) -> Tensor:
        r"""True-class log-odds :math:`\log p_y - \log(1 - p_y)` of each row (stable; a
        gradient of 1 on the true logit, so it does not vanish for confident nodes)."""
        logp = out.log_softmax(-1)
        lp_y = logp.gather(1, y.view(-1, 1)).view(-1)
        rest = logp.masked_fill(F.one_hot(y, out.size(-1)).bool(), float('-inf'))
        return lp_y - torch.logsumexp(rest, dim=-1)

    def _match(self, s: Tensor, ref: Tensor,
               quantiles: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""Smooth :math:`\ell_1` between sorted :obj:`s` and the mid-quantiles of
        :obj:`ref` (1-D optimal transport; :obj:`quantiles`: precomputed), and each value's
        target."""
        target = torch.empty_like(s)
        target[s.detach().argsort()] = self._quantiles(ref, s.numel()) if quantiles is None \
            else quantiles
        return F.smooth_l1_loss(s, target), target

    @staticmethod
    def _quantiles(ref: Tensor, m: int) -> Tensor:
        r"""The :obj:`m` mid-quantiles :math:`(i + 1/2)/m` of :obj:`ref` (ascending): the
        1-D optimal-transport targets of :obj:`m` sorted values."""
        levels = (torch.arange(m, device=ref.device, dtype=ref.dtype) + 0.5) / m
        return torch.quantile(ref, levels)

    @staticmethod
    def _forget_gap(s_rm: Tensor, s_ref: Tensor) -> float:
        r"""Mean true-class confidence of the removed training nodes minus that of the
        never-trained reference (:obj:`'match'`: its mid-quantiles, the targets the loss
        matches; a mean: with a handful of removed nodes a distance between the two
        distributions is dominated by sampling noise)."""
        return float(torch.sigmoid(s_rm).mean() - torch.sigmoid(s_ref).mean())

    def _select(self, data: GraphData, request: UnlearningRequest, model: torch.nn.Module,
                task: Any, proba: Tensor, x_csr: Optional[Tensor] = None) -> Tensor:
        if isinstance(self.selector, NIM):
            # Reuse the original model's soft labels on G and the CSR features (NIM's local
            # propagation then touches the non-zeros of X only).
            return self.selector(with_features(data, x_csr), request, model, task,
                                 soft_labels=proba)
        return self.selector(data, request, model, task)

    # Unlearning #############################################################

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        task = self._require_task()
        t_start = time.perf_counter()
        device = data.edge_index.device
        request = request.to(device)
        if task.name == 'link_prediction':
            return self._forward_link(model, data, request, task, t_start)
        retained = request.apply(data)
        seed = task.seed if self.seed is None else self.seed
        ue = unlearning_entities(request)
        n = data.num_nodes
        model.eval()  # dropout off: one deterministic forward scores and trains each epoch
        # Sparse CSR features for every forward of this request (built here, never kept).
        x_csr = cached_csr(data.x, self._x_cache) if self._resolve_sparse(model, data) \
            else None
        # SGC: A^K X of G (cached since the last request): the logits of any weights are
        # the linear layer's.
        prop = self._cached_propagation(model, task, data) if x_csr is None else None
        with torch.no_grad():  # (no gradient: a plain CSR product, no transpose needed)
            # Original weights on G: anchors, soft labels.
            orig_out = model.conv.lin(prop) if prop is not None else \
                task.logits(model, with_features(data, x_csr))

        # HIE on the training graph (where the UE exerted their influence).
        t0 = time.perf_counter()
        hie = torch.as_tensor(self._select(data, request, model, task, orig_out.softmax(-1),
                                           x_csr), device=device)
        hie = hie.to(torch.long).view(-1)
        if hie.numel() and (int(hie.min()) < 0 or int(hie.max()) >= n):
            raise ValueError(f'selector returned ids outside [0, {n})')
        removed_now = getattr(retained, 'removed_mask', torch.zeros(n, dtype=torch.bool,
                                                                     device=device))
        hie_mask = torch.zeros(n, dtype=torch.bool, device=device)
        hie_mask[hie] = True
        hie_mask[ue] = False
        hie_mask &= ~removed_now
        select_seconds = time.perf_counter() - t0

        ue_mask = torch.zeros(n, dtype=torch.bool, device=device)
        ue_mask[ue] = True
        ue_anchor = orig_out[ue]
        y_ret = retained.y
        train, val = retained.train_mask, retained.val_mask
        has_val = int(val.sum()) > 0
        unaffected = train & ~ue_mask & ~hie_mask & ~removed_now
        keep_mask = ~removed_now  # preserved nodes (every non-removed node)

        # Forget targets (node requests): the removed training nodes' outputs on G (the data
        # the model memorised, what a membership attacker queries).
        forget_sub, forget_idx, fake, y_forget = None, None, None, None
        removed_train = None
        if request.kind == 'node':
            removed_train = ue[data.train_mask[ue]]
            if removed_train.numel():
                if prop is None:  # (SGC: their rows of A^K X on G)
                    forget_sub, forget_idx = self._forget_subgraph(model, data,
                                                                   removed_train, x_csr)
                y_forget = data.y[removed_train]
                if self.forget_loss == 'shuffled':
                    gen = torch.Generator(device='cpu').manual_seed(int(seed))
                    shift = torch.randint(1, int(orig_out.size(-1)), (removed_train.numel(), ),
                                          generator=gen).to(device)
                    fake = (y_forget + shift) % orig_out.size(-1)  # never the true label

        served = retained  # G' as the model sees it (sparse CSR features where usable)
        if x_csr is not None:
            if retained.x is data.x:  # edge requests
                xs = x_csr
            elif request.kind == 'node':  # the removed rows are zeroed (apply_request)
                xs = self._csr_drop_rows(x_csr, request.node_index)
            else:
                xs = csr_of(retained.x, x_csr)
            served = with_features(retained, xs)
        new_cache = None if x_csr is None else (retained.x, retained.x._version, served.x)
        # One forward per epoch: G' and the removed nodes' subgraph of G as one disjoint
        # graph (every node's output is the same as on its own component).
        joint, f_pos = served, None
        if forget_sub is not None:
            joint = Data(x=self._stack_rows(served.x, forget_sub.x),
                         edge_index=torch.cat([served.edge_index,
                                               forget_sub.edge_index + n], dim=1),
                         num_nodes=n + forget_sub.num_nodes)
            f_pos = forget_idx + n
        joint_csr = joint.x if x_csr is not None else None
        joint_csr_t = transpose_csr(joint_csr) if joint_csr is not None else None
        # SGC: the propagation does not depend on the weights: G''s rows are G's updated
        # around the request (and cached for the next one), the removed nodes' are G's;
        # every epoch is the linear layer only.
        new_prop, fixed = None, None
        if prop is not None:
            new_prop = self._propagation_after(prop, data, retained, request,
                                               int(model.conv.K))
            fixed = new_prop
            if y_forget is not None:
                fixed = torch.cat([new_prop, prop[removed_train]], dim=0)
                f_pos = n + torch.arange(removed_train.numel(), device=device)
        params, w0, opt = self._optimizer(model, task)
        best = _BestEpoch(self.patience)
        curve, gaps = [], []
        acc0, p_teacher, y_hie, num_classes, s_ref, q_ref = (None, ) * 6
        # Node requests whose removed training nodes are tracked may go on past `epochs` (up
        # to `max_epochs`) while no epoch counts as forgotten yet.
        tracked = y_forget is not None and has_val and self.forget_tolerance is not None
        for epoch in range(self.max_epochs + 1):
            trains = epoch < self.epochs or (tracked and not best.forgotten
                                             and epoch < self.max_epochs)
            with torch.set_grad_enabled(trains):  # the last one only scores
                if fixed is not None:
                    out = model.conv.lin(fixed)
                else:
                    with sparse_mode(joint_csr, joint_csr_t):
                        out = task.logits(model, joint)
                f_out = out[f_pos] if f_pos is not None else None
                out = out[:n]
            with torch.no_grad():
                if epoch == 0:  # the original weights on G': the teacher
                    p_teacher = out.detach().softmax(-1)
                    num_classes = p_teacher.size(-1)
                    # Pseudo-labels: training labels where known, else the teacher's.
                    y_hie = torch.where(train, y_ret, p_teacher.argmax(-1))
                s_val = self._log_odds(out[val], y_ret[val]) if has_val else None
                if epoch == 0 or self.reference == 'current':
                    # Reference of "never trained on": the validation nodes on G' under the
                    # original weights (fixed) or the current ones (follows the fine-tuning,
                    # as the attacker compares with never-trained nodes of the served model).
                    s_ref = s_val
                    q_ref = self._quantiles(s_ref, y_forget.numel()) \
                        if has_val and y_forget is not None else None
                s_rm = self._log_odds(f_out, y_forget) if f_out is not None else None
                if has_val:
                    acc = float((out[val].argmax(-1) == y_ret[val]).float().mean())
                    vloss = -float(F.cross_entropy(out[val], y_ret[val]))
                else:
                    acc, vloss = 0.0, -float(epoch)
                if epoch == 0:
                    acc0 = acc
                else:  # score the weights after `epoch` fine-tuning steps
                    forgotten = True
                    if tracked:
                        # 'match': against the loss's own targets (the reference's
                        # mid-quantiles: with one removed node, the median, whose confidence
                        # can lie far from the reference's mean)
                        gap = self._forget_gap(
                            s_rm, q_ref if self.forget_loss == 'match' else s_val)
                        gaps.append(gap)
                        forgotten = (abs(gap) if self.forget_loss == 'match' else gap) \
                            <= self.forget_tolerance
                    if has_val and self.utility_tolerance is not None:
                        # Forgetting may not cost more validation accuracy than this against
                        # the un-fine-tuned weights on G' (else it accumulates over a stream).
                        forgotten = forgotten and acc >= acc0 - self.utility_tolerance
                    key = (forgotten, acc, vloss)
                    curve.append(acc)
                    if best.offer(key, epoch, model):
                        break
            if not trains or (epoch >= self.epochs and best.forgotten):
                break
            # Preserve: KL to the teacher, ||W - W0||^2, contrastive on HIE (and, optionally,
            # CE of the retained training nodes).
            l_p = out.sum() * 0
            if self.ce_weight > 0 and int(train.sum()):
                l_p = self.ce_weight * F.cross_entropy(out[train], y_ret[train])
            l_p = l_p + self.kl_weight * F.kl_div(out[keep_mask].log_softmax(-1),
                                                  p_teacher[keep_mask], reduction='batchmean')
            l_p = l_p + self.weight_distance * sum(((p - q) ** 2).sum()
                                                   for p, q in zip(params, w0))
            protos = None
            if int(unaffected.sum()) > 0:
                protos = self._prototypes(out.detach(), y_ret, unaffected, num_classes)
            if self.contrastive_weight > 0 and int(hie_mask.sum()) > 0 and protos is not None:
                l_p = l_p + self.contrastive_weight * self._contrastive(
                    out[hie_mask], protos[y_hie[hie_mask]], ue_anchor)
            # Forget.
            l_f = out.sum() * 0
            if f_out is not None:
                if self.forget_loss == 'match':
                    # Match the removed nodes' true-class log-odds to what never-trained
                    # (validation) nodes get: sorted values against the reference
                    # mid-quantiles (1-D optimal transport), two-sided, so it stops at the
                    # non-member level (no over-forgetting).
                    if has_val:
                        l_f, target = self._match(self._log_odds(f_out, y_forget), s_ref,
                                                  q_ref)
                        push = (s_rm > target).float()
                    else:
                        push = torch.zeros_like(s_rm)
                else:
                    # Hinge on "looks unseen": only removed nodes still more confident in
                    # their label than the validation nodes are pushed.
                    conf = torch.sigmoid(s_rm)
                    ref = torch.sigmoid(s_val).mean() if has_val else conf.new_zeros(())
                    push = (conf > ref).float()
                    if self.forget_loss == 'shuffled':
                        l_f = (F.cross_entropy(f_out, fake, reduction='none') * push).mean()
                    else:  # 'away': -log(1 - p_y), no particular wrong class is taught
                        lp_y = f_out.log_softmax(-1).gather(1, y_forget.view(-1, 1)).view(-1)
                        l_f = (-torch.log1p(-lp_y.exp().clamp(max=1 - 1e-6)) * push).mean()
                if self.prototype_weight > 0 and protos is not None:
                    if self.forget_loss == 'shuffled':
                        target_p = protos[fake]
                    else:  # mean of the other classes' prototypes (expected shuffled label)
                        other = 1.0 - F.one_hot(y_forget, num_classes).to(protos.dtype)
                        target_p = (other @ protos) / (num_classes - 1)
                    l_f = l_f + self.prototype_weight * ((1 - F.cosine_similarity(
                        f_out, target_p, dim=-1)) * push).mean()
            elif request.kind in ('edge', 'feature'):
                l_f = F.kl_div(out[ue].log_softmax(-1), p_teacher[ue], reduction='batchmean')
            opt.zero_grad()
            (self.lam * l_f + (1 - self.lam) * l_p).backward()
            opt.step()
        best.restore(model)
        self._x_cache = new_cache  # the retained graph's features (removed rows dropped)
        self._prop_cache = None if new_prop is None else \
            SGCPropagation.of(retained, new_prop, int(model.conv.K))
        return self.make_result(model, retained, request, extras={
            'num_hie': int(hie_mask.sum()), 'hie': hie_mask.nonzero().view(-1),
            'best_epoch': best.epoch, 'best_val_accuracy': best.key[1], 'val_curve': curve,
            'forget_gap_curve': gaps, 'forgotten': best.forgotten,
            'select_seconds': select_seconds, 'sparse_features': x_csr is not None,
            'seconds': time.perf_counter() - t_start})

    def _forward_link(self, model: torch.nn.Module, data: GraphData,
                      request: UnlearningRequest, task: Any,
                      t_start: float) -> UnlearningResult:
        r"""Link prediction (edge requests): the removed edges' scores on :math:`G'` are
        matched to those of held-out true edges (never trained on) under the original weights;
        preserve: BCE of the retained training edges against seeded non-edges, binary KL of
        the HIE's edges to the original scores, :math:`\alpha_W\|W - W_0\|^2`; selection on
        validation AUC, *forgotten* epochs first (the removed edges' mean probability within
        :obj:`forget_tolerance` edge/non-edge separations of the validation edges'), extended
        up to :obj:`max_epochs` while none is."""
        from torch_geometric_unlearn.metric.classification import link_auc
        from torch_geometric_unlearn.task.base import make_generator
        from torch_geometric_unlearn.task.link import sample_non_edges, undirected_pairs
        if request.kind != 'edge':
            raise ValueError("SGU on link prediction unlearns edge requests (the removed "
                             f"edges' scores), got a '{request.kind}' request")
        for key in ('val_pos', 'val_neg'):
            if data.get(key) is None:
                raise ValueError(f"link prediction needs data.{key} (LinkPredictionTask.split)")
        device = data.edge_index.device
        retained = request.apply(data)
        seed = task.seed if self.seed is None else self.seed
        n = data.num_nodes
        ue = unlearning_entities(request)
        model.eval()
        # SGC: A^K X of G (cached since the last request) and of G' (its rows around the
        # removed edges recomputed, exactly): every epoch is the linear layer only.
        prop = self._cached_propagation(model, task, data)
        new_prop = None if prop is None else self._propagation_after(
            prop, data, retained, request, int(model.conv.K))

        def embed(graph: Any, fixed: Optional[Tensor]) -> Tensor:
            return task.logits(model, graph) if fixed is None else model.conv.lin(fixed)

        with torch.no_grad():
            z_orig = embed(data, prop)
        t0 = time.perf_counter()
        # NIM's model-side similarity: cosine of the original embeddings.
        hie = torch.as_tensor(self._select(data, request, model, task, z_orig),
                              device=device).to(torch.long).view(-1)
        if hie.numel() and (int(hie.min()) < 0 or int(hie.max()) >= n):
            raise ValueError(f'selector returned ids outside [0, {n})')
        hie_mask = torch.zeros(n, dtype=torch.bool, device=device)
        hie_mask[hie] = True
        hie_mask[ue] = False
        select_seconds = time.perf_counter() - t0

        removed = undirected_pairs(request.edge_index)
        pos = undirected_pairs(retained.edge_index)
        hie_pairs = pos[:, hie_mask[pos[0]] | hie_mask[pos[1]]]
        alive = retained.get('removed_mask')
        alive = None if alive is None else ~alive
        val_pos, val_neg = task.held_out(retained, 'val')
        gen = make_generator(seed)
        params, w0, opt = self._optimizer(model, task)
        best = _BestEpoch(self.patience)
        curve, gaps = [], []
        auc0, t_hie, s_ref, p_ref, spread = (None, ) * 5
        # While no epoch counts as forgotten, fine-tuning may go on past `epochs` (up to
        # `max_epochs`), as for node requests.
        tracked = self.forget_tolerance is not None and removed.size(1) > 0 \
            and val_pos.size(1) > 0
        for epoch in range(self.max_epochs + 1):
            trains = epoch < self.epochs or (tracked and not best.forgotten
                                             and epoch < self.max_epochs)
            with torch.set_grad_enabled(trains):  # the last one only scores
                z = embed(retained, new_prop)
            with torch.no_grad():
                s_val = task.score(z, val_pos)
                s_neg = task.score(z, val_neg)
                auc = link_auc(s_val, s_neg)
                if epoch == 0:  # the original weights on G': teacher and reference
                    auc0, s_ref = auc, s_val.detach()
                    t_hie = torch.sigmoid(task.score(z, hie_pairs)).detach()
                    if tracked:
                        # The gap is measured in units of the edge / non-edge separation
                        # (held-out validation pairs, original weights): probabilities of
                        # true edges sit in a narrow band, so an absolute tolerance that suits
                        # node confidences would count the untouched weights as forgotten.
                        p_ref = float(torch.sigmoid(s_ref).mean())
                        spread = p_ref - float(torch.sigmoid(s_neg).mean()) \
                            if s_neg.numel() else 1.0
                        spread = spread if spread > 1e-6 else 1.0
                else:
                    forgotten = True
                    if tracked:
                        gap = (float(torch.sigmoid(task.score(z, removed)).mean()) - p_ref) \
                            / spread
                        gaps.append(gap)
                        forgotten = abs(gap) <= self.forget_tolerance
                    if self.utility_tolerance is not None:
                        forgotten = forgotten and auc >= auc0 - self.utility_tolerance
                    key = (forgotten, auc)
                    curve.append(auc)
                    if best.offer(key, epoch, model):
                        break
            if not trains or (epoch >= self.epochs and best.forgotten):
                break
            neg = sample_non_edges(retained.edge_index, n, pos.size(1), gen, alive)
            l_p = task.bce(z, pos, neg)
            if hie_pairs.size(1):
                l_p = l_p + self.kl_weight * F.binary_cross_entropy_with_logits(
                    task.score(z, hie_pairs), t_hie)
            l_p = l_p + self.weight_distance * sum(((p - q) ** 2).sum()
                                                   for p, q in zip(params, w0))
            l_f = z.sum() * 0
            if removed.size(1) and s_ref.numel():
                l_f = self._match(task.score(z, removed), s_ref)[0]
            opt.zero_grad()
            (self.lam * l_f + (1 - self.lam) * l_p).backward()
            opt.step()
        best.restore(model)
        self._prop_cache = None if new_prop is None else \
            SGCPropagation.of(retained, new_prop, int(model.conv.K))
        return self.make_result(model, retained, request, extras={
            'num_hie': int(hie_mask.sum()), 'hie': hie_mask.nonzero().view(-1),
            'best_epoch': best.epoch, 'best_val_auc': best.key[1], 'val_curve': curve,
            'forget_gap_curve': gaps, 'forgotten': best.forgotten,
            'select_seconds': select_seconds,
            'seconds': time.perf_counter() - t_start})

    def __repr__(self) -> str:
        return (f'SGU(selector={self.selector!r}, lam={self.lam}, epochs={self.epochs}, '
                f'max_epochs={self.max_epochs}, lr={self.lr}, '
                f'forget_loss={self.forget_loss!r}, ce_weight={self.ce_weight})')

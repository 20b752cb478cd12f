r"""GIF: graph influence-function unlearning (Wu et al., "GIF: A General Graph Unlearning
Strategy via Influence Function", WWW'23), and the plain influence-function baseline IF."""
from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.utils import k_hop_subgraph

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.influence.hvp import make_hvp_fn
from torch_geometric_unlearn.influence.solvers import (LiSSADivergenceError,
                                                       hessian_eigenvalue_bounds, inverse_hvp_cg,
                                                       inverse_hvp_lissa)
from torch_geometric_unlearn.influence.sparse import (SparseFeatures, cached_csr, drop_entries,
                                                      resolve_sparse_features, transpose_csr)
from torch_geometric_unlearn.influence.sparse import csr_rows as _csr_rows
from torch_geometric_unlearn.influence.sparse import with_features as _with_x
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult

#: ``fn(data, request, model, task) -> LongTensor`` of influenced node ids.
InfluencedNodesFn = Callable[[GraphData, UnlearningRequest, torch.nn.Module, Any], Tensor]

SOLVERS = ('lissa', 'cg')

#: ``scale='auto'`` sets LiSSA's scale to this multiple of the top Hessian eigenvalue (on
#: Cora's public split, lambda_max ~ 147 for a GCN, so this is close to the authors' 500).
AUTO_SCALE_FACTOR = 3.0


class _HessianCache:
    r"""The differentiable training-loss gradient of one (model, graph) pair (the graph every
    Hessian-vector product reuses), built in :meth:`GIF.fit` and consumed by the first request.
    Valid only while the model's parameters (object and in-place version), the graph's
    tensors and the options it was built with are unchanged. Never copied: a deep copy or a
    pickle of the algorithm drops it (it is rebuilt when needed)."""

    def __init__(self, hvp_fn: Callable, model: torch.nn.Module, params: Tuple[Tensor, ...],
                 data: GraphData, key: Tuple[Any, ...]) -> None:
        self.hvp_fn, self.model, self.params, self.data, self.key = hvp_fn, model, params, \
            data, key
        self.versions = tuple(p._version for p in params)
        self.tensors = tuple((t, t._version) for t in _graph_tensors(data))

    def matches(self, model: torch.nn.Module, params: Tuple[Tensor, ...], data: GraphData,
                key: Tuple[Any, ...]) -> bool:
        if not (self.model is model and self.data is data and self.key == key
                and len(params) == len(self.params)
                and all(a is b and a._version == v
                        for a, b, v in zip(params, self.params, self.versions))):
            return False
        tensors = _graph_tensors(data)
        return len(self.tensors) == len(tensors) and all(
            t is u and t._version == v for (t, v), u in zip(self.tensors, tensors))

    def __deepcopy__(self, memo: Dict[int, Any]) -> None:
        return None

    def __reduce__(self):
        return (type(None), ())


def _graph_tensors(data: GraphData) -> Tuple[Tensor, ...]:
    return tuple(v for _, v in sorted(data.to_dict().items(), key=lambda kv: kv[0])
                 if isinstance(v, Tensor))


class GIF(UnlearningAlgorithm):
    r"""Graph influence-function unlearning (GIF, Wu et al., WWW'23): one Newton-like step
    :math:`\theta' = \theta + \mathbf{H}^{-1}\mathbf{v}` on the trained model, where

    .. math::
        \mathbf{v} = \nabla_\theta L(\mathcal{I} \cup \mathcal{R}, G) -
        \nabla_\theta L(\mathcal{I}, G'), \qquad
        \mathbf{H} = \nabla^2_\theta L_{\text{train}}(G),

    :math:`G'` is the graph with the request applied, :math:`\mathcal{R}` the removed training
    nodes (node requests), and :math:`\mathcal{I}` the influenced nodes, whose predictions can
    change: with :math:`k` message-passing layers (from
    :func:`~torch_geometric_unlearn.nn.num_message_passing_layers`), the :math:`(k+1)`-hop
    neighbourhood of removed nodes minus the removed nodes, the :math:`k`-hop neighbourhood of
    both endpoints of removed edges, the :math:`k`-hop neighbourhood of nodes whose features
    are removed (computed with PyG's :func:`~torch_geometric.utils.k_hop_subgraph` in the
    message direction). Every :math:`L` is the **summed** task loss (cross-entropy) restricted
    to **training** nodes of the set (the authors' code also sums test nodes; not copied).
    :math:`\mathbf{H}^{-1}\mathbf{v}` is never formed explicitly: Hessian-vector products by
    double back-propagation feed either GIF's LiSSA / Neumann recursion
    (:func:`~torch_geometric_unlearn.influence.inverse_hvp_lissa`) or conjugate gradient
    (:func:`~torch_geometric_unlearn.influence.inverse_hvp_cg` on
    :math:`\mathbf{H} + \text{damp}\cdot\text{scale}\,\mathbf{I}`, the same system the LiSSA
    recursion converges to).

    **Scale.** The LiSSA recursion only converges when :obj:`scale` exceeds half the top
    eigenvalue :math:`\lambda_{\max}` of :math:`\mathbf{H}`, and the summed loss's Hessian
    grows with the number of training nodes (Cora GCN: :math:`\lambda_{\max} \approx 147` with
    140 training nodes, :math:`\approx 1555` with 1,208, where the authors' :obj:`scale=500`
    diverges). :obj:`scale="auto"` (default) therefore sets :math:`\text{scale} = 3\,
    \hat\lambda_{\max}`, with :math:`\hat\lambda_{\max}` from 10 Lanczos Hessian-vector
    products (:func:`~torch_geometric_unlearn.influence.hessian_eigenvalue_bounds`), computed
    once in :meth:`fit` on the original model (request-independent; the spectrum moves little
    per request) or on the first call. LiSSA's divergence guard catches a scale that is too
    small: with :obj:`"auto"` the spectrum is re-estimated on the current model and the solve
    retried once with a larger scale (with a warning); with a numeric scale a
    :class:`RuntimeError` names the offending eigenvalue. The truncated series treats
    eigenvalues below :math:`\text{scale}/(T+1)` as that value (GIF's implicit
    regularisation), so CG with :obj:`damp` :math:`\approx 1/(T+1)` solves about the same
    regularised system in far fewer products (about :math:`\sqrt{T}`), and the damping also
    exceeds the mild negative curvature of trained GNNs (Cora GCN:
    :math:`\lambda_{\min} \approx -0.01\,\lambda_{\max}`); CG stops at a direction of
    non-positive curvature (reported, with a warning) rather than stepping along it.

    With :obj:`graph_term=False` this is the plain influence function (IF) baseline: the
    neighbourhood term is dropped, i.e. :math:`\mathcal{I}` contains only the request's own
    nodes (none for node requests, so :math:`\mathbf{v} = \nabla_\theta L(\mathcal{R}, G)`;
    the two endpoints for edge requests; the feature-masked nodes for feature requests).

    Guarantee: **approximate** (a first-order/second-order Taylor estimate of retraining; exact
    only in the limit of a quadratic loss). Works with any differentiable node classifier called
    as :obj:`model(x, edge_index)` (GCN, GAT, GraphSAGE, SGC, GIN), full-batch, on any device;
    memory is that of one training step plus the retained double-backward graph. The model is
    evaluated in :obj:`eval()` mode (no dropout) for every loss.

    Args:
        iterations (int, optional): LiSSA recursion steps, or the maximum number of CG
            iterations. (default: :obj:`100`, as the authors)
        scale (float or str, optional): LiSSA scale for the summed-loss Hessian, or
            :obj:`"auto"` for :math:`3\,\hat\lambda_{\max}` (see above; the authors used a fixed
            :obj:`500.0`, which diverges on larger training sets). (default: :obj:`"auto"`)
        damp (float, optional): LiSSA damping in :math:`[0, 1)`; CG solves
            :math:`(\mathbf{H} + \text{damp}\cdot\text{scale}\,\mathbf{I})\mathbf{x}=\mathbf{v}`.
            (default: :obj:`0.0`, as the authors)
        lanczos_steps (int, optional): Hessian-vector products of the
            :math:`\hat\lambda_{\max}` estimate behind :obj:`scale="auto"`. (default: :obj:`10`)
        solver (str, optional): :obj:`"lissa"` or :obj:`"cg"`. (default: :obj:`"lissa"`)
        graph_term (bool, optional): Include the influenced neighbourhood (GIF); :obj:`False`
            gives the plain influence function. (default: :obj:`True`)
        influenced_nodes (callable, optional): :obj:`fn(data, request, model, task) ->
            LongTensor` of node ids replacing the :math:`k`-hop influenced set (e.g. the node
            influence maximisation (NIM) selection); removed nodes in it are ignored.
            (default: :obj:`None`)
        cg_tol (float, optional): Relative residual tolerance of CG. (default: :obj:`1e-6`)
        num_hops (int, optional): Overrides :math:`k`. (default: :obj:`None`)
        local (bool, optional): Compute each loss on the :math:`(k+1)`-hop subgraph of its
            node set instead of the whole graph (exact for :math:`k`-layer message passing,
            where a node's output depends only on that subgraph); with dense features only
            when that subgraph has fewer than 60% of the nodes (its feature rows are copied).
            Set :obj:`False` for models with global operations. (default: :obj:`True`)
        sparse_features (bool, optional): Feed :obj:`x` to the model as a sparse CSR tensor in
            every loss (the Hessian-vector products then skip the zeros of bag-of-words
            features), with the model's linear map of :obj:`x` computed through a cached CSR
            transpose (:class:`~torch_geometric_unlearn.influence.sparse.CSRMatmul`: the same product, without PyTorch's per-backward
            transpose conversion). :obj:`None` does so when fewer than 10% of the entries are
            non-zero and a trial forward pass gives the same logits as the dense one;
            otherwise the dense features are used. (default: :obj:`None`)
    """
    exact = False
    certified = False
    tasks = ('node_classification', )
    request_types = ('node', 'edge', 'feature')

    def __init__(self, iterations: int = 100, scale: Union[float, str] = 'auto',
                 damp: float = 0.0, solver: str = 'lissa', graph_term: bool = True,
                 influenced_nodes: Optional[InfluencedNodesFn] = None, cg_tol: float = 1e-6,
                 num_hops: Optional[int] = None, local: bool = True,
                 sparse_features: Optional[bool] = None, lanczos_steps: int = 10) -> None:
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver '{solver}' (expected one of {SOLVERS})")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f'iterations must be a non-negative int, got {iterations!r}')
        if isinstance(scale, str):
            if scale != 'auto':
                raise ValueError(f"scale must be a positive number or 'auto', got {scale!r}")
        elif isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not math.isfinite(scale) or not scale > 0:
            raise ValueError(f"scale must be a positive number or 'auto', got {scale!r}")
        if isinstance(lanczos_steps, bool) or not isinstance(lanczos_steps, int) \
                or lanczos_steps < 1:
            raise ValueError(f'lanczos_steps must be a positive int, got {lanczos_steps!r}')
        if not 0.0 <= damp < 1.0:
            raise ValueError(f'damp must be in [0, 1), got {damp}')
        if influenced_nodes is not None and not callable(influenced_nodes):
            raise TypeError('influenced_nodes must be a callable (data, request, model, task) '
                            f'-> LongTensor, got {type(influenced_nodes).__name__}')
        if num_hops is not None and (not isinstance(num_hops, int) or num_hops < 0):
            raise ValueError(f'num_hops must be a non-negative int, got {num_hops!r}')
        if not cg_tol > 0:
            raise ValueError(f'cg_tol must be positive, got {cg_tol}')
        self.iterations, self.damp = iterations, float(damp)
        self.scale = scale if isinstance(scale, str) else float(scale)
        self.lanczos_steps = lanczos_steps
        # Request-independent caches (set by fit() or on first use): the Hessian's extreme
        # eigenvalue estimates, whether the model takes sparse CSR features, and the CSR of
        # the current graph's features (replaced by the retained graph's after each request,
        # so removed features never stay cached).
        self._spectrum: Optional[Tuple[float, float]] = None
        self._sparse_ok: Optional[Tuple[Tuple[type, Tuple[int, ...]], bool]] = None
        self._x_cache: Optional[Tuple[Tensor, int, Tensor, Tensor]] = None
        # The training-loss gradient graph of the fitted (model, graph), reused by the first
        # request's Hessian-vector products (see _HessianCache).
        self._hessian_cache: Optional[_HessianCache] = None
        self.solver, self.graph_term = solver, bool(graph_term)
        self.influenced_nodes, self.cg_tol = influenced_nodes, float(cg_tol)
        self.num_hops, self.local = num_hops, bool(local)
        self.sparse_features = sparse_features

    @property
    def name(self) -> str:
        return 'GIF' if self.graph_term else 'IF'

    # Influenced sets ########################################################

    def _hops(self, model: torch.nn.Module) -> int:
        if self.num_hops is not None:
            return self.num_hops
        from torch_geometric_unlearn.nn.node import num_message_passing_layers
        return int(num_message_passing_layers(model))

    @staticmethod
    def _reach(seeds: Tensor, hops: int, data: GraphData) -> Tensor:
        r"""Nodes reachable from :obj:`seeds` within :obj:`hops` hops along the message
        direction (nodes whose outputs the seeds can influence)."""
        if hops == 0 or seeds.numel() == 0:
            return seeds.unique()
        subset, _, _, _ = k_hop_subgraph(seeds, hops, data.edge_index,
                                         num_nodes=data.num_nodes, flow='target_to_source')
        return subset

    def influenced_set(self, model: torch.nn.Module, data: GraphData,
                       request: UnlearningRequest) -> Tensor:
        r"""Boolean mask of the influenced nodes :math:`\mathcal{I}` (removed nodes
        excluded)."""
        n, device = data.num_nodes, data.edge_index.device
        mask = torch.zeros(n, dtype=torch.bool, device=device)
        if self.influenced_nodes is not None:
            idx = torch.as_tensor(self.influenced_nodes(data, request, model, self.task))
            idx = idx.to(device=device, dtype=torch.long).view(-1)
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
                raise ValueError(f'influenced_nodes returned ids outside [0, {n})')
            mask[idx] = True
        else:
            k = self._hops(model)
            if request.kind == 'node':
                if self.graph_term:
                    mask[self._reach(request.node_index, k + 1, data)] = True
            elif request.kind == 'edge':
                ends = request.edge_index.reshape(-1)
                mask[self._reach(ends, k if self.graph_term else 0, data)] = True
            else:  # feature
                mask[self._reach(request.node_index, k if self.graph_term else 0, data)] = True
        if request.kind == 'node':
            mask[request.node_index] = False
        return mask

    # Losses ##################################################################

    def _loss(self, model: torch.nn.Module, data: GraphData, mask: Tensor, hops: int,
              x_csr: Optional[Tensor] = None, max_fraction: Optional[float] = None,
              x_csr_t: Optional[Tensor] = None) -> Tensor:
        r"""Summed task loss of the nodes in :obj:`mask`, on their :math:`(k+1)`-hop subgraph
        when it has fewer than :obj:`max_fraction` of the nodes (exact for :math:`k`-layer
        message passing; default: any proper subgraph with sparse features, whose rows cost
        nothing to gather, else 60% of the nodes, as the dense rows are copied).
        :obj:`x_csr` (the sparse CSR form of :obj:`data.x`) replaces the dense features when
        given (the dense rows are then never copied); with its CSR
        transpose :obj:`x_csr_t` as well, the model's linear maps of the features run
        through :class:`~torch_geometric_unlearn.influence.sparse.CSRMatmul` (same product, cheap backward passes)."""
        task = self.task
        if max_fraction is None:
            max_fraction = 1.0 if x_csr is not None else 0.6
        rows, view = None, _with_x(data, x_csr)
        if self.local and int(mask.sum()) > 0:
            seeds = mask.nonzero().view(-1)
            subset, _, _, _ = k_hop_subgraph(seeds, hops + 1, data.edge_index,
                                             num_nodes=data.num_nodes)
            if subset.numel() < max_fraction * data.num_nodes:
                if x_csr is not None:  # subgraph of everything but the dense features
                    light = copy.copy(data)
                    del light.x
                    light.num_nodes = data.num_nodes
                    view = light.subgraph(subset)
                    view.x = _csr_rows(x_csr, subset)
                    rows = subset
                else:
                    view = data.subgraph(subset)
                mask = mask[subset]
        if x_csr is None or x_csr_t is None:
            return task.loss(model, view, mask, reduction='sum')
        with SparseFeatures(view.x, x_csr, x_csr_t, rows):
            return task.loss(model, view, mask, reduction='sum')

    def _resolve_sparse(self, model: torch.nn.Module, data: GraphData) -> bool:
        r"""Whether to feed sparse CSR features (decided once per model class and feature
        shape: a trial forward pass must give the dense logits)."""
        return resolve_sparse_features(self, self.task, model, data)

    def _csr_of(self, x: Tensor) -> Tensor:
        r"""The CSR form of :obj:`x`, reusing the cached conversion of the previous graph's
        features (:func:`~torch_geometric_unlearn.influence.sparse.cached_csr`)."""
        return cached_csr(x, self._x_cache)

    def _sparse_forms(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        r"""The CSR forms of :obj:`x` and of its transpose (cached for the current graph's
        features; the transpose is kept as the CSC view of :obj:`x`'s shape)."""
        cache = self._x_cache
        if cache is not None and cache[0] is x and cache[1] == x._version:
            if cache[3] is None:  # restored from a checkpoint, which leaves it out
                return cache[2], transpose_csr(cache[2])
            return cache[2], cache[3].t()
        csr = self._csr_of(x)
        return csr, transpose_csr(csr)

    @staticmethod
    def _retained_csr(x_csr: Tensor, x_csr_t: Tensor, data: GraphData, retained: GraphData,
                      request: UnlearningRequest) -> Optional[Tuple[Tensor, Tensor]]:
        r"""The CSR forms of :obj:`retained.x` and of its transpose, derived from those of
        :obj:`data.x` by deleting the entries :obj:`request` zeroes (node requests: the
        removed nodes' rows; feature requests: the requested rows, or their requested
        columns), in :math:`O(\text{nnz})` without scanning the dense matrix. The zeroed
        entries are dropped, not stored as zeros. Returns :obj:`None` when
        :obj:`retained.x` is not the expected result (then the caller converts it)."""
        x, x_r = data.x, retained.x
        if x_r is x:  # edge requests keep the features
            return x_csr, x_csr_t
        if not isinstance(x_r, Tensor) or x_r.shape != x.shape or request.kind == 'edge':
            return None
        rows, cols = request.node_index, None
        if request.kind == 'feature' and request.feature_index is not None:
            cols = request.feature_index
            if bool(x_r[rows.view(-1, 1), cols.view(1, -1)].any()):
                return None
        elif bool(x_r[rows].any()):
            return None
        row_hit = torch.zeros(x.size(0), dtype=torch.bool, device=x.device)
        row_hit[rows] = True
        col_hit = None
        if cols is not None:
            col_hit = torch.zeros(x.size(1), dtype=torch.bool, device=x.device)
            col_hit[cols] = True
        return drop_entries(x_csr, row_hit, col_hit), drop_entries(x_csr_t, col_hit, row_hit)

    def _grad_difference(self, model: torch.nn.Module, params: Tuple[Tensor, ...],
                         data: GraphData, mask: Tensor, retained: GraphData,
                         mask_r: Tensor, hops: int, x_csr: Optional[Tensor] = None,
                         x_csr_r: Optional[Tensor] = None, x_csr_t: Optional[Tensor] = None,
                         x_csr_r_t: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        r""":math:`\nabla_\theta L(\text{mask}, G) - \nabla_\theta L(\text{mask}_r, G')` with
        a single backward pass through both losses."""
        loss = None
        if int(mask.sum()) > 0:
            loss = self._loss(model, data, mask, hops, x_csr, x_csr_t=x_csr_t)
        if int(mask_r.sum()) > 0:
            loss_r = self._loss(model, retained, mask_r, hops, x_csr_r, x_csr_t=x_csr_r_t)
            loss = -loss_r if loss is None else loss - loss_r
        if loss is None:
            return tuple(torch.zeros_like(p) for p in params)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, params))

    # Spectrum ################################################################

    def _hessian(self, model: torch.nn.Module, data: GraphData, hops: int,
                 x_csr: Optional[Tensor], x_csr_t: Optional[Tensor] = None):
        r""":obj:`hvp_fn` for the Hessian of the summed training loss on :obj:`data`, on the
        training nodes' :math:`(k+1)`-hop subgraph unless that is the whole graph (it serves
        many products, so a subgraph of up to all nodes pays off); reuses the graph built in
        :meth:`fit` when model, graph and options are unchanged."""
        params = tuple(p for p in model.parameters() if p.requires_grad)
        key = (hops, self.local, x_csr is not None)
        cache, self._hessian_cache = self._hessian_cache, None  # consumed: used at most once
        if cache is not None and cache.matches(model, params, data, key):
            return cache.hvp_fn, params
        loss = self._loss(model, data, data.train_mask.to(data.edge_index.device), hops, x_csr,
                          max_fraction=1.0, x_csr_t=x_csr_t)
        return make_hvp_fn(loss, params), params

    def _estimate_spectrum(self, hvp_fn, params, steps: int) -> Tuple[float, float]:
        lo, hi = hessian_eigenvalue_bounds(hvp_fn, params, steps=steps)
        if not hi > 0:
            raise RuntimeError(f'{self.name}: the training-loss Hessian has no positive '
                               f'eigenvalue (estimate {hi:.3g}); the model is not at a '
                               'trained optimum, use a numeric scale or retrain it')
        self._spectrum = (lo, hi)
        return self._spectrum

    def fit(self, model: torch.nn.Module, data: GraphData) -> None:
        r"""Request-independent preparation on the original model and graph: decides the
        sparse-feature path, caches the features' CSR form, builds the differentiable
        training-loss gradient that the first request's Hessian-vector products reuse (the
        Hessian :math:`\mathbf{H}` is that of the original model on the original graph, so it
        does not depend on the request; later requests rebuild it on the updated model) and,
        for :obj:`scale="auto"`, estimates the Hessian's top eigenvalue (:obj:`lanczos_steps`
        Hessian-vector products)."""
        super().fit(model, data)
        self._spectrum = None
        self._x_cache = None
        self._hessian_cache = None
        if self.task is None or not hasattr(self.task, 'loss'):
            return
        params = tuple(p for p in model.parameters() if p.requires_grad)
        if not params:
            return
        was_training = model.training
        model.eval()
        try:
            x_csr = x_csr_t = None
            if self._resolve_sparse(model, data):
                x_csr, x_csr_t = self._sparse_forms(data.x)
                self._x_cache = (data.x, data.x._version, x_csr, x_csr_t.t())
            hops = self._hops(model)
            hvp_fn, params = self._hessian(model, data, hops, x_csr, x_csr_t)
            if self.scale == 'auto':
                try:
                    self._estimate_spectrum(hvp_fn, params, self.lanczos_steps)
                except RuntimeError:  # e.g. an untrained model: estimated again per request
                    self._spectrum = None
            self._hessian_cache = _HessianCache(hvp_fn, model, params, data,
                                                (hops, self.local, x_csr is not None))
        finally:
            model.train(was_training)

    # Unlearning ##############################################################

    def forward(self, model: torch.nn.Module, data: GraphData,
                request: UnlearningRequest) -> UnlearningResult:
        task = self._require_task()
        if not hasattr(task, 'loss'):
            raise TypeError(f'{self.name} needs a task with a differentiable loss(model, data, '
                            f'mask, reduction) method; {type(task).__name__} has none')
        request = request.to(data.edge_index.device)
        retained = request.apply(data)
        params = tuple(p for p in model.parameters() if p.requires_grad)
        if not params:
            raise ValueError(f'{self.name}: the model has no trainable parameters')
        hops = self._hops(model)

        influenced = self.influenced_set(model, data, request)
        train = data.train_mask.to(influenced.device)
        removed = torch.zeros_like(influenced)
        if request.kind == 'node':
            removed[request.node_index] = True
        mask_g = (influenced | removed) & train
        mask_gp = influenced & retained.train_mask.to(influenced.device)

        was_training = model.training
        model.eval()  # deterministic losses (no dropout)
        retried = False
        try:
            sparse_used = self._resolve_sparse(model, data)
            x_csr = x_csr_r = x_csr_t = x_csr_r_t = None
            if sparse_used:
                x_csr, x_csr_t = self._sparse_forms(data.x)
                self._x_cache = (data.x, data.x._version, x_csr, x_csr_t.t())
                forms = self._retained_csr(x_csr, x_csr_t, data, retained, request)
                if forms is None:  # convert the retained features themselves
                    forms = self._sparse_forms(retained.x)
                x_csr_r, x_csr_r_t = forms
            v = self._grad_difference(model, params, data, mask_g, retained, mask_gp, hops,
                                      x_csr, x_csr_r, x_csr_t, x_csr_r_t)
            hvp_fn, _ = self._hessian(model, data, hops, x_csr, x_csr_t)
            if self.scale == 'auto' and self._spectrum is None:
                self._estimate_spectrum(hvp_fn, params, self.lanczos_steps)
            scale = AUTO_SCALE_FACTOR * self._spectrum[1] if self.scale == 'auto' \
                else self.scale
            info: Dict[str, Any]
            if self.solver == 'lissa':
                try:
                    delta, info = inverse_hvp_lissa(hvp_fn, v, damp=self.damp, scale=scale,
                                                    iterations=self.iterations,
                                                    return_info=True)
                except LiSSADivergenceError as e:
                    if self.scale != 'auto':
                        raise RuntimeError(
                            f'{self.name}: {e}. The summed-loss Hessian grows with the number '
                            f'of training nodes ({int(train.sum())} here): use '
                            "scale='auto'") from e
                    # Stale or underestimated spectrum: re-estimate on this model, retry once.
                    _, hi = self._estimate_spectrum(hvp_fn, params, 2 * self.lanczos_steps)
                    new_scale = max(AUTO_SCALE_FACTOR * hi, 2.0 * scale, e.lambda_estimate)
                    warnings.warn(f'{self.name}: LiSSA diverged with scale={scale:.4g}; '
                                  f'retrying with scale={new_scale:.4g}', RuntimeWarning)
                    scale, retried = new_scale, True
                    try:
                        delta, info = inverse_hvp_lissa(hvp_fn, v, damp=self.damp,
                                                        scale=scale,
                                                        iterations=self.iterations,
                                                        return_info=True)
                    except LiSSADivergenceError as e2:
                        raise RuntimeError(f'{self.name}: {e2} (after re-estimating the '
                                           'spectrum); add damping') from e2
            else:
                delta, info = inverse_hvp_cg(hvp_fn, v, damping=self.damp * scale,
                                             max_iter=self.iterations, tol=self.cg_tol,
                                             return_info=True)
                if info['negative_curvature']:
                    warnings.warn(f'{self.name}: CG met non-positive curvature after '
                                  f"{info['iterations']} products and stopped there (the "
                                  'Hessian is indefinite); increase damp', RuntimeWarning)
            del hvp_fn
        finally:
            model.train(was_training)
        if not all(bool(torch.isfinite(d).all()) for d in delta):
            raise RuntimeError(f'{self.name}: the inverse-HVP estimate is not finite; lower '
                               'the step (larger scale, fewer iterations) or add damping')
        if sparse_used:  # keep only the retained graph's features cached
            self._x_cache = (retained.x, retained.x._version, x_csr_r, x_csr_r_t.t())

        new_model = copy.deepcopy(model)
        new_params = [p for p in new_model.parameters() if p.requires_grad]
        with torch.no_grad():
            for p, d in zip(new_params, delta):
                p.add_(d)
        extras = {
            'influenced_nodes': int(influenced.sum()),
            'influenced_train_nodes': int((influenced & train).sum()),
            'removed_train_nodes': int((removed & train).sum()),
            'num_hops': hops, 'solver': self.solver, 'sparse_features': sparse_used,
            'solver_iterations': info['iterations'], 'scale': float(scale),
            'scale_retried': retried,
            'lambda_max_estimate': None if self._spectrum is None else self._spectrum[1],
            'lambda_min_estimate': None if self._spectrum is None else self._spectrum[0],
            'v_norm': float(sum((t * t).sum() for t in v)) ** 0.5,
            'update_norm': float(sum((d * d).sum() for d in delta)) ** 0.5,
        }
        if self.solver == 'cg':
            extras['residual_norm'] = info['residual_norm']
            extras['relative_residual'] = info['relative_residual']
            extras['negative_curvature'] = info['negative_curvature']
        else:
            extras['lissa_growth'] = info['growth']
        return self.make_result(new_model, retained, request, extras=extras)

    def state_snapshot(self) -> Dict[str, Any]:
        r"""As the base class, but the feature cache (an immutable reference to the current
        graph's features and their CSR form) and the fitted Hessian's gradient graph are
        shared rather than deep-copied."""
        shared = {k: self.__dict__.pop(k) for k in ('_x_cache', '_hessian_cache')
                  if k in self.__dict__}
        try:
            snap = super().state_snapshot()
        finally:
            self.__dict__.update(shared)
        snap.update(shared)
        return snap

    def __deepcopy__(self, memo: Dict[int, Any]) -> 'GIF':
        r"""A deep copy that shares the immutable feature cache (sparse tensors cannot be
        deep-copied) and leaves out the fitted Hessian's autograd graph (rebuilt when
        needed)."""
        out = type(self).__new__(type(self))
        memo[id(self)] = out
        for k, v in self.__dict__.items():
            out.__dict__[k] = v if k == '_x_cache' else None if k == '_hessian_cache' \
                else copy.deepcopy(v, memo)
        return out

    def _state_items(self) -> Dict[str, Any]:
        r"""As the base class, without the Hessian's gradient graph and the features' cached
        CSR transpose (both recomputed when needed)."""
        items = super()._state_items()
        items.pop('_hessian_cache', None)
        cache = items.get('_x_cache')
        if cache is not None:
            items['_x_cache'] = (*cache[:3], None)
        return items

    def __repr__(self) -> str:
        return (f'{self.name}(iterations={self.iterations}, scale={self.scale!r}, '
                f'damp={self.damp}, solver={self.solver!r})')


class IF(GIF):
    r"""The plain influence function baseline (Koh & Liang, ICML'17, as compared in GIF):
    :class:`GIF` with :obj:`graph_term=False`, i.e. only the request's own loss terms and no
    graph neighbourhood. Guarantee: **approximate**. Arguments as :class:`GIF`."""

    def __init__(self, iterations: int = 100, scale: Union[float, str] = 'auto',
                 damp: float = 0.0, solver: str = 'lissa',
                 influenced_nodes: Optional[InfluencedNodesFn] = None, cg_tol: float = 1e-6,
                 num_hops: Optional[int] = None, local: bool = True,
                 sparse_features: Optional[bool] = None, lanczos_steps: int = 10) -> None:
        super().__init__(iterations=iterations, scale=scale, damp=damp, solver=solver,
                         graph_term=False, influenced_nodes=influenced_nodes, cg_tol=cg_tol,
                         num_hops=num_hops, local=local, sparse_features=sparse_features,
                         lanczos_steps=lanczos_steps)

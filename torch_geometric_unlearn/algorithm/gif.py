r"""GIF: graph influence-function unlearning (Wu et al., "GIF: A General Graph Unlearning
Strategy via Influence Function", WWW'23), and the plain influence-function baseline IF."""
from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.utils import k_hop_subgraph

from torch_geometric_unlearn.algorithm.base import GraphData, UnlearningAlgorithm
from torch_geometric_unlearn.influence.hvp import make_hvp_fn
from torch_geometric_unlearn.influence.solvers import inverse_hvp_cg, inverse_hvp_lissa
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult

#: ``fn(data, request, model, task) -> LongTensor`` of influenced node ids.
InfluencedNodesFn = Callable[[GraphData, UnlearningRequest, torch.nn.Module, Any], Tensor]

SOLVERS = ('lissa', 'cg')


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
        scale (float, optional): LiSSA scale. (default: :obj:`500.0`, as the authors)
        damp (float, optional): LiSSA damping in :math:`[0, 1)`; CG solves
            :math:`(\mathbf{H} + \text{damp}\cdot\text{scale}\,\mathbf{I})\mathbf{x}=\mathbf{v}`.
            (default: :obj:`0.0`, as the authors)
        solver (str, optional): :obj:`"lissa"` or :obj:`"cg"`. (default: :obj:`"lissa"`)
        graph_term (bool, optional): Include the influenced neighbourhood (GIF); :obj:`False`
            gives the plain influence function. (default: :obj:`True`)
        influenced_nodes (callable, optional): :obj:`fn(data, request, model, task) ->
            LongTensor` of node ids replacing the :math:`k`-hop influenced set (e.g. the node
            influence maximisation (NIM) selection); removed nodes in it are ignored.
            (default: :obj:`None`)
        cg_tol (float, optional): Relative residual tolerance of CG. (default: :obj:`1e-6`)
        num_hops (int, optional): Overrides :math:`k`. (default: :obj:`None`)
        local (bool, optional): Compute the losses of small node sets on their
            :math:`(k+1)`-hop subgraph instead of the whole graph (exact for :math:`k`-layer
            message passing, where a node's output depends only on that subgraph); set
            :obj:`False` for models with global operations. (default: :obj:`True`)
        sparse_features (bool, optional): Feed :obj:`x` to the model as a sparse CSR tensor in
            every loss (the Hessian-vector products then skip the zeros of bag-of-words
            features: about 2.5x faster on Cora). :obj:`None` does so when fewer than 10% of
            the entries are non-zero and a trial forward pass gives the same logits as the
            dense one; otherwise the dense features are used. (default: :obj:`None`)
    """
    exact = False
    certified = False
    tasks = ('node_classification', )
    request_types = ('node', 'edge', 'feature')

    def __init__(self, iterations: int = 100, scale: float = 500.0, damp: float = 0.0,
                 solver: str = 'lissa', graph_term: bool = True,
                 influenced_nodes: Optional[InfluencedNodesFn] = None, cg_tol: float = 1e-6,
                 num_hops: Optional[int] = None, local: bool = True,
                 sparse_features: Optional[bool] = None) -> None:
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver '{solver}' (expected one of {SOLVERS})")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f'iterations must be a non-negative int, got {iterations!r}')
        if not scale > 0:
            raise ValueError(f'scale must be positive, got {scale}')
        if not 0.0 <= damp < 1.0:
            raise ValueError(f'damp must be in [0, 1), got {damp}')
        if influenced_nodes is not None and not callable(influenced_nodes):
            raise TypeError('influenced_nodes must be a callable (data, request, model, task) '
                            f'-> LongTensor, got {type(influenced_nodes).__name__}')
        if num_hops is not None and (not isinstance(num_hops, int) or num_hops < 0):
            raise ValueError(f'num_hops must be a non-negative int, got {num_hops!r}')
        if not cg_tol > 0:
            raise ValueError(f'cg_tol must be positive, got {cg_tol}')
        self.iterations, self.scale, self.damp = iterations, float(scale), float(damp)
        self.solver, self.graph_term = solver, bool(graph_term)
        self.influenced_nodes, self.cg_tol = influenced_nodes, float(cg_tol)
        self.num_hops, self.local = num_hops, bool(local)
        self.sparse_features = sparse_features
        self._sparse = False  # resolved per call in forward()

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

    def _loss(self, model: torch.nn.Module, data: GraphData, mask: Tensor, hops: int) -> Tensor:
        r"""Summed task loss of the nodes in :obj:`mask`, on their :math:`(k+1)`-hop subgraph
        when that is small (exact for :math:`k`-layer message passing)."""
        task = self.task
        if self.local and int(mask.sum()) > 0:
            seeds = mask.nonzero().view(-1)
            subset, _, _, _ = k_hop_subgraph(seeds, hops + 1, data.edge_index,
                                             num_nodes=data.num_nodes)
            if subset.numel() < 0.6 * data.num_nodes:
                sub = data.subgraph(subset)
                return task.loss(model, self._view(sub), mask[subset], reduction='sum')
        return task.loss(model, self._view(data), mask, reduction='sum')

    def _view(self, data: GraphData) -> GraphData:
        r"""A shallow copy of :obj:`data` whose :obj:`x` is sparse CSR when enabled."""
        if not self._sparse:
            return data
        out = copy.copy(data)
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter('ignore', UserWarning)
            out.x = data.x.to_sparse_csr()
        return out

    def _resolve_sparse(self, model: torch.nn.Module, data: GraphData) -> bool:
        x = getattr(data, 'x', None)
        if self.sparse_features is False or not isinstance(x, Tensor) or x.dim() != 2 \
                or x.layout != torch.strided or not x.is_floating_point():
            return False
        if self.sparse_features is None and float((x != 0).float().mean()) >= 0.1:
            return False
        try:
            with torch.no_grad():
                dense = self.task.logits(model, data)
                self._sparse = True
                sparse = self.task.logits(model, self._view(data))
            ok = sparse.shape == dense.shape and torch.allclose(sparse, dense, rtol=1e-4,
                                                                  atol=1e-5)
        except (RuntimeError, NotImplementedError, TypeError, ValueError):
            ok = False
        finally:
            self._sparse = False
        if not ok and self.sparse_features:
            raise ValueError(f'{self.name}(sparse_features=True): the model does not accept '
                             'sparse CSR features (or gives different logits); use None/False')
        return ok

    def _grad(self, model: torch.nn.Module, params: Tuple[Tensor, ...], data: GraphData,
              mask: Tensor, hops: int) -> Tuple[Tensor, ...]:
        if int(mask.sum()) == 0:
            return tuple(torch.zeros_like(p) for p in params)
        loss = self._loss(model, data, mask, hops)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, params))

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
        try:
            self._sparse = self._resolve_sparse(model, data)
            g1 = self._grad(model, params, data, mask_g, hops)
            g2 = self._grad(model, params, retained, mask_gp, hops)
            v = tuple(a - b for a, b in zip(g1, g2))
            hvp_fn = make_hvp_fn(task.loss(model, self._view(data), train, reduction='sum'),
                                 params)
            info: Dict[str, Any]
            if self.solver == 'lissa':
                delta, info = inverse_hvp_lissa(hvp_fn, v, damp=self.damp, scale=self.scale,
                                                iterations=self.iterations, return_info=True)
            else:
                delta, info = inverse_hvp_cg(hvp_fn, v, damping=self.damp * self.scale,
                                             max_iter=self.iterations, tol=self.cg_tol,
                                             return_info=True)
            del hvp_fn
            sparse_used = self._sparse
        finally:
            self._sparse = False
            model.train(was_training)
        if not all(bool(torch.isfinite(d).all()) for d in delta):
            raise RuntimeError(f'{self.name}: the inverse-HVP estimate is not finite; lower '
                               'the step (larger scale, fewer iterations) or add damping')

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
            'solver_iterations': info['iterations'],
            'v_norm': float(sum((t * t).sum() for t in v)) ** 0.5,
            'update_norm': float(sum((d * d).sum() for d in delta)) ** 0.5,
        }
        if self.solver == 'cg':
            extras['residual_norm'] = info['residual_norm']
            extras['relative_residual'] = info['relative_residual']
            extras['negative_curvature'] = info['negative_curvature']
        return self.make_result(new_model, retained, request, extras=extras)

    def __repr__(self) -> str:
        return (f'{self.name}(iterations={self.iterations}, scale={self.scale}, '
                f'damp={self.damp}, solver={self.solver!r})')


class IF(GIF):
    r"""The plain influence function baseline (Koh & Liang, ICML'17, as compared in GIF):
    :class:`GIF` with :obj:`graph_term=False`, i.e. only the request's own loss terms and no
    graph neighbourhood. Guarantee: **approximate**. Arguments as :class:`GIF`."""

    def __init__(self, iterations: int = 100, scale: float = 500.0, damp: float = 0.0,
                 solver: str = 'lissa', influenced_nodes: Optional[InfluencedNodesFn] = None,
                 cg_tol: float = 1e-6, num_hops: Optional[int] = None,
                 local: bool = True, sparse_features: Optional[bool] = None) -> None:
        super().__init__(iterations=iterations, scale=scale, damp=damp, solver=solver,
                         graph_term=False, influenced_nodes=influenced_nodes, cg_tol=cg_tol,
                         num_hops=num_hops, local=local, sparse_features=sparse_features)

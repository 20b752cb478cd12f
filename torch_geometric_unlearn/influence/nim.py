r"""NIM: node influence maximisation, the selector of highly influenced entities (HIE) of SGU
(Li et al., "Towards Scalable and Deep Graph Unlearning via Node Influence Maximization";
appendix: ../shared/papers/nim-sgu-scalable-graph-unlearning-appendix.txt).

NIM is a plug-in: :class:`NIM` is a callable :obj:`(data, request, model, task) -> LongTensor`
of HIE node ids, the signature of :class:`~torch_geometric_unlearn.algorithm.gif.GIF`'s
:obj:`influenced_nodes` option and of :class:`~torch_geometric_unlearn.algorithm.sgu.SGU`'s
:obj:`selector`.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from torch_geometric_unlearn.nn.sparse import csr_from_sorted
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.utils import eval_mode


def propagate_features(x: Tensor, edge_index: Tensor, num_nodes: int, num_hops: int,
                       nodes: Optional[Tensor] = None) -> Tensor:
    r"""The propagation model of a GCN/SGC backbone: :math:`\tilde{X} = \hat{A}^K X` with
    :math:`\hat{A} = \tilde{D}^{-1/2}(A + I)\tilde{D}^{-1/2}` (PyG's :func:`gcn_norm`), as
    :math:`K` sparse (CSR) matrix products: :math:`O(K\,|E|\,F)` time, :math:`O(|E| + nF)`
    memory.

    With :obj:`nodes`, only those rows of :math:`\tilde{X}` are returned, computed exactly
    hop by hop on shrinking row sets: hop :math:`i` only computes the rows within
    :math:`K - i` hops of :obj:`nodes` (every walk of length :math:`K` from a node stays in its
    :math:`K`-hop neighbourhood; the edge weights use the degrees of the whole graph):
    :math:`O(\sum_i |E_i|\,F)` with :math:`E_i` the edges into the :math:`(K-i)`-hop rows."""
    if x.layout == torch.sparse_csr and (nodes is None or num_hops == 0):
        x = x.to_dense()
    x = x.float()
    if nodes is not None:
        nodes = nodes.view(-1).to(edge_index.device)
    if num_hops == 0:
        return x if nodes is None else x[nodes]
    if nodes is not None:
        return _propagate_rows(x, edge_index, num_nodes, num_hops, nodes)
    ei, ew = gcn_norm(edge_index, None, num_nodes=num_nodes, add_self_loops=True,
                      dtype=x.dtype)
    # gcn_norm returns (source, target): out[target] += w * x[source].
    adj = _csr(ei[1], ei[0], ew, (num_nodes, num_nodes))
    for _ in range(num_hops):
        x = adj @ x
    return x


def _csr(row: Tensor, col: Tensor, val: Tensor, size: Tuple[int, int]) -> Tensor:
    r"""A CSR matrix from COO entries (duplicates summed)."""
    adj = torch.sparse_coo_tensor(torch.stack([row, col]), val, size, check_invariants=False)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        return adj.coalesce().to_sparse_csr()


def _propagate_rows(x: Tensor, edge_index: Tensor, num_nodes: int, num_hops: int,
                    nodes: Tensor) -> Tensor:
    r"""Rows :obj:`nodes` of :math:`\hat{A}^K X`: :math:`S_K = ` the :math:`K`-hop
    neighbourhood, :math:`X_{S_{i-1}} \leftarrow \hat{A}[S_{i-1}, S_i]\, X_{S_i}` for
    :math:`i = K, \dots, 1` (:math:`S_0` = :obj:`nodes`, :math:`S_i \supseteq S_{i-1}`)."""
    device = edge_index.device
    # Existing self loops are replaced by weight-1 loops, as add_remaining_self_loops.
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    src, dst = edge_index[0], edge_index[1]
    # gcn_norm's weights 1/sqrt(d~_i d~_j) with the whole graph's degrees (+1 self loop).
    dis = torch.ones(num_nodes, dtype=x.dtype, device=device).index_add_(
        0, dst, torch.ones(dst.numel(), dtype=x.dtype, device=device)).pow(-0.5)
    mask = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    mask[nodes] = True
    sets, into = [nodes], []
    for _ in range(num_hops):  # S_i = S_{i-1} and the sources of the edges into it
        e = mask[dst]
        into.append(e)
        mask = mask.clone()
        mask[src[e]] = True
        sets.append(mask.nonzero().view(-1))
    pos = torch.full((num_nodes, ), -1, dtype=torch.long, device=device)
    out = None if x.layout == torch.sparse_csr else x[sets[num_hops]]
    for i in range(num_hops, 0, -1):
        tgt, e = sets[i - 1], into[i - 1]
        pos[sets[i]] = torch.arange(sets[i].numel(), device=device)
        col = torch.cat([pos[src[e]], pos[tgt]])
        pos[tgt] = torch.arange(tgt.numel(), device=device)
        row = torch.cat([pos[dst[e]], torch.arange(tgt.numel(), device=device)])
        val = torch.cat([dis[dst[e]] * dis[src[e]], dis[tgt] * dis[tgt]])
        if out is None:  # sparse CSR features: the first product over X's non-zeros only
            out = _spmm_csr_rows(row, col, val, tgt.numel(), x, sets[i])
        else:
            out = _csr(row, col, val, (tgt.numel(), sets[i].numel())) @ out
    return out


def _spmm_csr_rows(row: Tensor, col: Tensor, val: Tensor, num_rows: int, x: Tensor,
                   rows: Tensor) -> Tensor:
    r"""Dense :math:`A\,X[\text{rows}]` for a COO :math:`A` (entries :obj:`row`, :obj:`col`,
    :obj:`val`) and sparse CSR :math:`X`: every entry :math:`A_{ij}` scatters the non-zeros of
    row :obj:`rows[j]` of :math:`X` (:math:`O(\mathrm{nnz}(A)\,\mathrm{nnz}(X)/n)`)."""
    xcol, xval = x.col_indices(), x.values().float()
    at, entry = _gather_groups(None, x.crow_indices(), rows[col])  # X's non-zeros per entry
    f = x.size(1)
    out = torch.zeros(num_rows * f, dtype=xval.dtype, device=x.device)
    out.index_add_(0, row[entry] * f + xcol[at], val.to(xval.dtype)[entry] * xval[at])
    return out.view(num_rows, f)


def _rank_within(rows: Tensor, vals: Tensor) -> Tensor:
    r"""Rank (0 = largest) of each value among the values of the same row; ties by position."""
    order = torch.argsort(vals, descending=True, stable=True)
    order = order[torch.argsort(rows[order], stable=True)]
    r = rows[order]
    counts = torch.bincount(r, minlength=int(r.max()) + 1 if r.numel() else 0)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(rows)
    rank[order] = torch.arange(r.numel(), device=rows.device) - starts[r]
    return rank


def _group(keys: Tensor, num: int) -> Tuple[Tensor, Tensor]:
    r"""Positions sorted by :obj:`keys` (stable) and the CSR pointer of each key's group."""
    perm = torch.argsort(keys, stable=True)
    ptr = torch.zeros(num + 1, dtype=torch.long, device=keys.device)
    ptr[1:] = torch.cumsum(torch.bincount(keys, minlength=num), 0)
    return perm, ptr


def _gather_groups(perm: Optional[Tensor], ptr: Tensor,
                   groups: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Members of :obj:`groups` (in that order, each group in its stored order) and the
    position in :obj:`groups` each member comes from; with :obj:`perm=None` the members are
    the stored positions themselves (e.g. the entries of CSR rows :obj:`groups`)."""
    start = ptr[groups]
    counts = ptr[groups + 1] - start
    owner = torch.repeat_interleave(torch.arange(groups.numel(), device=ptr.device), counts)
    offs = torch.arange(owner.numel(), device=ptr.device) - \
        (torch.cumsum(counts, 0) - counts)[owner]
    pos = start[owner] + offs
    return (pos if perm is None else perm[pos]), owner


def unlearning_entities(request: UnlearningRequest) -> Tensor:
    r"""The node-level unlearning entities (UE) of a request (the paper's entity transform,
    Eq. (9)): removed nodes, both endpoints of removed edges, or the nodes whose features are
    removed."""
    if request.kind in ('node', 'feature'):
        return request.node_index.view(-1).unique()
    if request.kind == 'edge':
        return request.edge_index.reshape(-1).unique()
    raise ValueError(f"NIM handles node, edge and feature requests, not '{request.kind}'")


def _soft_labels(data: Any, model: torch.nn.Module, task: Any) -> Tensor:
    if task is not None and hasattr(task, 'predict_proba'):
        return task.predict_proba(model, data)
    with eval_mode(model), torch.no_grad():
        return model(data.x, data.edge_index).softmax(dim=-1)


class NIM:
    r"""Node influence maximisation (NIM): selects the highly influenced entities (HIE) of an
    unlearning request among the non-removed nodes.

    With the backbone's propagation model :math:`\tilde{X} = \hat{A}^K X` and the trained
    model's soft labels :math:`P`, the influence of an unlearning entity :math:`u` on a node
    :math:`v` is (the authors' quantification, Eqs. (5-7))

    .. math::
        I(u, v) = \cos(\tilde{x}_u, \tilde{x}_v) + w \cdot \cos(p_u, p_v),

    normalised to :math:`\bar{I} = I / (1 + w) \in [-1, 1]`; a pair is *activated* when
    :math:`\bar{I}(u, v) > \theta` (the threshold). NIM then picks at most :math:`B` nodes
    (the budget, default :math:`3|U|`) by the greedy influence-maximisation loop of Algorithm 1
    on the monotone submodular spread

    .. math::
        \sigma(S) = \sum_{u \in U} \min\Big(c_u, \sum_{v \in S} \bar{I}^+(u, v)\Big)
        + \epsilon \sum_{v \in S} \sum_{u \in U} \bar{I}^+(u, v),

    (:math:`\epsilon = 10^{-3}`: once every cap is reached the rest of the budget goes to the
    most influenced remaining nodes), where :math:`c_u` is the sum of :math:`u`'s
    :math:`\lceil B/|U| \rceil` largest activated influences: each step adds the node of
    largest marginal gain, so every removed entity gets its share of HIE (greedy on a
    submodular function: a :math:`(1 - 1/e)` approximation).
    Without the caps (:obj:`coverage=False`) the spread is modular and the greedy reduces to
    the top-:math:`B` nodes of the authors' score
    :math:`IS(v) = \sum_u \cos(\tilde{x}_u, \tilde{x}_v) + w \sum_u \cos(p_u, p_v)`.

    Scalable form (never an :math:`n \times n` matrix): the candidate pairs :math:`(u, v)` are
    the :math:`K`-hop neighbourhood of each UE (sparse frontier expansion over the CSR
    adjacency, both edge directions), plus optionally the :obj:`num_similar` most similar nodes
    of each UE found in chunks of :obj:`chunk_size` nodes (:math:`|U| \times` chunk products,
    the exact counterpart of the authors' LSH search); influences are computed per pair, only
    the activated pairs among each UE's :obj:`per_entity` best are kept (sparse), and the
    greedy keeps every candidate's marginal gain up to date with scatters over those pairs,
    accepting exact batches of picks per round. Cost: :math:`O(K|E|F)` for the propagation,
    one inference for :math:`P`,
    :math:`O(|\text{pairs}|\,(F + c))` for the influences (plus :math:`O(|U|\,n\,(F + c))`
    with :obj:`num_similar`) and, for the greedy, :math:`O(|\text{pairs}|)` plus per round a
    top-k over the candidates and the pairs of the entities it touched, where each of the
    :math:`R \le B` rounds accepts a batch of picks that provably equals the next picks of the
    one-at-a-time greedy (see :meth:`_greedy`).

    Removed nodes (the request's and earlier ones, :obj:`data.removed_mask`) and the UE
    themselves are never selected. Deterministic (no randomness).

    Args:
        budget (int, optional): Maximum number of HIE :math:`B`; :obj:`None` uses
            :obj:`budget_factor` :math:`\cdot |U|`. (default: :obj:`None`)
        budget_factor (float, optional): :math:`B / |U|` when :obj:`budget` is :obj:`None`.
            (default: :obj:`3.0`, as the paper)
        threshold (float, optional): Activation threshold :math:`\theta` on the normalised
            influence in :math:`[-1, 1)`. (default: :obj:`0.0`)
        num_hops (int, optional): Propagation steps :math:`K` (and candidate hops); :obj:`None`
            uses the model's message-passing depth. (default: :obj:`None`)
        label_weight (float, optional): Weight :math:`w` of the soft-label similarity.
            (default: :obj:`0.8`, as the authors' code)
        num_similar (int, optional): Extra candidates per UE from the global similarity
            search (0: neighbourhood only). (default: :obj:`0`)
        per_entity (int, optional): Activated pairs kept per UE; :obj:`None` keeps
            :math:`\max(32, 4\lceil B/|U|\rceil)`. (default: :obj:`None`)
        coverage (bool, optional): Use the capped (submodular) spread; :obj:`False` gives the
            authors' additive score. (default: :obj:`True`)
        chunk_size (int, optional): Nodes per similarity block. (default: :obj:`16384`)
    """

    def __init__(self, budget: Optional[int] = None, budget_factor: float = 3.0,
                 threshold: float = 0.0, num_hops: Optional[int] = None,
                 label_weight: float = 0.8, num_similar: int = 0,
                 per_entity: Optional[int] = None, coverage: bool = True,
                 chunk_size: int = 16384) -> None:
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)
                                   or budget < 0):
            raise ValueError(f'budget must be a non-negative int or None, got {budget!r}')
        if not budget_factor >= 0:
            raise ValueError(f'budget_factor must be non-negative, got {budget_factor}')
        if not -1.0 <= threshold < 1.0:
            raise ValueError(f'threshold must be in [-1, 1), got {threshold}')
        if num_hops is not None and (not isinstance(num_hops, int) or num_hops < 0):
            raise ValueError(f'num_hops must be a non-negative int or None, got {num_hops!r}')
        if not label_weight >= 0:
            raise ValueError(f'label_weight must be non-negative, got {label_weight}')
        if not isinstance(num_similar, int) or num_similar < 0:
            raise ValueError(f'num_similar must be a non-negative int, got {num_similar!r}')
        if per_entity is not None and (not isinstance(per_entity, int) or per_entity < 1):
            raise ValueError(f'per_entity must be a positive int or None, got {per_entity!r}')
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f'chunk_size must be a positive int, got {chunk_size!r}')
        self.budget, self.budget_factor = budget, float(budget_factor)
        self.threshold, self.num_hops = float(threshold), num_hops
        self.label_weight, self.num_similar = float(label_weight), num_similar
        self.per_entity, self.coverage, self.chunk_size = per_entity, bool(coverage), chunk_size
        #: Weight of the additive fill term once every cap is reached.
        self.fill_weight = 1e-3

    def resolve_budget(self, num_entities: int) -> int:
        r"""The budget :math:`B` for :obj:`num_entities` unlearning entities."""
        if self.budget is not None:
            return self.budget
        return int(math.ceil(self.budget_factor * num_entities))

    def _hops(self, model: Optional[torch.nn.Module]) -> int:
        if self.num_hops is not None:
            return self.num_hops
        if model is None:
            return 2
        from torch_geometric_unlearn.nn.node import num_message_passing_layers
        return int(num_message_passing_layers(model))

    def __call__(self, data: Any, request: UnlearningRequest,
                 model: Optional[torch.nn.Module] = None, task: Any = None,
                 soft_labels: Optional[Tensor] = None) -> Tensor:
        return self.select(data, request, model, task, soft_labels)[0]

    @torch.no_grad()
    def select(self, data: Any, request: UnlearningRequest,
               model: Optional[torch.nn.Module] = None, task: Any = None,
               soft_labels: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""Returns the HIE ids (in selection order) and their marginal gains.

        Args:
            data (Data): The graph the model was trained on (request NOT applied).
            request (UnlearningRequest): The request.
            model (torch.nn.Module, optional): The trained model (soft labels, :math:`K`).
            task (Task, optional): Its task (:obj:`predict_proba`).
            soft_labels (Tensor, optional): Precomputed :math:`P` (skips the inference).
        """
        n = data.num_nodes
        device = data.edge_index.device
        ue = unlearning_entities(request.to(device))
        if ue.numel() and (int(ue.min()) < 0 or int(ue.max()) >= n):
            raise ValueError(f'request names nodes outside [0, {n})')
        budget = self.resolve_budget(int(ue.numel()))
        empty = torch.empty(0, dtype=torch.long, device=device)
        if ue.numel() == 0 or budget == 0:
            return empty, torch.empty(0, device=device)
        k = self._hops(model)

        # Nodes that may be selected: not removed (now or before), not an UE.
        allowed = torch.ones(n, dtype=torch.bool, device=device)
        removed_mask = getattr(data, 'removed_mask', None)
        if removed_mask is not None:
            allowed &= ~removed_mask.to(device)
        allowed[ue] = False

        # Soft labels (normalised rows -> cosines by dot products).
        if self.label_weight > 0:
            if soft_labels is None:
                if model is None:
                    raise ValueError('NIM needs the model (or soft_labels) when '
                                     'label_weight > 0')
                soft_labels = _soft_labels(data, model, task)
            p = F.normalize(soft_labels.to(device).float(), dim=-1)
        else:
            p = None

        # Candidate pairs (u, v): v in the K-hop neighbourhood of u (sparse expansion, both
        # edge directions) ...
        rows, cols = self._neighbourhood_pairs(ue, data.edge_index, n, k)
        ok = allowed[cols]
        rows, cols = rows[ok], cols[ok]
        # Influence propagation model X~ = A^K X: every row for the global similarity search,
        # else only the UE's and the candidates' rows (exact, on their K-hop neighbourhood).
        if self.num_similar > 0:
            xp = F.normalize(propagate_features(data.x, data.edge_index, n, k), dim=-1)
            # ... plus each UE's most similar nodes, searched in |U| x chunk blocks.
            r2, c2 = self._similar(ue, xp, p, allowed)
            key = torch.unique(torch.cat([rows * n + cols, r2 * n + c2]))
            rows, cols = key // n, key % n
            pos = None
        else:
            needed = torch.unique(torch.cat([ue, cols]))
            xp = F.normalize(propagate_features(data.x, data.edge_index, n, k, nodes=needed),
                             dim=-1)
            pos = torch.full((n, ), -1, dtype=torch.long, device=device)
            pos[needed] = torch.arange(needed.numel(), device=device)
        if cols.numel() == 0:
            return empty, torch.empty(0, device=device)

        quota = int(math.ceil(budget / ue.numel()))
        keep = self.per_entity or max(32, 4 * quota)
        # Pairs are unique and sorted by (UE position, node id); `pos` is monotone.
        vals = self._pair_influence(ue[rows], cols, xp, p, pos, sorted_pairs=True)
        rows, cols, vals = self._activated(rows, cols, vals, keep)
        if vals.numel() == 0:
            return empty, torch.empty(0, device=device)
        cand_idx, cols = torch.unique(cols, return_inverse=True)
        chosen, gains = self._greedy(rows, cols, vals, int(ue.numel()), int(cand_idx.numel()),
                                     budget, quota)
        return cand_idx[chosen], gains

    # Internals ##############################################################

    def _influence(self, ue: Tensor, nodes: Tensor, xp: Tensor, p: Optional[Tensor]) -> Tensor:
        r"""Normalised influence :math:`\bar{I}(u, v)`, a :math:`|U| \times |nodes|` block."""
        sim = xp[ue] @ xp[nodes].t()
        if p is not None:
            sim = sim + self.label_weight * (p[ue] @ p[nodes].t())
        return sim / (1.0 + self.label_weight)

    @staticmethod
    def _neighbourhood_pairs(ue: Tensor, edge_index: Tensor, n: int,
                             k: int) -> Tuple[Tensor, Tensor]:
        r"""All pairs (position of u in :obj:`ue`, v) with v within :obj:`k` hops of u
        (undirected view), by :obj:`k` sparse frontier expansions (never :math:`n \times n`)."""
        device = ue.device
        row, col = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        perm = torch.argsort(row)
        row, col = row[perm], col[perm]
        ptr = torch.zeros(n + 1, dtype=torch.long, device=device)
        ptr[1:] = torch.cumsum(torch.bincount(row, minlength=n), 0)
        deg = ptr[1:] - ptr[:-1]
        key = torch.arange(ue.numel(), device=device) * n + ue
        for _ in range(k):
            r, v = key // n, key % n
            d = deg[v]
            rep_r = torch.repeat_interleave(r, d)
            # Position of each neighbour inside v's CSR row.
            offs = torch.arange(int(d.sum()), device=device) - torch.repeat_interleave(
                torch.cumsum(d, 0) - d, d)
            nbr = col[torch.repeat_interleave(ptr[v], d) + offs]
            key = torch.unique(torch.cat([key, rep_r * n + nbr]))
        return key // n, key % n

    def _pair_influence(self, u: Tensor, v: Tensor, xp: Tensor, p: Optional[Tensor],
                        pos: Optional[Tensor] = None, sorted_pairs: bool = False) -> Tensor:
        r"""Normalised influence :math:`\bar{I}(u, v)` of paired node ids (:obj:`xp` holds the
        rows :obj:`pos[id]` when :obj:`pos` is given, else every row). With
        :obj:`sorted_pairs` (unique pairs in ascending :math:`(u, v)` order, :obj:`pos`
        monotone), the feature cosines are one sampled product
        :math:`(X_U X^\top) \odot M` over the pair pattern :math:`M` (only the pairs are
        computed, no row copies); else row gathers in chunks."""
        if pos is not None:
            a, b = pos[u], pos[v]
        else:
            a, b = u, v
        out = None
        if sorted_pairs and u.numel():
            out = self._sampled_dot(a, b, xp)
        if out is None:
            out = torch.empty(u.numel(), device=xp.device)
            step = self.chunk_size * 16
            for s in range(0, u.numel(), step):
                out[s:s + step] = (xp[a[s:s + step]] * xp[b[s:s + step]]).sum(-1)
        if p is not None:
            out = out + self.label_weight * (p[u] * p[v]).sum(-1)
        return out / (1.0 + self.label_weight)

    @staticmethod
    def _sampled_dot(a: Tensor, b: Tensor, xp: Tensor) -> Optional[Tensor]:
        r""":math:`x_a \cdot x_b` for pairs sorted by :math:`(a, b)` (unique), by
        :func:`torch.sparse.sampled_addmm` on the pattern of the pairs; :obj:`None` where the
        backend lacks it."""
        rows, inv = torch.unique_consecutive(a, return_inverse=True)
        mask = csr_from_sorted(inv, b, torch.zeros(b.numel(), dtype=xp.dtype, device=xp.device),
                               rows.numel(), xp.size(0))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', UserWarning)
                res = torch.sparse.sampled_addmm(mask, xp[rows], xp.t(), beta=0.0)
            return res.values()
        except (RuntimeError, NotImplementedError):  # pragma: no cover (backend-dependent)
            return None

    def _similar(self, ue: Tensor, xp: Tensor, p: Optional[Tensor],
                 allowed: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Each UE's :obj:`num_similar` most influenced allowed nodes, over all nodes in
        :math:`|U| \times` chunk blocks."""
        n, k = xp.size(0), self.num_similar
        best_val = torch.full((ue.numel(), 0), -2.0, device=xp.device)
        best_idx = torch.empty((ue.numel(), 0), dtype=torch.long, device=xp.device)
        for start in range(0, n, self.chunk_size):
            nodes = torch.arange(start, min(start + self.chunk_size, n), device=xp.device)
            block = self._influence(ue, nodes, xp, p)
            block[:, ~allowed[nodes]] = -2.0
            val = torch.cat([best_val, block], dim=1)
            idx = torch.cat([best_idx, nodes.expand(ue.numel(), -1)], dim=1)
            top = val.topk(min(k, val.size(1)), dim=1)
            best_val, best_idx = top.values, idx.gather(1, top.indices)
        rows = torch.arange(ue.numel(), device=xp.device).view(-1, 1).expand_as(best_idx)
        ok = best_val > -2.0
        return rows[ok], best_idx[ok]

    def _activated(self, rows: Tensor, cols: Tensor, vals: Tensor,
                   keep: int) -> Tuple[Tensor, Tensor, Tensor]:
        r"""Each UE's :obj:`keep` largest influences above the threshold, shifted so that a
        barely activated pair counts ~0."""
        active = vals > self.threshold
        rows, cols, vals = rows[active], cols[active], vals[active]
        rank = _rank_within(rows, vals)
        sel = rank < keep
        return rows[sel], cols[sel], (vals[sel] - self.threshold).clamp_min(1e-12)

    def _greedy(self, rows: Tensor, cols: Tensor, vals: Tensor, num_u: int, num_c: int,
                budget: int, quota: int) -> Tuple[Tensor, Tensor]:
        r"""Greedy maximisation of the (capped) spread, in exact batches.

        Each round sorts the best candidates by marginal gain (ties: lower position, as a
        sequential argmax) and accepts the longest prefix whose gains the picks before them
        leave unchanged: a pick only lowers the residual caps of its own UE, which changes
        another candidate's contribution from that UE only where the cap binds (checked per UE
        with a segmented cumulative sum; a cap met exactly counts as not binding, up to
        rounding), and every later candidate's gain can only have dropped. The batch is
        therefore what the one-at-a-time greedy of Algorithm 1 would pick, in the same order.
        Gains are kept up to date incrementally: after a batch only the pairs of the UE it
        touched are re-evaluated, so a round costs :math:`O(\text{affected pairs})` plus one
        top-k over the candidates instead of a pass over all pairs."""
        device = vals.device
        if self.coverage:
            # Cap c_u: the sum of u's `quota` largest activated influences.
            top = _rank_within(rows, vals) < quota
            cap = torch.zeros(num_u, device=device).index_add_(0, rows[top], vals[top])
        else:
            cap = torch.full((num_u, ), float('inf'), device=device)
        residual = cap.clone()
        # Pair indices grouped by UE and by candidate (stable: original order within groups).
        by_u, u_ptr = _group(rows, num_u)
        by_c, c_ptr = _group(cols, num_c)
        # A small additive term keeps filling the budget once the caps are reached (still
        # monotone submodular: capped sums plus a modular term).
        extra = torch.zeros(num_c, device=device).index_add_(0, cols, vals) * self.fill_weight
        contrib = torch.minimum(vals, residual[rows])
        gain = extra.clone().index_add_(0, cols, contrib)
        chosen, gains = [], []
        left, window = min(budget, num_c), 64
        while left > 0:
            # The best candidates in (-gain, position) order: the top `window` by gain,
            # keeping only those strictly above the best gain left out (a tie at the boundary
            # could hide a lower position), else a full sort.
            order = None
            if window < num_c:
                top_val, top_idx = gain.topk(window + 1)
                sure = top_val[:window] > top_val[window]
                if bool(sure.any()):
                    order = top_idx[:window][sure].sort().values
                    order = order[torch.argsort(gain[order], descending=True, stable=True)]
            if order is None:
                order = torch.argsort(gain, descending=True, stable=True)
            # The window's pairs, and the first rank whose gain the better-ranked picks
            # would change (its UE's cap binds after the earlier picks' share).
            idx, sr = _gather_groups(by_c, c_ptr, order)
            su, sc, sv = rows[idx], contrib[idx], vals[idx]
            perm = torch.argsort(su * (order.numel() + 1) + sr, stable=True)
            su, sr, sc, sv = su[perm], sr[perm], sc[perm], sv[perm]
            cum = torch.cumsum(sc, 0)
            start = torch.ones_like(su, dtype=torch.bool)
            start[1:] = su[1:] != su[:-1]
            group_first = torch.cummax(torch.where(start, torch.arange(
                su.numel(), device=device), torch.zeros_like(su)), 0).values
            before = cum - sc - (cum[group_first] - sc[group_first])  # earlier picks' share
            safe = (before <= 0) | (sv <= residual[su] - before + 1e-5 * residual[su])
            stop = int(sr[~safe].min()) if bool((~safe).any()) else order.numel()
            window = 2 * window if stop == order.numel() else max(64, 2 * stop)
            batch = order[:max(1, min(stop, left))]
            g = gain[batch]
            ok = g > 0
            if not bool(ok.all()):
                cut = int(ok.int().argmin())
                batch, g = batch[:cut], g[:cut]
                if batch.numel() == 0:
                    break
                left = batch.numel()  # no positive gain beyond this batch
            chosen.append(batch)
            gains.append(g)
            left -= batch.numel()
            # Consume the caps (pairs in pick order), then refresh the touched UE's pairs
            # and the gains of their candidates (recomputed in the original pair order).
            pb, _ = _gather_groups(by_c, c_ptr, batch)
            residual.index_add_(0, rows[pb], -contrib[pb])
            residual.clamp_min_(0.0)
            gain[batch] = float('-inf')
            aff, _ = _gather_groups(by_u, u_ptr, rows[pb].unique())
            contrib[aff] = torch.minimum(vals[aff], residual[rows[aff]])
            cand = cols[aff].unique()
            cp, owner = _gather_groups(by_c, c_ptr, cand)
            fresh = extra[cand].index_add(0, owner, contrib[cp])
            gain[cand] = torch.where(torch.isinf(gain[cand]), gain[cand], fresh)
        if not chosen:
            return (torch.empty(0, dtype=torch.long, device=device),
                    torch.empty(0, device=device))
        return torch.cat(chosen), torch.cat(gains)

    def __repr__(self) -> str:
        return (f'NIM(budget={self.budget}, budget_factor={self.budget_factor}, '
                f'threshold={self.threshold}, num_hops={self.num_hops}, '
                f'label_weight={self.label_weight}, num_similar={self.num_similar})')

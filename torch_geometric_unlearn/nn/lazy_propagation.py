r"""Generalized-PageRank feature propagation maintained by local push, with lazy updates for
edge, node and feature removal (ScaleGUN, Yi & Wei, ICLR'25, Algorithms 2-4).

Let :math:`A` be the adjacency with one self-loop per node, :math:`D` its degrees,
:math:`M = A D^{-1}` (column-stochastic) and :math:`y = D^{r} x` for a feature column
:math:`x`. The propagated features are

.. math::
    Z = \sum_{\ell=0}^{L-1} w_\ell (D^{-r} A D^{r-1})^\ell X
      = \sum_\ell w_\ell D^{-r} M^\ell D^{r} X.

For every level :math:`\ell` a reserve :math:`q_\ell` and a residue :math:`r_\ell` are kept with
the local invariant :math:`q_0 + r_0 = y` and :math:`q_\ell + r_\ell = M q_{\ell-1}`; the
estimate is :math:`\hat Z = \sum_\ell w_\ell D^{-r} q_\ell`. A push of node :math:`s` at level
:math:`\ell` moves :math:`r_\ell(s)` into :math:`q_\ell(s)` and :math:`r_\ell(s)/d_s` to each
neighbour's :math:`r_{\ell+1}`; nodes are pushed while :math:`|r_\ell(s)| > r_{max}` (the last
level keeps no residue). Since pushes at level :math:`\ell` only feed level :math:`\ell+1`, one
sweep over the levels suffices, each level a single vectorised frontier push (CSR gather +
:obj:`index_add_`).

A graph or feature change keeps the reserves and only repairs the invariant:
:math:`r_0 \mathrel{+}= y' - y` on changed rows and
:math:`r_\ell \mathrel{+}= (M' - M) q_{\ell-1}`, which is non-zero only on the neighbours of
nodes whose degree changed; then a local push from the touched rows. The cost depends on the
request's neighbourhood, not on the graph size.

Error: :math:`Z - \hat Z = \sum_\ell w_\ell D^{-r} \sum_{j \le \ell} M^{\ell-j} r_j`. Since
:math:`M` is column-stochastic and :math:`d \ge 1`, for every feature column
:math:`\|Z - \hat Z\|_1 \le \sum_\ell |w_\ell| \sum_{j \le \ell} \|r_j\|_1`
(:meth:`LazyPropagation.error_bound`). For :math:`r = 1/2`,
:math:`D^{-1/2} M^k = \hat A^k D^{-1/2}` with :math:`\hat A = D^{-1/2} A D^{-1/2}`,
:math:`\|\hat A\|_2 = 1`, which gives the much tighter Frobenius bound
:math:`\|Z - \hat Z\|_F \le \sum_\ell |w_\ell| \sum_{j \le \ell} \|D^{-1/2} R_j\|_F`
(:meth:`LazyPropagation.error_norm` takes the smaller of the two). Both residue norms are
maintained incrementally (float64 sums, recomputed exactly after a full build or
:meth:`LazyPropagation.flush`).
"""
from __future__ import annotations

import math

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_geometric_unlearn.nn.sparse import csr_tensor
from torch_geometric_unlearn.utils import progress


class LazyPropagation:
    r"""Propagated node features :math:`\hat Z` maintained by push with lazy local updates
    (ScaleGUN, Yi & Wei, ICLR'25). Guarantee: :math:`\hat Z` is within :meth:`error_bound` of
    the exact propagation (per feature column, :math:`\ell_1`), after any sequence of updates.

    Args:
        x (torch.Tensor): Node features :obj:`[n, F]`.
        edge_index (torch.Tensor): Undirected graph (both directions present) :obj:`[2, E]`;
            existing self-loops are ignored and one self-loop per node is added.
        num_steps (int, optional): Propagation steps :math:`L - 1`. (default: :obj:`2`)
        weights (Sequence[float], optional): Level weights :math:`w_0..w_{L-1}`; default all mass
            on the last level (:math:`Z = \hat A^{L-1} X`). (default: :obj:`None`)
        r (float, optional): Normalisation exponent (0.5: symmetric). (default: :obj:`0.5`)
        r_max (float, optional): Push threshold, relative to the mean column :math:`\ell_1` norm
            of :math:`X`. (default: :obj:`1e-7`)
        dtype (torch.dtype, optional): Storage dtype. (default: :obj:`torch.float64`)
        chunk_elements (int, optional): Cap on gathered elements per push chunk (memory).
            (default: :obj:`2**24`)
    """

    def __init__(self, x: Tensor, edge_index: Tensor, num_steps: int = 2,
                 weights: Optional[Sequence[float]] = None, r: float = 0.5,
                 r_max: float = 1e-7, dtype: torch.dtype = torch.float64,
                 chunk_elements: int = 2**24) -> None:
        if x.dim() != 2:
            raise ValueError(f'x must be [num_nodes, num_features], got {tuple(x.shape)}')
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f'edge_index must be [2, E], got {tuple(edge_index.shape)}')
        if num_steps < 1:
            raise ValueError(f'num_steps must be >= 1, got {num_steps}')
        if r_max < 0:
            raise ValueError(f'r_max must be >= 0, got {r_max}')
        self.num_levels = num_steps + 1
        w = [0.0] * num_steps + [1.0] if weights is None else [float(v) for v in weights]
        if len(w) != self.num_levels:
            raise ValueError(f'weights needs {self.num_levels} entries, got {len(w)}')
        self.weights, self.r, self.chunk_elements = w, float(r), int(chunk_elements)
        device = x.device
        n = x.size(0)
        self.num_nodes = n
        # CSR with exactly one self-loop per node, columns sorted within rows.
        row, col = edge_index.to(device).long()
        keep = row != col
        loops = torch.arange(n, device=device)
        row = torch.cat([row[keep], loops])
        col = torch.cat([col[keep], loops])
        key = torch.unique(row * n + col)  # sorted, duplicates dropped
        self.col = key % n
        row = key // n
        self.keys = key
        self.rowptr = torch.zeros(n + 1, dtype=torch.long, device=device)
        self.rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=n), 0)
        self.alive = torch.ones(key.numel(), dtype=torch.bool, device=device)
        self.deg = torch.bincount(row, minlength=n).to(dtype)
        self.x = x.detach().to(dtype).clone()
        self.threshold = float(r_max) * float(self.x.abs().sum(0).mean()) if n > 0 else 0.0
        self.r_max = float(r_max)
        F = self.x.size(1)
        self.q = [torch.zeros(n, F, dtype=dtype, device=device) for _ in range(self.num_levels)]
        # Residues of levels 0..L-2 (the last level is always fully pushed into its reserve).
        self.res = [torch.zeros(n, F, dtype=dtype, device=device)
                    for _ in range(self.num_levels - 1)]
        self.res_l1 = [torch.zeros(F, dtype=torch.float64, device=device)
                       for _ in range(self.num_levels - 1)]
        # sum_i ||r_level(i)||^2 / d_i (for the Frobenius bound at r = 1/2), float64 scalars
        self.res_sq = [torch.zeros((), dtype=torch.float64, device=device)
                       for _ in range(self.num_levels - 1)]
        # Rows that may hold a non-zero residue (a superset), so flush() is local.
        self.dirty = [torch.zeros(n, dtype=torch.bool, device=device)
                      for _ in range(self.num_levels - 1)]
        self.z = torch.zeros(n, F, dtype=dtype, device=device)
        self._journal: Optional[List[Tuple[str, int, Tensor, Tensor]]] = None
        y = self.x * self.deg.pow(self.r).unsqueeze(-1)
        all_nodes = torch.arange(n, device=device)
        self._add_rows('res', 0, all_nodes, y)
        self._sweep({0: all_nodes}, all_nodes, show_progress=True)
        self._recompute_norms()

    # Introspection ###########################################################

    @property
    def embedding(self) -> Tensor:
        r"""The current propagated features :math:`\hat Z` :obj:`[n, F]` (do not modify)."""
        return self.z

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def error_bound(self) -> Tensor:
        r"""Per-column upper bound on :math:`\|Z_{:,c} - \hat Z_{:,c}\|_1` (exact propagation of
        the current graph and features), :math:`\sum_\ell |w_\ell| \sum_{j \le \ell}
        \|r_j\|_1`."""
        bound = torch.zeros_like(self.res_l1[0])
        acc = torch.zeros_like(bound)
        for level, w in enumerate(self.weights):
            if level < len(self.res_l1):
                acc = acc + self.res_l1[level].clamp_min(0)
            bound = bound + abs(w) * acc
        return bound

    def error_norm(self) -> float:
        r"""Upper bound on the Frobenius norm :math:`\|Z - \hat Z\|_F`: the :math:`\ell_2` norm
        of :meth:`error_bound`, or for :math:`r = 1/2` the smaller
        :math:`\sum_\ell |w_\ell| \sum_{j \le \ell} \|D^{-1/2} R_j\|_F` when it is smaller
        (see the module docstring)."""
        l1 = float(self.error_bound().norm())
        if self.r != 0.5:
            return l1
        acc = bound = 0.0
        for level, w in enumerate(self.weights):
            if level < len(self.res_sq):
                acc += math.sqrt(max(float(self.res_sq[level]), 0.0))
            bound += abs(w) * acc
        return min(l1, bound)

    @torch.no_grad()
    def flush(self) -> Tensor:
        r"""Pushes every remaining residue (threshold 0), so :meth:`error_bound` and
        :meth:`error_norm` become exactly 0 (the norms are recomputed on the rows that may
        hold residue, removing the rounding of the running sums). Cost: one :math:`O(n)` scan
        of a boolean mask plus pushes from the rows that hold residue and their neighbours;
        journalled like :meth:`update`. Returns the rows of :obj:`embedding` that changed."""
        start = {}
        for level, dirty in enumerate(self.dirty):
            rows = dirty.nonzero().view(-1)
            if rows.numel():
                start[level] = rows
        if not start:
            return torch.empty(0, dtype=torch.long, device=self.x.device)
        rows = self._sweep(start, torch.cat(list(start.values())), threshold=0.0)
        # Every row that held residue was pushed (to exactly 0): the norms over the rows that
        # may hold residue are the exact norms, without the rounding of the running sums.
        for level, (res, dirty) in enumerate(zip(self.res, self.dirty)):
            held = dirty.nonzero().view(-1)
            self._log('res_l1', level, held, self.res_l1[level])
            self._log('res_sq', level, held, self.res_sq[level])
            self._log('dirty', level, held, dirty[held])
            r = res[held]
            self.res_l1[level], self.res_sq[level] = self._residue_norms(r, self.deg[held])
            dirty[held] = r.ne(0).any(-1)
        return rows

    def edge_alive(self, edge_index: Tensor) -> Tensor:
        r"""Whether each directed edge of :obj:`edge_index` is currently in the graph."""
        pos, found = self._find(edge_index[0].long(), edge_index[1].long())
        out = torch.zeros_like(found)
        out[found] = self.alive[pos[found]]
        return out

    @torch.no_grad()
    def exact(self) -> Tensor:
        r"""The exact propagation of the current graph and features (sparse matrix products,
        :math:`O(L \cdot E \cdot F)`): the re-propagation baseline and the test reference."""
        A = self._adjacency()
        t = self.x * self.deg.pow(self.r).unsqueeze(-1)
        dinv = self.deg.reciprocal().unsqueeze(-1)
        dmr = self.deg.pow(-self.r).unsqueeze(-1)
        out = torch.zeros_like(t)
        for level, w in enumerate(self.weights):
            if level > 0:
                t = A @ (t * dinv)  # M t = A D^{-1} t (A symmetric)
            if w != 0:
                out = out + w * dmr * t
        return out

    @torch.no_grad()
    def matches(self, x: Tensor, edge_index: Tensor) -> bool:
        r"""Whether :obj:`x` and :obj:`edge_index` are exactly the current features and graph
        (self-loops ignored), so :meth:`embedding` is their propagation. :math:`O(E + nF)`."""
        if x.dim() != 2 or tuple(x.shape) != tuple(self.x.shape):
            return False
        row, col = edge_index.to(self.x.device).long()
        keep = row != col
        n = self.num_nodes
        alive_non_loop = int(self.alive.sum()) - int(
            (self.alive & (self.keys // n == self.col)).sum())
        if int(keep.sum()) != alive_non_loop:
            return False
        if not bool(self.edge_alive(torch.stack([row[keep], col[keep]])).all()):
            return False
        return torch.equal(x.detach().to(self.x.device, self.x.dtype), self.x)

    def embedding_for(self, x: Optional[Tensor] = None,
                      edge_index: Optional[Tensor] = None) -> Tensor:
        r"""Propagated features of the graph :obj:`(x, edge_index)`: the maintained
        :meth:`embedding` when the graph is the current one (or not given), else the exact
        propagation of the given graph with this object's settings (:func:`propagate`), so
        a model queried on any graph (e.g. by a membership-inference attack on the original
        graph) answers as a GNN would."""
        if x is None and edge_index is None:
            return self.z
        if x is None or edge_index is None:
            raise ValueError('pass both x and edge_index, or neither')
        if self.matches(x, edge_index):
            return self.z
        return propagate(x, edge_index, num_steps=self.num_levels - 1, weights=self.weights,
                         r=self.r, dtype=self.x.dtype)

    # Lazy updates ############################################################

    @torch.no_grad()
    def update(self, remove_edges: Optional[Tensor] = None,
               remove_nodes: Optional[Tensor] = None,
               feature_nodes: Optional[Tensor] = None,
               feature_index: Optional[Tensor] = None) -> Tensor:
        r"""Removes undirected edges (both directions), nodes (all their edges, their features
        zeroed; their self-loop is kept) and feature entries (columns :obj:`feature_index`, all
        if :obj:`None`, of :obj:`feature_nodes` set to zero) in one batch, then restores the
        push invariant locally. Validates everything before changing anything.

        Returns:
            torch.Tensor: Sorted ids of the rows of :obj:`embedding` that changed.
        """
        n, device = self.num_nodes, self.x.device
        empty = torch.empty(0, dtype=torch.long, device=device)
        eids = [empty]
        if remove_edges is not None and remove_edges.numel() > 0:
            e = remove_edges.to(device).long()
            if e.dim() != 2 or e.size(0) != 2:
                raise ValueError(f'remove_edges must be [2, K], got {tuple(e.shape)}')
            if int(e.min()) < 0 or int(e.max()) >= n:
                raise ValueError(f'remove_edges has node ids outside [0, {n})')
            if bool((e[0] == e[1]).any()):
                raise ValueError('self-loops cannot be removed (they are part of the '
                                 'propagation matrix)')
            both = torch.cat([e, e.flip(0)], dim=1)
            pos, found = self._find(both[0], both[1])
            ok = found.clone()
            ok[found] = self.alive[pos[found]]
            if not bool(ok.all()):
                bad = both[:, ~ok][:, 0].tolist()
                raise ValueError(f'edge {tuple(bad)} is not in the current graph (in both '
                                 'directions)')
            eids.append(pos)
        node_ids = empty
        if remove_nodes is not None and remove_nodes.numel() > 0:
            node_ids = torch.unique(remove_nodes.to(device).long().view(-1))
            if int(node_ids.min()) < 0 or int(node_ids.max()) >= n:
                raise ValueError(f'remove_nodes has ids outside [0, {n})')
            eid, _ = self._gather(node_ids)
            eid = eid[self.alive[eid] & (self.col[eid] != torch.repeat_interleave(
                node_ids, self.rowptr[node_ids + 1] - self.rowptr[node_ids]))]
            src = self._row_of(eid)
            rev, found = self._find(self.col[eid], src)
            assert bool(found.all()), 'adjacency is not symmetric'
            eids += [eid, rev]
        fnodes = empty
        fcols: Optional[Tensor] = None
        if feature_nodes is not None and feature_nodes.numel() > 0:
            fnodes = torch.unique(feature_nodes.to(device).long().view(-1))
            if int(fnodes.min()) < 0 or int(fnodes.max()) >= n:
                raise ValueError(f'feature_nodes has ids outside [0, {n})')
            if feature_index is not None:
                fcols = torch.unique(feature_index.to(device).long().view(-1))
                if fcols.numel() and (int(fcols.min()) < 0
                                      or int(fcols.max()) >= self.num_features):
                    raise ValueError(f'feature_index outside [0, {self.num_features})')
        kill = torch.unique(torch.cat(eids))
        changed = torch.unique(self._row_of(kill))  # nodes whose degree changes

        # 1. (M' - M) q_{l-1} on the neighbours of degree-changed nodes. Only the rows of the
        # changed nodes are read (no O(E) / O(n) copies of alive or deg).
        cand: Dict[int, List[Tensor]] = {level: [] for level in range(self.num_levels)}
        touched_q: List[Tensor] = [changed]
        new_deg_c = self.deg[changed]
        if changed.numel():
            eid, owner = self._gather(changed)
            was_alive = self.alive[eid].to(self.deg.dtype)
            self._log('alive', -1, kill, self.alive[kill].clone())
            self.alive[kill] = False
            lost = torch.zeros_like(new_deg_c)
            lost.index_add_(0, torch.searchsorted(changed, self._row_of(kill)),
                            torch.ones(kill.numel(), dtype=lost.dtype, device=device))
            new_deg_c = new_deg_c - lost
            coef = (self.alive[eid].to(self.deg.dtype) / new_deg_c[owner]
                    - was_alive / self.deg[changed][owner])
            targets = self.col[eid]
            nz = coef != 0
            eid, owner, coef, targets = eid[nz], owner[nz], coef[nz], targets[nz]
            for level in range(1, self.num_levels):
                vals = self.q[level - 1][changed][owner] * coef.unsqueeze(-1)
                uniq, agg = _aggregate(targets, vals)
                if level == self.num_levels - 1:
                    self._add_rows('q', level, uniq, agg)
                    touched_q.append(uniq)
                else:
                    self._add_rows('res', level, uniq, agg)
                cand[level].append(uniq)

        # 2. New degrees and features; r_0 += y' - y on changed rows.
        rows0 = torch.unique(torch.cat([changed, fnodes, node_ids]))
        if rows0.numel():
            y_old = self.x[rows0] * self.deg[rows0].pow(self.r).unsqueeze(-1)
            self._log('x', -1, rows0, self.x[rows0].clone())
            if node_ids.numel():
                self.x[node_ids] = 0
            if fnodes.numel():
                if fcols is None:
                    self.x[fnodes] = 0
                else:
                    self.x[fnodes.unsqueeze(-1), fcols.unsqueeze(0)] = 0
            if changed.numel():
                self._log('deg', -1, changed, self.deg[changed].clone())
                # residues held by degree-changed rows: re-weight their 1/d in res_sq
                scale = new_deg_c.reciprocal() - self.deg[changed].reciprocal()
                for level, res in enumerate(self.res):
                    sq = res[changed].pow(2).sum(-1, dtype=torch.float64)
                    self._log('res_sq', level, changed, self.res_sq[level])
                    self.res_sq[level] = (self.res_sq[level]
                                          + (sq * scale.to(torch.float64)).sum())
                self.deg[changed] = new_deg_c
            y_new = self.x[rows0] * self.deg[rows0].pow(self.r).unsqueeze(-1)
            self._add_rows('res', 0, rows0, y_new - y_old)
            cand[0].append(rows0)

        # 3. Local push sweep from the touched rows; refresh Z on every touched row.
        start = {level: torch.unique(torch.cat(c)) for level, c in cand.items() if c}
        return self._sweep(start, torch.cat(touched_q + [rows0]))

    def remove_edges(self, edge_index: Tensor) -> Tensor:
        r"""Removes undirected edges :obj:`[2, K]`; returns the changed rows."""
        return self.update(remove_edges=edge_index)

    def remove_nodes(self, index: Tensor) -> Tensor:
        r"""Removes nodes (all their edges, zeroed features); returns the changed rows."""
        return self.update(remove_nodes=index)

    def remove_features(self, node_index: Tensor,
                        feature_index: Optional[Tensor] = None) -> Tensor:
        r"""Zeroes feature entries; returns the changed rows."""
        return self.update(feature_nodes=node_index, feature_index=feature_index)

    # Atomicity: an undo journal of the rows an update overwrites #############

    def begin(self) -> None:
        r"""Starts recording an undo journal (cost proportional to the rows touched)."""
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        r"""Undoes every change since :meth:`begin`."""
        journal, self._journal = self._journal, None
        if journal is None:
            return
        for name, level, idx, old in reversed(journal):
            if name in ('res_l1', 'res_sq'):
                getattr(self, name)[level] = old
                continue
            target = getattr(self, name)
            if level >= 0:
                target = target[level]
            target[idx] = old

    # Internals ###############################################################

    def _adjacency(self) -> Tensor:
        r"""The current adjacency (with self-loops) as a sparse CSR matrix."""
        n = self.num_nodes
        return csr_tensor(self.rowptr, self.col, self.alive.to(self.x.dtype), (n, n))

    def _log(self, name: str, level: int, idx: Tensor, old: Tensor) -> None:
        if self._journal is not None:
            self._journal.append((name, level, idx, old))

    def _row_of(self, eid: Tensor) -> Tensor:
        return self.keys[eid] // self.num_nodes

    def _find(self, row: Tensor, col: Tensor) -> Tuple[Tensor, Tensor]:
        key = row * self.num_nodes + col
        pos = torch.searchsorted(self.keys, key).clamp_max(max(self.keys.numel() - 1, 0))
        return pos, self.keys[pos] == key

    def _gather(self, nodes: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Edge ids of the CSR rows :obj:`nodes` and the position of their owner."""
        start = self.rowptr[nodes]
        counts = self.rowptr[nodes + 1] - start
        owner = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device),
                                        counts)
        offset = torch.cumsum(counts, 0) - counts
        eid = start[owner] + torch.arange(owner.numel(), device=nodes.device) - offset[owner]
        return eid, owner

    def _add_rows(self, name: str, level: int, idx: Tensor, delta: Tensor) -> None:
        r"""rows :obj:`idx` (unique) of reserve/residue :obj:`level` += :obj:`delta`."""
        target = (self.q if name == 'q' else self.res)[level]
        if self._journal is None and idx.numel() == self.num_nodes:
            # All rows (idx is unique and sorted, e.g. the initial propagation): in place.
            if name == 'res':
                before = target.abs().sum(0, dtype=torch.float64)
            target.add_(delta)
            if name == 'res':
                self.dirty[level].fill_(True)
                self.res_l1[level] = (self.res_l1[level] - before
                                      + target.abs().sum(0, dtype=torch.float64))
                self.res_sq[level] = (target.pow(2).sum(-1, dtype=torch.float64)
                                      * self.deg.to(torch.float64).reciprocal()).sum()
            return
        old = target[idx]  # advanced indexing: already a copy
        self._log(name, level, idx, old)
        new = old + delta
        target[idx] = new
        if name == 'res':
            self._log('res_l1', level, idx, self.res_l1[level])  # replaced, not mutated
            self._log('res_sq', level, idx, self.res_sq[level])
            if self._journal is not None:
                self._log('dirty', level, idx, self.dirty[level][idx])
            self.dirty[level][idx] = True
            # float64 accumulation: a float32 running sum would drift over many updates
            self.res_l1[level] = (self.res_l1[level] + new.abs().sum(0, dtype=torch.float64)
                                  - old.abs().sum(0, dtype=torch.float64))
            dinv = self.deg[idx].to(torch.float64).reciprocal()
            self.res_sq[level] = self.res_sq[level] + (
                (new.pow(2).sum(-1, dtype=torch.float64)
                 - old.pow(2).sum(-1, dtype=torch.float64)) * dinv).sum()

    def _recompute_norms(self) -> None:
        r"""Exact residue norms (:math:`O(nF)`): removes the rounding drift of the running
        sums after a dense build or a flush."""
        for level, res in enumerate(self.res):
            self.res_l1[level], self.res_sq[level] = self._residue_norms(res, self.deg)
            self.dirty[level] = res.ne(0).any(-1)

    @staticmethod
    def _residue_norms(res: Tensor, deg: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Exact float64 norms of residue rows :obj:`res` (degrees :obj:`deg`): per-column
        :math:`\ell_1` sums and :math:`\sum_i \|r_i\|^2 / d_i` (the Frobenius bound's term)."""
        return (res.abs().sum(0, dtype=torch.float64),
                (res.pow(2).sum(-1, dtype=torch.float64) / deg.to(torch.float64)).sum())

    def _sweep(self, start: Dict[int, Tensor], touched: Tensor,
               threshold: Optional[float] = None, show_progress: bool = False) -> Tensor:
        r"""One push pass over the levels starting from candidate rows :obj:`start` (a
        progress bar over the levels for a full build, when progress bars are on)."""
        L = self.num_levels
        thr = self.threshold if threshold is None else threshold
        touched_list = [touched]
        levels = range(L - 1)
        if show_progress:
            levels = progress(levels, desc='propagation (push levels)', total=L - 1)
        for level in levels:
            cand = start.get(level)
            if cand is None or cand.numel() == 0:
                continue
            r = self.res[level][cand]
            S = cand[(r.abs() > thr).any(-1)]
            if S.numel() == 0:
                continue
            vals = self.res[level][S]
            self._add_rows('res', level, S, -vals)
            self._add_rows('q', level, S, vals)
            touched_list.append(S)
            if S.numel() > self.num_nodes // 4:
                # Large frontier (e.g. the initial propagation): one sparse matrix product.
                V = torch.zeros_like(self.z)
                V[S] = vals / self.deg[S].unsqueeze(-1)
                uniq = torch.arange(self.num_nodes, device=S.device)
                agg = self._adjacency() @ V
                if level + 1 == L - 1:
                    self._add_rows('q', level + 1, uniq, agg)
                    touched_list.append(uniq)
                else:
                    self._add_rows('res', level + 1, uniq, agg)
                start[level + 1] = uniq
                continue
            # Spread r/d_s to the neighbours' next level, in memory-bounded chunks.
            counts = self.rowptr[S + 1] - self.rowptr[S]
            per = max(1, self.chunk_elements // max(self.num_features, 1))
            csum = torch.cumsum(counts, 0)
            bounds = [0]
            total = int(csum[-1])
            if total > per:
                cuts = torch.searchsorted(csum, torch.arange(per, total, per,
                                                             device=csum.device))
                bounds += sorted(set(int(c) + 1 for c in cuts.tolist()))
            bounds = [b for b in bounds if b < S.numel()] + [S.numel()]
            nxt = []
            chunks = list(zip(bounds[:-1], bounds[1:]))
            if show_progress and len(chunks) > 1:
                chunks = progress(chunks, desc=f'propagation level {level} (chunks)')
            for a, b in chunks:
                Sc = S[a:b]
                eid, owner = self._gather(Sc)
                keep = self.alive[eid]
                eid, owner = eid[keep], owner[keep]
                contrib = vals[a:b][owner] / self.deg[Sc][owner].unsqueeze(-1)
                uniq, agg = _aggregate(self.col[eid], contrib)
                if level + 1 == L - 1:
                    self._add_rows('q', level + 1, uniq, agg)
                    touched_list.append(uniq)
                else:
                    self._add_rows('res', level + 1, uniq, agg)
                nxt.append(uniq)
            if level + 1 < L - 1:
                prev = start.get(level + 1)
                start[level + 1] = torch.unique(torch.cat(nxt + ([prev] if prev is not None
                                                                 else [])))
        rows = torch.unique(torch.cat(touched_list))
        self._refresh_z(rows)
        return rows

    def _refresh_z(self, rows: Tensor) -> None:
        if rows.numel() == 0:
            return
        dmr = self.deg[rows].pow(-self.r).unsqueeze(-1)
        z: Optional[Tensor] = None
        for level, w in enumerate(self.weights):
            if w != 0:  # (default: one non-zero level, a single gather)
                zl = self.q[level][rows] * (dmr if w == 1 else w * dmr)
                z = zl if z is None else z.add_(zl)
        if z is None:
            z = torch.zeros(rows.numel(), self.num_features, dtype=self.z.dtype,
                            device=self.z.device)
        if self._journal is not None:
            self._log('z', -1, rows, self.z[rows])
        self.z[rows] = z

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_nodes={self.num_nodes}, '
                f'num_features={self.num_features}, num_steps={self.num_levels - 1}, '
                f'r_max={self.r_max})')


def _aggregate(index: Tensor, values: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Sums rows of :obj:`values` sharing an :obj:`index`: (unique ids, summed rows)."""
    uniq, inv = torch.unique(index, return_inverse=True)
    out = torch.zeros(uniq.numel(), values.size(-1), dtype=values.dtype, device=values.device)
    out.index_add_(0, inv, values)
    return uniq, out


@torch.no_grad()
def propagate(x: Tensor, edge_index: Tensor, num_steps: int = 2,
              weights: Optional[Sequence[float]] = None, r: float = 0.5,
              dtype: torch.dtype = torch.float64) -> Tensor:
    r"""Exact generalized-PageRank propagation :math:`Z = \sum_\ell w_\ell D^{-r}
    (A D^{-1})^\ell D^{r} X` of the graph :obj:`edge_index` (one self-loop per node added,
    existing ones and duplicate edges ignored), with the conventions of
    :class:`LazyPropagation`; sparse products, :math:`O(L \cdot E \cdot F)` time, no dense
    :math:`n \times n`.

    Args:
        x (torch.Tensor): Node features :obj:`[n, F]`.
        edge_index (torch.Tensor): Undirected graph (both directions present) :obj:`[2, E]`.
        num_steps (int, optional): Propagation steps. (default: :obj:`2`)
        weights (Sequence[float], optional): Level weights; default all mass on the last
            level. (default: :obj:`None`)
        r (float, optional): Normalisation exponent. (default: :obj:`0.5`)
        dtype (torch.dtype, optional): Computation dtype. (default: :obj:`torch.float64`)
    """
    n = x.size(0)
    w = [0.0] * num_steps + [1.0] if weights is None else [float(v) for v in weights]
    if len(w) != num_steps + 1:
        raise ValueError(f'weights needs {num_steps + 1} entries, got {len(w)}')
    device = x.device
    row, col = edge_index.to(device).long()
    keep = row != col
    loops = torch.arange(n, device=device)
    key = torch.unique(torch.cat([row[keep] * n + col[keep], loops * n + loops]))
    row, col = key // n, key % n
    deg = torch.bincount(row, minlength=n).to(dtype)
    t = x.detach().to(dtype) * deg.pow(r).unsqueeze(-1)
    dinv = deg.reciprocal().unsqueeze(-1)
    dmr = deg.pow(-r).unsqueeze(-1)
    out = torch.zeros_like(t)
    for level, wl in enumerate(w):
        if level > 0:  # t <- A D^{-1} t, A symmetric: gather columns, sum into rows
            msg = (t * dinv)[col]
            t = torch.zeros_like(t).index_add_(0, row, msg)
        if wl != 0:
            out = out + wl * dmr * t
    return out

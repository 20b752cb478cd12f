r"""Removal audit: proves that removed nodes, edges and features are gone from the returned
graph and from every internal state of an unlearning algorithm that could hold them.

.. code-block:: python

    from torch_geometric_unlearn.audit import audit

    unlearner.unlearn(request)
    report = audit(unlearner)          # every request served so far (or audit(u, request))
    print(report.summary())
    report.raise_if_failed()

What is checked (each check names its location, the property and how many entities it
covered; :obj:`"skip"` entries say what could not be checked and why):

* the retained graph (:obj:`unlearner.data`) and the graph of the request's result: removed
  nodes have no edge (message-passing edges and :obj:`edge_label_index`), zero features,
  label :obj:`-1`, no mask; removed edges (both directions of an undirected graph, and the
  reverse edge type of a bipartite graph) are absent; removed feature entries are zero;
* every graph held in the algorithm's state or in the served model (found by walking their
  attributes): shard graphs through their global ids (:obj:`node_id`/:obj:`n_id`), full-size
  graphs as above;
* every :class:`~torch_geometric_unlearn.nn.lazy_propagation.LazyPropagation`: its features,
  its adjacency (equal to the retained graph), the reserves, residues and propagated features
  of removed nodes (zero within the propagation's certified error bound) and the propagated
  features against the exact propagation of the retained graph;
* SGU's propagated SGC features (:class:`~torch_geometric_unlearn.algorithm.sgu.SGCPropagation`):
  removed nodes' rows zero and every row equal to the retained graph's own propagation;
* algorithm-specific state through :func:`register_auditor` (GraphEraser's shard assignment,
  CGE's communities and mapped graph rebuilt from the retained graph alone, ScaleGUN's
  training rows, labels, factorisation cache and certificate) or an override of
  :meth:`UnlearningAlgorithm.audit_state`.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.request import EdgeType, UnlearningRequest
from torch_geometric_unlearn.transforms.functional import (REMOVED_MASK, _KEEP_NODE_KEYS,
                                                           _device_of, resolve_edge_type,
                                                           resolve_node_type,
                                                           reverse_edge_type)

GraphData = Union[Data, HeteroData]


@dataclass
class AuditCheck:
    r"""One audited property.

    Args:
        location (str): Where (e.g. :obj:`"GraphEraser.shard_data[3]"`).
        check (str): What (e.g. :obj:`"removed nodes absent"`).
        status (str): :obj:`"pass"`, :obj:`"fail"` or :obj:`"skip"`.
        count (int): Entities covered (removed nodes, edges, entries, rows).
        detail (str): Why it failed or was skipped.
    """
    location: str
    check: str
    status: str
    count: int = 0
    detail: str = ''

    @property
    def passed(self) -> bool:
        return self.status != 'fail'


@dataclass
class AuditReport:
    r"""The result of :func:`audit`: every check made."""
    algorithm: str
    requests: int
    removed: Dict[str, int]
    checks: List[AuditCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        r"""No check failed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> List[AuditCheck]:
        return [c for c in self.checks if c.status == 'fail']

    @property
    def locations(self) -> List[str]:
        r"""Every location with at least one passed check."""
        return sorted({c.location for c in self.checks if c.status == 'pass'})

    def summary(self) -> str:
        lines = [f'Audit of {self.algorithm} after {self.requests} request(s), removed '
                 f'{self.removed}: {"PASSED" if self.passed else "FAILED"} '
                 f'({sum(c.status == "pass" for c in self.checks)} passed, '
                 f'{len(self.failures)} failed, '
                 f'{sum(c.status == "skip" for c in self.checks)} skipped)']
        for c in self.checks:
            extra = f' -- {c.detail}' if c.detail else ''
            lines.append(f'  [{c.status}] {c.location}: {c.check} ({c.count}){extra}')
        return '\n'.join(lines)

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise AssertionError('removal audit failed:\n' + self.summary())

    def __repr__(self) -> str:
        return (f'AuditReport(algorithm={self.algorithm!r}, passed={self.passed}, '
                f'checks={len(self.checks)}, failures={len(self.failures)})')


# The removed set #################################################################

class RemovedSet:
    r"""Everything a list of requests removed from a graph, in global ids.

    Args:
        requests (Sequence[UnlearningRequest]): The requests (validated, already served).
        data (Data or HeteroData): The retained graph (after the requests).
        undirected (bool): Whether the homogeneous graph is undirected.
    """

    def __init__(self, requests: Sequence[UnlearningRequest], data: GraphData,
                 undirected: bool) -> None:
        self.graph = data
        self.undirected = bool(undirected)
        self.requests = list(requests)
        self.nodes: Dict[Optional[str], Tensor] = {}
        self.edges: Dict[Optional[EdgeType], Tensor] = {}
        self.features: Dict[Optional[str], List[Tuple[Tensor, Optional[Tensor]]]] = {}
        device = _device_of(data)
        empty = torch.empty(0, dtype=torch.long, device=device)
        for req in self.requests:
            req = req.to(device) if device is not None else req
            if req.kind in ('node', 'feature'):
                nt = resolve_node_type(req, data)
                if req.kind == 'node':
                    self.nodes[nt] = torch.cat([self.nodes.get(nt, empty), req.index]).unique()
                else:
                    self.features.setdefault(nt, []).append((req.index, req.feature_index))
                continue
            et = resolve_edge_type(req, data)
            ei = req.index
            both = self.undirected and (et is None or et[0] == et[2])
            if both:
                ei = torch.cat([ei, ei.flip(0)], dim=1)
            self.edges[et] = torch.cat([self.edges.get(et, empty.view(2, 0)), ei], dim=1)
            if et is not None:
                rev = reverse_edge_type(data, et)
                if rev is not None:
                    self.edges[rev] = torch.cat([self.edges.get(rev, empty.view(2, 0)),
                                                 req.index.flip(0)], dim=1)

    def num_nodes(self, node_type: Optional[str] = None) -> int:
        store = self.graph if node_type is None else self.graph[node_type]
        return int(store.num_nodes)

    def node_mask(self, node_type: Optional[str] = None,
                  device: Optional[torch.device] = None) -> Tensor:
        n = self.num_nodes(node_type)
        ids = self.nodes.get(node_type)
        mask = torch.zeros(n, dtype=torch.bool, device=device)
        if ids is not None and ids.numel():
            mask[ids.to(mask.device)] = True
        return mask

    def summary(self) -> Dict[str, int]:
        return {'nodes': sum(int(v.numel()) for v in self.nodes.values()),
                'edges': sum(int(v.size(1)) for v in self.edges.values()),
                'feature_nodes': sum(int(i.numel()) for v in self.features.values()
                                     for i, _ in v)}


def _status(ok: bool) -> str:
    return 'pass' if ok else 'fail'


def _unassigned(labels: Tensor, removed: 'RemovedSet', loc: str,
                what: str) -> List['AuditCheck']:
    r"""One check that every removed node has label -1 in :obj:`labels` (a shard assignment
    or community vector); none when no node was removed."""
    rm = removed.nodes.get(None)
    if rm is None or not rm.numel():
        return []
    ok = bool((labels[rm.to(labels.device)] == -1).all())
    return [AuditCheck(loc, what, _status(ok), int(rm.numel()))]


def _keys(ei: Tensor, num_dst: int) -> Tensor:
    return ei[0].long() * num_dst + ei[1].long()


# Graph checks ####################################################################

def check_graph(graph: GraphData, removed: RemovedSet, location: str) -> List[AuditCheck]:
    r"""Checks that :obj:`graph` (the retained graph, a full-size copy or a shard with global
    ids in :obj:`node_id`/:obj:`n_id`) holds none of the removed data."""
    if isinstance(graph, HeteroData):
        return _check_hetero(graph, removed, location)
    checks: List[AuditCheck] = []
    n = removed.num_nodes(None)
    ids = None
    for key in ('node_id', 'n_id'):
        if isinstance(graph.get(key), Tensor):
            ids = graph[key].long()
            break
    full = ids is None and graph.num_nodes == n
    if ids is None and not full:
        return [AuditCheck(location, 'graph without global node ids', 'skip',
                           detail=f'{graph.num_nodes} nodes, not the {n} of the graph and no '
                                  'node_id: checked by the algorithm auditor if any')]
    rm_nodes = removed.nodes.get(None)
    ei = graph.get('edge_index')
    dev = ei.device if isinstance(ei, Tensor) else None
    if rm_nodes is not None and rm_nodes.numel():
        rm_nodes = rm_nodes.to(dev or rm_nodes.device)
        mask = removed.node_mask(None, rm_nodes.device)
        if ids is not None:
            present = torch.isin(ids.to(rm_nodes.device), rm_nodes)
            checks.append(AuditCheck(location, 'removed nodes absent', _status(
                not bool(present.any())), int(rm_nodes.numel()),
                '' if not bool(present.any()) else f'{int(present.sum())} present'))
        else:
            checks.extend(_removed_node_rows(graph, mask, location))
            for key in ('edge_index', 'edge_label_index'):
                e = graph.get(key)
                if isinstance(e, Tensor) and e.numel():
                    hit = mask[e[0]] | mask[e[1]]
                    checks.append(AuditCheck(location, f'no {key} touches a removed node',
                                             _status(not bool(hit.any())), int(e.size(1)),
                                             f'{int(hit.sum())} edges touch removed nodes'
                                             if bool(hit.any()) else ''))
    rm_edges = removed.edges.get(None)
    if rm_edges is not None and rm_edges.numel():
        for key in ('edge_index', 'edge_label_index'):
            e = graph.get(key)
            if not isinstance(e, Tensor) or key == 'edge_label_index' and not e.numel():
                continue
            g = ids[e] if ids is not None else e
            hit = torch.isin(_keys(g, n), _keys(rm_edges.to(g.device), n))
            checks.append(AuditCheck(location, f'removed edges absent from {key}',
                                     _status(not bool(hit.any())), int(rm_edges.size(1)),
                                     f'{int(hit.sum())} removed edges present'
                                     if bool(hit.any()) else ''))
    checks.extend(_feature_checks(graph.get('x'), ids, removed.features.get(None, []),
                                  location))
    return checks


def _removed_node_rows(store: Any, mask: Tensor, location: str) -> List[AuditCheck]:
    r"""Node-level attributes of removed nodes: zero features, label -1, masks False."""
    n = mask.numel()
    bad: List[str] = []
    count = 0
    for key, value in store.items():
        if key in _KEEP_NODE_KEYS or not isinstance(value, Tensor) or value.dim() == 0 \
                or value.size(0) != n or key in ('edge_index', 'edge_label_index') \
                or not store.is_node_attr(key):
            continue
        rows = value[mask.to(value.device)]
        count += 1
        if value.dtype == torch.bool:
            ok = not bool(rows.any())
        elif key == 'y' and not value.is_floating_point():
            ok = bool((rows == -1).all())
        else:
            ok = not bool((rows != 0).any())
        if not ok:
            bad.append(key)
    checks = [AuditCheck(location, 'removed nodes hold no node attribute (features zero, '
                         'label -1, masks False)', _status(not bad), int(mask.sum()),
                         f'attributes still set: {bad}' if bad else '')]
    rm = store.get(REMOVED_MASK)
    if isinstance(rm, Tensor) and rm.numel() == n:
        ok = bool(rm[mask.to(rm.device)].all())
        checks.append(AuditCheck(location, f'{REMOVED_MASK} marks removed nodes', _status(ok),
                                 int(mask.sum())))
    return checks


def _feature_checks(x: Any, ids: Optional[Tensor],
                    feats: List[Tuple[Tensor, Optional[Tensor]]],
                    location: str) -> List[AuditCheck]:
    if not feats:
        return []
    if not isinstance(x, Tensor):
        return [AuditCheck(location, 'removed feature entries zero', 'skip',
                           detail='no feature matrix x')]
    count, leaks = 0, 0
    for nodes, cols in feats:
        nodes = nodes.to(x.device)
        if ids is not None:
            pos = (ids.to(x.device).view(-1, 1) == nodes.view(1, -1)).nonzero()[:, 0] \
                if ids.numel() * nodes.numel() <= 1 << 24 else \
                torch.isin(ids.to(x.device), nodes).nonzero().view(-1)
            rows = x[pos]
        else:
            rows = x[nodes]
        vals = rows if cols is None else rows[:, cols.to(x.device)]
        count += int(vals.numel())
        leaks += int((vals != 0).sum())
    return [AuditCheck(location, 'removed feature entries zero', _status(leaks == 0), count,
                       f'{leaks} non-zero entries' if leaks else '')]


def _check_hetero(graph: HeteroData, removed: RemovedSet, location: str) -> List[AuditCheck]:
    checks: List[AuditCheck] = []
    masks = {nt: removed.node_mask(nt) for nt in graph.node_types if nt in removed.nodes}
    for nt, mask in masks.items():
        if graph[nt].num_nodes != mask.numel():
            checks.append(AuditCheck(f'{location}[{nt}]', 'node-indexed', 'skip',
                                     detail='node count differs from the retained graph'))
            continue
        checks.extend(_removed_node_rows(graph[nt], mask, f'{location}[{nt}]'))
    for et in graph.edge_types:
        store = graph[et]
        loc = f'{location}[{"/".join(et)}]'
        num_dst = int(graph[et[2]].num_nodes)
        for key in ('edge_index', 'edge_label_index'):
            e = store.get(key)
            if not isinstance(e, Tensor) or not e.numel():
                continue
            hit = torch.zeros(e.size(1), dtype=torch.bool, device=e.device)
            if et[0] in masks:
                hit |= masks[et[0]].to(e.device)[e[0]]
            if et[2] in masks:
                hit |= masks[et[2]].to(e.device)[e[1]]
            if masks.keys() & {et[0], et[2]}:
                checks.append(AuditCheck(loc, f'no {key} touches a removed node',
                                         _status(not bool(hit.any())), int(e.size(1))))
            rm = removed.edges.get(et)
            if rm is not None and rm.numel():
                leak = torch.isin(_keys(e, num_dst), _keys(rm.to(e.device), num_dst))
                checks.append(AuditCheck(loc, f'removed edges absent from {key}',
                                         _status(not bool(leak.any())), int(rm.size(1)),
                                         f'{int(leak.sum())} present' if bool(leak.any())
                                         else ''))
    for nt, feats in removed.features.items():
        checks.extend(_feature_checks(graph[nt].get('x'), None, feats, f'{location}[{nt}]'))
    return checks


# Walking internal state ##########################################################

Auditor = Callable[[Any, RemovedSet, str], List[AuditCheck]]
_AUDITORS: Dict[type, Auditor] = {}


def register_auditor(cls: type) -> Callable[[Auditor], Auditor]:
    r"""Registers :obj:`fn(obj, removed, location) -> List[AuditCheck]` for every object of
    class :obj:`cls` (or a subclass) found in an algorithm's state or served model."""
    def wrap(fn: Auditor) -> Auditor:
        _AUDITORS[cls] = fn
        return fn
    return wrap


def _auditors_for(obj: Any) -> List[Auditor]:
    _ensure_builtin()
    return [_AUDITORS[c] for c in type(obj).__mro__ if c in _AUDITORS]


def audit_object_state(root: Any, removed: RemovedSet, location: Optional[str] = None,
                       _seen: Optional[set] = None) -> List[AuditCheck]:
    r"""Walks the attributes of :obj:`root` (an algorithm, a model) and audits every graph and
    every object with a registered auditor. Returns the checks."""
    seen = set() if _seen is None else _seen
    checks: List[AuditCheck] = []
    loc0 = location or type(root).__name__
    x = removed.graph.get('x') if isinstance(removed.graph, Data) else None
    x_shape = tuple(x.shape) if isinstance(x, Tensor) and x.dim() == 2 else None
    # (object, location, covered): tensors under an object with a registered auditor are that
    # auditor's business (e.g. propagation reserves, within an error bound, not zero).
    stack: List[Tuple[Any, str, bool]] = [(root, loc0, False)]
    while stack:
        obj, loc, covered = stack.pop()
        if obj is None or isinstance(obj, (bool, int, float, str, torch.dtype)):
            continue
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            if not covered and x_shape is not None and tuple(obj.shape) == x_shape \
                    and obj is not x:
                checks.extend(check_feature_tensor(obj, removed, loc))
            continue
        if isinstance(obj, (Data, HeteroData)):
            if obj is not removed.graph:
                checks.extend(check_graph(obj, removed, loc))
            continue
        auditors = _auditors_for(obj)
        for fn in auditors:
            checks.extend(fn(obj, removed, loc))
        covered = covered or bool(auditors)
        children: List[Tuple[Any, str]] = []
        if isinstance(obj, dict):
            children = [(v, f'{loc}[{k!r}]') for k, v in obj.items()]
        elif isinstance(obj, (list, tuple)):
            children = [(v, f'{loc}[{i}]') for i, v in enumerate(obj)]
        elif isinstance(obj, torch.nn.Module):
            children = [(v, f'{loc}.{k}') for k, v in obj.__dict__.items()
                        if not k.startswith('_') and k != 'training']
            children += [(v, f'{loc}.{k}') for k, v in obj._modules.items()]
            children += [(v, f'{loc}.{k}') for k, v in obj._buffers.items()]
        elif _walkable(obj):
            children = [(v, f'{loc}.{k}') for k, v in obj.__dict__.items() if k != 'task']
        stack.extend((v, name, covered) for v, name in reversed(children))
    return checks


def check_feature_tensor(t: Tensor, removed: RemovedSet, location: str) -> List[AuditCheck]:
    r"""A tensor shaped like the node features (a cached copy, a sparse CSR form): rows of
    removed nodes and removed feature entries hold nothing. For a sparse tensor, a stored
    entry counts even when its value is zero (the sparsity pattern of bag-of-words features
    is the data)."""
    n = t.size(0)
    mask = removed.node_mask(None, t.device)
    entry = torch.zeros(t.shape, dtype=torch.bool, device=t.device) \
        if removed.features.get(None) else None
    for nodes, cols in removed.features.get(None, []):
        nodes = nodes.to(t.device)
        if cols is None:
            entry[nodes] = True
        else:
            entry[nodes.view(-1, 1), cols.to(t.device).view(1, -1)] = True
    if not bool(mask.any()) and entry is None:
        return []
    if t.layout in (torch.sparse_csr, torch.sparse_csc):
        if t.layout == torch.sparse_csr:
            rows = torch.repeat_interleave(torch.arange(n, device=t.device),
                                           t.crow_indices().diff())
            cols = t.col_indices()
        else:  # CSC (e.g. a cached transpose viewed in the features' shape)
            cols = torch.repeat_interleave(torch.arange(t.size(1), device=t.device),
                                           t.ccol_indices().diff())
            rows = t.row_indices()
        hit = mask[rows]
        if entry is not None:
            hit |= entry[rows, cols]
        what = 'no stored entry (value or sparsity pattern) of removed nodes or features'
    elif t.layout == torch.strided:
        hit = (t != 0) & mask.view(-1, *([1] * (t.dim() - 1)))
        if entry is not None:
            hit |= (t != 0) & entry
        what = 'feature-shaped tensor holds nothing of removed nodes or features'
    else:
        return [AuditCheck(location, 'feature-shaped tensor', 'skip',
                           detail=f'layout {t.layout} not audited')]
    leaks = int(hit.sum())
    count = int(mask.sum()) + (int(entry.sum()) if entry is not None else 0)
    return [AuditCheck(location, what, _status(leaks == 0), count,
                       f'{leaks} entries kept' if leaks else '')]


_LIBRARIES = ('torch.', 'torch_geometric.', 'numpy', 'scipy', 'builtins', 'sklearn', 'networkx',
              'concurrent.', 'multiprocessing', 'threading', 'functools', 'typing', 'abc')


def _walkable(obj: Any) -> bool:
    r"""Objects whose attributes may hold state: this package's and the user's (e.g. a
    custom algorithm's cache), not library internals, classes or functions."""
    if isinstance(obj, (type, types.FunctionType, types.MethodType, types.ModuleType,
                        types.BuiltinFunctionType)) or not hasattr(obj, '__dict__'):
        return False
    module = type(obj).__module__ or ''
    return not (module + '.').startswith(_LIBRARIES) and module != 'builtins'


def audit(unlearner: Any, request: Optional[UnlearningRequest] = None) -> AuditReport:
    r"""Audits that the data removed by :obj:`request` (or, if :obj:`None`, by every
    request served so far) is absent from the returned graph and from every internal state
    of :obj:`unlearner`'s algorithm and served model. Returns an :class:`AuditReport`
    listing what was checked; call :meth:`AuditReport.raise_if_failed` to assert.

    Args:
        unlearner (Unlearner): A fitted unlearner.
        request (UnlearningRequest, optional): A request it served. (default: :obj:`None`)
    """
    if unlearner.data is None:
        raise RuntimeError('audit() called before the unlearner was fitted')
    history = list(unlearner.history)
    if request is None:
        requests = history
        graphs = []
    else:
        pos = next((i for i, r in enumerate(history) if r is request), None)
        if pos is None:
            pos = next((i for i, r in enumerate(history) if _same_request(r, request)), None)
        if pos is None:
            raise ValueError('the request was not served by this unlearner (not in its history)')
        requests = [history[pos]]
        offset = len(history) - len(unlearner.results)  # results keep the latest requests
        graphs = [unlearner.results[pos - offset].data] if pos >= offset else []
    removed = RemovedSet(requests, unlearner.data, bool(unlearner._undirected))
    algo = unlearner.algorithm
    report = AuditReport(algo.name, len(requests), removed.summary())
    report.checks.extend(check_graph(unlearner.data, removed, 'returned graph'))
    for g in graphs:
        if g is not unlearner.data:
            report.checks.extend(check_graph(g, removed, 'result graph'))
    seen: set = {id(unlearner.data)}
    report.checks.extend(algo.audit_state(removed) if not _walks_default(algo)
                         else audit_object_state(algo, removed, algo.name, seen))
    report.checks.extend(audit_object_state(unlearner.model, removed, 'served model', seen))
    if not report.checks:
        report.checks.append(AuditCheck(algo.name, 'state holds no graph data', 'pass'))
    return report


def _walks_default(algo: Any) -> bool:
    from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
    return type(algo).audit_state is UnlearningAlgorithm.audit_state


def _same_request(a: UnlearningRequest, b: UnlearningRequest) -> bool:
    return (a.kind, a.node_type, a.edge_type) == (b.kind, b.node_type, b.edge_type) \
        and a.index.shape == b.index.shape and bool((a.index.cpu() == b.index.cpu()).all())


# Registered auditors ############################################################

def _register_builtin() -> None:
    from torch_geometric_unlearn.nn.lazy_propagation import LazyPropagation

    @register_auditor(LazyPropagation)
    def _propagation(prop: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        checks: List[AuditCheck] = []
        graph = removed.graph
        if not isinstance(graph, Data) or prop.num_nodes != graph.num_nodes:
            return [AuditCheck(loc, 'propagation state', 'skip',
                               detail='not built on the homogeneous retained graph')]
        n = prop.num_nodes
        dev = prop.x.device
        mask = removed.node_mask(None, dev)
        # Adjacency = the retained graph (+ self-loops): removed edges and the edges of
        # removed nodes are dead, nothing else is.
        row = prop._row_of(torch.arange(prop.keys.numel(), device=dev))
        alive = prop.alive & (row != prop.col)
        got = prop.keys[alive]
        e = graph.edge_index.to(dev)
        e = e[:, e[0] != e[1]]
        want = torch.unique(_keys(e, n))
        ok = got.numel() == want.numel() and bool((got == want).all())
        checks.append(AuditCheck(loc, 'adjacency equals the retained graph (removed edges and '
                                 'edges of removed nodes dead)', _status(ok), int(got.numel()),
                                 '' if ok else f'{got.numel()} alive vs {want.numel()} retained'))
        if bool(mask.any()):
            ok = not bool((prop.x[mask] != 0).any())
            checks.append(AuditCheck(loc, 'features of removed nodes zero', _status(ok),
                                     int(mask.sum())))
        checks.extend(_feature_checks(prop.x, None, removed.features.get(None, []),
                                      f'{loc}.x'))
        bound = prop.error_bound().to(dev)  # per-column l1 bound on |Z - Z_hat|
        tol = 1e-9 * (1.0 + float(prop.x.abs().sum(0).max()) if prop.x.numel() else 1.0)
        if bool(mask.any()):
            acc = torch.zeros_like(bound)
            worst = 0.0
            for level in range(prop.num_levels):
                if level < len(prop.res_l1):
                    acc = acc + prop.res_l1[level].to(dev).clamp_min(0)
                arrays = [('reserve', prop.q[level])]
                if level < len(prop.res):
                    arrays.append(('residue', prop.res[level]))
                for _, arr in arrays:
                    over = arr[mask].abs().sum(0) - acc - tol
                    worst = max(worst, float(over.max()))
            over_z = float((prop.z[mask].abs().sum(0) - bound - tol).max())
            ok = worst <= 0 and over_z <= 0
            checks.append(AuditCheck(loc, 'reserves, residues and propagated features of '
                                     'removed nodes zero within the error bound', _status(ok),
                                     int(mask.sum()) * (2 * prop.num_levels),
                                     '' if ok else f'excess {max(worst, over_z):.3g}'))
        err = (prop.exact() - prop.z).abs().sum(0)
        excess = float((err - bound - tol).max()) if err.numel() else 0.0
        checks.append(AuditCheck(loc, 'propagated features = exact propagation of the '
                                 'retained graph within the certified bound',
                                 _status(excess <= 0), n,
                                 '' if excess <= 0 else f'excess {excess:.3g}'))
        if prop._journal is not None:
            checks.append(AuditCheck(loc, 'no open undo journal (old rows kept)', 'fail', 1,
                                     f'{len(prop._journal)} journal entries'))
        return checks

    from torch_geometric_unlearn.algorithm.sgu import SGCPropagation

    @register_auditor(SGCPropagation)
    def _sgc_propagation(cache: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        from torch_geometric_unlearn.influence.nim import propagate_features
        graph = removed.graph
        x = graph.get('x') if isinstance(graph, Data) else None
        if not isinstance(x, Tensor) or cache.prop.size(0) != graph.num_nodes:
            return [AuditCheck(loc, 'propagated features', 'skip',
                               detail='not built on the homogeneous retained graph')]
        checks: List[AuditCheck] = []
        mask = removed.node_mask(None, cache.prop.device)
        if bool(mask.any()):
            ok = not bool((cache.prop[mask] != 0).any())
            checks.append(AuditCheck(loc, 'propagated features of removed nodes zero',
                                     _status(ok), int(mask.sum())))
        # Equal to the retained graph's own propagation: nothing of a removed node, edge or
        # feature entry is left in any row (a propagated row mixes its neighbours' features,
        # so the raw-feature check does not apply).
        want = propagate_features(x.to(cache.prop.device), graph.edge_index.to(
            cache.prop.device), graph.num_nodes, cache.num_hops).to(cache.prop.dtype)
        err = float((cache.prop - want).abs().max()) if want.numel() else 0.0
        tol = 1e-5 * (1.0 + float(want.abs().max()) if want.numel() else 1.0)
        checks.append(AuditCheck(loc, 'propagated features = the propagation of the retained '
                                 'graph', _status(err <= tol), graph.num_nodes,
                                 '' if err <= tol else f'max difference {err:.3g}'))
        return checks

    from torch_geometric_unlearn.algorithm.graph_eraser import GraphEraser

    @register_auditor(GraphEraser)
    def _graph_eraser(alg: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        if alg.assignment is None:
            return [AuditCheck(loc, 'fitted', 'skip', detail='not fitted')]
        checks = _unassigned(alg.assignment, removed, f'{loc}.assignment',
                             'removed nodes in no shard')
        # Shards holding removed data were retrained after the removal: their data is checked
        # through shard_data; the sizes must agree with the assignment.
        sizes = torch.bincount(alg.assignment[alg.assignment >= 0],
                               minlength=len(alg.shard_data)).tolist()
        ok = all(int(s.num_nodes) == sizes[j] for j, s in enumerate(alg.shard_data))
        checks.append(AuditCheck(f'{loc}.shard_data', 'shard graphs match the assignment',
                                 _status(ok), len(alg.shard_data)))
        return checks

    from torch_geometric_unlearn.algorithm.cge import CGE

    @register_auditor(CGE)
    def _cge(alg: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        if alg.communities is None or alg.mapped is None:
            return [AuditCheck(loc, 'fitted', 'skip', detail='not fitted')]
        comm = alg.communities
        checks = _unassigned(comm, removed, f'{loc}.communities',
                             'removed nodes in no community')
        # The mapped graph must be exactly what the retained graph alone gives.
        graph = removed.graph
        fresh, keys, counts = alg.build_mapped_graph(graph, comm)
        m = alg.mapped
        same_x = m.x.shape == fresh.x.shape and torch.allclose(m.x, fresh.x, atol=1e-5)
        same_y = torch.equal(m.y, fresh.y)
        same_e = torch.equal(alg.pair_keys, keys) and torch.equal(alg.pair_counts, counts) \
            and torch.equal(m.edge_index, fresh.edge_index) \
            and torch.allclose(m.edge_weight, fresh.edge_weight, atol=1e-6)
        k = int(m.num_nodes)
        checks.append(AuditCheck(f'{loc}.mapped', 'mapped features = rebuilt from the '
                                 'retained graph', _status(same_x), k))
        checks.append(AuditCheck(f'{loc}.mapped', 'mapped labels = rebuilt from retained '
                                 'training nodes', _status(same_y), k))
        checks.append(AuditCheck(f'{loc}.mapped', 'mapped edges and pair counts = rebuilt '
                                 'from the retained edges', _status(same_e),
                                 int(m.edge_index.size(1))))
        model = alg.model
        if model is not None:
            ok = torch.equal(model.communities, comm) and torch.equal(model.mapped_x, m.x) \
                and torch.equal(model.mapped_edge_index, m.edge_index)
            checks.append(AuditCheck(f'{loc}.model', 'served model holds the current mapped '
                                     'graph', _status(ok), k))
        return checks

    from torch_geometric_unlearn.algorithm.scalegun import ScaleGUN

    @register_auditor(ScaleGUN)
    def _scalegun(alg: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        if alg.propagation is None:
            return [AuditCheck(loc, 'fitted', 'skip', detail='not fitted')]
        checks = []
        rm = removed.nodes.get(None)
        dev = alg.Zt.device
        pos = alg.pos
        changed = torch.zeros(pos.numel(), dtype=torch.bool, device=dev)
        if rm is not None and rm.numel():
            changed[rm.to(dev)] = True
        for nodes, _ in removed.features.get(None, []):
            changed[nodes.to(dev)] = True
        tr_rm = pos[rm.to(dev)] if rm is not None and rm.numel() else pos[:0]
        tr_rm = tr_rm[tr_rm >= 0]
        if tr_rm.numel():
            ok = bool((alg.m[tr_rm] == 0).all())
            checks.append(AuditCheck(f'{loc}.m', 'removed training nodes out of the loss',
                                     _status(ok), int(tr_rm.numel())))
        # Training rows are the current propagated features (no stale copy of old rows).
        ok = torch.equal(alg.Zt, alg.propagation.embedding[alg.train_idx])
        checks.append(AuditCheck(f'{loc}.Zt', 'training rows = current propagated features',
                                 _status(ok), int(alg.Zt.size(0))))
        if tr_rm.numel():
            leak = int((alg.Y[tr_rm] != 0).any(-1).sum())
            checks.append(AuditCheck(f'{loc}.Y', 'labels of removed training nodes erased',
                                     _status(leak == 0), int(tr_rm.numel()),
                                     f'{leak} label rows kept' if leak else ''))
        # The factorisation cache (rows at the last refactorisation) must not hold old rows
        # of removed or feature-changed nodes.
        tr_ch = pos[changed]
        tr_ch = tr_ch[tr_ch >= 0]
        cache = next((getattr(alg, k) for k in ('Za', 'Z0') if isinstance(getattr(alg, k, None),
                                                                           Tensor)), None)
        if tr_ch.numel() and cache is not None:
            rows = cache[tr_ch]
            stale = (rows != alg.Zt[tr_ch]).any(-1) & (rows != 0).any(-1)
            leak = int(stale.sum())
            checks.append(AuditCheck(f'{loc}.factorisation', 'factorisation cache holds no old '
                                     'row of removed or changed nodes', _status(leak == 0),
                                     int(tr_ch.numel()),
                                     f'{leak} old rows kept until they are folded in'
                                     if leak else ''))
        cert = alg.certificate
        checks.append(AuditCheck(f'{loc}.certificate', 'certificate within budget '
                                 f'(spent {cert.spent:.3g} <= {cert.budget:.3g}, '
                                 f'{cert.retrained} retrains)', _status(cert.certified), 1))
        return checks


    from torch_geometric.nn.conv import MessagePassing

    @register_auditor(MessagePassing)
    def _conv_cache(conv: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        # PyG convolutions with cached=True keep the normalised graph of their first call.
        cached = getattr(conv, '_cached_edge_index', None)
        if cached is None or not isinstance(removed.graph, Data):
            return []
        ei = cached[0] if isinstance(cached, tuple) else None
        if not isinstance(ei, Tensor):
            return [AuditCheck(f'{loc}._cached_edge_index', 'cached graph', 'skip',
                               detail='cache format not audited')]
        g = Data(edge_index=ei[:, ei[0] != ei[1]], num_nodes=removed.graph.num_nodes)
        return check_graph(g, removed, f'{loc}._cached_edge_index')

    try:
        from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
    except Exception:  # pragma: no cover (an algorithm that fails to import is not audited)
        return

    @register_auditor(UnlearnRec)
    def _unlearnrec(alg: Any, removed: RemovedSet, loc: str) -> List[AuditCheck]:
        # The encoder is request-independent (pre-trained before any request) and stores no
        # request input: its inputs (the influence dependency matrix) are rebuilt per call.
        checks = [AuditCheck(f'{loc}.encoder', 'stores no request input (no graph or '
                             'influence matrix)', _status(not any(
                                 isinstance(v, (Data, HeteroData)) or (isinstance(v, Tensor)
                                                                        and v.is_sparse)
                                 for v in getattr(alg, 'encoder', alg).__dict__.values())), 1)]
        return checks


_BUILTIN_REGISTERED = False


def _ensure_builtin() -> None:
    # Lazily (first audit): importing the audit module never imports every algorithm.
    global _BUILTIN_REGISTERED
    if not _BUILTIN_REGISTERED:
        _BUILTIN_REGISTERED = True
        _register_builtin()

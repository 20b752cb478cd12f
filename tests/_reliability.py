"""Shared set-up of the reliability tests (issue 10): small graphs, fast configurations of
every algorithm, and streams of small, sequentially valid requests."""
from __future__ import annotations

import copy
import random
from typing import Callable, Dict, List, Optional

import torch
from torch_geometric.data import Data

from torch_geometric_unlearn import Unlearner, UnlearningRequest
from torch_geometric_unlearn.algorithm import (CGE, GIF, IF, SGU, GraphEraser, Retrain,
                                               ScaleGUN, ScaleGUNDeep)
from torch_geometric_unlearn.nn import build_node_model
from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

#: Fast configurations of every node-classification algorithm (few epochs / iterations).
ALGORITHMS: Dict[str, Callable[[], object]] = {
    'retrain': lambda: Retrain(),
    'gif': lambda: GIF(iterations=5),
    'if': lambda: IF(iterations=5),
    'graph_eraser': lambda: GraphEraser(num_shards=3, partition='random', weight_epochs=20),
    'cge': lambda: CGE(epochs=20, patience=None),
    # lam 1e-2 (the pre-#7 default): these small requests stay within the budget, so the
    # Newton-step path (not a fresh-noise retrain) is what the reliability tests exercise.
    'scalegun': lambda: ScaleGUN(max_iter=20, lam=1e-2),
    'scalegun_deep': lambda: ScaleGUNDeep(epochs=20, finetune_epochs=3),
    'sgu': lambda: SGU(epochs=3),
}


def small_graph(seed: int = 0) -> Data:
    r"""A 200-node undirected planted-partition graph (4 classes, 16 features)."""
    from torch_geometric_unlearn.datasets.synthetic import stochastic_block_model
    return stochastic_block_model(200, 700, num_classes=4, num_features=16, seed=seed)


def trained_model(data: Data, epochs: int = 20, seed: int = 0):
    task = NodeClassificationTask(epochs=epochs, seed=seed)
    model = reinitialize(build_node_model('gcn', data.num_features, int(data.y.max()) + 1,
                                          hidden_channels=16), seed=seed)
    task.train(model, data)
    return model, task


def make_unlearner(name: str, data: Data, model: torch.nn.Module,
                   task: NodeClassificationTask) -> Unlearner:
    return Unlearner(copy.deepcopy(model), ALGORITHMS[name](), task=task).fit(data)


def request_stream(data: Data, num: int, seed: int = 0, kinds=('node', 'edge', 'feature'),
                   size: int = 1) -> List[UnlearningRequest]:
    r""":obj:`num` small requests (cycling through :obj:`kinds`, :obj:`size` entities each)
    that are valid one after another: nodes removed at most once (training nodes first),
    edges between nodes still present, features of nodes not removed before."""
    rng = random.Random(seed)
    n = data.num_nodes
    train = data.train_mask.nonzero().view(-1).tolist()
    others = [v for v in range(n) if v not in set(train)]
    rng.shuffle(train)
    rng.shuffle(others)
    node_pool = train + others
    row, col = data.edge_index
    und = sorted({(min(a, b), max(a, b)) for a, b in zip(row.tolist(), col.tolist()) if a != b})
    rng.shuffle(und)
    removed_nodes, removed_edges, feat_nodes = set(), set(), set()
    out: List[UnlearningRequest] = []
    for k in range(num):
        kind = kinds[k % len(kinds)]
        if kind == 'node':
            pick = []
            while len(pick) < size:
                v = node_pool.pop(0)
                if v not in removed_nodes:
                    pick.append(v)
            removed_nodes.update(pick)
            out.append(UnlearningRequest.nodes(pick))
        elif kind == 'edge':
            pick = []
            for e in und:
                if len(pick) == size:
                    break
                if e in removed_edges or e[0] in removed_nodes or e[1] in removed_nodes:
                    continue
                pick.append(e)
            removed_edges.update(pick)
            out.append(UnlearningRequest.edges(torch.tensor(pick).t()))
        else:
            cand = [v for v in range(n) if v not in removed_nodes and v not in feat_nodes]
            pick = rng.sample(cand, size)
            feat_nodes.update(pick)
            out.append(UnlearningRequest.features(pick))
    return out


def stream_setup(num_requests: int, seed: int):
    r"""The small graph, its trained GCN and task, and a seeded stream of requests: the common
    module fixture of the reliability tests."""
    data = small_graph()
    model, task = trained_model(data)
    return data, model, task, request_stream(data, num_requests, seed=seed)


def logits(unlearner: Unlearner) -> torch.Tensor:
    with torch.no_grad():
        model = unlearner.model
        was = model.training
        model.eval()
        out = model(unlearner.data.x, unlearner.data.edge_index)
        model.train(was)
    return out


def inject(monkeypatch, owner, name: str, exc: Optional[BaseException] = None,
           after: bool = True, call: int = 1) -> Dict[str, int]:
    r"""Makes :obj:`owner.name` raise :obj:`exc` at its :obj:`call`-th call, after doing its
    work (:obj:`after=True`: the state is already changed) or before."""
    orig = getattr(owner, name)
    exc = exc if exc is not None else RuntimeError(f'injected failure in {name}')
    counter = {'calls': 0, 'raised': 0}

    def wrapper(*args, **kwargs):
        counter['calls'] += 1
        hit = counter['calls'] == call
        if hit and not after:
            counter['raised'] += 1
            raise exc
        out = orig(*args, **kwargs)
        if hit and after:
            counter['raised'] += 1
            raise exc
        return out

    monkeypatch.setattr(owner, name, wrapper)
    return counter


#: Gaps this suite found in algorithm files owned by other issues that are still open (empty:
#: ScaleGUN's kept labels and factorisation rows and GIF's CSR feature pattern were fixed by
#: their owners after the audit reported them; see docs/reliability.md).
KNOWN_AUDIT_GAPS: set = set()


def assert_clean(report) -> None:
    r"""Raises if the audit has a failure other than a known, separately tracked gap."""
    bad = [c for c in report.failures if (c.location, c.check) not in KNOWN_AUDIT_GAPS]
    if bad:
        raise AssertionError('removal audit failed:\n' + report.summary())

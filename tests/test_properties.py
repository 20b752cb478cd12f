"""Property-based tests (issue 10, hypothesis) of requests and transforms on random graphs and
random requests: no removed entity survives (by the audit's own graph check), nothing else
changes, the input is never mutated, application is idempotent and a batch gives the same graph
in any order or split; checkpoints of random graphs round-trip exactly."""
import io

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data

from torch_geometric_unlearn import UnlearningRequest
from torch_geometric_unlearn.audit import RemovedSet, check_graph
from torch_geometric_unlearn.serialization import decode, encode, state_difference

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 12))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    und = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=min(20, len(pairs)),
                        unique=True))
    ei = torch.tensor(und).t()
    ei = torch.cat([ei, ei.flip(0)], dim=1)  # undirected: both directions
    perm = torch.tensor(draw(st.permutations(list(range(ei.size(1))))))
    ei = ei[:, perm]
    x = torch.tensor(draw(st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3),
                                   min_size=n, max_size=n)), dtype=torch.float)
    y = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    train = torch.tensor(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    data = Data(x=x, y=y, edge_index=ei, train_mask=train, test_mask=~train,
                edge_attr=(ei[0] * 100 + ei[1]).float().view(-1, 1))
    return data


@st.composite
def graph_and_request(draw, kinds=('node', 'edge', 'feature')):
    data = draw(graphs())
    n = data.num_nodes
    kind = draw(st.sampled_from(kinds))
    if kind == 'node':
        nodes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        return data, UnlearningRequest.nodes(nodes)
    if kind == 'edge':
        und = sorted({(min(a, b), max(a, b)) for a, b in data.edge_index.t().tolist()})
        pick = draw(st.lists(st.sampled_from(und), min_size=1, max_size=len(und), unique=True))
        flip = draw(st.lists(st.booleans(), min_size=len(pick), max_size=len(pick)))
        pick = [(b, a) if f else (a, b) for (a, b), f in zip(pick, flip)]  # either direction
        return data, UnlearningRequest.edges(torch.tensor(pick).t())
    nodes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    cols = draw(st.none() | st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True))
    return data, UnlearningRequest.features(nodes, cols)


def same_graph(a: Data, b: Data) -> bool:
    return state_difference(encode(a.to_dict()), encode(b.to_dict())) is None


def split(request: UnlearningRequest, k: int):
    idx = request.index
    cut = max(1, min(k, idx.size(-1) - 1))
    a, b = idx[..., :cut], idx[..., cut:]
    return (UnlearningRequest(request.kind, a, request.feature_index),
            UnlearningRequest(request.kind, b, request.feature_index))


@SETTINGS
@given(graph_and_request())
def test_no_removed_entity_survives_and_nothing_else_changes(case):
    data, request = case
    original = data.clone()
    request.validate(data)
    out = request.apply(data)
    assert same_graph(data, original)  # the input is never mutated
    removed = RemovedSet([request], out, undirected=True)
    checks = check_graph(out, removed, 'graph')
    assert checks and all(c.status == 'pass' for c in checks), checks
    n = data.num_nodes
    keys = lambda e: (e[0] * n + e[1]).tolist()  # noqa: E731
    if request.kind == 'node':
        gone = torch.zeros(n, dtype=torch.bool)
        gone[request.index] = True
        keep = ~(gone[data.edge_index[0]] | gone[data.edge_index[1]])
        assert torch.equal(out.edge_index, data.edge_index[:, keep])
        assert torch.equal(out.edge_attr, data.edge_attr[keep])  # attributes stay aligned
        for key in ('x', 'y', 'train_mask', 'test_mask'):
            assert torch.equal(out[key][~gone], data[key][~gone])
        assert torch.equal(out.removed_mask, gone)
    elif request.kind == 'edge':
        rm = set(keys(request.index)) | set(keys(request.index.flip(0)))
        keep = torch.tensor([k not in rm for k in keys(data.edge_index)], dtype=torch.bool)
        assert torch.equal(out.edge_index, data.edge_index[:, keep])
        assert torch.equal(out.edge_attr, data.edge_attr[keep])
        for key in ('x', 'y', 'train_mask', 'test_mask'):
            assert torch.equal(out[key], data[key])
    else:
        cols = request.feature_index if request.feature_index is not None \
            else torch.arange(data.x.size(1))
        changed = torch.zeros_like(data.x, dtype=torch.bool)
        changed[request.index.view(-1, 1), cols.view(1, -1)] = True
        assert torch.equal(out.x[~changed], data.x[~changed])
        assert bool((out.x[changed] == 0).all())
        assert torch.equal(out.edge_index, data.edge_index) and torch.equal(out.y, data.y)


@SETTINGS
@given(graph_and_request())
def test_idempotent_and_served_once(case):
    data, request = case
    out = request.apply(data)
    assert same_graph(request.apply(out), out)
    with pytest.raises(ValueError):  # the same request again is refused (nothing to remove)
        request.validate(out, history=[request])


@SETTINGS
@given(graph_and_request(), st.integers(1, 5), st.randoms(use_true_random=False))
def test_batch_is_order_independent(case, k, rnd):
    data, request = case
    out = request.apply(data)
    perm = list(range(request.index.size(-1)))
    rnd.shuffle(perm)
    shuffled = UnlearningRequest(request.kind, request.index[..., perm], request.feature_index)
    assert same_graph(shuffled.apply(data), out)
    if request.index.size(-1) < 2:
        return
    a, b = split(request, k)
    ab, ba = b.apply(a.apply(data)), a.apply(b.apply(data))
    assert same_graph(ab, out) and same_graph(ba, out)
    assert same_graph(UnlearningRequest.merge([a, b]).apply(data), out)
    # A partly served batch is caught by the audit (for nodes and edges, which always leave
    # a trace: a label or an edge).
    if request.kind != 'feature':
        removed = RemovedSet([request], out, undirected=True)
        assert any(c.status == 'fail' for c in check_graph(a.apply(data), removed, 'g'))


@SETTINGS
@given(graphs())
def test_checkpoint_round_trip_of_random_graphs(data):
    buf = io.BytesIO()
    torch.save(encode({'g': data, 'again': data}), buf)
    buf.seek(0)
    out = decode(torch.load(buf, weights_only=True))
    assert out['g'] is out['again'] and same_graph(out['g'], data)

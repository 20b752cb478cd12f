"""Tests of torch_geometric_unlearn.partition.community (Louvain, refinement, quality)."""
import networkx as nx
import pytest
import torch
from torch_geometric.utils import to_undirected

from torch_geometric_unlearn.partition.community import (
    conductance,
    louvain,
    modularity,
    refine_communities,
    relabel_contiguous,
)


def cliques(num: int = 3, size: int = 6) -> torch.Tensor:
    r"""`num` cliques of `size` nodes joined in a ring by one edge each."""
    edges = []
    for c in range(num):
        base = c * size
        edges += [(base + i, base + j) for i in range(size) for j in range(i + 1, size)]
        edges.append((base, ((c + 1) % num) * size + 1))
    return to_undirected(torch.tensor(edges).t())


@pytest.mark.parametrize('backend',
                         ['torch', 'igraph', 'leiden', 'fast', 'networkx', 'python-louvain'])
def test_louvain_finds_cliques_and_is_contiguous(backend):
    if backend in ('igraph', 'leiden'):
        pytest.importorskip('igraph')
    if backend == 'python-louvain':
        pytest.importorskip('community')
    ei = cliques()
    comm = louvain(ei, 18 + 2, seed=0, backend=backend)  # two isolated nodes at the end
    assert comm.dtype == torch.long and comm.shape == (20, )
    assert sorted(comm.unique().tolist()) == list(range(int(comm.max()) + 1))
    for c in range(3):  # each clique is one community, different from the others
        assert comm[c * 6:(c + 1) * 6].unique().numel() == 1
    assert comm[[0, 6, 12]].unique().numel() == 3
    assert comm[18] != comm[19]  # isolated nodes are singletons
    assert torch.equal(comm, louvain(ei, 20, seed=0, backend=backend))  # seeded


def test_louvain_leaves_global_rng_alone_and_checks_input():
    state = torch.get_rng_state()
    import random
    py_state = random.getstate()
    louvain(cliques(), 18, seed=3)
    assert torch.equal(state, torch.get_rng_state()) and py_state == random.getstate()
    with pytest.raises(ValueError, match='backend'):
        louvain(cliques(), 18, backend='metis')
    with pytest.raises(ValueError, match='outside'):
        louvain(cliques(), 10)


def test_modularity_matches_networkx(cora):
    comm = louvain(cora.edge_index, cora.num_nodes, seed=0)
    g = nx.Graph()
    g.add_nodes_from(range(cora.num_nodes))
    g.add_edges_from(cora.edge_index.t().tolist())
    parts = [set((comm == c).nonzero().view(-1).tolist()) for c in range(int(comm.max()) + 1)]
    expected = nx.community.modularity(g, parts)
    assert modularity(cora.edge_index, comm) == pytest.approx(expected, abs=1e-5)
    assert expected > 0.75  # Louvain on Cora


@pytest.mark.parametrize('backend', ['torch', 'leiden'])
def test_fast_backends_reach_louvain_modularity_on_cora(cora, backend):
    if backend == 'leiden':
        pytest.importorskip('igraph')
    comm = louvain(cora.edge_index, cora.num_nodes, seed=0, backend=backend)
    reference = modularity(cora.edge_index, louvain(cora.edge_index, cora.num_nodes, seed=0,
                                                    backend='networkx'))
    assert modularity(cora.edge_index, comm) > reference - 0.02  # networkx: ~0.81
    assert sorted(comm.unique().tolist()) == list(range(int(comm.max()) + 1))
    assert torch.equal(comm, louvain(cora.edge_index, cora.num_nodes, seed=0,
                                     backend=backend))


def test_torch_louvain_recovers_planted_communities_and_resolution():
    # 8 planted communities of 50 nodes, 90% of the edges inside: Louvain recovers them.
    g = torch.Generator().manual_seed(0)
    block = torch.arange(400) // 50
    src = torch.randint(0, 400, (3000, ), generator=g)
    inside = torch.rand(3000, generator=g) < 0.9
    dst = torch.where(inside, block[src] * 50 + torch.randint(0, 50, (3000, ), generator=g),
                      torch.randint(0, 400, (3000, ), generator=g))
    ring = torch.stack([torch.arange(400), block * 50 + (torch.arange(400) + 1) % 50])
    ei = to_undirected(torch.cat([torch.stack([src, dst]), ring], dim=1))  # no isolated node
    comm = louvain(ei, 400, seed=1, backend='torch')
    pairs = torch.unique(comm * 8 + block)  # (found, planted) pairs
    assert pairs.numel() == 8 and int(comm.max()) + 1 == 8
    assert modularity(ei, comm) > 0.7
    finer = louvain(ei, 400, seed=1, backend='torch', resolution=8.0)
    assert int(finer.max()) + 1 > 8


def test_conductance_by_hand():
    ei = cliques(num=2, size=3)  # two triangles joined by two edges (0-4 and 3-1)
    comm = torch.tensor([0, 0, 0, 1, 1, 1])
    # volume of each triangle: 6 internal arcs + 2 cut arcs = 8; cut = 2
    assert torch.allclose(conductance(ei, comm), torch.tensor([0.25, 0.25]))


def test_refine_respects_size_cap(cora):
    comm = louvain(cora.edge_index, cora.num_nodes, seed=0)
    refined = refine_communities(cora.edge_index, comm, max_size=20)
    sizes = torch.bincount(refined)
    assert int(sizes.max()) <= 20 and int(sizes.min()) >= 1
    assert sorted(refined.unique().tolist()) == list(range(int(refined.max()) + 1))
    # A refinement only splits: every refined community lies inside one Louvain community.
    pairs = torch.unique(refined * 10_000 + comm)
    assert pairs.numel() == int(refined.max()) + 1
    assert torch.equal(refined, refine_communities(cora.edge_index, comm, max_size=20))


def test_refine_splits_unsplittable_clique_and_conductance():
    ei = cliques(num=1, size=10)[:, :90]  # one 10-clique (Louvain cannot split it)
    comm = torch.zeros(10, dtype=torch.long)
    refined = refine_communities(ei, comm, max_size=4)
    assert torch.bincount(refined).tolist() == [4, 4, 2]
    # Conductance-driven split: two cliques wrongly merged have a good split.
    ei2 = cliques(num=2, size=6)
    merged = torch.tensor([0] * 12 + [1, 1])
    ei2 = torch.cat([ei2, torch.tensor([[12, 13], [13, 12]])], dim=1)
    out = refine_communities(ei2, merged, max_size=None, max_conductance=-1.0)
    assert out[:6].unique().numel() == 1 and out[6:12].unique().numel() == 1
    assert out[0] != out[6]


def test_refine_overlap_memberships():
    ei = cliques(num=2, size=4)
    comm = torch.tensor([0] * 4 + [1] * 4)
    extra = torch.tensor([[8, 8, 9, 9], [0, 4, 1, 5]])  # node 8: 1 edge in each, node 9 too
    ei = torch.cat([ei, extra, extra.flip(0)], dim=1)
    comm = torch.cat([comm, torch.tensor([0, 1])])
    refined, members = refine_communities(ei, comm, max_size=None, overlap=True,
                                          overlap_threshold=0.5)
    assert torch.equal(members[:, :10], torch.stack([torch.arange(10), refined]))
    extra_pairs = set(map(tuple, members[:, 10:].t().tolist()))
    assert (8, int(refined[4])) in extra_pairs and (9, int(refined[0])) in extra_pairs
    with pytest.raises(ValueError, match='max_size'):
        refine_communities(ei, comm, max_size=0)


def test_relabel_contiguous():
    out = relabel_contiguous(torch.tensor([7, 7, -1, 3, 9, 3]))
    assert out.tolist() == [0, 0, -1, 1, 2, 1]

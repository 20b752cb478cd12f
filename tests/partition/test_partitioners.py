"""GraphEraser partitioners: balance, coverage, quality, determinism, vectorised helpers."""
import pytest
import torch

from torch_geometric_unlearn.partition import (bekm, blpa, community_partition, partition_stats,
                                               random_partition, shard_capacity)
from torch_geometric_unlearn.partition.balanced import _rank_within_group


def planted(n=600, c=6, deg=8, p_in=0.9, seed=0):
    g = torch.Generator().manual_seed(seed)
    comm = torch.arange(n) % c
    src = torch.randint(0, n, (n * deg // 2, ), generator=g)
    same = torch.rand(src.numel(), generator=g) < p_in
    # same community: jump by a multiple of c (ids i, i + c, ... share i % c)
    jump = torch.randint(1, n // c, (src.numel(), ), generator=g) * c
    dst = torch.where(same, (src + jump) % n, torch.randint(0, n, (src.numel(), ), generator=g))
    keep = src != dst
    ei = torch.stack([src[keep], dst[keep]])
    return torch.cat([ei, ei.flip(0)], 1), comm


def test_capacity_formula():
    assert shard_capacity(2708, 20) == 149  # ceil(135.4 + 0.005 * 2572.6)
    assert shard_capacity(100, 1) == 100


def test_rank_within_group_matches_reference():
    g = torch.Generator().manual_seed(0)
    group = torch.randint(0, 4, (50, ), generator=g)
    prio = torch.rand(50, generator=g)
    rank = _rank_within_group(group, prio)
    for i in range(50):
        same = (group == group[i]) & (prio > prio[i])
        assert int(rank[i]) == int(same.sum())


def test_random_partition_balanced_masked_seeded():
    mask = torch.ones(103, dtype=torch.bool)
    mask[[3, 50]] = False
    s = random_partition(103, 4, seed=1, node_mask=mask)
    assert (s[~mask] == -1).all()
    sizes = torch.bincount(s[mask])
    assert sizes.max() - sizes.min() <= 1 and int(sizes.sum()) == 101
    assert torch.equal(s, random_partition(103, 4, seed=1, node_mask=mask))
    assert not torch.equal(s, random_partition(103, 4, seed=2, node_mask=mask))


def test_blpa_respects_capacity_and_beats_random():
    ei, _ = planted()
    k = 6
    s = blpa(ei, 600, k, seed=0)
    assert (s >= 0).all() and int(s.max()) < k
    assert int(torch.bincount(s).max()) <= shard_capacity(600, k)
    q, r = partition_stats(ei, s, k), partition_stats(ei, random_partition(600, k), k)
    assert q['edges_kept'] > r['edges_kept'] + 0.3
    assert q['modularity'] > 0.3 > r['modularity']
    assert torch.equal(s, blpa(ei, 600, k, seed=0))


def test_blpa_node_mask_excludes_nodes_and_their_edges():
    ei, _ = planted()
    mask = torch.ones(600, dtype=torch.bool)
    mask[:60] = False
    s = blpa(ei, 600, 5, node_mask=mask)
    assert (s[:60] == -1).all() and (s[60:] >= 0).all()
    assert int(torch.bincount(s[60:]).max()) <= shard_capacity(540, 5)


def test_bekm_recovers_separated_clusters_under_capacity():
    g = torch.Generator().manual_seed(0)
    centers = torch.eye(4) * 10
    label = torch.arange(400) % 4
    emb = centers[label] + 0.1 * torch.randn(400, 4, generator=g)
    s = bekm(emb, 4, seed=0)
    assert int(torch.bincount(s).max()) <= shard_capacity(400, 4)
    # every shard is one planted cluster
    for j in range(4):
        assert torch.unique(label[s == j]).numel() == 1


def test_bekm_capacity_forces_balance():
    # 90% of the points in one blob: the cap must still hold.
    emb = torch.cat([torch.zeros(360, 2), torch.ones(40, 2) * 5])
    s = bekm(emb + 0.01 * torch.randn(400, 2, generator=torch.Generator().manual_seed(0)), 4)
    assert int(torch.bincount(s, minlength=4).max()) <= shard_capacity(400, 4)
    assert (s >= 0).all()


@pytest.mark.parametrize('backend', ['fast', 'torch', 'networkx'])
def test_community_partition_balanced_and_keeps_communities(backend):
    ei, _ = planted()
    s = community_partition(ei, 600, 6, seed=0, backend=backend)
    sizes = torch.bincount(s)
    assert sizes.max() - sizes.min() <= 1
    assert partition_stats(ei, s, 6)['edges_kept'] > 0.6


def test_bad_input_raises():
    ei, _ = planted()
    with pytest.raises(ValueError, match='num_shards'):
        blpa(ei, 600, 0)
    with pytest.raises(ValueError, match='node_mask'):
        random_partition(10, 2, node_mask=torch.ones(9, dtype=torch.bool))
    with pytest.raises(ValueError, match='embedding'):
        bekm(torch.zeros(10), 2)

r"""Graph partitioning for shard- and community-based unlearning (GraphEraser, CGE)."""
from torch_geometric_unlearn.partition.balanced import (PARTITIONERS, bekm, blpa,
                                                        community_partition, partition_stats,
                                                        random_partition, shard_capacity)
# Community detection (CGE engineer):
from torch_geometric_unlearn.partition.community import (conductance, louvain, modularity,
                                                         refine_communities, relabel_contiguous)

__all__ = [
    'PARTITIONERS', 'blpa', 'bekm', 'random_partition', 'community_partition',
    'partition_stats', 'shard_capacity',
    'louvain', 'refine_communities', 'relabel_contiguous', 'modularity', 'conductance',
]

r"""Datasets for graph unlearning, all loadable offline.

* :func:`load_planetoid`: Cora / CiteSeer / PubMed (Cora's raw files ship with the package);
* :func:`load_lightgcn`: user-item graphs in the LightGCN text format (e.g. Gowalla);
* :func:`load_movielens100k`: MovieLens-100K as implicit feedback;
* :func:`load_ogb_node`: ogbn-arxiv / ogbn-products from their OGB folder (needs :obj:`ogb`);
* :func:`stochastic_block_model`, :func:`powerlaw_bipartite`: synthetic graphs of any size;
* :func:`load_dataset`: the dataset names of the benchmark CLI.

Node-classification datasets are :class:`~torch_geometric.data.Data` with :obj:`x`, :obj:`y`,
an undirected :obj:`edge_index` and :obj:`train_mask` / :obj:`val_mask` / :obj:`test_mask`.
User-item datasets are :class:`~torch_geometric.data.HeteroData` with node types :obj:`'user'`
and :obj:`'item'`, training interactions in :obj:`data['user', 'rates', 'item'].edge_index`,
test interactions in its :obj:`edge_label_index` and the reverse type
:obj:`('item', 'rev_rates', 'user')` (see :mod:`~torch_geometric_unlearn.datasets.lightgcn`).
"""
from torch_geometric_unlearn.datasets.lightgcn import (
    RATES,
    REV_RATES,
    bipartite_to_homogeneous,
    build_bipartite,
    homogeneous_to_bipartite,
    k_core,
    load_lightgcn,
    per_user_split,
    read_lightgcn_file,
    subset_stats,
    to_homogeneous_bipartite,
)
from torch_geometric_unlearn.datasets.load import DATASET_NAMES, is_bipartite, load_dataset
from torch_geometric_unlearn.datasets.movielens import load_movielens100k
from torch_geometric_unlearn.datasets.ogb import load_ogb_node
from torch_geometric_unlearn.datasets.planetoid import load_planetoid, random_planetoid_split
from torch_geometric_unlearn.datasets.synthetic import powerlaw_bipartite, stochastic_block_model

__all__ = [
    'load_dataset',
    'is_bipartite',
    'DATASET_NAMES',
    'load_planetoid',
    'random_planetoid_split',
    'load_lightgcn',
    'read_lightgcn_file',
    'to_homogeneous_bipartite',
    'homogeneous_to_bipartite',
    'bipartite_to_homogeneous',
    'build_bipartite',
    'per_user_split',
    'k_core',
    'subset_stats',
    'RATES',
    'REV_RATES',
    'load_movielens100k',
    'load_ogb_node',
    'stochastic_block_model',
    'powerlaw_bipartite',
]

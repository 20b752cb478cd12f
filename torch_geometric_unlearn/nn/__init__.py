r"""Model backbones."""
from torch_geometric_unlearn.nn.node import NODE_MODELS, SGC, build_node_model
from torch_geometric_unlearn.nn.recsys import RECSYS_MODELS, SGL, LightGCN, SimGCL, build_recsys_model
from torch_geometric_unlearn.nn.sparse import SymmetricSpMM, bipartite_norm_adj, norm_adj, sym_spmm
from torch_geometric_unlearn.nn.lazy_propagation import LazyPropagation
from torch_geometric_unlearn.nn.influence_encoder import InfluenceEncoder, influence_dependency_matrix

__all__ = ['build_node_model', 'SGC', 'NODE_MODELS', 'LightGCN', 'SGL', 'SimGCL',
           'build_recsys_model', 'RECSYS_MODELS', 'norm_adj', 'bipartite_norm_adj', 'sym_spmm',
           'SymmetricSpMM', 'LazyPropagation', 'InfluenceEncoder',
           'influence_dependency_matrix']

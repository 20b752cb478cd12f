r"""Influence-function tools: Hessian-vector products and inverse-HVP solvers shared by GIF and
later influence-based unlearning methods."""
from torch_geometric_unlearn.influence.hvp import hessian_vector_product, hvp, make_hvp_fn
from torch_geometric_unlearn.influence.solvers import (LiSSADivergenceError,
                                                       hessian_eigenvalue_bounds, inverse_hvp_cg,
                                                       inverse_hvp_lissa)

from torch_geometric_unlearn.influence.nim import NIM, propagate_features, unlearning_entities

__all__ = [
    'hvp',
    'hessian_vector_product',
    'make_hvp_fn',
    'inverse_hvp_lissa',
    'inverse_hvp_cg',
    'hessian_eigenvalue_bounds',
    'LiSSADivergenceError',
    'NIM',
    'propagate_features',
    'unlearning_entities',
]

r"""torch_geometric_unlearn: graph unlearning for PyTorch Geometric."""
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.result import UnlearningResult
from torch_geometric_unlearn.unlearner import Unlearner
from torch_geometric_unlearn.algorithm import Retrain, UnlearningAlgorithm
from torch_geometric_unlearn.audit import AuditReport  # audit(): torch_geometric_unlearn.audit

__version__ = '0.1.0'

__all__ = ['Unlearner', 'UnlearningRequest', 'UnlearningResult', 'UnlearningAlgorithm',
           'Retrain', 'AuditReport', '__version__']

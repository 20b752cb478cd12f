r"""Unlearning algorithms (one file each)."""
from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.algorithm.retrain import Retrain
from torch_geometric_unlearn.algorithm.gif import GIF, IF
from torch_geometric_unlearn.algorithm.graph_eraser import GraphEraser, ShardEnsemble
from torch_geometric_unlearn.algorithm.cge import CGE, CGEModel
from torch_geometric_unlearn.algorithm.scalegun import (
    Certificate,
    PropagatedLinear,
    ScaleGUN,
    ScaleGUNDeep,
)
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
from torch_geometric_unlearn.algorithm.rec_baselines import EmbeddingGIF, RecEraser, ShardedRecommender

__all__ = ['UnlearningAlgorithm', 'Retrain', 'GIF', 'IF', 'GraphEraser', 'ShardEnsemble', 'CGE',
           'CGEModel', 'ScaleGUN', 'ScaleGUNDeep', 'Certificate', 'PropagatedLinear', 'SGU',
           'UnlearnRec', 'EmbeddingGIF', 'RecEraser', 'ShardedRecommender']

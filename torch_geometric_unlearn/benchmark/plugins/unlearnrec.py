r"""Registers UnlearnRec (Issue 6) and its recommendation baselines with the benchmark CLI:

* ``unlearnrec`` (pre-trained influence encoder + 1 fine-tuning epoch), ``unlearnrec-0``
  (direct application, no fine-tuning), ``unlearnrec-3`` (3 fine-tuning epochs);
* ``unlearnrec-simgcl-val``: ``unlearnrec`` (1 fine-tuning epoch) with the pre-training
  arguments :data:`SIMGCL_VAL_PRETRAIN` (λ_u 1, λ_p 0.03, ρ 0.2, τ 1, lr 1e-2), chosen for the
  SimGCL backbone on MovieLens-100K by round 2 of
  ``benchmarks/unlearnrec/select_pretrain_simgcl.py`` (validation split, held-out seeds 7-8,
  pre-declared rule; ``results/select_pretrain_simgcl_round2.json``). ``unlearnrec`` keeps the
  class defaults;
* ``gif-rec`` (GIF's influence-function step on the embedding table, LiSSA with the authors'
  defaults) and ``gif-rec-cg`` (conjugate gradient);
* ``receraser`` (balanced k-means interaction shards, attention aggregation) and
  ``receraser-random`` (random interaction shards, SISA-style).

Only for recommendation datasets (``--model lightgcn|sgl|simgcl``). The adversarial-interaction
protocol of the paper is run by ``benchmarks/unlearnrec/bench.py``.
"""
from __future__ import annotations

import argparse

from torch_geometric_unlearn.algorithm.base import UnlearningAlgorithm
from torch_geometric_unlearn.benchmark.registry import register_algorithm


#: UnlearnRec pre-training arguments of ``unlearnrec-simgcl-val`` (module docstring).
SIMGCL_VAL_PRETRAIN = {'lambda_u': 1.0, 'lambda_p': 0.03, 'sim_ratio': 0.2,
                       'temperature': 1.0, 'lr': 1e-2}


def _unlearnrec(finetune_epochs: int, **fixed):
    def build(args: argparse.Namespace) -> UnlearningAlgorithm:
        from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
        kwargs = dict(fixed)
        if getattr(args, 'pretrain_epochs', None) is not None:  # benchmarks/unlearnrec
            kwargs['pretrain_epochs'] = args.pretrain_epochs
        return UnlearnRec(finetune_epochs=finetune_epochs, **kwargs)
    return build


register_algorithm('unlearnrec')(_unlearnrec(1))
register_algorithm('unlearnrec-0')(_unlearnrec(0))
register_algorithm('unlearnrec-3')(_unlearnrec(3))
register_algorithm('unlearnrec-simgcl-val')(_unlearnrec(1, **SIMGCL_VAL_PRETRAIN))


@register_algorithm('gif-rec')
def _gif_rec(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.rec_baselines import EmbeddingGIF
    return EmbeddingGIF()


@register_algorithm('gif-rec-cg')
def _gif_rec_cg(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.rec_baselines import EmbeddingGIF
    return EmbeddingGIF(solver='cg', iterations=30, damp=0.001)


@register_algorithm('receraser')
def _receraser(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.rec_baselines import RecEraser
    return RecEraser()


@register_algorithm('receraser-random')
def _receraser_random(args: argparse.Namespace) -> UnlearningAlgorithm:
    from torch_geometric_unlearn.algorithm.rec_baselines import RecEraser
    return RecEraser(partition='random')

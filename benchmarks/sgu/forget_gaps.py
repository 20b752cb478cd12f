r"""Diagnostic (no test nodes, no choice made from it): per request, SGU's selected epoch,
whether it counts as *forgotten*, the forget gap (removed training nodes' mean true-class
confidence minus the never-trained reference's) and the validation accuracy at every
fine-tuning epoch, on the benchmark CLI's model, split and forget set; with ``--posteriors``,
the mean sorted posterior (top-1, top-2) and entropy of the removed nodes and of the nodes in
no mask (never trained on, never validated or tested) after Retrain and after SGU::

    OMP_NUM_THREADS=1 python benchmarks/sgu/forget_gaps.py --model sgc --strategy worst_case \
        --seeds 50,51,52,53 [--posteriors] [--sgu '{"kl_weight": 3.0}']

(``--sgu``: keyword arguments of :class:`SGU` as JSON, default the defaults; with
``--posteriors`` the original model's posteriors are printed too.)
"""
from __future__ import annotations

import argparse
import copy
import json

from torch import Tensor

from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm import Retrain
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.benchmark.runner import _fresh_model, build_parser, build_task
from torch_geometric_unlearn.datasets import load_dataset
from torch_geometric_unlearn.forget import select_request

from select_defaults import nodes_in_no_mask  # this folder's selection protocol


def posterior_shape(p: Tensor, idx: Tensor) -> str:
    r"""Mean top-1 and top-2 probabilities and entropy of the rows :obj:`idx` of :obj:`p`."""
    top = p[idx].sort(-1, descending=True).values
    entropy = -(p[idx] * p[idx].clamp_min(1e-12).log()).sum(-1)
    return (f'top-1 {top[:, 0].mean():.3f}, top-2 {top[:, 1].mean():.3f}, entropy '
            f'{entropy.mean():.3f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='gcn')
    parser.add_argument('--strategy', default='worst_case')
    parser.add_argument('--ratio', type=float, default=0.05)
    parser.add_argument('--seeds', default='50,51,52,53')
    parser.add_argument('--posteriors', action='store_true')
    parser.add_argument('--sgu', default='{}', help='SGU keyword arguments (JSON)')
    opts = parser.parse_args()
    args = build_parser().parse_args(['--dataset', 'cora', '--model', opts.model,
                                      '--algorithms', 'sgu', '--request', 'node', '--ratio',
                                      str(opts.ratio), '--strategy', opts.strategy])
    data = load_dataset('cora')
    for seed in (int(s) for s in opts.seeds.split(',')):
        task = build_task(args, False, seed)
        model = _fresh_model(args, data, False, seed)
        task.train(model, data, seed=seed)
        request = select_request(data, 'node', strategy=opts.strategy, ratio=opts.ratio,
                                 count=None, seed=seed, model=model, task=task)
        sgu = SGU(**json.loads(opts.sgu))
        result = Unlearner(copy.deepcopy(model), sgu, task=task).fit(data).unlearn(request)
        ex = result.extras
        print(f"seed {seed}: epoch {ex['best_epoch']}, forgotten {ex['forgotten']}, gaps "
              f"{[round(g, 3) for g in ex['forget_gap_curve']]}, validation accuracy "
              f"{[round(v, 3) for v in ex['val_curve']]}", flush=True)
        if opts.posteriors:
            free, _ = nodes_in_no_mask(data)
            retrain = Unlearner(copy.deepcopy(model), Retrain(), task=task).fit(data)
            for name, m in (('original', model), ('retrain', retrain.unlearn(request).model),
                            ('sgu', result.model)):
                p = task.predict_proba(m, data)
                print(f'  {name:7s} removed: {posterior_shape(p, request.node_index)} | '
                      f'no mask: {posterior_shape(p, free)}', flush=True)


if __name__ == '__main__':
    main()

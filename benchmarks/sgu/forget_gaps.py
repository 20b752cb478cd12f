r"""Diagnostic (no test nodes, no choice made from it): per request, SGU's selected epoch,
whether it counts as *forgotten*, the forget gap (removed training nodes' mean true-class
confidence minus the never-trained reference's) and the validation accuracy at every
fine-tuning epoch, on the benchmark CLI's model, split and forget set::

    OMP_NUM_THREADS=1 python benchmarks/sgu/forget_gaps.py --model sgc --strategy worst_case \
        --seeds 50,51,52,53
"""
from __future__ import annotations

import argparse
import copy

from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.benchmark.runner import _fresh_model, build_parser, build_task
from torch_geometric_unlearn.datasets import load_dataset
from torch_geometric_unlearn.forget import select_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='gcn')
    parser.add_argument('--strategy', default='worst_case')
    parser.add_argument('--ratio', type=float, default=0.05)
    parser.add_argument('--seeds', default='50,51,52,53')
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
        ex = Unlearner(copy.deepcopy(model), SGU(), task=task).fit(data).unlearn(request).extras
        print(f"seed {seed}: epoch {ex['best_epoch']}, forgotten {ex['forgotten']}, gaps "
              f"{[round(g, 3) for g in ex['forget_gap_curve']]}, validation accuracy "
              f"{[round(v, 3) for v in ex['val_curve']]}", flush=True)


if __name__ == '__main__':
    main()

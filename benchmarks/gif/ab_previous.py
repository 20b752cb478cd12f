"""Side-by-side unlearning time of the `gif-cg` preset, this tree's GIF vs GIF at a previous
commit (loaded with `git show REV:torch_geometric_unlearn/algorithm/gif.py`), on the CLI's
models and requests (Cora public split, GCN, node requests). Fresh Unlearners, alternating;
'new_later' drops the Hessian graph built in fit(), as for any request after the first.

Usage: OMP_NUM_THREADS=1 python benchmarks/gif/ab_previous.py REV [ratio=0.05] [repeats=5]
"""
import copy
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import warnings

import torch

from torch_geometric_unlearn.algorithm import gif as new
from torch_geometric_unlearn.benchmark.runner import _fresh_model, build_parser, build_task
from torch_geometric_unlearn.datasets import load_dataset
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.unlearner import Unlearner


def load_previous(rev: str):
    src = subprocess.run(['git', 'show', f'{rev}:torch_geometric_unlearn/algorithm/gif.py'],
                         check=True, capture_output=True, text=True).stdout
    f = tempfile.NamedTemporaryFile('w', suffix='.py', delete=False)
    f.write(src)
    f.close()
    spec = importlib.util.spec_from_file_location('gif_previous', f.name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(rev: str, ratio: float = 0.05, repeats: int = 5) -> None:
    warnings.simplefilter('ignore')
    old = load_previous(rev)
    args = build_parser().parse_args([])
    data = load_dataset('cora')
    for seed in (0, 1, 2):
        task = build_task(args, False, seed)
        model = _fresh_model(args, data, False, seed)
        task.train(model, data, seed=seed)
        request = select_request(data, 'node', strategy='random', ratio=ratio, count=None,
                                 seed=seed, model=model, task=task)
        times = {'previous': [], 'new_first': [], 'new_later': []}
        for _ in range(repeats):
            for name in times:
                mod = old if name == 'previous' else new
                u = Unlearner(copy.deepcopy(model), mod.GIF(solver='cg', iterations=8, damp=0.01),
                              task=task).fit(data)
                if name == 'new_later':
                    u.algorithm._hessian_cache = None
                times[name].append(u.unlearn(request).unlearn_seconds)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(seed, {k: round(1000 * v, 1) for k, v in med.items()}, 'ms; previous/new_first '
              f"{med['previous'] / med['new_first']:.2f}, previous/new_later "
              f"{med['previous'] / med['new_later']:.2f}", flush=True)


if __name__ == '__main__':
    main(sys.argv[1], *(float(a) if i == 0 else int(a) for i, a in enumerate(sys.argv[2:])))

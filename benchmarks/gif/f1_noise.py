"""Is the public-split node-5% F1 gap to Retrain the solver or noise? For seeds 0,1,2 (the CLI's
model, training and request): Retrain with the CLI's seed and with 4 other initialisation
seeds (100-103) on the same retained graph, and GIF with several solvers / dampings.
Macro-F1 (test) of each, one JSON line per seed.

Usage: OMP_NUM_THREADS=1 python benchmarks/gif/f1_noise.py [out.json]
"""
import sys, copy, json, warnings
import torch
warnings.simplefilter('ignore')
from torch_geometric_unlearn.benchmark.runner import build_parser, build_task, _fresh_model
from torch_geometric_unlearn.datasets import load_dataset
from torch_geometric_unlearn.forget import select_request
from torch_geometric_unlearn.unlearner import Unlearner
from torch_geometric_unlearn.algorithm.gif import GIF
from torch_geometric_unlearn.algorithm.retrain import Retrain
torch.set_num_threads(1)
args = build_parser().parse_args([])
data = load_dataset('cora')
variants = {
 'cg8_d.01': dict(solver='cg', iterations=8, damp=0.01),
 'cg16_d.01': dict(solver='cg', iterations=16, damp=0.01),
 'cg64_d.01': dict(solver='cg', iterations=64, damp=0.01),
 'cg8_d.003': dict(solver='cg', iterations=8, damp=0.003),
 'cg32_d.003': dict(solver='cg', iterations=32, damp=0.003),
 'cg8_d.03': dict(solver='cg', iterations=8, damp=0.03),
 'cg8_d.1': dict(solver='cg', iterations=8, damp=0.1),
 'lissa100': dict(),
 'lissa300': dict(iterations=300),
}
out = []
for seed in [0, 1, 2]:
    task = build_task(args, False, seed)
    m = _fresh_model(args, data, False, seed)
    task.train(m, data, seed=seed)
    req = select_request(data, 'node', strategy='random', ratio=0.05, count=None, seed=seed,
                         model=m, task=task)
    rec = {'seed': seed, 'before': task.evaluate(m, data)['macro_f1']}
    for rs in [None, 100, 101, 102, 103]:
        u = Unlearner(copy.deepcopy(m), Retrain(seed=rs), task=task); u.fit(data)
        r = u.unlearn(req)
        rec[f'retrain_{rs}'] = task.evaluate(r.model, r.data)['macro_f1']
    for name, kw in variants.items():
        u = Unlearner(copy.deepcopy(m), GIF(**kw), task=task); u.fit(data)
        r = u.unlearn(req)
        rec[name] = task.evaluate(r.model, r.data)['macro_f1']
        rec[name + '_upd'] = r.extras['update_norm']
        rec[name + '_it'] = r.extras['solver_iterations']
        rec[name + '_neg'] = r.extras.get('negative_curvature')
    print(json.dumps(rec), flush=True)
    out.append(rec)
with open(sys.argv[1] if len(sys.argv) > 1 else 'benchmarks/gif/f1_noise.json', 'w') as f:
    json.dump(out, f, indent=1)

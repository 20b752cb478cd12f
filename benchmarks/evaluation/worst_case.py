"""Worst-case vs random forget sets on Cora: utility drop after Retrain, over seeds.

For every seed: one GCN is trained on the full training set (the "original"); for every forget
size and strategy, the forget set is drawn (random: ``--random-draws`` independent draws,
averaged within the seed), a fresh GCN is retrained from scratch on the retained graph with the
same recipe and seed, and the test-accuracy / macro-F1 drop (original - retrained) is recorded.
Rows are appended to ``--out`` (JSON lines) as they finish, so a cut run keeps its data;
``--summarize FILE`` prints the table of an existing file.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/evaluation/worst_case.py --seeds 0,1,2 \
        --counts 14,28 --out benchmarks/evaluation/results/worst_case.jsonl
    python benchmarks/evaluation/worst_case.py --summarize \
        benchmarks/evaluation/results/worst_case.jsonl
"""
import argparse
import json
import statistics
import time
from collections import defaultdict


def summarize(rows):
    r"""Per (count, strategy): mean +- std over seeds of the per-seed mean drop."""
    per_seed = defaultdict(list)
    for r in rows:
        per_seed[(r['count'], r['strategy'], r['seed'])].append(r)
    table = defaultdict(dict)
    for (count, strat, seed), rs in per_seed.items():
        table[(count, strat)][seed] = (statistics.mean(r['drop'] for r in rs),
                                       statistics.mean(r['f1_drop'] for r in rs))
    lines = ['| forget size | strategy | seeds | acc drop (points), mean +- std | '
             'macro-F1 drop (points) | vs random |', '|---|---|---|---|---|---|']
    counts = sorted({c for c, _ in table})
    for count in counts:
        rand = table.get((count, 'random'), {})
        for (c, strat), by_seed in sorted(table.items(), key=lambda kv: (kv[0][0],
                                                                         kv[0][1] != 'random',
                                                                         kv[0][1])):
            if c != count:
                continue
            d = [100 * v[0] for v in by_seed.values()]
            f = [100 * v[1] for v in by_seed.values()]
            sd = statistics.stdev(d) if len(d) > 1 else 0.0
            sf = statistics.stdev(f) if len(f) > 1 else 0.0
            common = [s for s in by_seed if s in rand]
            extra = ''
            if strat != 'random' and common:
                diff = [100 * (by_seed[s][0] - rand[s][0]) for s in common]
                extra = f'{statistics.mean(diff):+.2f} points (paired, {len(common)} seeds)'
            lines.append(f'| {count} | {strat} | {len(d)} | {statistics.mean(d):.2f} +- '
                         f'{sd:.2f} | {statistics.mean(f):.2f} +- {sf:.2f} | {extra} |')
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seeds', default='0,1,2')
    p.add_argument('--counts', default='14,28',
                   help='forget sizes (Cora public split: 140 training nodes)')
    p.add_argument('--split', default='public')
    p.add_argument('--model', default='gcn')
    p.add_argument('--strategies', default='random,worst_case,degree,pagerank')
    p.add_argument('--random-draws', type=int, default=3,
                   help='independent random forget sets per seed and size (averaged)')
    p.add_argument('--out', default=None, help='append JSON lines here')
    p.add_argument('--summarize', default=None, help='only print the table of this file')
    a = p.parse_args()
    if a.summarize:
        with open(a.summarize) as f:
            print(summarize([json.loads(line) for line in f if line.strip()]))
        return

    from torch_geometric_unlearn.datasets.planetoid import load_planetoid
    from torch_geometric_unlearn.forget import select_request
    from torch_geometric_unlearn.nn.node import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask, reinitialize

    data = load_planetoid('Cora', split=a.split)
    num_classes = int(data.y.max()) + 1
    rows = []
    out = open(a.out, 'a') if a.out else None
    for seed in [int(s) for s in a.seeds.split(',')]:
        task = NodeClassificationTask(seed=seed)
        model = reinitialize(build_node_model(a.model, data.num_features, num_classes), seed)
        task.train(model, data)
        u0 = task.evaluate(model, data)
        for count in [int(c) for c in a.counts.split(',')]:
            for strat in a.strategies.split(','):
                draws = a.random_draws if strat == 'random' else 1
                for draw in range(draws):
                    t0 = time.perf_counter()
                    req = select_request(data, 'node', strat, count=count,
                                         seed=seed * 1000 + draw, model=model, task=task)
                    kept = req.apply(data)
                    re = task.fresh_model(model, seed)
                    task.train(re, kept)
                    u = task.evaluate(re, kept)
                    rows.append({'seed': seed, 'count': count, 'strategy': strat, 'draw': draw,
                                 'acc_original': u0['accuracy'], 'acc_retrain': u['accuracy'],
                                 'drop': u0['accuracy'] - u['accuracy'],
                                 'f1_drop': u0['macro_f1'] - u['macro_f1'],
                                 'seconds': time.perf_counter() - t0})
                    print(json.dumps(rows[-1]), flush=True)
                    if out:
                        out.write(json.dumps(rows[-1]) + '\n')
                        out.flush()
    print()
    print(summarize(rows))


if __name__ == '__main__':
    main()

r"""Markdown table of benchmarks/unlearnrec/bench.py JSON records: one row per dataset, model
and algorithm; means over seeds, with [min, max] over seeds for the target metrics (Recall /
Retrain, MI-NG) and the median speed-up (each seed's speed-up is measured side by side with
that seed's Retrain)."""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    rows = defaultdict(list)
    for path in paths:
        with open(path) as f:
            records = json.load(f)
            if not isinstance(records, list):  # e.g. the reliability stream's summary
                continue
            for r in records:
                if not isinstance(r, dict) or 'error' in r or 'utility_after' not in r:
                    continue
                if 'recall_ratio_vs_retrain' not in r:  # a benchmark-CLI record
                    if 'utility_retrain' not in r:
                        continue
                    r = dict(r, recall_ratio_vs_retrain=r['utility_after']['recall@20']
                             / r['utility_retrain']['recall@20'])
                # bench.py's requests are adversarial; CLI records name their strategy.
                name = r['algorithm'] if r.get('strategy') in (None, 'adversarial') \
                    else f"{r['algorithm']} ({r['strategy']})"
                rows[(r['dataset'], r['model'], name)].append(r)
    print('| dataset | model | method | seeds | Recall@20 | NDCG@20 | Recall / Retrain [min, max] '
          '| MI-BF | MI-NG [min, max] | unlearn s | speed-up (median) | peak MB |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (ds, model, algo), rs in rows.items():
        def m(f):
            return statistics.mean(f(r) for r in rs)

        def span(f, fmt):
            vals = [f(r) for r in rs]
            if len(vals) == 1:
                return format(vals[0], fmt)
            return (f'{format(statistics.mean(vals), fmt)} [{format(min(vals), fmt)}, '
                    f'{format(max(vals), fmt)}]')
        seeds = ','.join(str(s) for s in sorted({r['seed'] for r in rs}))
        print(f"| {ds} | {model} | {algo} | {seeds} "
              f"| {m(lambda r: r['utility_after']['recall@20']):.4f} "
              f"| {m(lambda r: r['utility_after']['ndcg@20']):.4f} "
              f"| {span(lambda r: r['recall_ratio_vs_retrain'], '.3f')} "
              f"| {m(lambda r: r['mi_bf']):.2f} "
              f"| {span(lambda r: r['mi_ng'], '.2f')} | {m(lambda r: r['unlearn_seconds']):.3f} "
              f"| {statistics.median(r['speedup_vs_retrain'] for r in rs):.1f} "
              f"| {m(lambda r: r['peak_memory_bytes']) / 2**20:.0f} |")


if __name__ == '__main__':
    main(sys.argv[1:])

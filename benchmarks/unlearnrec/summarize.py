r"""Markdown table of benchmarks/unlearnrec/bench.py JSON records (one row per dataset, model
and algorithm; means over seeds)."""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    rows = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                if 'error' in r:
                    continue
                rows[(r['dataset'], r['model'], r['algorithm'])].append(r)
    print('| dataset | model | method | Recall@20 | NDCG@20 | Recall / Retrain | MI-BF | MI-NG '
          '| unlearn s | speed-up | peak MB |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for (ds, model, algo), rs in rows.items():
        def m(f):
            return statistics.mean(f(r) for r in rs)
        print(f"| {ds} | {model} | {algo} | {m(lambda r: r['utility_after']['recall@20']):.4f} "
              f"| {m(lambda r: r['utility_after']['ndcg@20']):.4f} "
              f"| {m(lambda r: r['recall_ratio_vs_retrain']):.3f} | {m(lambda r: r['mi_bf']):.2f} "
              f"| {m(lambda r: r['mi_ng']):.2f} | {m(lambda r: r['unlearn_seconds']):.3f} "
              f"| {m(lambda r: r['speedup_vs_retrain']):.1f} "
              f"| {m(lambda r: r['peak_memory_bytes']) / 2**20:.0f} |")


if __name__ == '__main__':
    main(sys.argv[1:])

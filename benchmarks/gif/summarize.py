"""Summarise benchmark JSON records (mean over seeds) as a Markdown table.

Usage: python benchmarks/gif/summarize.py benchmarks/gif/results/*.json
"""
import json
import os
import statistics
import sys
from collections import defaultdict


def main(paths):
    print('| setting | removed | algorithm | macro-F1 after | macro-F1 Retrain | '
          '|diff| (pt) | unlearn s (median) | Retrain s (median) | speed-up (median) | '
          'fit s (median) | MIA AUC after (Retrain; before) |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for path in paths:
        groups = defaultdict(list)
        for r in json.load(open(path)):
            groups[r['algorithm']].append(r)
        for algo, rs in groups.items():
            f1 = statistics.mean(r['utility_after']['macro_f1'] for r in rs)
            f1r = statistics.mean(r['utility_retrain']['macro_f1'] for r in rs)
            diff = statistics.mean(abs(r['utility_after']['macro_f1']
                                       - r['utility_retrain']['macro_f1']) for r in rs)
            t = statistics.median(r['unlearn_seconds'] for r in rs)
            tr = statistics.median(r['retrain_seconds'] for r in rs)
            sp = statistics.median(r['speedup_vs_retrain'] for r in rs)
            mia = [r.get('mia_auc') for r in rs]
            fit = statistics.median(r.get('fit_seconds', 0.0) for r in rs)
            if all(m is not None for m in mia):
                mb = statistics.mean(r['mia_auc_before'] for r in rs)
                mr = statistics.mean(x['mia_auc'] for x in groups['retrain']) \
                    if 'retrain' in groups else float('nan')
                mia_s = f'{statistics.mean(mia):.3f} ({mr:.3f}; {mb:.3f})'
            else:
                mia_s = 'n/a (' + str(rs[0].get('mia_note', ''))[:40] + ')'
            setting = os.path.basename(path).rsplit('.json', 1)[0]
            print(f"| {setting} | {rs[0]['num_removed']} ({len(rs)} seeds) "
                  f"| {algo} | {100 * f1:.2f} | {100 * f1r:.2f} | {100 * diff:.2f} | {t:.3f} "
                  f'| {tr:.2f} | {sp:.1f}x | {fit:.2f} | {mia_s} |')


if __name__ == '__main__':
    main(sys.argv[1:])

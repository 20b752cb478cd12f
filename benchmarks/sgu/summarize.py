r"""Prints a markdown table from the CLI's JSON records in results/: per algorithm, ΔF1 against
Retrain (link prediction: Δ test AUC; median, mean and per seed), MIA AUC (per seed) and its
difference to Retrain's on the same seed (median, mean, std), unlearning seconds and speed-up
over Retrain (median)."""
import glob
import json
import os
import statistics as st
import sys

from interval import utility_key  # this folder's helper

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'results')
only = sys.argv[2:]  # optional file-name filters
print('| file | algorithm | seeds | removed | ΔF1 (link: ΔAUC) pts (median; mean; per seed) | '
      'MIA AUC per seed | '
      'ΔMIA vs Retrain (median; mean ± std) | unlearn s (median) | speed-up (median; per seed) |')
print('|' + '---|' * 9)


def fmt(xs, spec):
    return ', '.join(format(x, spec) for x in xs)


for path in sorted(glob.glob(os.path.join(root, '*.json'))):
    name = os.path.basename(path)
    if only and not any(o in name for o in only):
        continue
    records = json.load(open(path))
    if not isinstance(records, list) or not all('algorithm' in r for r in records):
        continue  # scaling_*.json, reliability_*.json, retrain_features.json
    retrain = {r['seed']: r for r in records if r['algorithm'] == 'retrain'}
    for alg in dict.fromkeys(r['algorithm'] for r in records):
        rs = [r for r in records if r['algorithm'] == alg]
        key = utility_key(rs[0])
        df1 = [100 * (r['utility_after'][key] - r['utility_retrain'][key]) for r in rs]
        mia = [r.get('mia_auc') for r in rs]
        dm = [m - retrain[r['seed']]['mia_auc'] for m, r in zip(mia, rs)
              if m is not None and r['seed'] in retrain]
        sp = [r['speedup_vs_retrain'] for r in rs]
        dmia = (f'{st.median(dm):+.3f}; {st.mean(dm):+.3f} ± {st.pstdev(dm):.3f}'
                if dm else 'n/a')
        print(f"| {name} | {alg} | {len(rs)} | {rs[0]['num_removed']} | "
              f'{st.median(df1):+.2f}; {st.mean(df1):+.2f}; {fmt(df1, "+.2f")} | '
              f'{fmt([m for m in mia if m is not None], ".3f")} | {dmia} | '
              f"{st.median(r['unlearn_seconds'] for r in rs):.2f} | "
              f'{st.median(sp):.1f}; {fmt(sp, ".1f")} |')

r"""Prints a markdown table (means over seeds) from the CLI's JSON records in results/."""
import glob
import json
import os
import statistics as st
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'results')
print('| file | algorithm | seeds | removed | macro-F1 | Retrain F1 | ΔF1 (pts) | MIA AUC | '
      'Retrain MIA | unlearn s (median) | speed-up (median) |')
print('|' + '---|' * 11)
for path in sorted(glob.glob(os.path.join(root, '*.json'))):
    records = json.load(open(path))
    if not isinstance(records, list):  # e.g. reliability_*.json (benchmarks/reliability)
        continue
    retrain = {r['seed']: r for r in records if r['algorithm'] == 'retrain'}
    for alg in dict.fromkeys(r['algorithm'] for r in records):
        rs = [r for r in records if r['algorithm'] == alg]
        f1 = st.mean(r['utility_after']['macro_f1'] for r in rs)
        f1r = st.mean(r['utility_retrain']['macro_f1'] for r in rs)
        mia = [r['mia_auc'] for r in rs if r.get('mia_auc') is not None]
        miar = [retrain[r['seed']]['mia_auc'] for r in rs if r['seed'] in retrain]
        print(f"| {os.path.basename(path)} | {alg} | {len(rs)} | {rs[0]['num_removed']} | "
              f"{f1:.4f} | {f1r:.4f} | {100 * (f1 - f1r):+.2f} | "
              f"{st.mean(mia):.3f} | {st.mean(miar):.3f} | "
              f"{st.median(r['unlearn_seconds'] for r in rs):.2f} | "
              f"{st.median(r['speedup_vs_retrain'] for r in rs):.1f} |")

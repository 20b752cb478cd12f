"""Prints a markdown table (per model and algorithm: macro-F1, unlearn seconds, speed-up vs
Retrain measured in the same run, MIA AUC) from benchmarks/cge/<model>.json."""
import json
import statistics
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
print('| model | algorithm | guarantee | macro-F1 per seed (Retrain same seed) | '
      'unlearn s per seed | speed-up per seed | MIA AUC after (before) |')
print('|---|---|---|---|---|---|---|')
for model in sys.argv[1:] or ['gcn', 'sage', 'gat']:
    path = here / f'{model}.json'
    if not path.exists():
        continue
    records = json.loads(path.read_text())
    for algo in dict.fromkeys(r['algorithm'] for r in records):
        rs = [r for r in records if r['algorithm'] == algo]
        f1 = ', '.join(f"{r['utility_after']['macro_f1']:.4f} ({r['utility_retrain']['macro_f1']:.4f})"
                       for r in rs)
        secs = ', '.join(f"{r['unlearn_seconds']:.2f}" for r in rs)
        sp = ', '.join(f"{r['speedup_vs_retrain']:.1f}x" for r in rs)
        mia = ', '.join(f"{r['mia_auc']:.3f} ({r['mia_auc_before']:.3f})" for r in rs
                        if r.get('mia_auc') is not None)
        med = statistics.median(r['speedup_vs_retrain'] for r in rs)
        print(f"| {model} | {algo} | {rs[0]['guarantee']} | {f1} | {secs} | {sp} "
              f"(median {med:.1f}x) | {mia} |")

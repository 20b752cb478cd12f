"""Prints a markdown table from benchmarks/cge/<model>.json: per model and algorithm, macro-F1
(mean +- std over seeds) next to Retrain's on the same seeds, the gap, median unlearning
seconds, the median of the per-seed speed-ups over Retrain (measured in the same run), and
MIA AUC after unlearning (mean; original model in brackets)."""
import json
import statistics
import sys
from pathlib import Path

here = Path(__file__).resolve().parent


def ms(values):
    values = list(values)
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.4f} +- {sd:.4f}'


print('| model | algorithm | guarantee | seeds | macro-F1 | Retrain macro-F1 | gap (points) | '
      'median unlearn s (Retrain) | speed-up per seed (median) | MIA AUC after (before) |')
print('|---|---|---|---|---|---|---|---|---|---|')
for model in sys.argv[1:] or ['gcn', 'sage', 'gat']:
    path = here / f'{model}.json'
    if not path.exists():
        continue
    records = json.loads(path.read_text())
    for algo in dict.fromkeys(r['algorithm'] for r in records):
        rs = [r for r in records if r['algorithm'] == algo]
        f1 = [r['utility_after']['macro_f1'] for r in rs]
        rf1 = [r['utility_retrain']['macro_f1'] for r in rs]
        gap = 100 * (statistics.mean(f1) - statistics.mean(rf1))
        secs = statistics.median(r['unlearn_seconds'] for r in rs)
        rsecs = statistics.median(r['retrain_seconds'] for r in rs)
        sp = [r['speedup_vs_retrain'] for r in rs]
        mia = [r['mia_auc'] for r in rs if r.get('mia_auc') is not None]
        mia0 = [r['mia_auc_before'] for r in rs if r.get('mia_auc_before') is not None]
        mia_s = f'{statistics.mean(mia):.3f} ({statistics.mean(mia0):.3f})' if mia else '-'
        print(f"| {model} | {algo} | {rs[0]['guarantee']} | {','.join(str(r['seed']) for r in rs)}"
              f" | {ms(f1)} | {ms(rf1)} | {gap:+.1f} | {secs:.3f} ({rsecs:.2f}) | "
              f"{', '.join(f'{s:.0f}x' for s in sp)} ({statistics.median(sp):.0f}x) | {mia_s} |")

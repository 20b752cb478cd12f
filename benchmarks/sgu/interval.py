r"""Mean ΔMIA AUC (SGU − Retrain, per seed) with its 95% interval (mean ± 1.96 standard
errors), the median, ΔF1 (link prediction: Δ test AUC) and the speed-up, for every file of a
folder with ``retrain`` and ``sgu`` records (the 30-seed precision runs of ``run.sh``, ``PRECISION=1``)::

    python benchmarks/sgu/interval.py benchmarks/sgu/results/precision
"""
from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path


def utility_key(record: dict) -> str:
    r"""The utility compared with Retrain: macro-F1 (node classification) or the test AUC
    (link prediction)."""
    return 'macro_f1' if 'macro_f1' in record['utility_after'] else 'auc'


def differences(records: list, algorithm: str = 'sgu') -> dict:
    r"""Per-seed differences of :obj:`algorithm` to Retrain (MIA AUC; macro-F1 or link AUC
    points; each record carries Retrain's figures on the same seed) and its speed-ups."""
    rows = [r for r in records if r['algorithm'] == algorithm]
    return {
        'mia': [r['mia_auc'] - r['mia_auc_retrain'] for r in rows
                if r.get('mia_auc') is not None and r.get('mia_auc_retrain') is not None],
        'f1': [100 * (r['utility_after'][utility_key(r)] - r['utility_retrain'][utility_key(r)])
               for r in rows],
        'speedup': [r['speedup_vs_retrain'] for r in rows],
    }


def main(folder: str) -> None:
    print('| file | seeds | ΔMIA mean [95% interval] | ΔMIA median | ΔF1 (link: ΔAUC) median '
          '(mean) | speed-up median |')
    print('|---|---|---|---|---|---|')
    for path in sorted(Path(folder).glob('*.json')):
        records = json.loads(path.read_text())
        records = records['records'] if isinstance(records, dict) else records
        d = differences(records)
        if len(d['mia']) < 2:
            continue
        m = statistics.mean(d['mia'])
        half = 1.96 * statistics.stdev(d['mia']) / math.sqrt(len(d['mia']))
        print(f"| {path.name} | {len(d['mia'])} | {m:+.3f} [{m - half:+.3f}, {m + half:+.3f}] "
              f"| {statistics.median(d['mia']):+.3f} | {statistics.median(d['f1']):+.2f} "
              f"({statistics.mean(d['f1']):+.2f}) | {statistics.median(d['speedup']):.1f}x |")


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'benchmarks/sgu/results/precision')

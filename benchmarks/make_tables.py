r"""Summary tables and plots of the benchmark suite, from the JSON records already on disk
(no training, a few seconds).

Reads every ``*.json`` under the benchmark folders that holds a list of benchmark records
(the format written by ``python -m torch_geometric_unlearn.benchmark --out`` and by
``benchmarks/unlearnrec/bench.py``: dicts with ``algorithm``, ``seed``, ``utility_after``,
``unlearn_seconds``, ...), two further formats:

* *scaling* files (``results/scaling_*.json``, one object with ``"kind": "scaling"``, axis labels,
  the command and machine, and ``records`` of ``{"series", "x", "y"}`` points, written by the
  ScaleGUN, NIM and partition scaling scripts): a table of mean +- std per series and x, and a
  plot ``plots/<folder>_<stem>.png``;
* *forget-set strategy* studies (``*.jsonl``, one line per run with ``strategy``, ``count`` and
  ``drop``, written by ``benchmarks/evaluation/worst_case.py``): utility lost after Retrain per
  strategy and forget-set size, and a plot;
* *score distributions* (``"kind": "score_distributions"``, ``methods``: method -> score arrays
  of positive / negative / removed interactions before and after unlearning, written by
  ``benchmarks/unlearnrec/bench.py --scores-out``): a plot as in UnlearnRec's Fig. 2-3.

Other JSON files (partition quality, reliability streams, the node-MIA study) have their own
tables in their folders' READMEs and are listed as skipped.

Per file (a *setting*) and algorithm it writes mean +- std over seeds of the utility (macro-F1
for node classification, else accuracy, else Recall@20, else link AUC), the membership-inference AUC
(``mia_auc``; ``mi_ng`` for recommendation), the unlearning seconds and the speed-up over Retrain
(the record's ``speedup_vs_retrain``, i.e. Retrain and the method timed side by side in the same
run; medians too, since the machine is noisy):

    python benchmarks/make_tables.py                     # benchmarks/summary.{md,json}, plots/
    python benchmarks/make_tables.py --root DIR --out-dir DIR --no-plots

Plots (``torch_geometric_unlearn.plot``, needs matplotlib): ``plots/<setting>_tradeoff.png``
(utility vs time and vs forgetting, one point per algorithm) and ``plots/<group>_scaling.png``
(unlearning seconds vs number of removed entities, where a folder has the same setting at
several request sizes), plus one plot per scaling file and per strategy study.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent

#: Utility metrics, in order of preference (the first one present in ``utility_after``).
UTILITY_KEYS = ('macro_f1', 'accuracy', 'recall@20', 'auc')


def _num(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _stats(values: Sequence[Optional[float]]) -> Optional[Dict[str, float]]:
    r"""Mean, sample std (0 for one value), median and count of the numeric values."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {'mean': statistics.fmean(vals),
            'std': statistics.stdev(vals) if len(vals) > 1 else 0.0,
            'median': statistics.median(vals), 'n': len(vals)}


def is_record_list(data: Any) -> bool:
    return (isinstance(data, list) and len(data) > 0 and
            all(isinstance(r, dict) and 'algorithm' in r and 'utility_after' in r
                for r in data))


def setting_name(path: Path, root: Path) -> str:
    r"""``gif/results/node_0.05.json`` -> ``gif/node_0.05``."""
    rel = path.relative_to(root).with_suffix('')
    parts = [p for p in rel.parts if p != 'results']
    return '/'.join(parts)


def is_scaling(data: Any) -> bool:
    r"""A scaling file: ``{"kind": "scaling", "x": ..., "y": ..., "records": [{"series",
    "x", "y"}, ...]}``."""
    return (isinstance(data, dict) and data.get('kind') == 'scaling' and
            isinstance(data.get('records'), list) and len(data['records']) > 0 and
            all(isinstance(r, dict) and 'series' in r and _num(r.get('x')) is not None and
                _num(r.get('y')) is not None for r in data['records']))


def is_score_distributions(data: Any) -> bool:
    r"""Score arrays per method: ``{"kind": "score_distributions", "methods": {name:
    {"removed_after": [...], ...}}}``."""
    return (isinstance(data, dict) and data.get('kind') == 'score_distributions' and
            isinstance(data.get('methods'), dict) and len(data['methods']) > 0)


def is_strategy_study(data: Any) -> bool:
    r"""Lines of a forget-set strategy study: runs with ``strategy``, ``count`` and ``drop``."""
    return (isinstance(data, list) and len(data) > 0 and
            all(isinstance(r, dict) and 'strategy' in r and _num(r.get('count')) is not None
                and _num(r.get('drop')) is not None for r in data))


class Loaded:
    r"""Everything :func:`load` found under a root."""

    def __init__(self) -> None:
        self.settings: 'OrderedDict[str, List[dict]]' = OrderedDict()
        self.scaling: 'OrderedDict[str, dict]' = OrderedDict()
        self.strategies: 'OrderedDict[str, List[dict]]' = OrderedDict()
        self.scores: 'OrderedDict[str, dict]' = OrderedDict()
        self.skipped: List[Dict[str, str]] = []


def load_all(root: Path) -> Loaded:
    r"""Benchmark record files, scaling files and strategy studies under :obj:`root`
    (sorted), and the files skipped with a reason."""
    out = Loaded()
    paths = sorted(list(root.rglob('*.json')) + list(root.rglob('*.jsonl')))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        if rel.startswith('summary') or '/plots/' in f'/{rel}':
            continue
        try:
            text = path.read_text()
            if path.suffix == '.jsonl':
                data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
        except (OSError, ValueError) as e:
            out.skipped.append({'file': rel, 'reason': f'unreadable: {e}'})
            continue
        if is_record_list(data):
            # Per-seed files (``name_seed0.json``, ``name_seed1.json``) form one setting.
            name = re.sub(r'_seed\d+$', '', setting_name(path, root))
            out.settings.setdefault(name, []).extend(data)
        elif is_scaling(data):
            out.scaling[setting_name(path, root)] = data
        elif is_strategy_study(data):
            out.strategies[setting_name(path, root)] = data
        elif is_score_distributions(data):
            out.scores[setting_name(path, root)] = data
        else:
            out.skipped.append({'file': rel, 'reason': 'not a list of benchmark records '
                                '(own format; see the folder README)'})
    return out


def load(root: Path) -> Tuple['OrderedDict[str, List[dict]]', List[Dict[str, str]]]:
    r"""Record files under :obj:`root` (sorted), and the JSON files skipped with a reason
    (scaling files and strategy studies are not skipped: see :func:`load_all`)."""
    loaded = load_all(root)
    return loaded.settings, loaded.skipped


def utility_key(records: Sequence[dict]) -> Optional[str]:
    for key in UTILITY_KEYS:
        if any(_num((r.get('utility_after') or {}).get(key)) is not None for r in records):
            return key
    return None


def _speedup(r: dict) -> Optional[float]:
    s = _num(r.get('speedup_vs_retrain'))
    if s is None:
        t, rt = _num(r.get('unlearn_seconds')), _num(r.get('retrain_seconds'))
        if t and rt is not None and t > 0:
            s = rt / t
    return s


def summarise(name: str, records: Sequence[dict]) -> List[Dict[str, Any]]:
    r"""One row per algorithm (in first-seen order) of one setting."""
    metric = utility_key(records)
    groups: 'OrderedDict[str, List[dict]]' = OrderedDict()
    for r in records:
        groups.setdefault(str(r['algorithm']), []).append(r)
    rows = []
    for algo, rs in groups.items():
        first = rs[0]
        removed = sorted({int(r['num_removed']) for r in rs
                          if _num(r.get('num_removed')) is not None})
        rows.append({
            'setting': name, 'algorithm': algo, 'guarantee': first.get('guarantee'),
            'dataset': first.get('dataset'), 'model': first.get('model'),
            'request_type': first.get('request_type', 'interaction' if metric == 'recall@20'
                                      else None),
            'strategy': first.get('strategy'), 'num_removed': removed,
            'seeds': sorted({r.get('seed') for r in rs if r.get('seed') is not None}),
            'utility_metric': metric,
            'utility': _stats([_num((r.get('utility_after') or {}).get(metric)) for r in rs]),
            'utility_retrain': _stats([_num((r.get('utility_retrain') or {}).get(metric))
                                       for r in rs]),
            'mia_auc': _stats([_num(r.get('mia_auc')) for r in rs]),
            'mia_auc_retrain': _stats([_num(r.get('mia_auc_retrain')) for r in rs]),
            'mi_ng': _stats([_num(r.get('mi_ng')) for r in rs]),
            'unlearn_seconds': _stats([_num(r.get('unlearn_seconds')) for r in rs]),
            'speedup_vs_retrain': _stats([_speedup(r) for r in rs]),
        })
    return rows


def summarise_scaling(name: str, data: dict) -> List[Dict[str, Any]]:
    r"""One row per (series, x) of a scaling file: mean +- std (and median) of y."""
    groups: 'OrderedDict[str, Dict[float, List[float]]]' = OrderedDict()
    for r in data['records']:
        groups.setdefault(str(r['series']), {}).setdefault(float(r['x']), []).append(
            float(r['y']))
    return [{'setting': name, 'series': series, 'x': x, 'y': _stats(points[x])}
            for series, points in groups.items() for x in sorted(points)]


def _thin(rows: List[Dict[str, Any]], most: int = 12
          ) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    r"""At most :obj:`most` evenly spaced points (first and last kept) per series for the
    markdown table of a long series (e.g. 200 requests); ``summary.json`` keeps them all."""
    by_series: 'OrderedDict[str, List[Dict[str, Any]]]' = OrderedDict()
    for r in rows:
        by_series.setdefault(r['series'], []).append(r)
    out, thinned = [], False
    for series_rows in by_series.values():
        n = len(series_rows)
        if n > most:
            thinned = True
            idx = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
            series_rows = [series_rows[i] for i in idx]
        out.extend(series_rows)
    return out, (f'Long series thinned to {most} evenly spaced points; all points are in '
                 '`summary.json`.' if thinned else None)


def summarise_strategies(name: str, runs: Sequence[dict]) -> List[Dict[str, Any]]:
    r"""One row per (forget-set size, strategy): utility lost after Retrain (accuracy points
    ``drop`` and macro-F1 ``f1_drop``) over seeds and draws."""
    groups: 'OrderedDict[Tuple[int, str], List[dict]]' = OrderedDict()
    for r in sorted(runs, key=lambda r: (int(r['count']), str(r['strategy']))):
        groups.setdefault((int(r['count']), str(r['strategy'])), []).append(r)
    return [{'setting': name, 'count': count, 'strategy': strategy,
             'runs': len(rs), 'seeds': sorted({r.get('seed') for r in rs
                                               if r.get('seed') is not None}),
             'drop': _stats([_num(r.get('drop')) for r in rs]),
             'f1_drop': _stats([_num(r.get('f1_drop')) for r in rs])}
            for (count, strategy), rs in groups.items()]


def _fmt(s: Optional[Dict[str, float]], digits: int = 4) -> str:
    if s is None:
        return '-'
    return f"{s['mean']:.{digits}f} +- {s['std']:.{digits}f}"


def _fmt_median(s: Optional[Dict[str, float]], digits: int, unit: str = '') -> str:
    if s is None:
        return '-'
    return (f"{s['median']:.{digits}f}{unit} ({s['mean']:.{digits}f} +- "
            f"{s['std']:.{digits}f})")


def to_markdown(rows: Sequence[Dict[str, Any]], skipped: Sequence[Dict[str, str]],
                scaling: Optional[Dict[str, dict]] = None,
                strategies: Optional[Dict[str, List[dict]]] = None) -> str:
    out = ['# Benchmark summary', '',
           'Generated by `python benchmarks/make_tables.py` from the JSON records of the '
           'benchmark folders; do not edit by hand. Mean +- std over the seeds of each setting '
           '(sample std, n - 1; 0 with one seed: some folder READMEs quote the population std, '
           'hence small differences); times and speed-ups: median (mean +- std), speed-up = '
           'Retrain / method measured side by side in the same run. Absolute seconds come '
           'from a shared, heavily loaded 2-core CPU: compare them only within a setting. '
           'MI-NG (recommendation) > 1 means forgotten; MIA AUC: closer to Retrain\'s is '
           'better.', '']
    by_folder: 'OrderedDict[str, List[Dict[str, Any]]]' = OrderedDict()
    for row in rows:
        by_folder.setdefault(row['setting'].split('/')[0], []).append(row)
    header = ('| setting | algorithm | guarantee | seeds | removed | utility | utility after '
              '| utility Retrain | MIA AUC (Retrain) | MI-NG | unlearn s | speed-up |')
    for folder, frows in by_folder.items():
        out += [f'## {folder}', '', header, '|' + '---|' * 12]
        for r in frows:
            mia = _fmt(r['mia_auc'], 3)
            if r['mia_auc'] is not None and r['mia_auc_retrain'] is not None:
                mia += f" ({r['mia_auc_retrain']['mean']:.3f})"
            out.append('| ' + ' | '.join([
                r['setting'].split('/', 1)[-1], r['algorithm'], str(r['guarantee'] or '-'),
                ','.join(str(s) for s in r['seeds']) or '-',
                '/'.join(str(n) for n in r['num_removed']) or '-',
                str(r['utility_metric'] or '-'), _fmt(r['utility']),
                _fmt(r['utility_retrain']), mia, _fmt(r['mi_ng'], 2),
                _fmt_median(r['unlearn_seconds'], 3),
                _fmt_median(r['speedup_vs_retrain'], 1, 'x')]) + ' |')
        out.append('')
    for name, data in (scaling or {}).items():
        srows = summarise_scaling(name, data)
        out += [f"## Scaling: {data.get('title') or name}", '',
                f"`{name}`; command: `{data.get('command', '-')}`; machine: "
                f"{data.get('machine', '-')}. Mean +- std over repeats.", '',
                f"| series | {data.get('x', 'x')} | {data.get('y', 'y')} (mean +- std) | n |",
                '|---|---|---|---|']
        shown, note = _thin(srows)
        out += [f"| {r['series']} | {r['x']:g} | {_fmt(r['y'], 4)} | {r['y']['n']} |"
                for r in shown]
        out += ['', note, ''] if note else ['']
    for name, runs in (strategies or {}).items():
        out += [f'## Forget-set strategies: {name}', '',
                'Utility lost after Retrain: original minus retrained test accuracy / macro-F1 '
                '(0.01 = 1 point), mean +- std over seeds and draws.', '',
                '| removed | strategy | runs | accuracy drop | macro-F1 drop |', '|---|---|---|---|---|']
        out += [f"| {r['count']} | {r['strategy']} | {r['runs']} | {_fmt(r['drop'])} | "
                f"{_fmt(r['f1_drop'])} |" for r in summarise_strategies(name, runs)]
        out.append('')
    if skipped:
        out += ['## Files not summarised here', '']
        out += [f"- `{s['file']}`: {s['reason']}" for s in skipped]
        out.append('')
    return '\n'.join(out)


def _scaling_group(name: str) -> str:
    r"""Setting name without its request-size token: ``sgu/cora_gcn_0.05_random`` ->
    ``sgu/cora_gcn_random``."""
    folder, _, stem = name.rpartition('/')
    stem = '_'.join(t for t in stem.split('_') if not re.fullmatch(r'\d*\.?\d+', t))
    return f'{folder}/{stem}' if folder else stem


def make_plots(settings: 'OrderedDict[str, List[dict]]', plot_dir: Path,
               scaling: Optional[Dict[str, dict]] = None,
               strategies: Optional[Dict[str, List[dict]]] = None,
               scores: Optional[Dict[str, dict]] = None) -> List[str]:
    from torch_geometric_unlearn.plot import plot_scaling, plot_score_distributions, \
        plot_tradeoff
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    groups: 'OrderedDict[str, List[dict]]' = OrderedDict()
    for name, records in settings.items():
        metric = utility_key(records)
        if metric is None or len({r['algorithm'] for r in records}) < 2:
            continue  # nothing to compare (e.g. a Retrain-only evaluation run)
        forgetting = 'mia_auc' if any(_num(r.get('mia_auc')) is not None
                                      for r in records) else 'mi_ng'
        path = plot_dir / f"{name.replace('/', '_')}_tradeoff.png"
        try:
            fig = plot_tradeoff(records, path=path, utility=f'utility_after.{metric}',
                                forgetting=forgetting, title=name)
        except ValueError:
            continue
        fig.clear()
        written.append(path.name)
        groups.setdefault(_scaling_group(name), []).extend(records)
    for group, records in groups.items():
        sizes = {r.get('num_removed') for r in records}
        if len(sizes) < 2:
            continue
        path = plot_dir / f"{group.replace('/', '_')}_scaling.png"
        fig = plot_scaling(records, x='num_removed', y='unlearn_seconds', path=path,
                           title=f'{group}: unlearning time vs request size')
        fig.clear()
        written.append(path.name)
    for name, data in (scaling or {}).items():
        path = plot_dir / f"{name.replace('/', '_')}.png"
        fig = plot_scaling(data['records'], x='x', y='y', group='series', path=path,
                           logx=bool(data.get('logx', True)), logy=bool(data.get('logy', True)),
                           xlabel=data.get('x'), ylabel=data.get('y'),
                           marker=str(data.get('marker', 'o')), title=data.get('title') or name)
        fig.clear()
        written.append(path.name)
    for name, runs in (strategies or {}).items():
        path = plot_dir / f"{name.replace('/', '_')}.png"
        fig = plot_scaling(runs, x='count', y='drop', group='strategy', path=path,
                           logx=False, logy=False, xlabel='forgotten training nodes',
                           ylabel='accuracy lost after Retrain', title=name)
        fig.clear()
        written.append(path.name)
    for name, data in (scores or {}).items():
        path = plot_dir / f"{name.replace('/', '_')}.png"
        fig = plot_score_distributions(data['methods'], path=path, title=data.get('title'),
                                       xlabel=data.get('xlabel', 'score'))
        fig.clear()
        written.append(path.name)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--root', default=str(HERE), help='folder searched for JSON records')
    parser.add_argument('--out-dir', default=None,
                        help='where summary.md, summary.json and plots/ go (default: --root)')
    parser.add_argument('--no-plots', action='store_true', help='tables only')
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    out_dir = Path(args.out_dir).resolve() if args.out_dir else root
    loaded = load_all(root)
    settings, skipped = loaded.settings, loaded.skipped
    if not (settings or loaded.scaling or loaded.strategies or loaded.scores):
        print(f'no benchmark records under {root}', file=sys.stderr)
        return 1
    rows = [row for name, records in settings.items() for row in summarise(name, records)]
    scaling_rows = [row for name, data in loaded.scaling.items()
                    for row in summarise_scaling(name, data)]
    strategy_rows = [row for name, runs in loaded.strategies.items()
                     for row in summarise_strategies(name, runs)]
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = [] if args.no_plots else make_plots(settings, out_dir / 'plots', loaded.scaling,
                                                loaded.strategies, loaded.scores)
    (out_dir / 'summary.md').write_text(to_markdown(rows, skipped, loaded.scaling,
                                                    loaded.strategies))
    (out_dir / 'summary.json').write_text(json.dumps(
        {'rows': rows, 'scaling': scaling_rows, 'strategies': strategy_rows,
         'skipped': skipped, 'plots': plots}, indent=1) + '\n')
    print(f'{len(rows)} rows from {len(settings)} settings, {len(loaded.scaling)} scaling '
          f'files, {len(loaded.strategies)} strategy studies, {len(skipped)} files skipped, '
          f'{len(plots)} plots -> {out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

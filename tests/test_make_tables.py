"""benchmarks/make_tables.py on a tiny synthetic record file (not the repository's results):
mean +- std over seeds, medians of time and speed-up, skipped foreign JSON, plots written."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / 'benchmarks' / 'make_tables.py'


@pytest.fixture(scope='module')
def make_tables():
    spec = importlib.util.spec_from_file_location('make_tables', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(algo, seed, f1, mia, seconds, retrain_seconds, removed=7):
    return {'dataset': 'cora', 'model': 'gcn', 'algorithm': algo,
            'guarantee': 'exact' if algo == 'retrain' else 'approximate',
            'request_type': 'node', 'strategy': 'random', 'num_removed': removed, 'seed': seed,
            'utility_after': {'accuracy': f1 + 0.01, 'macro_f1': f1},
            'utility_retrain': {'accuracy': 0.81, 'macro_f1': 0.80},
            'mia_auc': mia, 'mia_auc_retrain': 0.5, 'unlearn_seconds': seconds,
            'retrain_seconds': retrain_seconds,
            'speedup_vs_retrain': retrain_seconds / seconds}


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / 'toy' / 'results'
    folder.mkdir(parents=True)
    records = []
    for seed, (f1, mia, t) in enumerate([(0.70, 0.60, 1.0), (0.74, 0.70, 2.0),
                                         (0.78, 0.80, 4.0)]):
        records.append(_record('retrain', seed, 0.80, 0.5, 40.0, 40.0))
        records.append(_record('fast', seed, f1, mia, t, 40.0))
    (folder / 'node_0.05.json').write_text(json.dumps(records))
    small = [_record(a, 0, 0.8, 0.5, s, 20.0, removed=1) for a, s in
             [('retrain', 20.0), ('fast', 0.5)]]
    (folder / 'node_0.005.json').write_text(json.dumps(small))
    (folder / 'partition.json').write_text(json.dumps([{'partitioner': 'blpa'}]))
    return tmp_path


def test_tables_from_synthetic_records(make_tables, root, tmp_path):
    out = tmp_path / 'out'
    assert make_tables.main(['--root', str(root), '--out-dir', str(out), '--no-plots']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    rows = {(r['setting'], r['algorithm']): r for r in summary['rows']}
    assert set(rows) == {('toy/node_0.05', 'retrain'), ('toy/node_0.05', 'fast'),
                         ('toy/node_0.005', 'retrain'), ('toy/node_0.005', 'fast')}
    fast = rows[('toy/node_0.05', 'fast')]
    assert fast['utility_metric'] == 'macro_f1'  # preferred over accuracy
    assert fast['seeds'] == [0, 1, 2] and fast['num_removed'] == [7]
    assert fast['utility']['mean'] == pytest.approx(0.74)
    assert fast['utility']['std'] == pytest.approx(0.04)  # sample std of .70, .74, .78
    assert fast['mia_auc']['mean'] == pytest.approx(0.70)
    assert fast['mia_auc_retrain']['mean'] == pytest.approx(0.5)
    assert fast['unlearn_seconds']['median'] == pytest.approx(2.0)
    assert fast['unlearn_seconds']['mean'] == pytest.approx(7 / 3)
    assert fast['speedup_vs_retrain']['median'] == pytest.approx(20.0)
    assert fast['speedup_vs_retrain']['std'] == pytest.approx(
        math.sqrt(((40 - 70 / 3) ** 2 + (20 - 70 / 3) ** 2 + (10 - 70 / 3) ** 2) / 2))
    one_seed = rows[('toy/node_0.005', 'fast')]
    assert one_seed['utility']['std'] == 0.0 and one_seed['speedup_vs_retrain']['mean'] == 40.0
    assert rows[('toy/node_0.05', 'retrain')]['speedup_vs_retrain']['mean'] == 1.0
    assert [s['file'] for s in summary['skipped']] == ['toy/results/partition.json']

    md = (out / 'summary.md').read_text()
    assert '| node_0.05 | fast | approximate | 0,1,2 | 7 | macro_f1 | 0.7400 +- 0.0400 |' in md
    assert '20.0x (23.3 +- 15.3)' in md
    assert 'partition.json' in md


def test_speedup_falls_back_to_seconds(make_tables):
    rec = _record('fast', 0, 0.8, 0.5, 4.0, 40.0)
    del rec['speedup_vs_retrain']
    row = make_tables.summarise('x', [rec])[0]
    assert row['speedup_vs_retrain']['mean'] == pytest.approx(10.0)


def test_no_records_is_an_error(make_tables, tmp_path):
    assert make_tables.main(['--root', str(tmp_path), '--no-plots']) == 1


def test_plots_written(make_tables, root, tmp_path):
    pytest.importorskip('matplotlib')
    out = tmp_path / 'out'
    assert make_tables.main(['--root', str(root), '--out-dir', str(out)]) == 0
    plots = json.loads((out / 'summary.json').read_text())['plots']
    assert sorted(plots) == ['toy_node_0.005_tradeoff.png', 'toy_node_0.05_tradeoff.png',
                             'toy_node_scaling.png']
    for name in plots:
        assert (out / 'plots' / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def _scaling_and_strategies(root):
    folder = root / 'toy' / 'results'
    scaling = {'kind': 'scaling', 'title': 'update time vs graph size', 'command': 'toy.py',
               'machine': 'test', 'x': 'nodes', 'y': 'seconds', 'logx': True, 'logy': False,
               'records': [{'series': 'ours', 'x': 1000, 'y': 1.0},
                           {'series': 'ours', 'x': 1000, 'y': 3.0},
                           {'series': 'ours', 'x': 10, 'y': 0.5},
                           {'series': 'baseline', 'x': 10, 'y': 2.0}]}
    (folder / 'scaling_size.json').write_text(json.dumps(scaling))
    runs = [{'seed': s, 'count': c, 'strategy': st, 'draw': 0, 'drop': d, 'f1_drop': d / 2}
            for s, c, st, d in [(0, 14, 'random', 0.01), (1, 14, 'random', 0.03),
                                (0, 14, 'worst_case', 0.05), (0, 28, 'random', 0.02)]]
    (folder / 'strategies.jsonl').write_text('\n'.join(json.dumps(r) for r in runs) + '\n')
    scores = {'kind': 'score_distributions', 'title': 'toy scores', 'xlabel': 'p',
              'methods': {m: {'positive_before': [0.9, 0.8], 'removed_before': [0.85, 0.9],
                              'negative_before': [0.1, 0.2], 'positive_after': [0.9, 0.7],
                              'removed_after': [r, r / 2], 'negative_after': [0.1, 0.3]}
                          for m, r in [('Retrain', 0.2), ('Fast', 0.4)]}}
    (folder / 'scores_toy.json').write_text(json.dumps(scores))


def test_scaling_files_and_strategy_studies(make_tables, root, tmp_path):
    _scaling_and_strategies(root)
    out = tmp_path / 'out'
    assert make_tables.main(['--root', str(root), '--out-dir', str(out), '--no-plots']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    scaling = {(r['series'], r['x']): r['y'] for r in summary['scaling']}
    assert list(scaling) == [('ours', 10.0), ('ours', 1000.0), ('baseline', 10.0)]
    assert scaling[('ours', 1000.0)]['mean'] == pytest.approx(2.0)
    assert scaling[('ours', 1000.0)]['n'] == 2
    strategies = {(r['count'], r['strategy']): r for r in summary['strategies']}
    assert strategies[(14, 'random')]['drop']['mean'] == pytest.approx(0.02)
    assert strategies[(14, 'random')]['runs'] == 2
    assert strategies[(14, 'worst_case')]['f1_drop']['mean'] == pytest.approx(0.025)
    # Neither file is reported as skipped; both get a section.
    assert [s['file'] for s in summary['skipped']] == ['toy/results/partition.json']
    md = (out / 'summary.md').read_text()
    assert '## Scaling: update time vs graph size' in md and '`toy.py`' in md
    assert '| ours | 1000 | 2.0000 +- 1.4142 | 2 |' in md
    assert '| 14 | worst_case | 1 | 0.0500 +- 0.0000 | 0.0250 +- 0.0000 |' in md


def test_scaling_and_strategy_plots(make_tables, root, tmp_path):
    pytest.importorskip('matplotlib')
    _scaling_and_strategies(root)
    out = tmp_path / 'out'
    assert make_tables.main(['--root', str(root), '--out-dir', str(out)]) == 0
    plots = json.loads((out / 'summary.json').read_text())['plots']
    assert {'toy_scaling_size.png', 'toy_strategies.png', 'toy_scores_toy.png'} <= set(plots)
    for name in ('toy_scaling_size.png', 'toy_strategies.png', 'toy_scores_toy.png'):
        assert (out / 'plots' / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_per_seed_files_form_one_setting_and_long_series_are_thinned(make_tables, tmp_path):
    folder = tmp_path / 'toy' / 'results'
    folder.mkdir(parents=True)
    for seed, f1 in [(0, 0.70), (1, 0.74)]:
        recs = [_record('retrain', seed, 0.80, 0.5, 40.0, 40.0),
                _record('fast', seed, f1, 0.6, 2.0, 40.0)]
        (folder / f'ml_sgl_seed{seed}.json').write_text(json.dumps(recs))
    long = {'kind': 'scaling', 'x': 'requests', 'y': 'spent', 'records': [
        {'series': 's', 'x': i, 'y': i / 100} for i in range(1, 101)]}
    (folder / 'budget.json').write_text(json.dumps(long))
    out = tmp_path / 'out'
    assert make_tables.main(['--root', str(tmp_path), '--out-dir', str(out), '--no-plots']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    rows = {(r['setting'], r['algorithm']): r for r in summary['rows']}
    assert set(rows) == {('toy/ml_sgl', 'retrain'), ('toy/ml_sgl', 'fast')}
    assert rows[('toy/ml_sgl', 'fast')]['seeds'] == [0, 1]
    assert rows[('toy/ml_sgl', 'fast')]['utility']['mean'] == pytest.approx(0.72)
    assert len(summary['scaling']) == 100  # the JSON keeps every point
    md = (out / 'summary.md').read_text()
    table = [l for l in md.splitlines() if l.startswith('| s |')]
    assert len(table) == 12 and table[0].startswith('| s | 1 |') and table[-1].startswith('| s | 100 |')
    assert 'thinned to 12' in md

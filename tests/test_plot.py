"""Plots: score distributions from a real recommendation unlearning run, trade-off and scaling
figures from benchmark-style records; PNGs are written and hold what was plotted."""
from __future__ import annotations

import sys

import pytest

pytest.importorskip('matplotlib')

from torch_geometric_unlearn.plot import plot_scaling, plot_score_distributions, plot_tradeoff

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _is_png(path) -> bool:
    return path.exists() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope='module')
def recsys_scores():
    from torch_geometric_unlearn import Retrain, Unlearner
    from torch_geometric_unlearn.datasets import powerlaw_bipartite
    from torch_geometric_unlearn.forget import select_request
    from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
    from torch_geometric_unlearn.nn.recsys import LightGCN
    from torch_geometric_unlearn.task import reinitialize
    from torch_geometric_unlearn.task.recommendation import RecommendationTask
    data = powerlaw_bipartite(60, 80, 900, seed=0)
    task = RecommendationTask(epochs=3, batch_size=512, lr=5e-3, seed=0)
    model = reinitialize(LightGCN(60, 80, embedding_dim=16, num_layers=2), seed=0)
    task.train(model, data)
    request = select_request(data, 'interaction', count=30, seed=0)
    result = Unlearner(model, Retrain(seed=0), task=task).fit(data).unlearn(request)
    out = evaluate_unlearning(task, data, model, result, request=request, return_scores=True)
    return out['score_distributions']


def test_score_distributions_png(recsys_scores, tmp_path):
    assert {'removed_before', 'removed_after', 'negative_before', 'negative_after',
            'positive_before', 'positive_after'} <= set(recsys_scores)
    path = tmp_path / 'plots' / 'scores.png'
    fig = plot_score_distributions({'Retrain': recsys_scores, 'Retrain again': recsys_scores},
                                   path=path, title='removed vs positive vs negative')
    assert _is_png(path)
    # One "before" panel and one panel per method; three groups in each.
    assert [ax.get_title() for ax in fig.axes] == ['before unlearning', 'Retrain',
                                                   'Retrain again']
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert {label.split(' ')[0] for label in labels} == {'removed', 'negative', 'positive'}
        assert 'removed (30)' in labels  # the counts of the request, not made-up data


def test_score_distributions_node_scores(tmp_path):
    # Node MIA scores (no before/after suffix) are plotted as "after".
    fig = plot_score_distributions({'GIF': {'members_confidence': [0.9, 0.8, 0.95],
                                            'non_members_confidence': [0.2, 0.5, 0.4, 0.6]}})
    assert [ax.get_title() for ax in fig.axes] == ['GIF']


@pytest.mark.parametrize('bad', [{}, {'GIF': {}}, {'GIF': {'removed_after': []}}])
def test_score_distributions_bad_input(bad):
    with pytest.raises(ValueError):
        plot_score_distributions(bad)


def _records():
    rows = []
    for algo, acc, mia, sec in [('retrain', 0.80, 0.50, 2.0), ('gif', 0.78, 0.60, 0.2),
                                ('sgu', 0.79, 0.55, 0.5)]:
        for seed in range(3):
            rows.append({'algorithm': algo, 'seed': seed, 'mia_auc': mia + 0.01 * seed,
                         'utility_after': {'accuracy': acc + 0.005 * seed},
                         'unlearn_seconds': sec * (1 + 0.1 * seed), 'num_removed': 10})
    return rows


def test_tradeoff_png(tmp_path):
    path = tmp_path / 'tradeoff.png'
    fig = plot_tradeoff(_records(), path=path)
    assert _is_png(path)
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == ['retrain', 'gif', 'sgu']
    # Points are means over seeds: gif accuracy (0.78 + 0.785 + 0.79) / 3.
    ys = [line.get_ydata()[0] for line in left.get_lines() if len(line.get_ydata()) == 1]
    assert any(abs(y - 0.785) < 1e-9 for y in ys)
    # Retrain's forgetting level is drawn as the reference line.
    assert any(list(line.get_xdata()) == [0.51, 0.51] for line in right.get_lines())


def test_tradeoff_without_forgetting_and_errors(tmp_path):
    rows = [{k: v for k, v in r.items() if k != 'mia_auc'} for r in _records()]
    assert len(plot_tradeoff(rows).axes) == 1
    with pytest.raises(ValueError, match='records is empty'):
        plot_tradeoff([])
    with pytest.raises(ValueError, match='numeric'):
        plot_tradeoff([{'algorithm': 'gif'}])


def test_scaling_png(tmp_path):
    rows = [{'algorithm': a, 'num_nodes': n, 'unlearn_seconds': c * n / 1000 * (1 + 0.1 * s)}
            for a, c in [('retrain', 1.0), ('scalegun', 0.01)]
            for n in (1000, 10_000, 100_000) for s in range(2)]
    path = tmp_path / 'scaling.png'
    fig = plot_scaling(rows, x='num_nodes', path=path)
    assert _is_png(path)
    ax = fig.axes[0]
    assert ax.get_xscale() == 'log' and ax.get_yscale() == 'log'
    xs = sorted({float(x) for line in ax.get_lines() for x in line.get_xdata()})
    assert xs == [1000.0, 10_000.0, 100_000.0]
    with pytest.raises(ValueError):
        plot_scaling(rows, x='missing')


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    for name in [m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    with pytest.raises(ImportError, match=r"\[plot\]"):
        plot_tradeoff(_records())


def test_demo_writes_records_and_tradeoff_plot(tmp_path, capsys):
    import json

    from torch_geometric_unlearn.demo import main
    out, png = tmp_path / 'records.json', tmp_path / 'tradeoff.png'
    assert main(['--seeds', '0', '--algorithms', 'retrain', '--epochs', '5', '--out', str(out),
                 '--plot', str(png)]) == 0
    records = json.loads(out.read_text())
    assert [r['algorithm'] for r in records] == ['retrain'] and records[0]['num_removed'] == 6
    assert _is_png(png)
    assert 'retrain' in capsys.readouterr().out

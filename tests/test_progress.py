"""Progress bars: off by default, on with TGU_PROGRESS=1 or set_progress(True), and
TGU_PROGRESS=0 silences even explicitly requested bars; wired into training and shards."""
from __future__ import annotations

import pytest
import torch

from torch_geometric_unlearn.utils import progress, progress_enabled, set_progress
from tests.conftest import toy_bipartite, toy_graph


@pytest.fixture(autouse=True)
def _reset(monkeypatch):
    monkeypatch.delenv('TGU_PROGRESS', raising=False)
    set_progress(None)
    yield
    set_progress(None)


def test_default_off_and_switches(monkeypatch):
    items = [1, 2, 3]
    assert not progress_enabled()
    assert progress(items) is items  # no wrapper, no overhead
    set_progress(True)
    assert progress_enabled()
    assert list(progress(items, desc='x')) == items
    set_progress(None)
    monkeypatch.setenv('TGU_PROGRESS', '1')
    assert progress_enabled()
    monkeypatch.setenv('TGU_PROGRESS', '0')
    set_progress(True)
    assert not progress_enabled() and not progress_enabled(enabled=True)
    assert progress(items, enabled=True) is items
    monkeypatch.setenv('TGU_PROGRESS', 'yes')
    assert not progress_enabled(enabled=False)


def test_node_training_shows_a_bar(capsys):
    from torch_geometric_unlearn.nn import build_node_model
    from torch_geometric_unlearn.task import NodeClassificationTask
    data = toy_graph()
    task = NodeClassificationTask(epochs=3, seed=0)
    task.train(build_node_model('gcn', 3, 2, hidden_channels=4), data)
    assert 'train (node)' not in capsys.readouterr().err  # silent by default
    set_progress(True)
    task.train(build_node_model('gcn', 3, 2, hidden_channels=4), data)
    err = capsys.readouterr().err
    assert 'train (node)' in err and '/3 ' in err


def test_bpr_training_and_shards_show_bars(capsys):
    from torch_geometric_unlearn.algorithm.executor import ShardJob, SequentialExecutor
    from torch_geometric_unlearn.nn.recsys import LightGCN
    from torch_geometric_unlearn.task.recommendation import RecommendationTask
    set_progress(True)
    RecommendationTask(epochs=2, seed=0).train(LightGCN(4, 5, embedding_dim=4), toy_bipartite())
    assert 'train (BPR)' in capsys.readouterr().err
    jobs = [ShardJob(shard=i, model=torch.nn.Identity(), data=None, task=None, seed=i)
            for i in range(3)]
    assert SequentialExecutor().map(lambda job: job.shard, jobs) == [0, 1, 2]
    err = capsys.readouterr().err
    assert 'shards' in err and '/3 ' in err


def test_greedy_forget_set_and_full_ranking_show_bars(capsys):
    from torch_geometric_unlearn.forget.strategies import greedy_coverage
    from torch_geometric_unlearn.metric.ranking import full_ranking_metrics
    data = toy_graph()
    cand = torch.arange(4)
    greedy_coverage(data, cand, 2, generator=torch.Generator().manual_seed(0))
    assert 'greedy forget set' not in capsys.readouterr().err
    set_progress(True)
    picks = greedy_coverage(data, cand, 2, generator=torch.Generator().manual_seed(0))
    assert picks.numel() == 2
    err = capsys.readouterr().err
    assert 'greedy forget set' in err and '/2 ' in err
    train = torch.tensor([[0, 1, 2], [0, 1, 2]])
    test = torch.tensor([[0, 1, 2], [1, 2, 0]])
    scores = torch.rand(3, 4, generator=torch.Generator().manual_seed(0))
    out = full_ranking_metrics(lambda users: scores[users].clone(), train, test, num_users=3,
                               num_items=4, k=2, batch_size=1)
    assert out['num_users'] == 3
    err = capsys.readouterr().err
    assert 'full ranking' in err and '/3 ' in err

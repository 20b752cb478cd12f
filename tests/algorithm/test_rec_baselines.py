import copy

import pytest
import torch

from torch_geometric_unlearn.algorithm.rec_baselines import (EmbeddingGIF, RecEraser,
                                                             ShardedRecommender)
from torch_geometric_unlearn.attack.recsys import interaction_probability
from torch_geometric_unlearn.datasets import powerlaw_bipartite
from torch_geometric_unlearn.nn.recsys import build_recsys_model
from torch_geometric_unlearn.request import UnlearningRequest
from torch_geometric_unlearn.task.base import reinitialize
from torch_geometric_unlearn.task.recommendation import RecommendationTask, get_interactions
from torch_geometric_unlearn.unlearner import Unlearner

U, I = 60, 80


# Small sparse ops: one thread is faster and keeps results thread-count independent.
pytestmark = pytest.mark.usefixtures('single_thread')


def make_task():
    return RecommendationTask(epochs=15, batch_size=256, lr=1e-2, seed=0)


@pytest.fixture(scope='module')
def trained():
    torch.set_num_threads(1)
    data = powerlaw_bipartite(U, I, 900, seed=0)
    model = reinitialize(build_recsys_model('lightgcn', U, I, 16), 0)
    make_task().train(model, data)
    return data, model


def probs(model, data, pairs):
    emb = make_task().embeddings(model, data)
    return interaction_probability(emb[:U], emb[U:], pairs)


def test_influenced_set_on_toy_graph():
    # users 0..2, items 0..2: u0-i0, u1-i0, u1-i1, u2-i2; remove u0-i0.
    train = torch.tensor([[0, 1, 1, 2], [0, 0, 1, 2]])
    removed = torch.tensor([[0], [0]])
    m0 = EmbeddingGIF.influenced(train, removed, 3, 3, hops=0)
    assert m0.tolist() == [True, True, False, False]  # touches u0 or i0
    m1 = EmbeddingGIF.influenced(train, removed, 3, 3, hops=1)
    assert m1.tolist() == [True, True, True, False]  # u1 reached through i0
    m5 = EmbeddingGIF.influenced(train, removed, 3, 3, hops=5)
    assert m5.tolist() == [True, True, True, False]  # u2-i2 is another component


@pytest.mark.parametrize('solver', ['lissa', 'cg'])
def test_gif_on_embeddings_lowers_removed_scores(trained, solver):
    data, model = trained
    pairs = get_interactions(data)[:, :25]
    req = UnlearningRequest.interactions(pairs[0], pairs[1])
    algo = EmbeddingGIF(solver=solver, iterations=20 if solver == 'lissa' else 10)
    res = Unlearner(copy.deepcopy(model), algo, task=make_task()).fit(data).unlearn(req)
    assert type(res.model) is type(model)
    assert res.extras['update_norm'] > 0 and res.extras['influenced_interactions'] > 0
    assert probs(res.model, res.data, pairs).mean() < probs(model, data, pairs).mean()
    # Only the embedding table changed.
    assert not torch.equal(res.model.embedding.weight, model.embedding.weight)


def test_gif_node_request_zeroes_the_node(trained):
    data, model = trained
    res = Unlearner(copy.deepcopy(model), EmbeddingGIF(iterations=5), task=make_task()) \
        .fit(data).unlearn(UnlearningRequest.nodes([2], node_type='user'))
    assert torch.all(res.model.embedding.weight[2] == 0)
    assert (get_interactions(res.data)[0] != 2).all()


def test_receraser_retrains_only_affected_shards(trained):
    data, model = trained
    algo = RecEraser(num_shards=3, partition='random', aggregator_epochs=2)
    ul = Unlearner(copy.deepcopy(model), algo, task=make_task()).fit(data)
    ens = algo.ensemble
    assert isinstance(ens, ShardedRecommender)
    sizes = [ens.shard(k).size(1) for k in range(3)]
    assert sum(sizes) == get_interactions(data).size(1) and max(sizes) - min(sizes) <= 1
    old = [copy.deepcopy(m.state_dict()) for m in ens.models]
    pairs = ens.shard(1)[:, :5]  # all in shard 1
    res = ul.unlearn(UnlearningRequest.interactions(pairs[0], pairs[1]))
    assert res.extras['affected_shards'] == [1]
    new = res.model
    for k in (0, 2):
        assert all(torch.equal(v, old[k][n]) for n, v in new.models[k].state_dict().items())
    assert not torch.equal(new.models[1].embedding.weight, old[1]['embedding.weight'])
    keys = pairs[0] * I + pairs[1]
    for k in range(3):
        s = new.shard(k)
        assert not torch.isin(s[0] * I + s[1], keys).any()  # removed data gone from shards
    metrics = make_task().evaluate(new, res.data)
    assert 0 <= metrics['recall@20'] <= 1
    assert res.guarantee == 'exact'


def test_receraser_kmeans_and_mean_aggregation(trained):
    data, model = trained
    algo = RecEraser(num_shards=2, partition='kmeans', aggregation='mean')
    ul = Unlearner(copy.deepcopy(model), algo, task=make_task()).fit(data)
    emb = make_task().embeddings(algo.ensemble, data)
    assert emb.shape == (U + I, 16)
    assert torch.allclose(emb, algo.ensemble.shard_embeddings().mean(0))
    res = ul.unlearn(UnlearningRequest.nodes([0], node_type='user'))
    assert len(res.extras['affected_shards']) >= 1


def test_baseline_argument_errors():
    with pytest.raises(ValueError, match='solver'):
        EmbeddingGIF(solver='newton')
    with pytest.raises(ValueError, match='num_shards'):
        RecEraser(num_shards=0)
    with pytest.raises(ValueError, match='partition'):
        RecEraser(partition='louvain')


def test_gif_lissa_divergence_raises_scale(trained):
    data, model = trained
    pairs = get_interactions(data)[:, :10]
    req = UnlearningRequest.interactions(pairs[0], pairs[1])
    algo = EmbeddingGIF(iterations=30, scale=1e-2)  # far below the top eigenvalue
    res = Unlearner(copy.deepcopy(model), algo, task=make_task()).fit(data).unlearn(req)
    assert res.extras['scale_used'] > 1e-2
    assert torch.isfinite(res.model.embedding.weight).all()
    strict = Unlearner(copy.deepcopy(model), EmbeddingGIF(iterations=30, scale=1e-2,
                                                          auto_scale=False),
                       task=make_task()).fit(data)
    with pytest.raises(RuntimeError):
        strict.unlearn(req)
    assert strict.history == []

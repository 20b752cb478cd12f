"""Long request streams (issue 10): many sequential small requests per algorithm on Cora
without a crash, without drifting from Retrain beyond a stated bound, without growth of the
persistent state; ScaleGUN's certificate stays within budget throughout. The full 100-request
streams are in benchmarks/reliability (and below, marked slow); CI runs a short stream."""
import copy

import pytest

from tests._reliability import (ALGORITHMS, assert_clean, make_unlearner, request_stream)
from torch_geometric_unlearn import Unlearner
from torch_geometric_unlearn.algorithm import CGE, GraphEraser, ScaleGUN
from torch_geometric_unlearn.audit import audit
from torch_geometric_unlearn.serialization import state_nbytes
from torch_geometric_unlearn.task import NodeClassificationTask

#: Stated bound (accuracy points on Cora's 1000 test nodes) on the change of the gap to
#: Retrain over a stream: |(acc - acc_Retrain)_end - (acc - acc_Retrain)_start|.
DRIFT_BOUND = 0.05
#: Over 100 requests (benchmarks/reliability, library defaults: measured 0.022 ScaleGUNDeep,
#: 0.042 CGE, 0.086 ScaleGUN, 0.115 GraphEraser, 0.128 SGU): the bound is looser for methods
#: whose own model reacts more to losing a quarter of Cora's training labels (ScaleGUN's
#: linear model, GraphEraser's shards; both track a refit of themselves within 0.03) and for
#: SGU, whose approximation error accumulates (no refit to compare with).
DRIFT_BOUND_100 = {'scalegun': 0.10, 'graph_eraser': 0.15, 'sgu': 0.15}
#: Persistent state may grow by at most this fraction (plus 64 KiB of bookkeeping).
GROWTH_BOUND = 0.01


@pytest.fixture(scope='module')
def stream_setup(cora, trained_gcn):
    model, _ = trained_gcn
    task = NodeClassificationTask(epochs=20, seed=0)
    return cora, model, task


def retrain_accuracy(task, model, graph):
    fresh = task.fresh_model(model)
    task.train(fresh, graph)
    return task.evaluate(fresh, graph)['accuracy']


def run_stream(name, setup, num):
    data, model, task = setup
    requests = request_stream(data, num, seed=5)
    u = make_unlearner(name, data, model, task)
    acc0 = u.evaluate()['accuracy']
    bytes0 = state_nbytes(u.state_dict()['state'])
    for request in requests:
        result = u.unlearn(request)
        if isinstance(u.algorithm, ScaleGUN):  # certified after EVERY request
            cert = result.certificate
            assert cert.certified and cert.spent <= cert.budget, cert.as_dict()
    assert len(u.history) == num
    assert_clean(audit(u))
    growth = state_nbytes(u.state_dict()['state']) - bytes0
    assert growth <= GROWTH_BOUND * bytes0 + 65536, f'state grew by {growth} bytes'
    return u, acc0


@pytest.fixture(scope='module')
def retrain_reference(stream_setup):
    data, model, task = stream_setup
    graph = data
    for r in request_stream(data, 9, seed=5):
        graph = r.apply(graph)
    return retrain_accuracy(task, model, data), retrain_accuracy(task, model, graph)


@pytest.mark.parametrize('name', list(ALGORITHMS))
def test_short_stream(stream_setup, retrain_reference, name):
    u, acc0 = run_stream(name, stream_setup, 9)
    start, end = retrain_reference
    drift = (u.evaluate()['accuracy'] - end) - (acc0 - start)
    assert abs(drift) <= DRIFT_BOUND, f'{name}: drift {drift:+.3f} vs Retrain'


@pytest.mark.slow
@pytest.mark.parametrize('name', list(ALGORITHMS))
def test_hundred_requests(stream_setup, name):
    data, model, task = stream_setup
    u, acc0 = run_stream(name, stream_setup, 100)
    graph = u.data
    drift = (u.evaluate()['accuracy'] - retrain_accuracy(task, model, graph)) - \
        (acc0 - retrain_accuracy(task, model, data))
    assert abs(drift) <= DRIFT_BOUND_100.get(name, DRIFT_BOUND), \
        f'{name}: drift {drift:+.3f} vs Retrain'
    if isinstance(u.algorithm, ScaleGUN):
        assert u.algorithm.certificate.requests == 100


@pytest.mark.parametrize('algorithm', [
    lambda: CGE(epochs=20, patience=None), lambda: ScaleGUN(max_iter=20),
    lambda: GraphEraser(num_shards=3, partition='random', weight_epochs=20)])
def test_evaluate_before_first_request_scores_the_served_model(stream_setup, algorithm):
    # Algorithms that train their own model: fit() adopts it, so evaluate() scores what is
    # served (not the original GNN) and the first request starts from it.
    data, model, task = stream_setup
    given = copy.deepcopy(model)
    u = Unlearner(given, algorithm(), task=task).fit(data)
    assert u.model is not given and u.model is u.algorithm.fitted_model()
    expected = task.evaluate(u.algorithm.fitted_model(), data)
    assert u.evaluate() == expected
    assert u.evaluate() != task.evaluate(given, data)

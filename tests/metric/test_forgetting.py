import copy
import math

import pytest
import torch

from torch_geometric_unlearn.metric.forgetting import (
    distance_to_retrain,
    js_divergence,
    kl_divergence,
    parameter_distance,
    prediction_agreement,
)


def test_divergences_known_values():
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    q = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    assert prediction_agreement(p, p) == 1.0
    assert prediction_agreement(p, q, mask=torch.tensor([True, False])) == 0.0
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-6)
    # Disjoint supports: JS = ln 2 on row 0, 0 on row 1.
    assert js_divergence(p, q) == pytest.approx(math.log(2) / 2, rel=1e-4)
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))
    a = torch.tensor([[0.9, 0.1]])
    b = torch.tensor([[0.5, 0.5]])
    expected = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert kl_divergence(a, b) == pytest.approx(expected, rel=1e-5)


def test_parameter_distance():
    m = torch.nn.Linear(3, 2)
    m2 = copy.deepcopy(m)
    assert parameter_distance(m, m2) == 0.0
    with torch.no_grad():
        m2.bias.add_(torch.tensor([3.0, 4.0]))
    assert parameter_distance(m, m2) == pytest.approx(5.0)
    assert parameter_distance(m, torch.nn.Linear(3, 4)) is None
    d = distance_to_retrain(torch.eye(2), torch.eye(2), m, torch.nn.Linear(3, 4))
    assert d['agreement_with_retrain'] == 1.0 and d['param_l2_to_retrain'] is None

import pytest
import torch

from torch_geometric_unlearn.influence.sparse import (CSRMatmul, cached_csr, csr_of, csr_zeroed,
                                                      dense_to_csr, resolve_sparse_features,
                                                      transpose_csr)


def _features(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(20, 9, generator=g) * (torch.rand(20, 9, generator=g) < 0.3)


def test_csr_zeroed_drops_the_zeroed_entries():
    x = _features()
    csr = dense_to_csr(x)
    zeroed = x.clone()
    zeroed[[1, 4]] = 0  # a node request
    zeroed[:, 3] = 0  # a feature request
    out = csr_zeroed(zeroed, csr)
    assert torch.equal(out.to_dense(), zeroed)
    # Gone, not stored as zeros.
    assert out.values().numel() == int(torch.count_nonzero(zeroed))
    assert bool((out.values() != 0).all())


def test_csr_zeroed_refuses_entries_outside_the_pattern():
    x = _features()
    csr = dense_to_csr(x)
    other = x.clone()
    r, c = (x == 0).nonzero()[0]
    other[r, c] = 1.0
    assert csr_zeroed(other, csr) is None
    assert csr_zeroed(x[:5], csr) is None  # other shape


def test_cached_csr_reuses_derives_or_converts():
    x = _features()
    csr = dense_to_csr(x)
    cache = (x, x._version, csr)
    assert cached_csr(x, cache) is csr  # the same, unchanged tensor
    zeroed = x.clone()
    zeroed[[2, 5]] = 0
    out = cached_csr(zeroed, cache)  # derived from the cached pattern
    assert torch.equal(out.to_dense(), zeroed)
    assert out.values().numel() == int(torch.count_nonzero(zeroed))
    x.mul_(1.0)  # an in-place change: the cache is stale, the values are re-read
    assert cached_csr(x, cache) is not csr
    other = torch.ones(20, 9)  # entries outside the pattern: a full conversion
    assert torch.equal(cached_csr(other, cache).to_dense(), other)
    assert torch.equal(csr_of(other).to_dense(), other)


def test_transpose_and_csr_matmul_gradient():
    x = _features(1)
    csr = dense_to_csr(x)
    csr_t = transpose_csr(csr)
    assert torch.equal(csr_t.to_dense(), x.t())
    w = torch.randn(9, 4, generator=torch.Generator().manual_seed(2), requires_grad=True)
    out = CSRMatmul.apply(w, csr, csr_t)
    out.square().sum().backward()
    w_ref = w.detach().clone().requires_grad_()
    (x @ w_ref).square().sum().backward()
    assert torch.allclose(out, x @ w_ref)
    assert torch.allclose(w.grad, w_ref.grad, atol=1e-6)


class _Owner:
    def __init__(self, sparse_features):
        self.sparse_features, self._sparse_ok = sparse_features, None


class _DenseOnly(torch.nn.Module):
    def forward(self, x, edge_index):
        return x.to_dense() if x.layout != torch.strided else x


class _Task:
    @staticmethod
    def logits(model, data):
        if data.x.layout != torch.strided:
            raise RuntimeError('dense features only')
        return model(data.x, data.edge_index)


def test_resolve_sparse_features_refuses_and_caches():
    from torch_geometric.data import Data
    data = Data(x=_features(), edge_index=torch.empty(2, 0, dtype=torch.long))
    owner = _Owner(None)
    assert resolve_sparse_features(owner, _Task(), _DenseOnly(), data) is False
    assert owner._sparse_ok[1] is False  # cached: a boolean, no data
    with pytest.raises(ValueError, match='sparse_features=True'):
        resolve_sparse_features(_Owner(True), _Task(), _DenseOnly(), data)
    assert resolve_sparse_features(_Owner(False), _Task(), _DenseOnly(), data) is False

r"""ScaleGUN on Cora: accuracy vs retraining the same certified model from scratch and vs the
non-private model (no objective noise), certificate values and time per request.

    OMP_NUM_THREADS=1 python benchmarks/scalegun/cora.py --requests 20 --seed 0
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch

from torch_geometric_unlearn.algorithm.scalegun import ScaleGUN
from torch_geometric_unlearn.datasets.planetoid import load_planetoid
from torch_geometric_unlearn.request import UnlearningRequest

warnings.filterwarnings('ignore')


def acc(alg, data):
    pred = alg.model().argmax(-1)
    return float((pred[data.test_mask] == data.y[data.test_mask]).float().mean())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--requests', type=int, default=20, help='sequential single-edge removals')
    p.add_argument('--split', default='public')
    p.add_argument('--std', type=float, default=0.1)
    p.add_argument('--lam', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    data = load_planetoid('Cora', split=args.split)
    alg = ScaleGUN(std=args.std, lam=args.lam, seed=args.seed)
    t = time.perf_counter()
    alg.fit(None, data)
    out = {'split': args.split, 'fit_seconds': time.perf_counter() - t,
           'acc_before': acc(alg, data)}
    # Non-private model: same objective without noise.
    W = alg.W
    alg.W = alg.train_model(torch.zeros_like(alg.B))[0]
    alg.model.weight.data = alg.W
    out['acc_nonprivate'] = acc(alg, data)
    alg.W = W
    alg.model.weight.data = W
    alg._retrain(0)  # restore the noisy model exactly (same seed)
    g = torch.Generator().manual_seed(args.seed)
    ei = data.edge_index
    und = ei[:, (ei[0] < ei[1]) & (data.train_mask[ei[0]] | data.train_mask[ei[1]])]
    pick = und[:, torch.randperm(und.size(1), generator=g)[:args.requests]]
    cur, times = data, []
    for i in range(args.requests):
        req = UnlearningRequest.edges(pick[:, i:i + 1])
        t = time.perf_counter()
        res = alg.forward(None, cur, req)
        times.append(time.perf_counter() - t)
        cur = res.data
    out['edge_requests'] = args.requests
    out['median_request_seconds'] = statistics.median(times)
    out['acc_after_edges'] = acc(alg, data)
    out['certificate_after_edges'] = alg.certificate.as_dict()
    # Batched node and feature requests.
    nodes = data.train_mask.nonzero().view(-1)[:5]
    t = time.perf_counter()
    res = alg.forward(None, cur, UnlearningRequest.nodes(nodes))
    out['node_batch5_seconds'] = time.perf_counter() - t
    cur = res.data
    fn = data.train_mask.nonzero().view(-1)[20:30]
    t = time.perf_counter()
    res = alg.forward(None, cur, UnlearningRequest.features(fn))
    out['feature_batch10_seconds'] = time.perf_counter() - t
    cur = res.data
    out['acc_after_all'] = acc(alg, cur)
    out['certificate_after_all'] = alg.certificate.as_dict()
    # Reference: re-propagate from scratch + retrain the same certified model with the same
    # noise draw as the current model (retrain j uses seed + j).
    t = time.perf_counter()
    ref = ScaleGUN(std=args.std, lam=args.lam, seed=args.seed + alg.certificate.retrained)
    ref.fit(None, cur)
    out['repropagate_retrain_seconds'] = time.perf_counter() - t
    out['acc_retrain_same_model'] = acc(ref, cur)
    out['rel_weight_distance_to_retrain'] = float((alg.W - ref.W).norm() / ref.W.norm())
    out['prediction_agreement_with_retrain'] = float(
        (alg.model().argmax(-1) == ref.model().argmax(-1)).float().mean())
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()

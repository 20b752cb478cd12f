import math

import pytest
import torch

from torch_geometric_unlearn.metric.ranking import (
    full_ranking_metrics,
    hit_matrix,
    most_popular_scores,
    ndcg_at_k,
    recall_at_k,
)


def test_recall_ndcg_known_answer():
    # Row 0: ranking [3, 1, 4, 0], relevant {1, 0, 7}; row 1: ranking [2, 5, 6, 7], relevant {2}.
    topk = torch.tensor([[3, 1, 4, 0], [2, 5, 6, 7]])
    gt = torch.tensor([[0, 0, 0, 1], [1, 0, 7, 2]])
    assert hit_matrix(topk, gt, 4).tolist() == [[False, True, False, True],
                                                 [True, False, False, False]]
    rec = recall_at_k(topk, gt, k=4, reduction='none')
    assert rec.tolist() == pytest.approx([2 / 3, 1.0])
    assert float(recall_at_k(topk, gt, k=4)) == pytest.approx((2 / 3 + 1) / 2)
    # k = 2: row 0 finds 1 of 3, row 1 finds 1 of 1.
    assert recall_at_k(topk, gt, k=2, reduction='none').tolist() == pytest.approx([1 / 3, 1.0])
    ndcg = ndcg_at_k(topk, gt, k=4, reduction='none')
    dcg0 = 1 / math.log2(3) + 1 / math.log2(5)
    idcg0 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg.tolist() == pytest.approx([dcg0 / idcg0, 1.0])
    # k = 2: the ideal DCG is capped at min(|T|, k) = 2 hits.
    ndcg2 = ndcg_at_k(topk, gt, k=2, reduction='none')
    assert ndcg2.tolist() == pytest.approx([(1 / math.log2(3)) / (1 + 1 / math.log2(3)), 1.0])


def test_scores_dense_ground_truth_and_empty_rows():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.0], [0.3, 0.2, 0.1, 0.0], [1., 2., 3., 4.]])
    relevance = torch.tensor([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    rec = recall_at_k(scores, relevance, k=2, reduction='none')
    assert rec[0] == pytest.approx(0.5) and math.isnan(rec[1]) and rec[2] == 0
    assert float(recall_at_k(scores, relevance, k=2)) == pytest.approx(0.25)
    assert float(recall_at_k(scores, relevance, k=2, reduction='sum')) == pytest.approx(0.5)
    pairs = relevance.nonzero().t()
    assert torch.allclose(ndcg_at_k(scores, relevance, 3, 'sum'), ndcg_at_k(scores, pairs, 3,
                                                                            'sum'))
    # No ground truth at all: mean is NaN.
    assert math.isnan(float(recall_at_k(scores, torch.zeros(2, 0, dtype=torch.long), 2)))


@pytest.mark.parametrize('k', [1, 5, 20])
def test_matches_pyg_link_pred_metrics(k):
    from torch_geometric.metrics import LinkPredNDCG, LinkPredRecall
    gen = torch.Generator().manual_seed(k)
    B, N = 30, 50
    topk = torch.stack([torch.randperm(N, generator=gen)[:k] for _ in range(B)])
    rel = torch.rand(B, N, generator=gen) < 0.15
    rel[3] = False  # a row without ground truth is skipped by both
    gt = rel.nonzero().t()
    for ours, Theirs in [(recall_at_k, LinkPredRecall), (ndcg_at_k, LinkPredNDCG)]:
        metric = Theirs(k)
        metric.update(topk, gt)
        assert float(ours(topk, gt, k)) == pytest.approx(float(metric.compute()), abs=1e-6)


def test_most_popular_scores():
    ei = torch.tensor([[0, 1, 1, 2], [2, 2, 0, 2]])
    assert most_popular_scores(ei, 3, 4).tolist() == [1., 0., 3., 0.]


def test_full_ranking_metrics_brute_force():
    gen = torch.Generator().manual_seed(0)
    U, I, k = 12, 15, 5
    scores = torch.rand(U, I, generator=gen)
    pairs = (torch.rand(U, I, generator=gen) < 0.3).nonzero().t()
    perm = torch.randperm(pairs.size(1), generator=gen)
    train, test = pairs[:, perm[:25]], pairs[:, perm[25:]]
    res = full_ranking_metrics(lambda u: scores[u], train, test, U, I, k=[k, 10], batch_size=5)
    recs, ndcgs = [], []
    for u in range(U):
        t = set(test[1, test[0] == u].tolist())
        if not t:
            continue
        s = scores[u].clone()
        s[train[1, train[0] == u]] = -float('inf')
        top = s.argsort(descending=True)[:k].tolist()
        hits = [i in t for i in top]
        recs.append(sum(hits) / len(t))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        ndcgs.append(dcg / sum(1 / math.log2(r + 2) for r in range(min(len(t), k))))
    assert res['num_users'] == len(recs)
    assert res[f'recall@{k}'] == pytest.approx(sum(recs) / len(recs))
    assert res[f'ndcg@{k}'] == pytest.approx(sum(ndcgs) / len(ndcgs))
    assert 'recall@10' in res and 'ndcg@10' in res
    # A shared score vector (most-popular) works too.
    pop = full_ranking_metrics(most_popular_scores(train, U, I), train, test, U, I, k=k)
    assert 0 <= pop[f'recall@{k}'] <= 1


def test_training_items_are_masked():
    # Scores rank the training items first; masking must push the test items to the top.
    train = torch.tensor([[0, 0, 1], [0, 1, 2]])
    test = torch.tensor([[0, 1], [3, 4]])
    scores = torch.tensor([[9., 8., 0., 5., 0.], [0., 0., 9., 0., 5.]])
    res = full_ranking_metrics(lambda u: scores[u], train, test, 2, 5, k=1)
    assert res['recall@1'] == 1.0 and res['ndcg@1'] == 1.0
    unmasked = full_ranking_metrics(lambda u: scores[u], torch.zeros(2, 0, dtype=torch.long),
                                    test, 2, 5, k=1)
    assert unmasked['recall@1'] == 0.0

import torch
from sklearn.metrics import f1_score, roc_auc_score

from torch_geometric_unlearn.metric import accuracy, macro_f1, roc_auc


def test_accuracy_and_macro_f1_match_sklearn():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 5, (300, ), generator=gen)
    pred = torch.where(torch.rand(300, generator=gen) < 0.6, y,
                       torch.randint(0, 5, (300, ), generator=gen))
    assert abs(accuracy(pred, y) - float((pred == y).float().mean())) < 1e-9
    assert abs(macro_f1(pred, y) - f1_score(y, pred, average='macro')) < 1e-9
    logits = torch.nn.functional.one_hot(pred, 5).float()
    assert abs(macro_f1(logits, y) - f1_score(y, pred, average='macro')) < 1e-9


def test_roc_auc_known_answers_and_ties():
    assert roc_auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert roc_auc(torch.tensor([0.0]), torch.tensor([1.0])) == 0.0
    assert roc_auc(torch.ones(5), torch.ones(7)) == 0.5
    gen = torch.Generator().manual_seed(1)
    pos = torch.randint(0, 4, (50, ), generator=gen).float()
    neg = torch.randint(0, 3, (70, ), generator=gen).float()
    labels = [1] * 50 + [0] * 70
    expect = roc_auc_score(labels, torch.cat([pos, neg]).numpy())
    assert abs(roc_auc(pos, neg) - expect) < 1e-9

"""Shadow-model membership inference on node posteriors (He et al., "Node-Level Membership
Inference Attacks Against Graph Neural Networks", 2021; Shokri et al. 2017).

The attacker owns a *shadow* graph from the same distribution (here: an induced subgraph on
nodes disjoint from the evaluated members and non-members), trains a shadow model with the
target's recipe on half of the shadow nodes, and fits a binary classifier (scikit-learn) that
tells the shadow model's training nodes from its unseen nodes from their *sorted* posterior
vectors (sorting makes the attack class-agnostic). The classifier is then applied to the
target model's posteriors. AUC near 0.5 on (removed training nodes, never-trained nodes) means
the removed nodes look like nodes the model never saw.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

from torch_geometric_unlearn.metric.classification import roc_auc


def sorted_posterior_features(proba: Tensor, top_k: Optional[int] = None) -> np.ndarray:
    r"""Attack features of posteriors :obj:`[n, C]`: the probabilities sorted in descending
    order (first :obj:`top_k` only) and their logarithms (which resolve the region near 1
    where overfit members live)."""
    p = proba.detach().float().cpu().sort(dim=-1, descending=True).values
    if top_k is not None:
        p = p[:, :top_k]
    return torch.cat([p, p.clamp_min(1e-12).log()], dim=-1).numpy()


def shadow_split(data: Data, exclude: Optional[Tensor] = None, shadow_ratio: float = 0.5,
                 train_ratio: float = 0.5, val_ratio: float = 0.1, seed: int = 0) -> Data:
    r"""The attacker's shadow graph: the subgraph induced by a seeded random subset of the
    nodes not in :obj:`exclude` (relabelled), with its own :obj:`train_mask` (the shadow
    members), :obj:`val_mask` (for the recipe's model selection) and :obj:`test_mask`
    (the shadow non-members).

    Args:
        data (Data): The full graph (original labels).
        exclude (torch.Tensor, optional): Node ids the shadow graph must not contain (the
            evaluated members and non-members). (default: :obj:`None`)
        shadow_ratio (float, optional): Fraction of the remaining nodes in the shadow graph.
            (default: :obj:`0.5`)
        train_ratio (float, optional): Fraction of shadow nodes that are shadow members.
            (default: :obj:`0.5`)
        val_ratio (float, optional): Fraction of shadow nodes used for validation.
            (default: :obj:`0.1`)
        seed (int, optional): Seed of the node draw. (default: :obj:`0`)
    """
    n = data.num_nodes
    gen = torch.Generator().manual_seed(seed)
    allowed = torch.ones(n, dtype=torch.bool)
    if exclude is not None:
        allowed[exclude.cpu().long()] = False
    y = data.y.cpu()
    allowed &= y >= 0
    cand = allowed.nonzero().view(-1)
    k = int(round(shadow_ratio * cand.numel()))
    if k < 10:
        raise ValueError(f'only {cand.numel()} nodes are left for a shadow graph '
                         f'(need at least 20): exclude fewer nodes')
    nodes = cand[torch.randperm(cand.numel(), generator=gen)[:k]].sort().values
    ei, _ = subgraph(nodes, data.edge_index.cpu(), relabel_nodes=True, num_nodes=n)
    perm = torch.randperm(k, generator=gen)
    n_tr, n_val = int(round(train_ratio * k)), max(1, int(round(val_ratio * k)))
    masks = [torch.zeros(k, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_tr]] = True
    masks[1][perm[n_tr:n_tr + n_val]] = True
    masks[2][perm[n_tr + n_val:]] = True
    return Data(x=data.x.cpu()[nodes], y=y[nodes], edge_index=ei, train_mask=masks[0],
                val_mask=masks[1], test_mask=masks[2], num_nodes=k)


class ShadowMIA:
    r"""Node membership inference with a shadow model and a learned attack classifier
    (He et al. 2021). Fit once per target recipe, then score any model's posteriors.

    Args:
        classifier (str, optional): :obj:`"mlp"` (scikit-learn :class:`MLPClassifier`, 64
            hidden units) or :obj:`"logreg"` (:class:`LogisticRegression`).
            (default: :obj:`"mlp"`)
        top_k (int, optional): Sorted posteriors kept as features (:obj:`None`: all).
            (default: :obj:`None`)
        shadow_ratio (float, optional): See :func:`shadow_split`. (default: :obj:`0.5`)
        seed (int, optional): Seed of the shadow split, shadow training and classifier.
            (default: :obj:`0`)
    """

    def __init__(self, classifier: str = 'mlp', top_k: Optional[int] = None,
                 shadow_ratio: float = 0.5, seed: int = 0) -> None:
        if classifier not in ('mlp', 'logreg'):
            raise ValueError(f"unknown attack classifier '{classifier}' (mlp | logreg)")
        self.classifier, self.top_k = classifier, top_k
        self.shadow_ratio, self.seed = shadow_ratio, seed
        self.attack: Any = None
        self.shadow_train_auc = float('nan')

    def fit_features(self, features: np.ndarray, labels: np.ndarray) -> 'ShadowMIA':
        r"""Fits the attack classifier on precomputed features (1 = member)."""
        try:
            from sklearn.linear_model import LogisticRegression
            from sklearn.neural_network import MLPClassifier
        except ImportError as e:  # pragma: no cover
            raise ImportError("ShadowMIA needs scikit-learn: pip install scikit-learn") from e
        if len(np.unique(labels)) < 2:
            raise ValueError('the attack classifier needs members and non-members')
        from sklearn.exceptions import ConvergenceWarning
        if self.classifier == 'mlp':
            clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=self.seed)
        else:
            clf = LogisticRegression(max_iter=1000)
        with warnings.catch_warnings():  # an unconverged attack is still a valid attack
            warnings.simplefilter('ignore', ConvergenceWarning)
            self.attack = clf.fit(features, labels)
        s = torch.from_numpy(self.attack.predict_proba(features)[:, 1])
        lab = torch.from_numpy(labels).bool()
        self.shadow_train_auc = roc_auc(s[lab], s[~lab])
        return self

    def fit(self, task: Any, model: torch.nn.Module, data: Data,
            exclude: Optional[Tensor] = None) -> 'ShadowMIA':
        r"""Builds the shadow graph (:func:`shadow_split`), trains a fresh copy of
        :obj:`model`'s architecture on it with :obj:`task`'s recipe and fits the attack.

        Args:
            task (NodeClassificationTask): The target's training recipe.
            model (torch.nn.Module): The target (only its architecture is used).
            data (Data): The full graph.
            exclude (torch.Tensor, optional): Nodes kept out of the shadow graph.
        """
        shadow = shadow_split(data, exclude, shadow_ratio=self.shadow_ratio, seed=self.seed)
        device = next(iter(model.parameters())).device if any(True for _ in model.parameters()) \
            else torch.device('cpu')
        shadow = shadow.to(device)
        shadow_model = task.fresh_model(model, seed=self.seed + 7919)
        task.train(shadow_model, shadow, seed=self.seed + 7919)
        proba = task.predict_proba(shadow_model, shadow)
        members = shadow.train_mask.cpu()
        out = shadow.test_mask.cpu()
        feats = sorted_posterior_features(proba.cpu(), self.top_k)
        keep = (members | out).numpy()
        self.fit_features(feats[keep], members.numpy()[keep].astype(np.int64))
        return self

    def score(self, proba: Tensor) -> Tensor:
        r"""Membership probability of every row of :obj:`proba` (posteriors)."""
        if self.attack is None:
            raise RuntimeError('call fit() before score()')
        feats = sorted_posterior_features(proba, self.top_k)
        return torch.from_numpy(self.attack.predict_proba(feats)[:, 1]).float()

    def auc(self, proba: Tensor, members: Tensor, non_members: Tensor) -> float:
        r"""AUC of telling :obj:`members` from :obj:`non_members` (node ids into
        :obj:`proba`)."""
        s = self.score(proba)
        return roc_auc(s[members.cpu()], s[non_members.cpu()])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(classifier={self.classifier!r}, '
                f'top_k={self.top_k}, seed={self.seed})')


def shadow_mia_auc(task: Any, model: torch.nn.Module, data: Data, members: Tensor,
                   non_members: Tensor, proba: Optional[Tensor] = None, seed: int = 0,
                   classifier: str = 'mlp') -> float:
    r"""One-call shadow attack: fits :class:`ShadowMIA` on a shadow graph disjoint from
    :obj:`members` and :obj:`non_members` and returns its AUC on :obj:`model`'s posteriors
    (or on :obj:`proba` if given)."""
    attack = ShadowMIA(classifier=classifier, seed=seed)
    attack.fit(task, model, data, exclude=torch.cat([members.cpu(), non_members.cpu()]))
    proba = task.predict_proba(model, data) if proba is None else proba
    return attack.auc(proba, members, non_members)

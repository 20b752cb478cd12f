"""Distance to Retrain: how close an unlearned model is to the model retrained from scratch
on the retained data (the exact-unlearning reference), as plain functions."""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

_EPS = 1e-12


def _rows(p: Tensor, mask: Optional[Tensor]) -> Tensor:
    p = p.detach().float()
    return p if mask is None else p[mask.to(p.device)]


def prediction_agreement(proba_a: Tensor, proba_b: Tensor,
                         mask: Optional[Tensor] = None) -> float:
    r"""Fraction of rows (optionally restricted to :obj:`mask`) whose argmax agrees."""
    a, b = _rows(proba_a, mask), _rows(proba_b, mask).to(proba_a.device)
    if a.size(0) == 0:
        return float('nan')
    return float((a.argmax(-1) == b.argmax(-1)).float().mean())


def kl_divergence(proba_p: Tensor, proba_q: Tensor, mask: Optional[Tensor] = None) -> float:
    r"""Mean row-wise :math:`\mathrm{KL}(p \,\|\, q)` (nats)."""
    p, q = _rows(proba_p, mask), _rows(proba_q, mask).to(proba_p.device)
    if p.size(0) == 0:
        return float('nan')
    kl = (p * (p.clamp_min(_EPS).log() - q.clamp_min(_EPS).log())).sum(-1)
    return float(kl.clamp_min(0).mean())


def js_divergence(proba_p: Tensor, proba_q: Tensor, mask: Optional[Tensor] = None) -> float:
    r"""Mean row-wise Jensen-Shannon divergence (nats, in :math:`[0, \ln 2]`)."""
    p, q = _rows(proba_p, mask), _rows(proba_q, mask).to(proba_p.device)
    if p.size(0) == 0:
        return float('nan')
    m = 0.5 * (p + q)
    js = 0.5 * (p * (p.clamp_min(_EPS).log() - m.clamp_min(_EPS).log())).sum(-1) + \
        0.5 * (q * (q.clamp_min(_EPS).log() - m.clamp_min(_EPS).log())).sum(-1)
    return float(js.clamp_min(0).mean())


def parameter_distance(model_a: torch.nn.Module, model_b: torch.nn.Module) -> Optional[float]:
    r"""L2 distance between the flattened parameters of two models, or :obj:`None` when the
    architectures differ (parameter names or shapes). Note that two independently trained
    networks differ by permutation symmetries: compare distances between algorithms, not
    with 0."""
    pa, pb = dict(model_a.named_parameters()), dict(model_b.named_parameters())
    if pa.keys() != pb.keys() or any(pa[k].shape != pb[k].shape for k in pa):
        return None
    total = sum(float((pa[k].detach().float() - pb[k].detach().float().to(pa[k].device))
                      .pow(2).sum()) for k in pa)
    return total ** 0.5


def distance_to_retrain(proba_unlearned: Tensor, proba_retrain: Tensor,
                        model_unlearned: Optional[torch.nn.Module] = None,
                        model_retrain: Optional[torch.nn.Module] = None,
                        mask: Optional[Tensor] = None) -> Dict[str, Optional[float]]:
    r"""All distance-to-Retrain metrics in one dict: :obj:`agreement_with_retrain`,
    :obj:`kl_to_retrain` (:math:`\mathrm{KL}(p_{retrain} \| p_{unlearned})`),
    :obj:`js_to_retrain` and :obj:`param_l2_to_retrain` (:obj:`None` if not comparable)."""
    out: Dict[str, Optional[float]] = {
        'agreement_with_retrain': prediction_agreement(proba_unlearned, proba_retrain, mask),
        'kl_to_retrain': kl_divergence(proba_retrain, proba_unlearned, mask),
        'js_to_retrain': js_divergence(proba_unlearned, proba_retrain, mask),
        'param_l2_to_retrain': None,
    }
    if model_unlearned is not None and model_retrain is not None:
        out['param_l2_to_retrain'] = parameter_distance(model_unlearned, model_retrain)
    return out

r"""Adds :func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning` to every
benchmark record: shadow-model and threshold node MIA (``mia_auc``, ``mia_*_auc``, with
``_before``/``_retrain``), posterior-shift AUC, StealLink edge MIA (``edge_mia_auc``),
recommendation ``mi_bf``/``mi_ng``, distance to Retrain (``agreement_with_retrain``,
``kl_to_retrain``, ``js_to_retrain``, ``param_l2_to_retrain``) and utility of the original,
unlearned and retrained models. Metrics that do not apply carry a ``*_note`` with the reason.

This hook supersedes the simple ``node_mia_hook`` of the runner: it runs after it and
overwrites ``mia_auc`` (same field name) with the shadow-model attack.
"""
from __future__ import annotations

from typing import Any, Dict

from torch_geometric_unlearn.benchmark.registry import RECORD_HOOKS

#: Fields of ``evaluate_unlearning`` already present in the runner's record under other names.
_DUPLICATES = ('utility_original', 'utility_unlearned')


def evaluation_hook(context: Dict[str, Any]) -> Dict[str, Any]:
    r"""Record fields from :func:`evaluate_unlearning` (the shadow attack and original-model
    outputs are computed once per seed and shared by all algorithms through the cache)."""
    from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
    cache = context.setdefault('cache', {}).setdefault('evaluation', {})
    try:
        out = evaluate_unlearning(context['task'], context['data'], context['original'],
                                  context['result'], context['retrain'], context['request'],
                                  seed=int(context.get('seed', 0)), cache=cache)
    except Exception as e:  # the record says why instead of losing the whole benchmark
        return {'evaluation_note': f'evaluate_unlearning failed: {type(e).__name__}: {e}'}
    for k in _DUPLICATES:
        out.pop(k, None)
    out.pop('utility_retrain', None)  # the runner reports it already
    return out


if evaluation_hook not in RECORD_HOOKS:
    RECORD_HOOKS.append(evaluation_hook)

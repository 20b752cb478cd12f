r"""Adds :func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning` to every
benchmark record (the single source of the forgetting fields): shadow-model and threshold node
MIA (``mia_auc``, ``mia_shadow_auc``, ``mia_*_auc``, with ``_before``/``_retrain``),
posterior-shift AUC, StealLink edge MIA (``edge_mia_auc``), recommendation ``mi_bf``/``mi_ng``,
distance to Retrain (``agreement_with_retrain``, ``kl_to_retrain``, ``js_to_retrain``,
``param_l2_to_retrain``). Metrics that do not apply are :obj:`None` with a ``*_note`` giving
the reason; ``--no-shadow-mia`` skips the shadow attack (``mia_shadow_note`` says so).
See ``docs/evaluation.md``.
"""
from __future__ import annotations

from typing import Any, Dict

from torch_geometric_unlearn.benchmark.registry import RECORD_HOOKS

#: Fields of ``evaluate_unlearning`` already present in the runner's record under other names.
_DUPLICATES = ('utility_original', 'utility_unlearned', 'utility_retrain')

#: Headline fields set to None (with ``evaluation_note``) when the evaluation fails.
HEADLINE_FIELDS = ('mia_auc', 'mia_auc_before', 'posterior_shift_auc', 'edge_mia_auc', 'mi_bf',
                   'mi_ng', 'agreement_with_retrain', 'kl_to_retrain', 'js_to_retrain',
                   'param_l2_to_retrain')


def evaluation_hook(context: Dict[str, Any]) -> Dict[str, Any]:
    r"""Record fields from :func:`evaluate_unlearning` (the shadow attack and original-model
    outputs are computed once per seed and shared by all algorithms through the cache)."""
    from torch_geometric_unlearn.metric.evaluate import evaluate_unlearning
    cache = context.setdefault('cache', {}).setdefault('evaluation', {})
    shadow = not getattr(context.get('args'), 'no_shadow_mia', False)
    try:
        out = evaluate_unlearning(context['task'], context['data'], context['original'],
                                  context['result'], context['retrain'], context['request'],
                                  shadow=shadow, seed=int(context.get('seed', 0)), cache=cache)
    except Exception as e:  # the record says why instead of losing the whole benchmark
        out = {k: None for k in HEADLINE_FIELDS}
        out['evaluation_note'] = f'evaluate_unlearning failed: {type(e).__name__}: {e}'
        return out
    if not shadow and out.get('mia_shadow_note'):
        out['mia_shadow_note'] = out['mia_shadow_note'].replace(
            'shadow=False / --no-shadow-mia', '--no-shadow-mia')
    for k in _DUPLICATES:
        out.pop(k, None)  # the runner reports utility_before / _after / _retrain already
    return out


if evaluation_hook not in RECORD_HOOKS:
    RECORD_HOOKS.append(evaluation_hook)

r"""Plots of unlearning results (needs the ``plot`` extra: :obj:`pip install
'torch-geometric-unlearn[plot]'`).

* :func:`plot_score_distributions`: score distributions of positive, negative and removed
  edges (or interactions) before and after unlearning, one panel per method (UnlearnRec,
  Fig. 2-3). Input: the :obj:`score_distributions` field of
  :func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning` with
  :obj:`return_scores=True`.
* :func:`plot_tradeoff`: utility vs unlearning time and utility vs forgetting (membership
  inference AUC), mean +- std over seeds, from benchmark JSON records.
* :func:`plot_scaling`: a metric against a size (graph size, request size), one curve per
  algorithm, mean +- std over seeds.

Every function returns a :class:`matplotlib.figure.Figure` built without :mod:`pyplot` (no
global state, works headless) and writes a PNG when :obj:`path` is given.
"""
from __future__ import annotations

import math
import os
import textwrap
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

PathLike = Union[str, 'os.PathLike[str]']

#: Colours of the score groups (positive / negative / removed), as in UnlearnRec's figures.
GROUP_COLORS = {'positive': 'tab:green', 'negative': 'tab:blue', 'removed': 'tab:red',
                'members': 'tab:red', 'non_members': 'tab:blue'}


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - exercised with a patched import
        raise ImportError("plotting needs matplotlib: pip install "
                          "'torch-geometric-unlearn[plot]' (or pip install matplotlib)") from e
    return Figure(figsize=(width, height), layout='constrained')


def _save(fig: Any, path: Optional[PathLike], dpi: int) -> None:
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
        fig.savefig(path, dpi=dpi)


def _get(record: Mapping[str, Any], key: str) -> Any:
    r"""Value of a dotted :obj:`key` (e.g. :obj:`"utility_after.accuracy"`), or :obj:`None`."""
    value: Any = record
    for part in key.split('.'):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _mean_std(values: Sequence[float]) -> Tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _split_key(key: str) -> Tuple[str, str]:
    for phase in ('before', 'after'):
        if key.endswith('_' + phase):
            return key[:-len(phase) - 1], phase
    return key, 'after'


def plot_score_distributions(scores: Mapping[str, Mapping[str, Sequence[float]]],
                             path: Optional[PathLike] = None, bins: int = 40,
                             title: Optional[str] = None, xlabel: str = 'score',
                             dpi: int = 120) -> Any:
    r"""Histograms (densities) of the scores of positive, negative and removed edges before
    unlearning (the original model, first panel) and after unlearning with each method (one
    panel per method), as in UnlearnRec's Fig. 2-3: a method that forgot pushes the removed
    edges' scores from the positives' distribution towards the negatives'.

    Args:
        scores (Mapping[str, Mapping[str, Sequence[float]]]): Method name -> score arrays named
            :obj:`"<group>_before"` / :obj:`"<group>_after"` (groups e.g. :obj:`positive`,
            :obj:`negative`, :obj:`removed`): the :obj:`score_distributions` field of
            :func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning` with
            :obj:`return_scores=True`. Arrays without a suffix count as "after". The "before"
            panel uses the first method that has "before" arrays (the original model is the
            same for all methods of one request).
        path (str, optional): Write a PNG here. (default: :obj:`None`)
        bins (int, optional): Histogram bins on the common range. (default: :obj:`40`)
        title (str, optional): Figure title. (default: :obj:`None`)
        xlabel (str, optional): Label of the score axis. (default: :obj:`"score"`)
        dpi (int, optional): PNG resolution. (default: :obj:`120`)
    """
    if not scores:
        raise ValueError('scores is empty: give {method: {"removed_after": [...], ...}}')
    panels: 'OrderedDict[str, Dict[str, List[float]]]' = OrderedDict()
    before: Dict[str, List[float]] = {}
    for method, arrays in scores.items():
        if not isinstance(arrays, Mapping) or not arrays:
            raise ValueError(f"scores['{method}'] must be a non-empty mapping of score arrays")
        after: Dict[str, List[float]] = {}
        for key, values in arrays.items():
            group, phase = _split_key(key)
            values = [float(v) for v in values]
            if phase == 'after':
                after[group] = values
            elif not before or group not in before:
                before.setdefault(group, values)
        panels[method] = after
    if before:
        panels = OrderedDict([('before unlearning', before)] + list(panels.items()))
    everything = [v for panel in panels.values() for vals in panel.values() for v in vals]
    if not everything:
        raise ValueError('no scores to plot (all arrays are empty)')
    lo, hi = min(everything), max(everything)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]

    fig = _figure(3.2 * len(panels), 2.8)
    axes = fig.subplots(1, len(panels), sharex=True, squeeze=False)[0]
    for ax, (name, groups) in zip(axes, panels.items()):
        for group, values in groups.items():
            if values:
                ax.hist(values, bins=edges, density=True, histtype='stepfilled', alpha=0.45,
                        color=GROUP_COLORS.get(group), label=f'{group} ({len(values)})')
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.legend(fontsize='small')
    axes[0].set_ylabel('density')
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def _by_algorithm(records: Sequence[Mapping[str, Any]], keys: Sequence[str]
                  ) -> 'OrderedDict[str, Dict[str, Tuple[float, float]]]':
    r"""Algorithm -> {key: (mean, std)} over the records (seeds) where every key is a number."""
    groups: 'OrderedDict[str, List[Mapping[str, Any]]]' = OrderedDict()
    for r in records:
        groups.setdefault(str(r.get('algorithm', '?')), []).append(r)
    out: 'OrderedDict[str, Dict[str, Tuple[float, float]]]' = OrderedDict()
    for name, rs in groups.items():
        stats = {}
        for key in keys:
            vals = [_get(r, key) for r in rs]
            vals = [float(v) for v in vals if isinstance(v, (int, float)) and
                    not (isinstance(v, float) and math.isnan(v))]
            if vals:
                stats[key] = _mean_std(vals)
        out[name] = stats
    return out


def plot_tradeoff(records: Sequence[Mapping[str, Any]], path: Optional[PathLike] = None,
                  utility: str = 'utility_after.accuracy', forgetting: str = 'mia_auc',
                  time: str = 'unlearn_seconds', title: Optional[str] = None,
                  dpi: int = 120) -> Any:
    r"""The utility / forgetting / time trade-off of unlearning methods from benchmark records
    (the JSON written by :obj:`python -m torch_geometric_unlearn.benchmark --out`). Left:
    utility against unlearning time (log scale); right: utility against forgetting (a
    membership-inference AUC: Retrain's value, dashed, is the target; higher means the removed
    data is still recognisable). One point per algorithm, mean +- std over seeds (error bars).
    The right panel is left out when no record has :obj:`forgetting`.

    Args:
        records (Sequence[dict]): Benchmark records (fields :obj:`algorithm` and the keys
            below; dotted keys read nested fields).
        path (str, optional): Write a PNG here. (default: :obj:`None`)
        utility (str, optional): Utility key. (default: :obj:`"utility_after.accuracy"`)
        forgetting (str, optional): Forgetting key. (default: :obj:`"mia_auc"`)
        time (str, optional): Time key (seconds). (default: :obj:`"unlearn_seconds"`)
        title (str, optional): Figure title. (default: :obj:`None`)
        dpi (int, optional): PNG resolution. (default: :obj:`120`)
    """
    if not records:
        raise ValueError('records is empty')
    stats = _by_algorithm(records, [utility, forgetting, time])
    usable = {n: s for n, s in stats.items() if utility in s and time in s}
    if not usable:
        raise ValueError(f"no record has numeric '{utility}' and '{time}'")
    with_forgetting = {n: s for n, s in usable.items() if forgetting in s}
    fig = _figure(9.0 if with_forgetting else 4.8, 3.6)
    axes = fig.subplots(1, 2 if with_forgetting else 1, squeeze=False)[0]
    colors = {n: f'C{i % 10}' for i, n in enumerate(usable)}
    ax = axes[0]
    for name, s in usable.items():
        (t, ts), (u, us) = s[time], s[utility]
        ax.errorbar([t], [u], xerr=[ts], yerr=[us], fmt='o', color=colors[name], capsize=3,
                    label=name)
    ax.set_xscale('log')
    ax.set_xlabel(f'{time} (log)')
    ax.set_ylabel(utility)
    ax.legend(fontsize='small')
    if with_forgetting:
        ax = axes[1]
        for name, s in with_forgetting.items():
            (f, fs), (u, us) = s[forgetting], s[utility]
            ax.errorbar([f], [u], xerr=[fs], yerr=[us], fmt='o', color=colors[name],
                        capsize=3, label=name)
        ref = with_forgetting.get('retrain')
        if ref is not None:
            ax.axvline(ref[forgetting][0], color='grey', linestyle='--', linewidth=1,
                       label='Retrain')
        ax.set_xlabel(f'{forgetting} (closer to Retrain is better)')
        ax.set_ylabel(utility)
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def plot_scaling(records: Sequence[Mapping[str, Any]], x: str, y: str = 'unlearn_seconds',
                 path: Optional[PathLike] = None, logx: bool = True, logy: bool = True,
                 title: Optional[str] = None, dpi: int = 120, group: str = 'algorithm',
                 xlabel: Optional[str] = None, ylabel: Optional[str] = None,
                 marker: str = 'o') -> Any:
    r"""Scaling curves: :obj:`y` (e.g. unlearning time) against :obj:`x` (e.g. number of
    nodes, or :obj:`num_removed`), one curve per algorithm (or per value of :obj:`group`),
    mean +- std over the records that share an :obj:`x` value (seeds, repeats).

    Args:
        records (Sequence[dict]): Records with :obj:`algorithm`, :obj:`x` and :obj:`y`
            (dotted keys read nested fields).
        x (str): Key of the size.
        y (str, optional): Key of the measured quantity. (default: :obj:`"unlearn_seconds"`)
        path (str, optional): Write a PNG here. (default: :obj:`None`)
        logx (bool, optional): Log-scaled x axis. (default: :obj:`True`)
        logy (bool, optional): Log-scaled y axis. (default: :obj:`True`)
        title (str, optional): Figure title. (default: :obj:`None`)
        dpi (int, optional): PNG resolution. (default: :obj:`120`)
        group (str, optional): Key whose value names a curve. (default: :obj:`"algorithm"`)
        xlabel (str, optional): Axis label instead of :obj:`x`. (default: :obj:`None`)
        ylabel (str, optional): Axis label instead of :obj:`y`. (default: :obj:`None`)
        marker (str, optional): Matplotlib marker of the points (:obj:`""`: lines only, for
            long series). (default: :obj:`"o"`)
    """
    curves: 'OrderedDict[str, Dict[float, List[float]]]' = OrderedDict()
    for r in records:
        xv, yv = _get(r, x), _get(r, y)
        if isinstance(xv, (int, float)) and isinstance(yv, (int, float)):
            curves.setdefault(str(r.get(group, '?')), {}).setdefault(
                float(xv), []).append(float(yv))
    if not curves:
        raise ValueError(f"no record has numeric '{x}' and '{y}'")
    fig = _figure(4.8, 3.6)
    ax = fig.subplots()
    for name, points in curves.items():
        xs = sorted(points)
        ms = [_mean_std(points[v]) for v in xs]
        ax.errorbar(xs, [m for m, _ in ms], yerr=[s for _, s in ms], marker=marker or None,
                    capsize=3 if marker else 0, label=name)
    if logx:
        ax.set_xscale('log')
    if logy:
        ax.set_yscale('log')
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.legend(fontsize='small')
    if title:
        ax.set_title(textwrap.fill(title, 60), fontsize='medium')
    _save(fig, path, dpi)
    return fig


__all__ = ['plot_score_distributions', 'plot_tradeoff', 'plot_scaling']

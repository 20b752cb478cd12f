r"""How SGU's preserve-loss and epoch defaults were chosen (issue 8), without test nodes and
without the reported seeds.

Protocol, fixed before the runs: Cora public split (140 training nodes), 5% of the training
nodes (7) per request, random and worst-case forget sets; **held-out seeds 10-19** (GCN) and
10-13 (SGC), never the benchmark's 0-9; the membership attack's non-members are the public
split's **nodes in no mask** (ids 640-1707: never trained on, never used for validation, by
SGU's never-trained reference or for test), instead of the CLI's test nodes. Rule: the variant
with the smallest median |ΔMIA AUC vs Retrain| whose median ΔF1 is within 1 point.

Round 2 (rule written at 02:33 UTC on 2026-11-24, after round 1 picked ``ce_weight=0`` and the
reliability stream of ``benchmarks/reliability`` then showed it drifting 0.051 below Retrain
over 100 requests, against 0.019 with ``ce_weight=1``; before any number of ``ce_weight=0.3``
or of the guard below was seen): among the extended variants ``ce_weight`` in {0, 0.3, 1},
drop those whose **validation** accuracy after the held-out 100-request stream
(``stream_guard.py``, stream seed 1) is more than 0.035 below Retrain's on the final retained
graph (the previous defaults' stream drift was 0.033); among the rest, pick the smallest mean,
over the three forget sets (GCN 5% random, GCN 5% worst case, SGC 5% random), of the median
|ΔMIA|.

Round 3 (rule written at 06:55 UTC on 2026-11-24, before any number of these variants; after
30-seed runs of the reported protocol showed the GCN worst-case set under-forgotten, ΔMIA
+0.048 mean, 95% interval [+0.021, +0.075], and a diagnostic on held-out seeds 50-55 showed
the selected epochs' forget gap often at +0.04, the upper end of the ±0.05 band):
``sgu-tol0.05`` (the defaults) against ``sgu-tol0.025`` (``forget_tolerance=0.025``) on
**fresh held-out seeds 50-69** (GCN 5% random and worst case) and 50-59 (SGC 5% random),
non-members = nodes in no mask as above. Rule: drop a variant whose median ΔF1 on any of the
three forget sets is outside ±1 point; among the rest, pick the smallest mean over the three
sets of the median |ΔMIA|; the defaults stay unless the other variant is lower by more than
0.005 (a tie within noise keeps the faster defaults).

Round 4 (rule written at 07:18 UTC on 2026-11-24, before any number of the variant): under
this protocol the SGC worst-case set is under-forgotten too (defaults, held-out seeds 50-59:
ΔMIA +0.040 [+0.028, +0.053]), and a diagnostic (seeds 50-52, nodes in no mask) showed why:
SGU leaves the removed nodes' top-1 confidence at Retrain's level (0.753 vs 0.756) but lowers
every never-trained node's (0.631 vs 0.655), so the fixed reference of ``'match'`` (validation
nodes under the *original* weights) ends above where the fine-tuned model puts unseen nodes.
``sgu-tol0.05`` (the defaults) against ``sgu-refcur`` (``reference='current'``: the validation
nodes' log-odds re-read under the current weights every epoch) on held-out seeds 50-69 (GCN 5%
random and worst case) and 50-59 (SGC 5% random and worst case). Rule: drop a variant whose
median ΔF1 on any of the four sets is outside ±1 point; among the rest, the smallest mean over
the four sets of the median |ΔMIA|; the defaults stay unless the other is lower by more than
0.005. Result: defaults 0.024, ``'current'`` 0.034 (it halves the SGC worst-case gap but
over-forgets the random sets): the defaults stay.

Round 3 result: defaults 0.019, ``forget_tolerance=0.025`` 0.023: the defaults stay.

Variants (everything else at the defaults of the run, 5 epochs at lr 1e-2):
``sgu-ce1`` = ``SGU(ce_weight=1.0)`` (the preserve loss up to this session: cross-entropy of
the retained training nodes + the paper's terms), ``sgu-ce0`` = ``SGU(ce_weight=0.0)`` (the
paper's preserve terms only), ``sgu-ce0.3`` (round 2: a third of the cross-entropy), each with the fine-tuning extended while no epoch is forgotten
(``max_epochs=20``, ``None`` = 4 x epochs) or not (``-noext``: ``max_epochs=5``).

Usage (the CLI's options; one run per forget set)::

    OMP_NUM_THREADS=1 python benchmarks/sgu/select_defaults.py --dataset cora --model gcn \
        --algorithms retrain,sgu-ce1,sgu-ce0,sgu-ce1-noext,sgu-ce0-noext --request node \
        --ratio 0.05 --strategy random --seeds 10,11,12,13,14,15,16,17,18,19 --quiet \
        --out benchmarks/sgu/results/selection/gcn_0.05_random.json
    python benchmarks/sgu/summarize.py benchmarks/sgu/results/selection
"""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

from torch import Tensor

import torch_geometric_unlearn.metric.evaluate as evaluate
from torch_geometric_unlearn.algorithm.sgu import SGU
from torch_geometric_unlearn.benchmark.registry import register_algorithm

VARIANTS = {
    'sgu-ce1': dict(ce_weight=1.0, max_epochs=20),
    'sgu-ce0': dict(ce_weight=0.0, max_epochs=20),
    'sgu-ce0.3': dict(ce_weight=0.3, max_epochs=20),
    'sgu-ce1-noext': dict(ce_weight=1.0, max_epochs=5),
    'sgu-ce0-noext': dict(ce_weight=0.0, max_epochs=5),
    'sgu-tol0.05': dict(),  # round 3: the defaults
    'sgu-tol0.025': dict(forget_tolerance=0.025),
    'sgu-refcur': dict(reference='current'),  # round 4
}


def nodes_in_no_mask(data: Any) -> Tuple[Tensor, Optional[str]]:
    r"""The selection's non-members: labelled nodes outside the train/val/test masks."""
    free = ~(data.train_mask | data.val_mask | data.test_mask).cpu() & (data.y.cpu() >= 0)
    return free.nonzero().view(-1), 'selection protocol: non-members = nodes in no mask'


def main() -> int:
    evaluate.default_non_members = nodes_in_no_mask
    for name, kwargs in VARIANTS.items():
        register_algorithm(name)(lambda args, kwargs=kwargs: SGU(epochs=5, **kwargs))
    from torch_geometric_unlearn.benchmark.runner import main as cli
    return cli(sys.argv[1:])


if __name__ == '__main__':
    raise SystemExit(main())

r"""The README demo: train a GCN on Cora, unlearn 0.5% of its training nodes with one
configuration of every method family (``DEMO_ALGORITHMS``), and compare with Retrain.

.. code-block:: bash

    python -m torch_geometric_unlearn.demo [--seeds 0,1,2] [--algorithms retrain,...] \
        [--out records.json] [--plot tradeoff.png]

Runs offline on the Cora copy shipped inside the package. The split is Planetoid's "full"
split (1,208 training nodes), so 0.5% is 6 nodes per seed; the membership-inference AUC is
the benchmark's node attack (the shadow-model attack of He et al. 2021 from
:func:`~torch_geometric_unlearn.metric.evaluate.evaluate_unlearning`, falling back to a
confidence threshold) of those nodes against the 1,000 test nodes; the attack used is printed.
"""
from __future__ import annotations

import argparse
import statistics
from typing import List, Optional


#: One representative configuration per method family (every name is a benchmark CLI name).
DEMO_ALGORITHMS = ('retrain', 'gif', 'grapheraser', 'cge', 'scalegun', 'sgu')


def main(argv: Optional[List[str]] = None) -> int:
    from torch_geometric_unlearn.benchmark import ALGORITHMS, build_parser, run_benchmark

    p = argparse.ArgumentParser(prog='python -m torch_geometric_unlearn.demo')
    p.add_argument('--seeds', default='0,1,2')
    p.add_argument('--algorithms', default=None,
                   help=f'comma-separated (default: {",".join(DEMO_ALGORITHMS)}; '
                   f'available: {",".join(sorted(ALGORITHMS))})')
    p.add_argument('--model', default='gcn')
    p.add_argument('--epochs', type=int, default=200)
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', default=None, help='write the benchmark JSON records here')
    p.add_argument('--plot', default=None,
                   help='write the utility / forgetting / time trade-off PNG here (plot extra)')
    a = p.parse_args(argv)
    names = a.algorithms or ','.join(n for n in DEMO_ALGORITHMS if n in ALGORITHMS)
    args = build_parser().parse_args([
        '--dataset', 'cora', '--split', 'full', '--model', a.model, '--algorithms', names,
        '--request', 'node', '--ratio', '0.005', '--strategy', 'random', '--seeds', a.seeds,
        '--epochs', str(a.epochs), '--device', a.device, '--quiet'])
    print(f'Cora (vendored, full split), {a.model.upper()}, unlearning 0.5% of training nodes; '
          f'seeds {a.seeds}; medians over seeds', flush=True)
    records = run_benchmark(args)
    by_algo = {}
    for r in records:
        by_algo.setdefault(r['algorithm'], []).append(r)
    first = records[0]
    med = statistics.median
    print(f"original model: accuracy {med(r['utility_before']['accuracy'] for r in records):.4f}"
          f"  macro-F1 {med(r['utility_before']['macro_f1'] for r in records):.4f}"
          f"  MIA AUC {med(r['mia_auc_before'] for r in records):.3f}"
          f"  (removed per seed: {first['num_removed']})")
    print(f"MIA: {first.get('mia_attack', 'threshold(confidence)')}")
    print(f"{'algorithm':<14}{'guarantee':<13}{'accuracy':>9}{'macro-F1':>10}{'MIA AUC':>9}"
          f"{'seconds':>10}{'speed-up':>10}")
    for name, rs in by_algo.items():
        print(f"{name:<14}{rs[0]['guarantee']:<13}"
              f"{med(r['utility_after']['accuracy'] for r in rs):>9.4f}"
              f"{med(r['utility_after']['macro_f1'] for r in rs):>10.4f}"
              f"{med(r['mia_auc'] for r in rs):>9.3f}"
              f"{med(r['unlearn_seconds'] for r in rs):>10.3f}"
              f"{med(r['speedup_vs_retrain'] for r in rs):>9.1f}x")
    if a.algorithms is None:
        # The one family Cora cannot show: it unlearns user-item interactions.
        print('UnlearnRec (recommendation: forgets user-item interactions) needs a bipartite '
              'graph: python examples/unlearnrec.py (LightGCN, adversarial interactions), or '
              'benchmarks/unlearnrec/ for MovieLens-100K and Gowalla.')
    if a.out:
        import json

        from torch_geometric_unlearn.benchmark.runner import _json_default
        with open(a.out, 'w') as f:
            json.dump(records, f, indent=2, default=_json_default)
        print(f'wrote {len(records)} records to {a.out}')
    if a.plot:
        from torch_geometric_unlearn.plot import plot_tradeoff
        plot_tradeoff(records, path=a.plot, title='Cora, GCN, 0.5% of training nodes')
        print(f'wrote {a.plot}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

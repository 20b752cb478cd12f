import json

from torch_geometric_unlearn.benchmark import main
from torch_geometric_unlearn.benchmark.registry import RECORD_HOOKS


def test_cli_records_carry_evaluation_fields(tmp_path):
    from torch_geometric_unlearn.benchmark.plugins.evaluation import evaluation_hook
    assert evaluation_hook in RECORD_HOOKS
    out = tmp_path / 'r.json'
    main(['--dataset', 'sbm:300,1500', '--model', 'sgc', '--algorithms', 'retrain',
          '--request', 'edge', '--count', '10', '--strategy', 'edge_influence',
          '--epochs', '5', '--out', str(out), '--quiet'])
    (rec, ) = json.loads(out.read_text())
    assert 'evaluation_note' not in rec, rec.get('evaluation_note')
    assert rec['strategy'] == 'edge_influence'
    assert 0 <= rec['edge_mia_auc'] <= 1 and rec['edge_mia_auc'] == rec['edge_mia_auc_retrain']
    # Never silently skipped: inapplicable attacks are None with the reason.
    assert rec['mia_auc'] is None and 'edge request' in rec['mia_note']
    assert rec['mi_bf'] is None and rec['mi_ng'] is None and rec['mi_note']
    assert rec['agreement_with_retrain'] == 1.0


def test_one_source_of_truth_for_node_mia(tmp_path):
    from torch_geometric_unlearn.benchmark.plugins.evaluation import evaluation_hook
    # The runner has no MIA hook of its own any more: the plugin alone fills mia_* fields.
    mia_hooks = [h for h in RECORD_HOOKS if 'mia' in h.__name__]
    assert mia_hooks == []
    assert RECORD_HOOKS.count(evaluation_hook) == 1
    out = tmp_path / 'r.json'
    main(['--dataset', 'sbm:2000,8000', '--model', 'sgc', '--algorithms', 'retrain',
          '--request', 'node', '--count', '20', '--epochs', '5', '--out', str(out), '--quiet'])
    (rec, ) = json.loads(out.read_text())
    assert 'shadow model' in rec['mia_attack'] and 'mia_non_members_note' not in rec
    for suffix in ('', '_before', '_retrain'):
        assert rec[f'mia_auc{suffix}'] == rec[f'mia_shadow_auc{suffix}']
        assert 0 <= rec[f'mia_auc{suffix}'] <= 1
    assert rec['mia_auc'] == rec['mia_auc_retrain']     # Retrain is the algorithm here
    assert 'utility_original' not in rec and 'utility_retrain' in rec

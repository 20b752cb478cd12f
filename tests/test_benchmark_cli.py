import json

import pytest

from torch_geometric_unlearn.benchmark import main

FIELDS = {'dataset', 'model', 'algorithm', 'request_type', 'num_removed', 'seed',
          'utility_before', 'utility_after', 'unlearn_seconds', 'retrain_seconds',
          'speedup_vs_retrain', 'peak_memory_bytes'}


def test_cli_cora_writes_records(tmp_path, capsys):
    out = tmp_path / 'r.json'
    rc = main(['--dataset', 'cora', '--model', 'gcn', '--algorithms', 'retrain',
               '--request', 'edge', '--count', '5', '--seeds', '0,1', '--epochs', '20',
               '--out', str(out)])
    assert rc == 0
    records = json.loads(out.read_text())
    assert len(records) == 2 and {r['seed'] for r in records} == {0, 1}
    for r in records:
        assert FIELDS <= set(r)
        assert r['num_removed'] == 5 and r['request_type'] == 'edge'
        assert 'accuracy' in r['utility_after'] and 'macro_f1' in r['utility_before']
    assert 'retrain' in capsys.readouterr().out


def test_cli_synthetic_sbm_node_request(tmp_path):
    out = tmp_path / 'r.json'
    main(['--dataset', 'sbm:600,3000', '--model', 'sgc', '--algorithms', 'retrain',
          '--request', 'feature', '--ratio', '0.05', '--epochs', '10', '--out', str(out),
          '--quiet'])
    (record, ) = json.loads(out.read_text())
    assert record['request_type'] == 'feature' and record['num_removed'] >= 1


def test_cli_errors():
    with pytest.raises(SystemExit):
        main(['--algorithms', 'nope', '--epochs', '1'])
    with pytest.raises(SystemExit):
        main(['--request', 'interaction', '--epochs', '1'])

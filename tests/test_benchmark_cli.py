import json

import pytest

from torch_geometric_unlearn.benchmark import main

FIELDS = {'dataset', 'model', 'algorithm', 'request_type', 'num_removed', 'seed',
          'utility_before', 'utility_after', 'unlearn_seconds', 'retrain_seconds',
          'speedup_vs_retrain', 'peak_memory_bytes'}


def test_cli_cora_writes_records(tmp_path, capsys):
    out = tmp_path / 'r.json'
    rc = main(['--dataset', 'cora', '--model', 'gcn', '--algorithms', 'retrain',
               '--request', 'edge', '--count', '5', '--seeds', '0,1', '--epochs', '10',
               '--hidden', '16',
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
          '--quiet', '--no-shadow-mia'])
    (record, ) = json.loads(out.read_text())
    assert record['request_type'] == 'feature' and record['num_removed'] >= 1


def test_cli_errors():
    with pytest.raises(SystemExit):
        main(['--algorithms', 'nope', '--epochs', '1'])
    with pytest.raises(SystemExit):
        main(['--request', 'interaction', '--epochs', '1'])


def _spy_train(monkeypatch, cls):
    r"""Records the number of training edges of every graph :obj:`cls.train` is called on."""
    seen = []
    real = cls.train

    def train(self, model, data, *args, **kwargs):
        from torch_geometric_unlearn.task.recommendation import get_interactions
        seen.append(get_interactions(data, 'train').size(1) if self.name == 'recommendation'
                    else data.edge_index.size(1))
        return real(self, model, data, *args, **kwargs)
    monkeypatch.setattr(cls, 'train', train)
    return seen


def test_cli_adversarial_edges_train_original_on_attacked_graph(tmp_path, monkeypatch):
    from torch_geometric_unlearn.datasets import load_dataset
    from torch_geometric_unlearn.task.node import NodeClassificationTask
    seen = _spy_train(monkeypatch, NodeClassificationTask)
    out = tmp_path / 'r.json'
    main(['--dataset', 'sbm:300,1500', '--model', 'sgc', '--algorithms', 'retrain',
          '--request', 'edge', '--count', '10', '--strategy', 'adversarial', '--epochs', '5',
          '--out', str(out), '--quiet'])
    (rec, ) = json.loads(out.read_text())
    clean_edges = load_dataset('sbm:300,1500').edge_index.size(1)
    # Clean model on the clean graph, ORIGINAL on the attacked graph (both directions of the
    # 10 added edges), Retrain on the attacked graph minus exactly those edges.
    assert seen[:2] == [clean_edges, clean_edges + 2 * 10], seen
    assert seen[-1] == clean_edges
    assert rec['strategy'] == 'adversarial' and rec['num_removed'] == 10
    assert 'attacked graph' in rec['adversarial_note'] and 'utility_clean' in rec
    assert rec['edge_mia_auc_before'] is not None and rec['edge_mia_auc'] is not None


def test_cli_adversarial_interactions(tmp_path, monkeypatch):
    from torch_geometric_unlearn.task.recommendation import RecommendationTask
    seen = _spy_train(monkeypatch, RecommendationTask)
    out = tmp_path / 'r.json'
    main(['--dataset', 'bipartite:60,40,800', '--model', 'lightgcn', '--algorithms',
          'retrain', '--request', 'interaction', '--count', '20', '--strategy', 'adversarial',
          '--epochs', '5', '--out', str(out), '--quiet'])
    (rec, ) = json.loads(out.read_text())
    assert seen[1] == seen[0] + 20 and seen[-1] == seen[0], seen
    assert rec['num_removed'] == 20 and rec['mi_bf'] is not None and rec['mi_ng'] is not None
    with pytest.raises(SystemExit, match='adversarial'):
        main(['--dataset', 'bipartite:60,40,800', '--model', 'lightgcn', '--request', 'node',
              '--strategy', 'adversarial', '--epochs', '1'])


def test_cli_no_shadow_mia_and_small_sbm_non_members(tmp_path):
    # sbm:600 has no test nodes under the Planetoid-style split (140 train + 460 val): the node
    # attacks fall back to the never-trained labelled nodes and say so.
    out = tmp_path / 'r.json'
    main(['--dataset', 'sbm:600,3000', '--model', 'sgc', '--algorithms', 'retrain',
          '--request', 'node', '--count', '10', '--epochs', '5', '--no-shadow-mia',
          '--out', str(out), '--quiet'])
    (rec, ) = json.loads(out.read_text())
    assert 'no test nodes' in rec['mia_non_members_note']
    assert 0 <= rec['mia_auc'] <= 1 and rec['mia_auc'] == rec['mia_confidence_auc']
    assert rec['mia_auc_before'] == rec['mia_confidence_auc_before']
    assert rec['mia_shadow_auc'] is None and '--no-shadow-mia' in rec['mia_shadow_note']
    assert 'threshold(confidence)' in rec['mia_attack']


def test_cli_unknown_strategy():
    with pytest.raises(SystemExit, match='unknown strategy'):
        main(['--strategy', 'nope', '--epochs', '1'])


def test_unlearnrec_simgcl_val_variant_builds_the_selected_pretraining():
    # round 2 of benchmarks/unlearnrec/select_pretrain_simgcl.py picked these on held-out seeds
    import argparse

    from torch_geometric_unlearn.algorithm.unlearnrec import UnlearnRec
    from torch_geometric_unlearn.benchmark.registry import ALGORITHMS, build_algorithm
    assert 'unlearnrec-simgcl-val' in ALGORITHMS
    alg = build_algorithm('unlearnrec-simgcl-val', argparse.Namespace())
    assert isinstance(alg, UnlearnRec) and alg.finetune_epochs == 1
    assert (alg.lambda_u, alg.lambda_p, alg.sim_ratio, alg.temperature, alg.lr) == \
        (1.0, 0.03, 0.2, 1.0, 1e-2)
    alg = build_algorithm('unlearnrec-simgcl-val', argparse.Namespace(pretrain_epochs=2))
    assert alg.pretrain_epochs == 2 and alg.lambda_p == 0.03
    base = build_algorithm('unlearnrec', argparse.Namespace())  # unchanged class defaults
    assert (base.lambda_u, base.lambda_p, base.sim_ratio, base.temperature, base.lr) == \
        (1.0, 0.01, 0.1, 1.0, 1e-2)


def test_unlearnrec_bench_shares_pretraining_only_between_finetuning_variants():
    r"""``benchmarks/unlearnrec/bench.py`` reuses one pre-trained encoder for the UnlearnRec
    variants of a run: only those that differ in their fine-tuning epochs alone (a variant
    with other pre-training arguments used to get the first variant's encoder silently)."""
    import argparse
    import importlib.util
    from pathlib import Path

    from torch_geometric_unlearn.benchmark.registry import build_algorithm
    path = Path(__file__).resolve().parents[1] / 'benchmarks' / 'unlearnrec' / 'bench.py'
    spec = importlib.util.spec_from_file_location('unlearnrec_bench', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    key = {n: bench._pretraining_key(build_algorithm(n, argparse.Namespace()))
           for n in ('unlearnrec', 'unlearnrec-0', 'unlearnrec-3', 'unlearnrec-simgcl-val')}
    assert key['unlearnrec'] == key['unlearnrec-0'] == key['unlearnrec-3']
    assert key['unlearnrec-simgcl-val'] != key['unlearnrec']


def test_cli_link_prediction(tmp_path, monkeypatch):
    r"""``--task link_prediction``: each seed holds out validation/test edges, the encoder is
    trained on the training edges only, the request is drawn among them and Retrain trains
    without it; the records carry the test AUC and the link membership attack (removed edges'
    scores against held-out test edges') for Retrain and SGU."""
    from torch_geometric_unlearn.datasets import load_dataset
    from torch_geometric_unlearn.task.link import LinkPredictionTask
    seen = _spy_train(monkeypatch, LinkPredictionTask)
    out = tmp_path / 'r.json'
    main(['--dataset', 'cora', '--task', 'link_prediction', '--model', 'gcn', '--algorithms',
          'retrain,sgu', '--request', 'edge', '--count', '50', '--epochs', '40', '--hidden',
          '32', '--seeds', '3', '--out', str(out), '--quiet'])
    retrain, sgu = json.loads(out.read_text())
    split = LinkPredictionTask.split(load_dataset('cora'), seed=3)
    assert seen == [split.edge_index.size(1), split.edge_index.size(1) - 2 * 50]
    for r in (retrain, sgu):
        assert r['task'] == 'link_prediction' and r['num_removed'] == 50
        assert set(r['utility_after']) == {'auc'} and r['utility_after']['auc'] > 0.75
        assert r['mia_auc_before'] > 0.55  # the original model scores its edges higher
        assert 'held-out test edges' in r['mia_attack']
        assert r['edge_mia_auc'] is not None and r['mia_shadow_auc'] is None
        assert 'link_prediction' in r['mia_shadow_note']
    assert retrain['mia_auc'] == retrain['mia_auc_retrain']
    assert abs(retrain['mia_auc'] - 0.5) < abs(retrain['mia_auc_before'] - 0.5)
    assert sgu['mia_auc'] < sgu['mia_auc_before'] and sgu['speedup_vs_retrain'] > 1
    assert 0 <= sgu['agreement_with_retrain'] <= 1 and sgu['param_l2_to_retrain'] > 0


def test_cli_link_prediction_errors():
    base = ['--task', 'link_prediction', '--request', 'edge', '--epochs', '1']
    with pytest.raises(SystemExit, match='model-free'):
        main(base + ['--strategy', 'worst_case'])
    with pytest.raises(SystemExit, match='non-bipartite'):
        main(base + ['--dataset', 'bipartite:30,20,200', '--model', 'lightgcn'])
    with pytest.raises(SystemExit, match='full batch'):
        main(base + ['--batch-size', '64'])

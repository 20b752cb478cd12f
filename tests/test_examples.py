"""Every script in examples/ runs end to end with --smoke (as a user would run it: a fresh
process, from an unrelated working directory, without ../shared/data)."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / 'examples'
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob('*.py') if not p.name.startswith('_'))

#: One script per algorithm plus the two end-to-end pipelines.
REQUIRED = {'retrain.py', 'gif.py', 'graph_eraser.py', 'cge.py', 'scalegun.py', 'sgu.py',
            'node_classification_pipeline.py', 'recommendation_pipeline.py', 'unlearnrec.py'}
#: Extra arguments (relative paths land in the run's working directory).
EXTRA_ARGS = {'unlearnrec.py': ['--plot', 'scores.png']}


@pytest.fixture(scope='module')
def smoke_runs(tmp_path_factory):
    r"""Runs every example once, two processes at a time (CI has two cores)."""
    work = tmp_path_factory.mktemp('examples')
    env = dict(os.environ, OMP_NUM_THREADS='1', TGU_PROGRESS='0', TMPDIR=str(work),
               TGU_CACHE=str(work / 'cache'), TGU_SHARED_DATA=str(work / 'no-shared-data'),
               PYTHONWARNINGS='ignore')

    def run(name: str) -> subprocess.CompletedProcess:
        cwd = work / name[:-3]
        cwd.mkdir()
        return subprocess.run([sys.executable, str(EXAMPLES_DIR / name), '--smoke',
                               *EXTRA_ARGS.get(name, [])], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(EXAMPLES, pool.map(run, EXAMPLES))), work


def test_every_algorithm_has_an_example():
    assert REQUIRED <= set(EXAMPLES), f'missing examples: {sorted(REQUIRED - set(EXAMPLES))}'


@pytest.mark.parametrize('name', EXAMPLES)
def test_example_smoke(name, smoke_runs):
    runs, _ = smoke_runs
    proc = runs[name]
    assert proc.returncode == 0, f'{name} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}'
    assert proc.stdout.strip(), f'{name} printed nothing'
    assert 'nan' not in proc.stdout.lower().split(), proc.stdout


def test_unlearnrec_example_writes_the_score_plot(smoke_runs):
    pytest.importorskip('matplotlib')
    runs, work = smoke_runs
    assert runs['unlearnrec.py'].returncode == 0
    png = work / 'unlearnrec' / 'scores.png'
    assert png.exists() and png.read_bytes()[:4] == b'\x89PNG'

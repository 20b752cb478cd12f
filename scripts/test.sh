#!/usr/bin/env bash
# The test command: sets up ./.venv and runs the suite twice,
#   1. core path: without torch-sparse/torch-scatter (full-batch, torch.sparse);
#   2. sparse path: with them installed (NeighborLoader mini-batches), tests marked `sparse`.
# A run that collects no tests fails (pytest exit 5 is an error here).
# Pass 1 skips tests marked `slow` (the 100-request streams, whose figures are recorded in
# benchmarks/reliability); TGU_TEST_MARKERS="" bash scripts/test.sh runs them too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "test,ogb,plot"
PY=.venv/bin/python
export TMPDIR="${TMPDIR:-/tmp}/tgu-tests.$$"; mkdir -p "$TMPDIR"
export TGU_CACHE="$TMPDIR/cache"
# Pass 1: core, no compiled extensions.
$PY -m pip uninstall -q -y torch-sparse torch-scatter >/dev/null 2>&1 || true
# Build the sparse wheels in the background (into a folder, not the venv) while pass 1 runs.
WHEELS="$TMPDIR/sparse-wheels"
( bash scripts/install_sparse.sh "$WHEELS" > "$TMPDIR/sparse-install.log" 2>&1; echo $? > "$TMPDIR/sparse-install.rc" ) &
SPARSE_PID=$!
set +e
$PY -m pytest -q -p no:cacheprovider -m "${TGU_TEST_MARKERS:-not slow}" "$@"
rc=$?
set -e
wait $SPARSE_PID || true
if [ "$rc" -ne 0 ]; then echo "core test pass failed (pytest exit $rc)"; exit "$rc"; fi
if [ "$(cat "$TMPDIR/sparse-install.rc")" != "0" ]; then
  cat "$TMPDIR/sparse-install.log"; echo "installing the sparse extra failed"; exit 1
fi
bash scripts/install_sparse.sh --from "$WHEELS"
# Pass 2: with torch-sparse/torch-scatter; `sparse` tests fail (not skip) if they are missing.
set +e
TGU_REQUIRE_SPARSE=1 $PY -m pytest -q -p no:cacheprovider -m sparse "$@"
rc2=$?
set -e
if [ "$rc2" -ne 0 ]; then echo "sparse test pass failed (pytest exit $rc2)"; exit "$rc2"; fi
# The docs site (Sphinx, warnings as errors) must build too.
bash scripts/docs.sh

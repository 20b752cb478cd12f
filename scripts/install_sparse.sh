#!/usr/bin/env bash
# Installs the optional `sparse` extra (torch-scatter + torch-sparse) into ./.venv.
#   scripts/install_sparse.sh            build (or reuse pip's cache) and install
#   scripts/install_sparse.sh DIR        only build the wheels into DIR (no install)
#   scripts/install_sparse.sh --from DIR install the wheels found in DIR
# Only source distributions exist for torch 2.13: the first build takes ~10 min on 2 cores,
# later builds come from pip's wheel cache in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TGU_VENV:-.venv}"
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1 MAX_JOBS="${MAX_JOBS:-2}"
if [ "${1:-}" = "--from" ]; then
  $PIP install -q --no-index --find-links "$2" torch-scatter torch-sparse
  exit 0
fi
$PIP install -q setuptools wheel
if [ -n "${1:-}" ]; then
  $PIP wheel -q --no-deps --no-build-isolation -w "$1" torch-scatter torch-sparse
else
  $PIP install -q -c "$VENV/torch-constraint.txt" --no-build-isolation torch-scatter torch-sparse
fi

#!/usr/bin/env bash
# Creates/updates ./.venv with the package and the given extras (default: test,ogb,plot).
# On a machine without a GPU it installs the CPU build of torch first (constraints/cpu.txt) so
# nothing drags in CUDA. GPU users: install your torch build into the venv (or set
# TGU_TORCH_SPEC, e.g. "torch==2.13.0+cu126") before running this; an existing torch is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test,ogb,plot}"
PY="${PYTHON:-python3}"
VENV="${TGU_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
  $PIP install -q "${TGU_TORCH_SPEC:-torch==2.13.0}"
fi
TORCH_VERSION=$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
# Pin whatever torch is installed, so no dependency can replace it.
echo "torch==${TORCH_VERSION}" > "$VENV/torch-constraint.txt"
$PIP install -q -c "$VENV/torch-constraint.txt" -e ".[${EXTRAS}]"

#!/usr/bin/env bash
# The main job: sets up ./.venv (CPU torch) and runs the Cora unlearning demo offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "ogb,plot" >&2
exec .venv/bin/python -m torch_geometric_unlearn.demo "$@"

#!/usr/bin/env bash
# Builds the documentation site (Sphinx + MyST + autodoc) into docs/_build/html with warnings
# as errors. Installs the `docs` extra into ./.venv first when Sphinx or MyST is missing.
#   bash scripts/docs.sh            build (a full rebuild every time: -E, so -W sees every page)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TGU_VENV:-.venv}"
PY="$VENV/bin/python"
if ! "$PY" -c 'import sphinx, myst_parser, sphinx_rtd_theme' >/dev/null 2>&1; then
  bash scripts/setup.sh "docs" >&2
fi
rm -rf docs/api/generated  # autosummary stubs: regenerated, so removed modules leave none
export TGU_PROGRESS=0 TMPDIR="${TMPDIR:-/tmp}"
start=$(date +%s)
"$PY" -m sphinx -W --keep-going -E -q -b html docs docs/_build/html
echo "docs built in $(( $(date +%s) - start )) s: docs/_build/html/index.html"

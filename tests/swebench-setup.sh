#!/usr/bin/env bash
# The reference SWE-bench harness (PyPI `swebench==4.1.0`, the last release with the
# repository specs in code) in a venv under ~/.cache/plinth, for the differential tests
# of plugins/swebench. Idempotent; prints the venv's python, which the tests read from
# PLINTH_SWEBENCH_PYTHON:
#
#   export PLINTH_SWEBENCH_PYTHON="$(tests/swebench-setup.sh)"
set -euo pipefail

VERSION=4.1.0
VENV="${PLINTH_SWEBENCH_VENV:-$HOME/.cache/plinth/swebench-venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.swebench-$VERSION"

if [ ! -f "$STAMP" ]; then
    PYTHON="${PYTHON:-python3}"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check "swebench==$VERSION" >&2
    # The parsers and the grading are what the tests call: check they import.
    "$PY" -c 'import swebench.harness.log_parsers, swebench.harness.grading' >&2
    touch "$STAMP"
fi
echo "$PY"

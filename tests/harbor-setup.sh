#!/usr/bin/env bash
# Harbor itself (PyPI `harbor`, pinned), in a venv under ~/.cache/plinth: the reference for
# task.toml, task directories, rewards and ATIF that plinth-harbor and the atif formatter are
# compared with. Harbor needs Python >= 3.12: $PYTHON, else the first python3.12/3.13 found
# (pyenv's included). Idempotent; prints the venv's python, which the tests read from
# PLINTH_HARBOR_PYTHON:
#
#   export PLINTH_HARBOR_PYTHON="$(tests/harbor-setup.sh)"
set -euo pipefail

VERSION=0.26.0
VENV="${PLINTH_HARBOR_VENV:-$HOME/.cache/plinth/harbor-venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.harbor-$VERSION"

find_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    for candidate in python3.13 python3.12 \
        "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    echo "harbor-setup: Harbor needs Python >= 3.12 and none was found (set PYTHON)" >&2
    exit 1
}

if [ ! -f "$STAMP" ]; then
    python="$(find_python)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$python" -m venv "$VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check "harbor==$VERSION" >&2
    # What the tests call: the models, the task loader, the verifier and the CLI.
    "$PY" -c 'import harbor.models.trajectories, harbor.models.task.task, harbor.verifier.verifier' >&2
    "$VENV/bin/harbor" --help >/dev/null
    touch "$STAMP"
fi
echo "$PY"

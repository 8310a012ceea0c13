#!/usr/bin/env bash
# Builds the SWE-bench conformance set's environments (README.md beside this file):
# for each row of instances.jsonl, the source repository rebuilt from its PyPI sdist at
# base_commit and a venv with the spec's packages, under
#   ${PLINTH_SWEBENCH_CONFORMANCE_CACHE:-~/.cache/plinth/swebench-conformance}/<instance_id>/{repo,venv}
# Idempotent: an instance whose row, environment entry and build.py are unchanged is
# not rebuilt. Arguments: instance ids to build (default: all); --force to rebuild.
# Needs: python3.11, git, patch, and PyPI. Prints the cache directory on success.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PLINTH_SWEBENCH_CONFORMANCE_CACHE:-$HOME/.cache/plinth/swebench-conformance}"
export PLINTH_SWEBENCH_CONFORMANCE_CACHE="$CACHE"
mkdir -p "$CACHE"

# The reference harness (swebench 4.1.0) whose specs, eval scripts and parsers are used.
SWEBENCH_PY="$("$HERE/../../swebench-setup.sh")"

# pip (for sdist downloads) and uv (dated resolution: --exclude-newer) in a tools venv.
if [ ! -x "$CACHE/tools/bin/uv" ]; then
    rm -rf "$CACHE/tools"
    "${PYTHON:-python3.11}" -m venv "$CACHE/tools" >&2
    "$CACHE/tools/bin/pip" install --quiet --disable-pip-version-check "uv==0.13.9" >&2
fi

command -v patch >/dev/null || { apt-get update -qq && apt-get install -y -qq patch; } >&2

"$SWEBENCH_PY" "$HERE/build.py" "$@" >&2
echo "$CACHE"

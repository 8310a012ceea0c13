#!/usr/bin/env bash
# Builds command.wasm (a plinth:plugin@0.2.0 scorer) with componentize-py:
#   pip install componentize-py && examples/plugins/command-scorer/build.sh [OUT.wasm]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../../.."
out="${1:-$here/command.wasm}"
componentize-py -d "$root/wit/0.2.0" -w scorer-plugin componentize \
    -p "$here" -p "$root/plugins/sdk-python" app -o "$out"

#!/usr/bin/env bash
# Builds {{name}}.wasm, a plinth:plugin@0.2.0 {{kind}} component.
# Needs: pip install componentize-py
set -euo pipefail
cd "$(dirname "$0")"
out="$(realpath -m "${1:-{{name}}.wasm}")"
componentize-py -d wit -w {{world}} componentize -p . app -o "$out"

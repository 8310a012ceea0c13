#!/usr/bin/env bash
# Builds {{name}}.wasm, a plinth:plugin@0.2.0 {{kind}} component.
# Needs: npm install -g @bytecodealliance/componentize-js
set -euo pipefail
cd "$(dirname "$0")"
out="$(realpath -m "${1:-{{name}}.wasm}")"
# `-d http -d fetch-event`: without them the component imports wasi:http,
# which no plinth world allows.
componentize-js plugin.js --wit wit --world-name {{world}} -d http -d fetch-event -o "$out"

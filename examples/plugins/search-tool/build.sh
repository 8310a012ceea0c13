#!/usr/bin/env bash
# Builds search.wasm (a plinth:plugin@0.2.0 tool) with componentize-js:
#   npm install -g @bytecodealliance/componentize-js && examples/plugins/search-tool/build.sh [OUT.wasm]
# componentize-js resolves relative imports within one directory, so the
# tool and the SDK module are staged together first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../../.."
out="$(realpath -m "${1:-$here/search.wasm}")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$here/tool.js" "$root/plugins/sdk-js/plinth-sdk.js" "$stage/"
cd "$stage"
# Without `-d http -d fetch-event` the component imports wasi:http, which a
# tool may not.
componentize-js tool.js --wit "$root/wit/0.2.0" --world-name tool-plugin \
    -d http -d fetch-event -o "$out"

#!/usr/bin/env bash
# plinth's test suite: installs what the tests need, then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

# Plugins and test guests are WebAssembly components built for this target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

# The default members: the host (unit and end-to-end tests), the mock LLM
# server, and the native helper crates. Guests are built by the tests.
cargo test "$@"

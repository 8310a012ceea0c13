#!/usr/bin/env bash
# Builds {{name}}.wasm, a plinth:plugin@0.2.0 {{kind}} component.
# Needs: rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --target wasm32-wasip2
cp "$target/wasm32-wasip2/release/{{crate}}.wasm" "${1:-{{name}}.wasm}"

#!/usr/bin/env bash
# Figures for plugins in Rust, Python and JavaScript, one command: builds the
# same `plinth new tool` project in each language with its own build.sh, then
# prints size, first-load compile, cached load and instantiate + call latency
# (host/plinth/benches/guests.rs).
#
#   bench/guests.sh          # release build of the host (as users run it)
#   bench/guests.sh --dev    # the dev profile (quicker to build; slower calls)
#
# Needs componentize-py and componentize-js (tests/run.sh installs them) and
# the wasm32-wasip2 Rust target.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = --dev ]; then profile=dev; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
args=()
for lang in rust python js; do
    cargo run -q -p plinth --profile "$profile" -- new tool "bench-$lang" --lang "$lang" \
        --dir "$work/$lang" >/dev/null
    echo "bench: building the $lang tool" >&2
    # The Rust project builds outside this workspace, into its own target dir.
    (cd "$work/$lang" && CARGO_TARGET_DIR="$work/target" ./build.sh "$work/$lang.wasm" >"$work/$lang.log" 2>&1) || { cat "$work/$lang.log" >&2; exit 1; }
    args+=("$lang=$work/$lang.wasm")
done
cargo bench -q -p plinth --profile "$profile" --bench guests -- "${args[@]}"

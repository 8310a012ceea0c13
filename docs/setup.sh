#!/usr/bin/env bash
# Installs the mdBook that builds the book (docs/) into a cached root, and prints
# the binary's path. Idempotent: a second call with the pinned version present
# does nothing. crates.io only (CI cannot reach GitHub releases), so it compiles
# mdbook from source: ~4 minutes on two busy cores, once per cache.
#
#   MDBOOK=$(docs/setup.sh)      # then: "$MDBOOK" build docs
#
# PLINTH_TOOLS (default ~/.cache/plinth/tools) is the install root.
set -euo pipefail

version=0.5.4
root="${PLINTH_TOOLS:-$HOME/.cache/plinth/tools}"
bin="$root/bin/mdbook"

if [[ -x "$bin" ]] && [[ "$("$bin" --version)" == "mdbook v$version" ]]; then
    echo "$bin"
    exit 0
fi

mkdir -p "$root"
# No `serve`/`watch` (a web server and a file watcher the build does not use):
# fewer crates to compile. `search` keeps the book's search box.
echo "docs/setup.sh: installing mdbook $version into $root (compiles from crates.io)" >&2
start=$SECONDS
CARGO_TARGET_DIR="$root/build" nice -n 15 cargo install mdbook --locked --version "$version" \
    --no-default-features --features search --root "$root" --quiet >&2
rm -rf "$root/build"
echo "docs/setup.sh: mdbook $version installed in $((SECONDS - start)) s" >&2
echo "$bin"

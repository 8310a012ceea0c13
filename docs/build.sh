#!/usr/bin/env bash
# Builds the book (docs/book/) and checks it: mdBook must print no warning,
# and every link between its pages and every #anchor must resolve
# (check_links.py). Installs the pinned mdBook first when it is missing
# (setup.sh: a few minutes, once per cache).
#
#   docs/build.sh
set -euo pipefail
cd "$(dirname "$0")"

mdbook="$(./setup.sh)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "$mdbook" build . 2>"$log"; then
    cat "$log" >&2
    echo "docs/build.sh: mdbook build failed" >&2
    exit 1
fi
# mdBook reports problems (a missing include, an unclosed fence in a chapter,
# a preprocessor's complaint) as WARN lines and still exits 0.
if grep -E '\b(WARN|ERROR)\b' "$log" >&2; then
    echo "docs/build.sh: mdbook build printed warnings (above)" >&2
    exit 1
fi
python3 check_links.py book

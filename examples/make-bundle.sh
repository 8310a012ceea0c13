#!/usr/bin/env bash
# Rebuilds minicalc.bundle (the git repository the example tasks use) from
# the sources in minicalc/. The commit is deterministic (fixed author and
# dates), so tasks.jsonl's base_commit stays valid while the sources do not
# change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/minicalc/." "$work/"
cd "$work"
find . -name __pycache__ -prune -exec rm -rf {} +
git init -q -b main
git add -A
GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
    git -c user.name=plinth -c user.email=plinth@example.com -c commit.gpgsign=false \
    commit -q -m "minicalc: statistics helpers (with three bugs)"
git bundle create -q "$here/minicalc.bundle" main
git rev-parse HEAD

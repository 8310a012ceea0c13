#!/usr/bin/env bash
# Quick end-to-end check of the real llama-server that tests/llama-setup.sh caches: starts it on
# a free loopback port, waits for /health, makes one native tool call, one context overflow and
# one streamed chat, then stops it. Exits nonzero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
eval "$("$here/../llama-setup.sh")"
exec python3 "$here/smoke.py"

#!/usr/bin/env bash
# Adapter from ../shared/bench/run_peers.py's runner contract
#   --prompts P --base-url URL --out DIR --workers W --max-steps M --cwd DIR
# to `plinth run`. `exec`, so the harness measures plinth itself. The Hermes
# format (plinth's default) has the `completed` and `api_calls` the harness
# counts, like hermes-agent's own runner writes. `--shell persistent|fresh`
# (plinth's own flag) is passed on; without it plinth's default applies.
set -euo pipefail
plinth="${PLINTH_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/plinth}"
prompts='' base_url='' out='' workers=1 max_steps=15 cwd='' shell=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prompts) prompts="$2" ;;
        --base-url) base_url="$2" ;;
        --out) out="$2" ;;
        --workers) workers="$2" ;;
        --max-steps) max_steps="$2" ;;
        --cwd) cwd="$2" ;;
        --shell) shell=(--shell "$2") ;;
        *) echo "plinth_runner.sh: unknown argument $1" >&2; exit 64 ;;
    esac
    shift 2
done
mkdir -p "$out"
exec "$plinth" run --prompts-file "$prompts" --output-file "$out/trajectories.jsonl" \
    --base-url "$base_url" --api-key mock-key --model mock --format hermes \
    --concurrency "$workers" --max-iterations "$max_steps" --cwd "$cwd" "${shell[@]}"

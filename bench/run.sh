#!/usr/bin/env bash
# plinth's benchmark, one command: prints a table and a JSON blob, and writes
# bench/results/latest.json.
#
#   bench/run.sh                 # plugin runtime (issue 2) + agent loop (issue 3) figures
#   bench/run.sh --quick         # fewer calls/tasks, one repeat (a quick look)
#   bench/run.sh --peers         # also run ../shared/bench/run_peers.py with plinth plugged in
#                                # (installs mini-swe-agent and hermes-agent into /tmp/peers; slow)
#   bench/run.sh --no-build      # use the binaries already in target/release
# Any other argument goes to bench/bench.py (e.g. --repeat 5, --k 10, --peers-repeat 3).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=() build=1 driver_args=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick); driver_args+=(--quick) ;;
        --no-build) build=0 ;;
        *) driver_args+=("$arg") ;;
    esac
done

# 1,000 trajectories in flight hold ~1,000 connections plus a pipe per
# running command: raise the open-files limit as far as allowed.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
if [ "$(ulimit -n)" -lt 8192 ]; then
    echo "bench: warning: open-files limit is $(ulimit -n); the 1,000-in-flight run may fail" >&2
fi

mkdir -p bench/results
if [ "$build" = 1 ]; then
    echo "bench: building release binaries" >&2
    cargo build --release -p plinth -p plinth-mock-llm >&2
fi

echo "bench: plugin runtime figures (host/benches/plugins.rs)" >&2
cargo bench -p plinth --bench plugins -- "${quick[@]}" --json "$PWD/bench/results/plugins.json" >/dev/null

exec python3 bench/bench.py --plugins-json bench/results/plugins.json \
    --plinth target/release/plinth --mock target/release/plinth-mock-llm "${driver_args[@]}"

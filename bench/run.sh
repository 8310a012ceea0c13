#!/usr/bin/env bash
# plinth's benchmark, one command: prints a table and a JSON blob, and writes
# bench/results/latest.json.
#
#   bench/run.sh                 # plugin runtime, agent loop with --shell persistent and fresh,
#                                # the no-process tool, 1,000 x 11 in flight, and CPU per step
#                                # beside the stdlib Python floor (../shared/bench/run_peers.py)
#   bench/run.sh --quick         # fewer calls/tasks, one repeat (a quick look)
#   bench/run.sh --peers         # the whole peer table with ratios: mini-swe-agent and Hermes too
#                                # (installs them into /tmp/peers; slow)
#   bench/run.sh --no-build      # use the binaries already built
# Binaries are taken from $CARGO_TARGET_DIR (default target/).
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
target="${CARGO_TARGET_DIR:-target}"
if [ "$build" = 1 ]; then
    echo "bench: building release binaries and the no-process tool" >&2
    cargo build --release -p plinth -p plinth-mock-llm >&2
    cargo build --release --target wasm32-wasip2 -p plinth-bench-noop >&2
fi

echo "bench: plugin runtime figures (host/plinth/benches/plugins.rs)" >&2
cargo bench -p plinth --bench plugins -- "${quick[@]}" --json "$PWD/bench/results/plugins.json" >/dev/null

exec python3 bench/bench.py --plugins-json bench/results/plugins.json \
    --plinth "$target/release/plinth" --mock "$target/release/plinth-mock-llm" \
    --noop-tool "$target/wasm32-wasip2/release/plinth_bench_noop.wasm" "${driver_args[@]}"

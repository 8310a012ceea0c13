#!/usr/bin/env bash
# Sharding's cost, one command: a 300-task batch (mock LLM at 200 ms per
# reply, 2 work steps per task, local sandbox) run directly, as 1 shard and
# as 3 shards of a Slurm job array on the one-node cluster of
# tests/slurm-setup.sh, each merged with `plinth merge`. Every variant keeps
# the same trajectories in flight (--concurrency 30 in total). On one
# machine no speed-up is expected: the figures are the overhead of
# scheduling, sharding and merging.
#
#   bench/shards.sh [--no-build] [--tasks N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
build=1 tasks=300
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --tasks) tasks="$2"; shift ;;
        *) echo "bench/shards.sh: unknown argument $1" >&2; exit 64 ;;
    esac
    shift
done
if [ "$build" = 1 ]; then
    cargo build --release -p plinth -p plinth-mock-llm >&2
fi
plinth="$target/release/plinth"
tests/slurm-setup.sh >&2

work=$(mktemp -d /tmp/plinth-shards-bench.XXXXXX)
trap 'kill "$mock_pid" 2>/dev/null || true; scancel --name plinth-bench >/dev/null 2>&1 || true' EXIT
"$target/release/plinth-mock-llm" --port 0 --latency-ms 200 --steps 2 >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$work/mock.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "the mock did not start: $(cat "$work/mock.log")" >&2; exit 1; }
python3 - "$work/tasks.jsonl" "$tasks" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"id": f"task-{i:04d}", "prompt": f"bench task {i}"}) + "\n")
PY
run_flags=(--base-url "http://127.0.0.1:$port/v1" --api-key mock --model mock
    --prompts-file "$work/tasks.jsonl" --format canonical --max-iterations 10)

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# Directly, one process.
start=$(now)
"$plinth" run "${run_flags[@]}" --concurrency 30 --output-file "$work/direct/run.jsonl" 2>"$work/direct.log"
direct=$(elapsed "$start" "$(now)")

# As a job array of N shards, then merged.
array() {
    local n=$1 dir="$work/slurm-$1"
    mkdir -p "$dir/logs"
    "$plinth" slurm script --shards "$n" --job-name plinth-bench --logs "$dir/logs" \
        --plinth "$plinth" -- "${run_flags[@]}" --concurrency $((30 / n)) \
        --output-file "$dir/run.jsonl" >"$dir/batch.sbatch"
    local start job
    start=$(now)
    job=$(sbatch --parsable "$dir/batch.sbatch")
    while [ -n "$(squeue -h -j "$job" -o %i)" ]; do sleep 0.1; done
    local ran
    ran=$(elapsed "$start" "$(now)")
    start=$(now)
    "$plinth" merge "$dir"/run.shard-*-of-"$n".jsonl --input "$work/tasks.jsonl" -o "$dir/merged.jsonl" 2>"$dir/merge.log"
    echo "$ran $(elapsed "$start" "$(now)") $(wc -l <"$dir/merged.jsonl")"
}
read -r one_ran one_merge one_records < <(array 1)
read -r three_ran three_merge three_records < <(array 3)

cat <<TABLE
sharding bench: $tasks tasks x 3 model calls at 200 ms, local sandbox, 30 in flight in total
  variant                    wall (s)   merge (s)   records
  direct plinth run          $direct       -           $(wc -l <"$work/direct/run.jsonl")
  slurm array, 1 shard       $one_ran       $one_merge        $one_records
  slurm array, 3 shards      $three_ran       $three_merge        $three_records
(the one-node cluster has $(nproc) CPUs: array tasks of 1 CPU each beyond that wait their turn)
TABLE

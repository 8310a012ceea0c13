#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with AFL++ (cargo-afl, stable Rust)
# for a fixed budget each, then prints executions and findings per target.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 600 s, all)
#
# Targets run two at a time (one per core of the machines we measure on);
# set FUZZ_JOBS to change that. The instrumented build and AFL++'s state live
# in $FUZZ_DIR (default ~/.cache/plinth/fuzz): a second run resumes from the
# queue the first one left. A finding is copied to tests/fuzz/findings/TARGET/;
# once fixed, move it to tests/fuzz/regressions/TARGET/ so the test suite
# replays it for good. Exits 1 if any target found a crash or a hang.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
budget="${1:-600}"
shift || true
jobs="${FUZZ_JOBS:-2}"
state="${FUZZ_DIR:-$HOME/.cache/plinth/fuzz}"
mkdir -p "$state"

if ! command -v cargo-afl >/dev/null; then
    echo "installing cargo-afl (builds AFL++ from its bundled sources)"
    cargo install --locked cargo-afl
fi
# AFL++'s runtime is built once per rustc version.
cargo afl config --build >/dev/null 2>&1 || true

echo "building the instrumented harness (release, in $state/target)"
(cd "$root" && CARGO_TARGET_DIR="$state/target" cargo afl build --release -p plinth-fuzz)
harness="$state/target/release/plinth-fuzz"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for dir in "$here"/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

# No core-dump helper, no CPU-frequency governor, no UI: what a CI box or a
# container allows. Timeouts: an input that takes over 1 s is a hang.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_SKIP_CRASHES=1 AFL_NO_AFFINITY=1 AFL_FAST_CAL=1

fuzz_one() {
    local target="$1" out="$state/out/$1" input="$here/corpus/$1"
    mkdir -p "$out"
    # `-i -` resumes from the queue of an earlier run.
    [ -d "$out/default/queue" ] && input=-
    cargo afl fuzz -V "$budget" -t 1000 -m none -i "$input" -o "$out" \
        -- "$harness" "$target" >"$state/$target.log" 2>&1 || {
        echo "$target: afl-fuzz failed; see $state/$target.log" >&2
        tail -20 "$state/$target.log" >&2
        return 1
    }
}

echo "fuzzing ${#targets[@]} targets for ${budget}s each, $jobs at a time"
pids=()
for target in "${targets[@]}"; do
    fuzz_one "$target" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done

found=0
printf '\n%-16s %12s %10s %8s %8s %7s\n' target execs execs/s corpus crashes hangs
for target in "${targets[@]}"; do
    stats="$state/out/$target/default/fuzzer_stats"
    [ -f "$stats" ] || { printf '%-16s (no stats)\n' "$target"; failed=1; continue; }
    val() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    crashes="$(val saved_crashes)" hangs="$(val saved_hangs)"
    printf '%-16s %12s %10s %8s %8s %7s\n' "$target" "$(val execs_done)" \
        "$(val execs_per_sec)" "$(val corpus_count)" "$crashes" "$hangs"
    if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
        found=1
        mkdir -p "$here/findings/$target"
        for f in "$state/out/$target"/default/{crashes,hangs}/id:*; do
            [ -f "$f" ] && cp "$f" "$here/findings/$target/$(basename "$(dirname "$f")")-$(basename "$f" | tr ':,' '__')"
        done
    fi
done
if [ "$found" = 1 ]; then
    echo "findings copied to $here/findings/ (reproduce: cargo run -p plinth-fuzz -- TARGET FILE)"
fi
[ "$failed" = 0 ] && [ "$found" = 0 ]

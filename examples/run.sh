#!/usr/bin/env bash
# plinth's main job on the example environment bundle (examples/, its manifest
# examples/plinth-env.toml), offline: three SWE-style tasks on the minicalc
# repository (examples/minicalc.bundle), each in a fresh git worktree, driven
# by a replayed agent (examples/trajectories.jsonl) whose commands really run,
# then graded by the built-in pytest scorer in a clean checkout.
#
#   examples/run.sh                                   # offline, replayed agent
#   examples/run.sh --base-url URL --model NAME       # the same tasks, a real model
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest
fi

out="${PLINTH_EXAMPLE_OUT:-examples/output}"
mkdir -p "$out"
model=(--model "replay:examples/trajectories.jsonl")
if [ $# -gt 0 ]; then model=("$@"); fi

cargo build --release --quiet -p plinth
plinth="${CARGO_TARGET_DIR:-target}/release/plinth"

# examples/ is an environment bundle (examples/plinth-env.toml): its tasks,
# system template, pytest scorer and canonical output.
"$plinth" run \
    --environment examples \
    "${model[@]}" \
    --output-file "$out/trajectories.jsonl" \
    --concurrency 3 >/dev/null

# The same records in Hermes' format, for SFT pipelines.
"$plinth" format --format hermes --input "$out/trajectories.jsonl" --output "$out/hermes.jsonl"

python3 - "$out/trajectories.jsonl" <<'PY'
import json, sys
print(f"\n{'task':<18} {'exit status':<14} {'reward':>6} {'f2p':>5} {'p2p':>5}  patch")
for line in open(sys.argv[1]):
    t = json.loads(line)
    s = t.get("score") or {}
    sub = s.get("sub_scores", {})
    patch = t.get("patch") or ""
    files = [l[6:] for l in patch.splitlines() if l.startswith("+++ b/")]
    print(f"{t['id']:<18} {t['exit_status']:<14} {s.get('reward', '-'):>6} "
          f"{sub.get('f2p', '-'):>5} {sub.get('p2p', '-'):>5}  {', '.join(files) or '-'}")
PY
echo
echo "canonical records: $out/trajectories.jsonl   hermes: $out/hermes.jsonl"

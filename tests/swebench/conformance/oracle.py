#!/usr/bin/env python3
"""The oracle: the SWE-bench harness (swebench 4.1.0) itself grades each conformance
instance with the gold patch, the empty patch and the test patch alone (as the model
patch), in the environments setup.sh built, and writes expected.json.

What is the harness's own, unchanged: `make_test_spec(row).eval_script`, the patch
application cascade `GIT_APPLY_CMDS` (git apply --verbose, then --reject, then
patch --batch --fuzz=5 -p1 -i), the eval script's output as the test log,
`get_logs_eval` and `get_eval_report(..., include_tests_status=True)`.

What is replaced, narrowly (each a whole-line match, checked to happen):
- `source /opt/miniconda3/bin/activate` -> `source <venv>/bin/activate`;
  `conda activate testbed` -> removed (the venv is the environment);
- `cd /testbed` -> `cd <repo>`, and `/testbed` in the
  `git config --global --add safe.directory /testbed` line -> `<repo>`.
The script runs as `bash eval.sh` with stdout and stderr in one log, like the harness's
`exec_run`, with HOME set to a directory of the instance so that its
`git config --global` does not touch the user's configuration.

The harness does not evaluate an empty patch at all (run_evaluation drops it and the
report counts it unresolved): the `empty` case records that verdict, and also runs the
eval script on the untouched repository so that its test statuses can be compared.

Usage: oracle.py [--out expected.json] [instance_id ...]   (run with the swebench venv's
python; setup.sh must have built the instances).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from local_env import HERE, instance_dir, load_rows, serve_repo_files_from

from swebench.harness.constants import KEY_INSTANCE_ID, KEY_MODEL, KEY_PREDICTION
from swebench.harness.grading import get_eval_report
from swebench.harness.run_evaluation import GIT_APPLY_CMDS
from swebench.harness.test_spec.test_spec import make_test_spec

CASES = ("gold", "empty", "test_patch")
TIMEOUT = 1800


def local_eval_script(script: str, repo: Path, venv: Path) -> str:
    out, replaced = [], {"activate": 0, "conda": 0, "cd": 0, "safe": 0}
    for line in script.split("\n"):
        if line == "source /opt/miniconda3/bin/activate":
            line, replaced["activate"] = f"source {venv}/bin/activate", replaced["activate"] + 1
        elif line == "conda activate testbed":
            replaced["conda"] += 1
            continue
        elif line == "cd /testbed":
            line, replaced["cd"] = f"cd {repo}", replaced["cd"] + 1
        elif line == "git config --global --add safe.directory /testbed":
            line, replaced["safe"] = f"git config --global --add safe.directory {repo}", replaced["safe"] + 1
        out.append(line)
    if not all(replaced.values()):
        raise RuntimeError(f"eval script changed shape, replacements made: {replaced}")
    text = "\n".join(out)
    if "/testbed" in text or "miniconda" in text:
        raise RuntimeError("eval script still names /testbed or conda after the replacements")
    return text


def fresh(repo: Path, head: str) -> None:
    subprocess.run(["git", "reset", "-q", "--hard", head], cwd=repo, check=True)
    subprocess.run(["git", "clean", "-qfdx"], cwd=repo, check=True)


def apply_patch(repo: Path, patch_file: Path) -> tuple[bool, str, str]:
    """The harness's cascade; returns (applied, command that did, its output)."""
    output = ""
    for cmd in GIT_APPLY_CMDS:
        p = subprocess.run([*shlex.split(cmd), str(patch_file)], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = p.stdout.decode(errors="replace")
        if p.returncode == 0:
            return True, cmd, output
    return False, "", output


def run_case(row: dict, case: str, state: dict, spec) -> dict:
    iid = row["instance_id"]
    d = instance_dir(iid)
    repo, venv = d / "repo", d / "venv"
    work = d / "oracle" / case
    work.mkdir(parents=True, exist_ok=True)
    home = d / "home"
    home.mkdir(exist_ok=True)
    model_patch = {"gold": row["patch"], "empty": "", "test_patch": row["test_patch"]}[case]
    pred = {KEY_INSTANCE_ID: iid, KEY_MODEL: f"oracle-{case}", KEY_PREDICTION: model_patch}

    started = time.monotonic()
    fresh(repo, state["head"])
    result = {"harness_evaluates": case != "empty"}
    if case != "empty":
        patch_file = work / "patch.diff"
        patch_file.write_text(model_patch)
        applied, how, output = apply_patch(repo, patch_file)
        result["patch_applied_by"] = how
        if not applied:
            # The harness raises EvaluationError: no report, the instance is unresolved.
            result.update(resolved=False, error="patch did not apply", apply_output=output[-2000:])
            return result
    eval_sh = work / "eval.sh"
    eval_sh.write_text(local_eval_script(spec.eval_script, repo, venv))
    eval_started = time.monotonic()
    try:
        p = subprocess.run(["/bin/bash", str(eval_sh)], cwd=repo, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT,
                           env={**os.environ, "HOME": str(home)})
        log = p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        log = (e.stdout or b"").decode(errors="replace") + f"\n\nTimeout error: {TIMEOUT} seconds exceeded."
        result["timed_out"] = True
    eval_seconds = time.monotonic() - eval_started
    log_path = work / "test_output.txt"
    log_path.write_text(log)
    report = get_eval_report(test_spec=spec, prediction=pred, test_log_path=str(log_path),
                             include_tests_status=True)[iid]
    result.update(
        resolved=report["resolved"] if case != "empty" else False,
        resolved_if_evaluated=report["resolved"],
        patch_successfully_applied=report["patch_successfully_applied"],
        tests_status=report.get("tests_status"),
        eval_script_seconds=round(eval_seconds, 1),
        grading_seconds=round(time.monotonic() - started, 1),
    )
    fresh(repo, state["head"])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description="SWE-bench harness oracle for the conformance set")
    ap.add_argument("instances", nargs="*")
    ap.add_argument("--out", default=str(HERE / "expected.json"))
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    out = Path(args.out)
    expected = json.loads(out.read_text()) if out.exists() else {}
    rows = [r for r in load_rows() if not args.instances or r["instance_id"] in args.instances]
    bad = 0
    for row in rows:
        iid = row["instance_id"]
        state = json.loads((instance_dir(iid) / "state.json").read_text())
        serve_repo_files_from(instance_dir(iid) / "repo")
        spec = make_test_spec(row)
        entry = expected.get(iid, {})
        entry.update(repo=row["repo"], version=row["version"], sdist=state["sdist"],
                     source_state=state["mode"], python=state["python"],
                     setup_seconds=state["setup_seconds"])
        for case in args.cases.split(","):
            entry[case] = run_case(row, case, state, spec)
            r = entry[case]
            print(f"{iid} {case}: resolved={r['resolved']} "
                  f"(eval {r.get('eval_script_seconds')}s)", flush=True)
        ok = entry["gold"]["resolved"] and not entry["empty"]["resolved"] and not entry["test_patch"]["resolved"] \
            if all(c in entry for c in CASES) else None
        entry["as_expected"] = ok
        bad += ok is False
        expected[iid] = entry
        out.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

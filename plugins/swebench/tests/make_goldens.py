"""Golden files for plinth-swebench, written by the reference package (swebench 4.1.0):

    $(tests/swebench-setup.sh) plugins/swebench/tests/make_goldens.py

- `golden/logs.json`: for every log under `logs/`, what `get_logs_eval` returns with each
  of the seven Python parsers (the status map and whether it was "found", or the
  exception the parser raised), and the `report.json` `get_eval_report` writes for test
  lists drawn from the log's own tests (plus one the log lacks).
- `golden/eval_scripts.json`: for one row per repository version of
  `MAP_REPO_VERSION_TO_SPECS` (a test patch that modifies, adds and deletes files, and
  touches a non-test extension), the `TestSpec.eval_script` the harness writes.
"""

import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import swebench
from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS
from swebench.harness.constants.python import MAP_REPO_VERSION_TO_SPECS_PY
from swebench.harness.grading import get_eval_report, get_logs_eval
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY
from swebench.harness.test_spec.create_scripts import make_eval_script_list
from swebench.harness.test_spec.test_spec import TestSpec

HERE = Path(__file__).resolve().parent
# The log directory's format: the parser whose report is recorded.
NATIVE = {"django": "django", "sympy": "sympy", "pytest": "pytest"}


def parsers():
    """Parser name -> a repository graded with it (get_logs_eval looks the parser up)."""
    out = {}
    for repo, func in sorted(MAP_REPO_TO_PARSER_PY.items()):
        out.setdefault(func.__name__[len("parse_log_"):], repo)
    return out


def spec_for(repo):
    versions = MAP_REPO_VERSION_TO_SPECS[repo]
    return SimpleNamespace(repo=repo, version=next(iter(versions)))


def log_goldens():
    by_parser = parsers()
    out = {}
    for path in sorted((HERE / "logs").glob("*/*.txt")):
        name = str(path.relative_to(HERE / "logs"))
        entry = {"parsers": {}}
        for parser, repo in by_parser.items():
            try:
                status_map, found = get_logs_eval(spec_for(repo), str(path))
                entry["parsers"][parser] = {"found": found, "status_map": status_map}
            except Exception as e:  # the harness's own failure, recorded as such
                entry["parsers"][parser] = {"error": type(e).__name__}
        native = NATIVE[path.parent.name]
        result = entry["parsers"][native]
        if "status_map" in result:
            tests = sorted(result["status_map"])
            f2p = tests[::3][:40] + ["tests/does_not_exist.py::test_missing"]
            p2p = [t for t in tests if t not in f2p][:60]
            test_spec = SimpleNamespace(
                instance_id="golden__log", repo=by_parser[native],
                version=spec_for(by_parser[native]).version,
                FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p,
            )
            report = get_eval_report(
                test_spec, {"instance_id": "golden__log", "model_patch": "x"}, str(path), True
            )
            entry["report"] = {"parser": native, "FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p,
                               "report_json": json.dumps(report, indent=4)}
        out[name] = entry
    return out


TEST_PATCH = """diff --git a/{test} b/{test}
index 1111111..2222222 100644
--- a/{test}
+++ b/{test}
@@ -1,3 +1,4 @@
 import os
+import sys
 
 def test_one():
diff --git a/{new} b/{new}
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/{new}
@@ -0,0 +1,2 @@
+def test_new():
+    pass
diff --git a/{data} b/{data}
index 4444444..5555555 100644
--- a/{data}
+++ b/{data}
@@ -1 +1 @@
-a
+b
diff --git a/{gone} b/{gone}
deleted file mode 100644
index 6666666..0000000
--- a/{gone}
+++ /dev/null
@@ -1 +0,0 @@
-x
"""


def script_goldens():
    rows = []
    for repo, versions in MAP_REPO_VERSION_TO_SPECS_PY.items():
        for version, spec in versions.items():
            if "test_cmd" not in spec or not isinstance(spec["test_cmd"], str):
                continue
            owner, name = repo.split("/")
            test_dir = "tests" if repo == "django/django" else f"{name}/tests"
            test_patch = TEST_PATCH.format(
                test=f"{test_dir}/test_golden.py", new=f"{test_dir}/sub/test_added.py",
                data=f"{test_dir}/data/expected.json", gone=f"{test_dir}/test_removed.py",
            )
            instance = {
                "instance_id": f"{owner}__{name}-{len(rows)}", "repo": repo, "version": version,
                "base_commit": f"{len(rows):040x}", "test_patch": test_patch,
                "FAIL_TO_PASS": "[]", "PASS_TO_PASS": "[]",
            }
            lines = make_eval_script_list(
                instance, spec, "testbed", "/testbed", instance["base_commit"], test_patch
            )
            script = TestSpec(
                instance_id=instance["instance_id"], repo=repo, version=version,
                repo_script_list=[], eval_script_list=lines, env_script_list=[],
                arch="x86_64", FAIL_TO_PASS=[], PASS_TO_PASS=[], language="py",
                docker_specs={}, namespace=None,
            ).eval_script
            rows.append({"instance": instance, "eval_script": script})
    return rows


def main():
    if swebench.__version__ != "4.1.0":
        sys.exit(f"swebench {swebench.__version__} is installed; the goldens are of 4.1.0")
    golden = HERE / "golden"
    golden.mkdir(exist_ok=True)
    logs = log_goldens()
    (golden / "logs.json").write_text(json.dumps(logs, indent=1, sort_keys=True) + "\n")
    rows = script_goldens()
    (golden / "eval_scripts.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{len(logs)} logs, {len(rows)} eval scripts", file=sys.stderr)


if __name__ == "__main__":
    main()

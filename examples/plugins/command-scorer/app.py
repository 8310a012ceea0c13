"""`command`: a scorer that runs shell checks in the graded sandbox.

Each check is a command with what its success looks like; the reward is the
weighted fraction of checks that pass. The checks come from the scorer config
(`--scorer-config '{"checks": [...]}'`, with a task row's `scorer_config`
merged over it by the host), else from the task row's own `checks` field:

    {"checks": [
        {"name": "tests", "cmd": "make test", "weight": 2},
        {"cmd": "python3 -c 'import app'", "expect_exit": 0},
        {"cmd": "cat out.txt", "expect_output_regex": "^42$", "timeout_secs": 30}
    ]}

A check passes when its exit code is `expect_exit` (default 0; `null` accepts
any) and, if given, `expect_output_regex` matches its output (Python `re`,
multiline). A check that times out fails. `weight` defaults to 1.

Sub-scores: one per check (1.0 or 0.0) under its name (default `check-N`).
Details: every check's command, exit code, verdict and output tail.

An unusable config is `invalid-input` and a sandbox that fails is `sandbox`:
the run then has no reward, never a wrong 0.
"""

import re
from typing import Any, Dict, List

import plinth_sdk as sdk
from wit_world import exports

# Output kept per check in the details: enough to see why it failed.
OUTPUT_TAIL_CHARS = 2000


class Check:
    """One configured check, validated."""

    def __init__(self, index: int, raw: Any):
        where = f"checks[{index}]"
        if not isinstance(raw, dict):
            raise sdk.invalid_input(f"{where} must be an object with a `cmd`")
        unknown = set(raw) - {"name", "cmd", "weight", "expect_exit", "expect_output_regex", "timeout_secs"}
        if unknown:
            raise sdk.invalid_input(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
        self.cmd = raw.get("cmd")
        if not isinstance(self.cmd, str) or not self.cmd.strip():
            raise sdk.invalid_input(f"{where}.cmd must be a non-empty string")
        self.name = raw.get("name", f"check-{index}")
        if not isinstance(self.name, str) or not self.name:
            raise sdk.invalid_input(f"{where}.name must be a non-empty string")
        self.weight = raw.get("weight", 1)
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not (0 <= self.weight < float("inf")):
            raise sdk.invalid_input(f"{where}.weight must be a finite number >= 0")
        self.expect_exit = raw.get("expect_exit", 0)
        if self.expect_exit is not None and (isinstance(self.expect_exit, bool) or not isinstance(self.expect_exit, int)):
            raise sdk.invalid_input(f"{where}.expect_exit must be an integer or null")
        pattern = raw.get("expect_output_regex")
        self.regex = None
        if pattern is not None:
            if not isinstance(pattern, str):
                raise sdk.invalid_input(f"{where}.expect_output_regex must be a string")
            try:
                self.regex = re.compile(pattern, re.MULTILINE)
            except re.error as e:
                raise sdk.invalid_input(f"{where}.expect_output_regex does not compile: {e}") from None
        self.timeout_secs = raw.get("timeout_secs")
        if self.timeout_secs is not None and (
            isinstance(self.timeout_secs, bool) or not isinstance(self.timeout_secs, int) or not 0 < self.timeout_secs < 2**32
        ):
            raise sdk.invalid_input(f"{where}.timeout_secs must be a positive integer")

    def run(self, session: Any) -> Dict[str, Any]:
        out = sdk.run(session, self.cmd, timeout_secs=self.timeout_secs)
        reasons = []
        if out.timed_out:
            reasons.append("timed out")
        if self.expect_exit is not None and out.exit_code != self.expect_exit:
            reasons.append(f"exit code {out.exit_code}, expected {self.expect_exit}")
        if self.regex is not None and not self.regex.search(out.output):
            reasons.append(f"output does not match /{self.regex.pattern}/")
        return {
            "name": self.name,
            "cmd": self.cmd,
            "weight": self.weight,
            "passed": not reasons,
            "reason": "; ".join(reasons) or None,
            "exit_code": out.exit_code,
            "timed_out": out.timed_out,
            "output_tail": out.output[-OUTPUT_TAIL_CHARS:],
        }


def checks_from(config: Dict[str, Any], task: Dict[str, Any]) -> List[Check]:
    raw = config.get("checks", task.get("checks"))
    if raw is None:
        raise sdk.invalid_input("no checks: give `checks` in the scorer config or the task row")
    if not isinstance(raw, list) or not raw:
        raise sdk.invalid_input("`checks` must be a non-empty list")
    checks = [Check(i, c) for i, c in enumerate(raw)]
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise sdk.invalid_input(f"check names must be unique: {', '.join(duplicates)}")
    if sum(c.weight for c in checks) <= 0:
        raise sdk.invalid_input("the checks' weights add up to 0")
    return checks


class Scorer(exports.Scorer):
    def info(self):
        return sdk.plugin_info("command", "0.1.0", "Weighted fraction of shell checks that pass in the sandbox")

    @sdk.errors
    def score(self, task, trajectory, config, session):
        checks = checks_from(sdk.parse_config(config), sdk.parse_config(task))
        results = [c.run(session) for c in checks]
        total = sum(c.weight for c in checks)
        passed = sum(c.weight for c, r in zip(checks, results) if r["passed"])
        sdk.log("info", f"{trajectory.id}: {sum(r['passed'] for r in results)}/{len(results)} checks passed")
        return sdk.score_result(
            passed / total,
            {r["name"]: 1.0 if r["passed"] else 0.0 for r in results},
            {"checks": results},
        )

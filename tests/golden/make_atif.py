#!/usr/bin/env python3
"""Writes the expected outputs of the `atif` formatter's golden tests, with
Harbor's own ATIF models (PyPI `harbor`, `harbor.models.trajectories`).

Harbor needs Python >= 3.12; tests/harbor-setup.sh makes a venv with the pinned
release and prints its python:

    "$(tests/harbor-setup.sh)" tests/golden/make_atif.py

For every `<case>.canonical.jsonl` next to this file it builds each record's
trajectory as Harbor's pydantic objects (`Trajectory`, `Step`, `ToolCall`, ...),
which validates it (step ids, agent-only fields, `source_call_id`s that must
match a tool call, ...), round-trips the dump through
`Trajectory.model_validate` once more, and writes:

    <case>.atif.expected.jsonl          plinth format --format atif (JSONL mode):
                                        json.dumps(to_json_dict(), ensure_ascii=False)
    atif-files/<id>.trajectory.json     plinth format --format atif --output-dir DIR:
                                        json.dumps(to_json_dict(), indent=2), as
                                        Harbor's converters write trajectory.json
                                        (no trailing newline)

The mapping from plinth's canonical record is the one documented in
plugins/atif/src/lib.rs, written here again independently of the Rust code.
It follows Harbor's converter for mini-swe-agent runs
(`harbor.agents.installed.mini_swe_agent.convert_mini_swe_agent_to_atif`).
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_expected import score_object, to_wit  # noqa: E402

from harbor.models.trajectories import (  # noqa: E402
    Agent,
    FinalMetrics,
    Metrics,
    Observation,
    ObservationResult,
    Step,
    ToolCall,
    Trajectory,
)

SCHEMA_VERSION = "ATIF-v1.7"


def iso(ts):
    """Harbor's `_iso_timestamp` for a number."""
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
    except (OSError, OverflowError, ValueError):
        return None


def arguments(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"raw": text}


def finite(x):
    return x if x is not None and x == x and x not in (float("inf"), float("-inf")) else None


def steps_of(messages):
    steps = []  # dicts of Step fields, made into Step objects at the end
    seen_agent = False

    def observe(m, result):
        if steps and steps[-1]["source"] == "agent":
            steps[-1].setdefault("results", []).append(result)
            return
        if m["role"] == "user":
            steps.append({"source": "user", "timestamp": iso(m["timestamp"]), "message": m["content"] or ""})
        else:
            steps.append(
                {"source": "system", "timestamp": iso(m["timestamp"]), "message": "", "results": [result]}
            )

    for m in messages:
        role = m["role"]
        if role == "system" or (role == "user" and not seen_agent):
            steps.append({"source": role, "timestamp": iso(m["timestamp"]), "message": m["content"] or ""})
        elif role == "user":
            extra = {"interrupt": m["interrupt"]} if m["interrupt"] is not None else None
            observe(m, ObservationResult(content=m["content"], extra=extra))
        elif role == "assistant":
            seen_agent = True
            calls = [
                ToolCall(tool_call_id=c["id"], function_name=c["name"], arguments=arguments(c["arguments"]))
                for c in m["tool_calls"]
            ]
            cost = finite(m["cost"])
            steps.append(
                {
                    "source": "agent",
                    "timestamp": iso(m["timestamp"]),
                    "message": m["content"] or "",
                    "reasoning_content": m["reasoning"],
                    "tool_calls": calls or None,
                    "metrics": Metrics(cost_usd=cost) if cost is not None else None,
                    "llm_call_count": 1,
                }
            )
        elif role == "tool":
            last = steps[-1] if steps else None
            ids = {c.tool_call_id for c in (last or {}).get("tool_calls") or []} if last and last["source"] == "agent" else set()
            if m["tool_call_id"] is not None and m["tool_call_id"] in ids:
                result = ObservationResult(source_call_id=m["tool_call_id"], content=m["content"])
            else:
                result = ObservationResult(
                    content=m["content"], extra={"tool_call_id": m["tool_call_id"], "name": m["name"]}
                )
            observe(m, result)

    out = []
    for i, s in enumerate(steps, start=1):
        results = s.pop("results", None)
        out.append(Step(step_id=i, observation=Observation(results=results) if results else None, **s))
    return out


def trajectory(rec):
    t = to_wit(rec)
    steps = steps_of(t["messages"])
    tools = [
        {"type": "function", "function": {"name": s["name"], "description": s["description"], "parameters": s["parameters"]}}
        for s in t["tools"]
    ]
    extra = {
        "input_index": t["input_index"],
        "task": t["task"],
        "exit_status": t["exit_status"],
        "submission": t["submission"],
        "error": t["error"],
        "sandbox": t["sandbox"],
        "api_calls": t["api_calls"],
        "started_at": t["started_at"],
        "duration_secs": t["duration_secs"],
        "patch": t["patch"],
        "score": score_object(t["score"]) if t["score"] is not None else None,
    }
    if rec.get("group") is not None:
        g = rec["group"]
        extra["group"] = {k: g[k] for k in ("id", "size", "rollout", "mean", "std", "all_equal")}
    return Trajectory(
        schema_version=SCHEMA_VERSION,
        session_id=t["id"],
        agent=Agent(name="plinth", version=t["plinth_version"], model_name=t["model"], tool_definitions=tools or None),
        steps=steps,
        final_metrics=FinalMetrics(
            total_prompt_tokens=t["usage"]["prompt_tokens"],
            total_completion_tokens=t["usage"]["completion_tokens"],
            total_cost_usd=finite(t["cost"]),
            total_steps=len(steps),
        ),
        extra=extra,
    )


def main():
    files = HERE / "atif-files"
    files.mkdir(exist_ok=True)
    for path in sorted(HERE.glob("*.canonical.jsonl")):
        case = path.name.removesuffix(".canonical.jsonl")
        lines = []
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            doc = trajectory(json.loads(line)).to_json_dict()
            # What Harbor's tools do when they read it back.
            Trajectory.model_validate(doc)
            lines.append(json.dumps(doc, ensure_ascii=False) + "\n")
            (files / f"{doc['session_id']}.trajectory.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
        (HERE / f"{case}.atif.expected.jsonl").write_text("".join(lines), encoding="utf-8")
        print(f"{case}: {len(lines)} record(s)")


if __name__ == "__main__":
    main()

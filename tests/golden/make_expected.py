#!/usr/bin/env python3
"""Writes the expected outputs of the formatter golden tests.

This script encodes the trajectory-format rules of the project notes
(`formats.md`: Hermes ShareGPT in its mini_swe_runner and batch_runner variants,
mini-swe-agent 1.1, OpenAI chat) plus the placement decisions documented in
the formatter crates (plugins/hermes, plugins/mswea, plugins/openai), and
renders every JSON document with Python's own `json.dumps`, which is the
reference behaviour the formatters must match byte for byte. It is written
independently of the Rust code: when the two disagree, read the rules, decide
which one is wrong, and fix that one.

For every `<case>.canonical.jsonl` next to this file (canonical records as in
wit/canonical-trajectory.md) it writes, one line per record, each ending in
"\\n":

    <case>.hermes.expected.jsonl               plinth format --format hermes
    <case>.hermes-batch_runner.expected.jsonl  ... --options '{"variant": "batch_runner"}'
    <case>.openai.expected.jsonl               plinth format --format openai
    <case>.mswea.expected.jsonl                plinth format --format mswea (JSONL mode)

and, for the cases in FILE_MODE_CASES, `mswea-files/<id>.traj.json` as
`plinth format --format mswea --output-dir DIR` writes them (indent 2,
ensure_ascii, no trailing newline).

Run it from anywhere: python3 tests/golden/make_expected.py
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILE_MODE_CASES = ["unicode"]


# --- What a formatter receives --------------------------------------------
# The host hands formatters the WIT `trajectory` record; this is the same
# conversion (wit/canonical-trajectory.md), with the JSON-text fields kept
# parsed and the f64 fields made floats (an integer timestamp arrives as a
# float).


def to_wit(rec):
    def message(m):
        return {
            "role": m["role"],
            "content": m.get("content"),
            "reasoning": m.get("reasoning"),
            "tool_calls": [
                {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in m.get("tool_calls") or []
            ],
            "tool_call_id": m.get("tool_call_id"),
            "name": m.get("name"),
            "timestamp": float(m.get("timestamp", 0.0)),
            "cost": None if m.get("cost") is None else float(m["cost"]),
            "interrupt": m.get("interrupt"),
        }

    def tool(spec):
        function = spec.get("function", spec)
        return {
            "name": function.get("name", ""),
            "description": function.get("description", ""),
            "parameters": function.get("parameters", {}),
        }

    score = rec.get("score")
    if score is not None:
        score = {
            "reward": float(score["reward"]),
            "sub_scores": [(name, float(value)) for name, value in (score.get("sub_scores") or {}).items()],
            "details": score.get("details"),
        }
    return {
        "id": rec["id"],
        "input_index": rec["input_index"],
        "task": rec["task"],
        "messages": [message(m) for m in rec["messages"]],
        "tools": [tool(t) for t in rec["tools"]],
        "exit_status": rec["exit_status"],
        "submission": rec.get("submission", ""),
        "error": rec.get("error"),
        "model": rec["model"],
        "sandbox": rec["sandbox"],
        "api_calls": rec["api_calls"],
        "usage": rec.get("usage", {"prompt_tokens": 0, "completion_tokens": 0}),
        "cost": float(rec.get("cost", 0.0)),
        "started_at": rec["started_at"],
        "duration_secs": float(rec.get("duration_secs", 0.0)),
        "plinth_version": rec["plinth_version"],
        "patch": rec.get("patch"),
        "score": score,
    }


def score_object(score):
    return {"reward": score["reward"], "sub_scores": dict(score["sub_scores"]), "details": score["details"]}


def dumps(obj):
    """Every json.dumps of formats.md: default separators, non-ASCII as is."""
    return json.dumps(obj, ensure_ascii=False)


# --- Hermes -----------------------------------------------------------------

SYSTEM_PROMPT = (
    "You are a function calling AI model. You are provided with function signatures within <tools> </tools> XML tags. "
    "You may call one or more functions to assist with the user query. If available tools are not relevant in assisting "
    "with user query, just respond in natural conversational language. Don't make assumptions about what values to plug "
    "into functions. After calling & executing the functions, you will be provided with function results within "
    "<tool_response> </tool_response> XML tags. Here are the available tools:\n"
    "<tools>\nTOOLS\n</tools>\n"
    "For each function call return a JSON object, with the following pydantic model json schema for each:\n"
    "{'title': 'FunctionCall', 'type': 'object', 'properties': {'name': {'title': 'Name', 'type': 'string'}, "
    "'arguments': {'title': 'Arguments', 'type': 'object'}}, 'required': ['name', 'arguments']}\n"
    "Each function call should be enclosed within <tool_call> </tool_call> XML tags.\n"
    "Example:\n<tool_call>\n{'name': <function-name>,'arguments': <args-dict>}\n</tool_call>"
)


def think(reasoning, variant):
    if variant == "batch_runner":
        return f"<think>\n{reasoning}\n</think>\n" if reasoning else "<think>\n</think>\n"
    return f"<think>{reasoning}</think>" if reasoning else ""


def parsed_arguments(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


def parsed_tool_content(text):
    if text is None:
        return None
    if text.strip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text


# --- Actions written as text (--text-actions) -------------------------------
# In text mode the agent reads a reply's text for actions (```bash blocks,
# <tool_call> tags; host/agent/src/text_actions.rs) and records them as the
# reply's tool calls. The record has no other mark of it: a reply whose calls
# are exactly the actions its text writes is shown as the model wrote it (its
# text), not with <tool_call> blocks it never wrote.

SHELL_FENCES = ("bash", "sh", "shell", "mswea_bash_command")


def compact(value):
    """JSON text as the agent writes a call's arguments (serde_json compact)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_actions(content):
    """[(name or None for the shell tool, arguments text)], in order."""
    calls, at = [], 0
    while True:
        fence = None
        search = at
        while (i := content.find("```", search)) != -1:
            nl = content.find("\n", i + 3)
            if nl == -1:
                break
            if content[i + 3:nl].strip() in SHELL_FENCES:
                fence = (i, nl + 1)
                break
            search = i + 3
        tag = content.find("<tool_call>", at)
        if fence and (tag == -1 or fence[0] < tag):
            end = content.find("```", fence[1])
            if end == -1:
                return calls
            calls.append((None, compact({"command": content[fence[1]:end].rstrip("\n")})))
            at = end + 3
        elif tag != -1:
            body_start = tag + len("<tool_call>")
            end = content.find("</tool_call>", body_start)
            if end == -1:
                return calls
            body = content[body_start:end].strip()
            try:
                obj = json.loads(body)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                name = obj.get("name") if isinstance(obj.get("name"), str) else ""
                args = obj.get("arguments", {})
                calls.append((name, args if isinstance(args, str) else compact(args)))
            else:
                calls.append(("", body))
            at = end + len("</tool_call>")
        else:
            return calls


def written_as_text(msg):
    if not msg["content"]:
        return False
    written = text_actions(msg["content"])
    recorded = [(c["name"], c["arguments"]) for c in msg["tool_calls"]]
    return bool(written) and len(written) == len(recorded) and all(
        (name is None or name == r_name) and args == r_args
        for (name, args), (r_name, r_args) in zip(written, recorded)
    )


def conversations(t, variant):
    tools = [
        {"name": s["name"], "description": s["description"], "parameters": s["parameters"], "required": None}
        for s in t["tools"]
    ]
    turns = [{"from": "system", "value": SYSTEM_PROMPT.replace("TOOLS", dumps(tools), 1)}]

    messages = t["messages"]
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if users:
        turns.append({"from": "human", "value": messages[users[0]]["content"]})
        rest = messages[users[0] + 1:]
    else:
        prompt = t["task"].get("prompt") if isinstance(t["task"], dict) else None
        turns.append({"from": "human", "value": prompt if isinstance(prompt, str) else ""})
        rest = messages

    i = 0
    while i < len(rest):
        msg = rest[i]
        if msg["role"] == "assistant" and msg["tool_calls"]:
            if written_as_text(msg):
                turns.append({"from": "gpt", "value": think(msg["reasoning"], variant) + msg["content"]})
            else:
                value = think(msg["reasoning"], variant)
                if msg["content"]:
                    value += msg["content"] + "\n"
                for call in msg["tool_calls"]:
                    call_json = {"name": call["name"], "arguments": parsed_arguments(call["arguments"])}
                    value += "<tool_call>\n" + dumps(call_json) + "\n</tool_call>\n"
                turns.append({"from": "gpt", "value": value.rstrip()})
            responses = []
            j = i + 1
            while j < len(rest) and rest[j]["role"] == "tool":
                tool_msg = rest[j]
                k = len(responses)
                name = msg["tool_calls"][k]["name"] if k < len(msg["tool_calls"]) else "unknown"
                response = {
                    "tool_call_id": tool_msg["tool_call_id"] or "",
                    "name": name,
                    "content": parsed_tool_content(tool_msg["content"]),
                }
                responses.append("<tool_response>\n" + dumps(response) + "\n</tool_response>")
                j += 1
            if responses:
                turns.append({"from": "tool", "value": "\n".join(responses)})
            i = j
            continue
        if msg["role"] == "assistant":
            turns.append({"from": "gpt", "value": think(msg["reasoning"], variant) + (msg["content"] or "")})
        elif msg["role"] == "user":
            turns.append({"from": "human", "value": msg["content"]})
        i += 1
    return turns


def tool_failed(text):
    """A non-null "error" at the top level or inside a "content" object."""
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    if data.get("error") is not None:
        return True
    inner = data.get("content")
    return isinstance(inner, dict) and inner.get("error") is not None


def tool_stats(t):
    stats = {}
    for spec in t["tools"]:
        stats.setdefault(spec["name"], {"count": 0, "success": 0, "failure": 0})
    used = set()
    calls = []  # (id, name) in order; the latest call with an id answers it
    for m in t["messages"]:
        if m["role"] == "assistant":
            for c in m["tool_calls"]:
                used.add(c["name"])
                calls.append((c["id"], c["name"]))
                if c["name"] in stats:
                    stats[c["name"]]["count"] += 1
        elif m["role"] == "tool":
            name = None
            if m["tool_call_id"] is not None:
                for call_id, call_name in reversed(calls):
                    if call_id == m["tool_call_id"]:
                        name = call_name
                        break
            if name is None:
                name = m["name"]
            if name in stats:
                stats[name]["failure" if tool_failed(m["content"]) else "success"] += 1
    return sorted(used), stats


def completed(t):
    return t["exit_status"] in ("Submitted", "Finished")


def failed_before_any_call(t):
    return t["api_calls"] == 0 and t["error"] is not None


def add_score(record, t):
    if t["score"] is not None:
        record["reward"] = t["score"]["reward"]
        record["score"] = score_object(t["score"])
    return record


def hermes_mini_swe_runner(t):
    if failed_before_any_call(t):
        record = {
            "conversations": [],
            "completed": False,
            "api_calls": 0,
            "error": t["error"],
            "metadata": {"timestamp": t["started_at"]},
        }
    else:
        record = {
            "conversations": conversations(t, "mini_swe_runner"),
            "completed": completed(t),
            "api_calls": t["api_calls"],
            "metadata": {"model": t["model"], "env_type": t["sandbox"], "timestamp": t["started_at"]},
        }
    return dumps(add_score(record, t))


def hermes_batch_runner(t):
    failed = failed_before_any_call(t)
    done = not failed and completed(t)
    used, stats = tool_stats(t)
    record = {
        "prompt_index": t["input_index"],
        "conversations": [] if failed else conversations(t, "batch_runner"),
        "metadata": {"timestamp": t["started_at"], "model": t["model"], "env_type": t["sandbox"]},
        "completed": done,
        "partial": not done,
        "api_calls": t["api_calls"],
    }
    if failed:
        record["error"] = t["error"]
    record["toolsets_used"] = used
    record["tool_stats"] = stats
    record["tool_error_counts"] = {name: s["failure"] for name, s in stats.items()}
    return dumps(add_score(record, t))


# --- OpenAI -----------------------------------------------------------------


def openai(t):
    messages = []
    for m in t["messages"]:
        out = {"role": m["role"], "content": m["content"]}
        if m["reasoning"] is not None:
            out["reasoning_content"] = m["reasoning"]
        if m["tool_calls"]:
            out["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in m["tool_calls"]
            ]
        if m["tool_call_id"] is not None:
            out["tool_call_id"] = m["tool_call_id"]
        if m["name"] is not None:
            out["name"] = m["name"]
        messages.append(out)
    record = {
        "id": t["id"],
        "messages": messages,
        "tools": [
            {"type": "function", "function": {"name": s["name"], "description": s["description"], "parameters": s["parameters"]}}
            for s in t["tools"]
        ],
        "metadata": {
            "input_index": t["input_index"],
            "task": t["task"],
            "exit_status": t["exit_status"],
            "submission": t["submission"],
            "error": t["error"],
            "model": t["model"],
            "sandbox": t["sandbox"],
            "api_calls": t["api_calls"],
            "usage": {"prompt_tokens": t["usage"]["prompt_tokens"], "completion_tokens": t["usage"]["completion_tokens"]},
            "cost": t["cost"],
            "started_at": t["started_at"],
            "duration_secs": t["duration_secs"],
            "plinth_version": t["plinth_version"],
            "patch": t["patch"],
            "score": None if t["score"] is None else score_object(t["score"]),
        },
    }
    return dumps(record)


# --- mini-swe-agent ---------------------------------------------------------


def action_command(arguments):
    try:
        args = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
    if isinstance(args, dict) and isinstance(args.get("command"), str):
        return args["command"]
    return arguments


def outcome(text):
    """(output, returncode, exception_info) of a tool message."""
    text = text if text is not None else ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    inner = data.get("content") if isinstance(data, dict) else None
    if (
        isinstance(inner, dict)
        and isinstance(inner.get("output"), str)
        and type(inner.get("exit_code")) is int
        and -(2**63) <= inner["exit_code"] < 2**63
    ):
        error = inner.get("error")
        return inner["output"], inner["exit_code"], error if isinstance(error, str) else ""
    return text, 0, ""


def mswea_message(m):
    if m["role"] == "system":
        return {"role": "system", "content": m["content"]}
    if m["role"] == "user":
        out = {"role": "user", "content": m["content"]}
        if m["interrupt"] is not None:
            out["extra"] = {"interrupt_type": m["interrupt"]}
        return out
    if m["role"] == "assistant":
        out = {"content": m["content"], "role": "assistant"}
        if m["tool_calls"]:
            out["tool_calls"] = [
                {"function": {"arguments": c["arguments"], "name": c["name"]}, "id": c["id"], "type": "function"}
                for c in m["tool_calls"]
            ]
        if m["reasoning"] is not None:
            out["reasoning_content"] = m["reasoning"]
        out["extra"] = {
            "actions": [{"command": action_command(c["arguments"]), "tool_call_id": c["id"]} for c in m["tool_calls"]],
            "cost": m["cost"] if m["cost"] is not None else 0.0,
            "timestamp": m["timestamp"],
        }
        return out
    output, returncode, exception_info = outcome(m["content"])
    out = {
        "content": f"<returncode>{returncode}</returncode>\n<output>\n{output}</output>",
        "extra": {"raw_output": output, "returncode": returncode, "timestamp": m["timestamp"], "exception_info": exception_info},
    }
    if m["tool_call_id"] is not None:
        out["tool_call_id"] = m["tool_call_id"]
    out["role"] = "tool"
    return out


def mswea_data(t, agent=None):
    info = {
        "model_stats": {"instance_cost": t["cost"], "api_calls": t["api_calls"]},
        "config": {
            "agent": agent if agent is not None else {},
            "agent_type": "plinth.agent",
            "model": {"model_name": t["model"]},
            "model_type": "plinth.model",
            "environment": {},
            "environment_type": t["sandbox"],
        },
        "mini_version": "plinth-" + t["plinth_version"],
        "exit_status": t["exit_status"],
        "submission": t["submission"],
    }
    if t["patch"] is not None:
        info["model_patch"] = t["patch"]
    if t["score"] is not None:
        info["reward"] = t["score"]["reward"]
        info["score"] = score_object(t["score"])
    if t["error"] is not None:
        exit_content = t["error"]
    elif t["exit_status"] == "Submitted":
        exit_content = t["submission"]
    else:
        exit_content = t["exit_status"]
    exit_extra = {"exit_status": t["exit_status"], "submission": t["submission"]}
    if t["error"] is not None:
        exit_extra["exception_str"] = t["error"]
    messages = [mswea_message(m) for m in t["messages"]]
    messages.append({"role": "exit", "content": exit_content, "extra": exit_extra})
    return {
        "info": info,
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": t["id"],
    }


def mswea_jsonl(t):
    return json.dumps(mswea_data(t), ensure_ascii=False)


def mswea_file(t):
    # What mini-swe-agent's save() writes: json.dumps(data, indent=2).
    return json.dumps(mswea_data(t), indent=2)


# --- Driver -----------------------------------------------------------------

FORMATS = {
    "hermes": hermes_mini_swe_runner,
    "hermes-batch_runner": hermes_batch_runner,
    "openai": openai,
    "mswea": mswea_jsonl,
}


def main():
    cases = sorted(HERE.glob("*.canonical.jsonl"))
    if not cases:
        raise SystemExit(f"no *.canonical.jsonl in {HERE}")
    files_dir = HERE / "mswea-files"
    files_dir.mkdir(exist_ok=True)
    for old in files_dir.glob("*.traj.json"):
        old.unlink()
    for path in cases:
        case = path.name[: -len(".canonical.jsonl")]
        # Lines end at "\n" only (str.splitlines would also split at U+2028,
        # which JSON text may hold raw).
        lines = path.read_text(encoding="utf-8").split("\n")
        records = [to_wit(json.loads(line)) for line in lines if line.strip()]
        for fmt, render in FORMATS.items():
            text = "".join(render(t) + "\n" for t in records)
            (HERE / f"{case}.{fmt}.expected.jsonl").write_text(text, encoding="utf-8")
        if case in FILE_MODE_CASES:
            for t in records:
                (files_dir / f"{t['id']}.traj.json").write_text(mswea_file(t), encoding="utf-8")
        print(f"{case}: {len(records)} record(s)")


if __name__ == "__main__":
    main()

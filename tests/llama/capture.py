#!/usr/bin/env python3
"""Capture the real llama-server's behaviour that plinth must handle, as fixtures.

Runs the server built by tests/llama-setup.sh with SmolLM2-135M-Instruct and writes, under
tests/llama/fixtures/, one JSON file per exchange: the server flags, the request, the HTTP
status and the response (SSE bodies are kept raw in a `.sse` file beside their JSON). README.md
in this directory explains what each one shows. Greedy sampling (temperature 0) keeps the
replies stable for one llama.cpp version and model; rerun after bumping either:

    eval "$(tests/llama-setup.sh)"; python3 tests/llama/capture.py
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_server import HERE, Server, die, setup_env, sse_events  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
LOG = os.path.join(os.environ.get("TMPDIR", "/tmp"), "plinth-llama-capture.log")

SHELL_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "The command to run."}},
            "required": ["command"],
        },
    },
}
TOOL_TASK = [
    {"role": "system", "content": "You are a helpful assistant that uses the bash tool."},
    {"role": "user", "content": "List the files in the current directory."},
]
GREEDY = {"temperature": 0, "seed": 1}
# An assistant turn that the server continues (llama.cpp prefill) and that opens a Hermes call.
PREFILL = {"role": "assistant", "content": "<tool_call>\n"}


def save(name, server, method, path, body, resp, note=None):
    record = {"server_args": server.args, "request": {"method": method, "path": path, "body": body},
              "status": resp.status}
    if note:
        record["note"] = note
    if resp.headers.get("Content-Type", "").startswith("text/event-stream"):
        with open(os.path.join(FIXTURES, f"{name}.sse"), "w") as f:
            f.write(resp.body)
        record["response_sse_file"] = f"{name}.sse"
        record["events"] = sse_events(resp.body)
    else:
        try:
            record["response"] = resp.json()
        except json.JSONDecodeError:
            record["response_text"] = resp.body
    with open(os.path.join(FIXTURES, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{name}: {resp.status}", file=sys.stderr)
    return resp


def call(name, server, method, path, body=None, note=None):
    return save(name, server, method, path, body, server.request(method, path, body), note)


def chat(name, server, body, note=None):
    return call(name, server, "POST", "/v1/chat/completions", {"model": "smollm2", **body}, note)


def default_template(env):
    """SmolLM2's own template: discovery, plain chat, limits, logprobs, streaming, overflow."""
    with Server(["--jinja", "-c", "2048", "-np", "2", "-t", "1"], LOG) as s:
        save("health_loading", s, "GET", "/health", None, s.first_health,
             "the first /health answer while the model loads (200 if it loaded before the first poll)")
        save("health_ready", s, "GET", "/health", None, s.ready_health)
        props = call("props", s, "GET", "/props")
        call("models", s, "GET", "/v1/models")
        assert props.json()["default_generation_settings"]["n_ctx"] == 1024, "2048 over 2 slots"

        chat("chat_length", s, {"messages": [{"role": "user", "content": "Tell me a long story."}],
                                "max_tokens": 12, **GREEDY})
        chat("chat_stop", s, {"messages": [{"role": "user", "content": "Say hello."}],
                              "max_tokens": 64, **GREEDY})
        chat("tools_default_template", s, {"messages": TOOL_TASK, "tools": [SHELL_TOOL],
                                           "max_tokens": 48, **GREEDY},
             "SmolLM2's template has no tools: the request is accepted, the model never calls one")
        chat("tools_default_template_required", s,
             {"messages": TOOL_TASK, "tools": [SHELL_TOOL], "tool_choice": "required", "max_tokens": 64,
              **GREEDY})

        lp = chat("logprobs", s, {"messages": [{"role": "user", "content": "Say hello."}],
                                  "max_tokens": 8, "logprobs": True, "top_logprobs": 2, **GREEDY})
        content = lp.json()["choices"][0]["message"]["content"]
        call("tokenize", s, "POST", "/tokenize", {"content": content})
        call("tokenize_pieces", s, "POST", "/tokenize", {"content": content, "with_pieces": True})
        ids = [t["id"] for t in lp.json()["choices"][0]["logprobs"]["content"]]
        call("detokenize", s, "POST", "/detokenize", {"tokens": ids})
        call("apply_template", s, "POST", "/apply-template",
             {"messages": [{"role": "user", "content": "Say hello."}]})

        chat("stream_content", s, {"messages": [{"role": "user", "content": "Say hello."}],
                                   "max_tokens": 8, "stream": True,
                                   "stream_options": {"include_usage": True}, **GREEDY})

        long_text = "word " * 3000
        chat("overflow", s, {"messages": [{"role": "user", "content": long_text}], "max_tokens": 8},
             "prompt over the slot's context (1024 = -c 2048 / -np 2)")
        chat("overflow_stream", s, {"messages": [{"role": "user", "content": long_text}], "max_tokens": 8,
                                    "stream": True},
             "the same overflow with stream: true")
        # A prompt that fits but leaves fewer tokens than max_tokens: generation stops at the
        # context's end.
        chat("context_end", s, {"messages": [{"role": "user", "content": "word " * 800
                                              + "\nCount from one to one hundred."}],
                                "max_tokens": 200, "ignore_eos": True, **GREEDY},
             "prompt fits, generation runs into n_ctx")


def tool_template(env):
    """SmolLM2 with Qwen2.5's tool-aware template (same ChatML tokens): native tool calls."""
    args = ["--jinja", "-c", "2048", "-np", "1", "-t", "1", "--chat-template-file", env["PLINTH_LLAMA_TOOL_TEMPLATE"]]
    with Server(args, LOG) as s:
        chat("tools_auto", s, {"messages": TOOL_TASK, "tools": [SHELL_TOOL], "max_tokens": 64, **GREEDY})
        chat("tools_required", s, {"messages": TOOL_TASK, "tools": [SHELL_TOOL], "tool_choice": "required",
                                   "max_tokens": 64, **GREEDY},
             "required only forbids ending without a call: the grammar lets free text come first")
        # The recipe that works with a 135M model: required + an assistant turn to continue that
        # opens the call, so the grammar is already past the free text when sampling starts.
        prefill = TOOL_TASK + [PREFILL]
        r = chat("tools_prefill", s, {"messages": prefill, "tools": [SHELL_TOOL], "tool_choice": "required",
                                      "parallel_tool_calls": False, "max_tokens": 64, **GREEDY})
        chat("tools_prefill_auto", s, {"messages": prefill, "tools": [SHELL_TOOL], "max_tokens": 64, **GREEDY},
             "auto: the grammar is lazy and never triggers (the marker is in the prompt), so the "
             "unconstrained output fails the server's own parse")
        chat("tools_prefill_stream", s, {"messages": prefill, "tools": [SHELL_TOOL], "tool_choice": "required",
                                         "parallel_tool_calls": False, "max_tokens": 64, "stream": True,
                                         "stream_options": {"include_usage": True}, **GREEDY})
        chat("tools_prefill_logprobs", s, {"messages": prefill, "tools": [SHELL_TOOL],
                                           "tool_choice": "required", "parallel_tool_calls": False,
                                           "max_tokens": 64, "logprobs": True, "top_logprobs": 1, **GREEDY})
        chat("tools_logprobs_stream", s, {"messages": prefill, "tools": [SHELL_TOOL],
                                          "tool_choice": "required", "max_tokens": 64, "stream": True,
                                          "logprobs": True, **GREEDY})
        msg = r.json()["choices"][0]["message"]
        if msg.get("tool_calls"):
            follow = TOOL_TASK + [
                {"role": "assistant", "content": msg.get("content") or "", "tool_calls": msg["tool_calls"]},
                {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"], "content": "README.md\nsrc\n"},
            ]
            chat("tools_round_trip", s, {"messages": follow, "tools": [SHELL_TOOL], "max_tokens": 48,
                                         **GREEDY})
        call("props_tool_template", s, "GET", "/props")


def parallel(env):
    """Four slots, four concurrent generations: throughput on this machine."""
    with Server(["--jinja", "-c", "4096", "-np", "4", "-t", "1"], LOG) as s:
        body = {"model": "smollm2", "messages": [{"role": "user", "content": "Tell me a story."}],
                "max_tokens": 128, "ignore_eos": True, **GREEDY}
        one = s.request("POST", "/v1/chat/completions", body).json()
        results = [None] * 4

        def run(i):
            results[i] = s.request("POST", "/v1/chat/completions", body).json()

        start = time.monotonic()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        total = sum(r["usage"]["completion_tokens"] for r in results)
        figures = {
            "machine_cores": os.cpu_count(),
            "single": {"completion_tokens": one["usage"]["completion_tokens"],
                       "predicted_per_second": one["timings"]["predicted_per_second"],
                       "prompt_per_second": one["timings"]["prompt_per_second"]},
            "four_parallel": {"completion_tokens": total, "wall_seconds": round(wall, 2),
                              "tokens_per_second": round(total / wall, 1),
                              "per_request_predicted_per_second":
                                  [r["timings"]["predicted_per_second"] for r in results]},
        }
        with open(os.path.join(FIXTURES, "throughput.json"), "w") as f:
            json.dump(figures, f, indent=1)
            f.write("\n")
        print(json.dumps(figures), file=sys.stderr)


def main():
    env = setup_env()
    os.makedirs(FIXTURES, exist_ok=True)
    wanted = sys.argv[1:] or ["default_template", "tool_template", "parallel"]
    for name in wanted:
        fn = globals().get(name)
        if fn is None:
            die(f"unknown capture group {name!r}")
        fn(env)


if __name__ == "__main__":
    main()

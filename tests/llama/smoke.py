#!/usr/bin/env python3
"""Quick end-to-end check of the cached llama-server: start, tool call, overflow, stream, stop.

Exits nonzero, naming the failed check, when the server or the model does not behave as
plinth's tests expect (see README.md beside this file). Run through smoke.sh.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_server import Server, die, setup_env, sse_events  # noqa: E402

TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command and return its output.",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                       "required": ["command"]},
    },
}
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that uses the bash tool."},
    {"role": "user", "content": "List the files in the current directory."},
    # Continued by the server (prefill): opens the Hermes call so the tool grammar applies at once.
    {"role": "assistant", "content": "<tool_call>\n"},
]


def check(cond, what):
    if not cond:
        die(f"smoke: {what}")


def main():
    env = setup_env()
    args = ["--jinja", "-c", "1024", "-np", "2", "-t", "1", "--chat-template-file", env["PLINTH_LLAMA_TOOL_TEMPLATE"]]
    start = time.monotonic()
    with Server(args) as s:
        print(f"smoke: healthy on port {s.port} after {time.monotonic() - start:.1f} s")
        n_ctx = s.request("GET", "/props").json()["default_generation_settings"]["n_ctx"]
        check(n_ctx == 512, f"/props n_ctx is {n_ctx}, expected 512 (-c 1024 over -np 2)")

        # A native tool call: Qwen2.5's template (Hermes format), tool_choice=required, prefill.
        r = s.request("POST", "/v1/chat/completions", {
            "messages": MESSAGES, "tools": [TOOL], "tool_choice": "required", "max_tokens": 64,
            "temperature": 0, "logprobs": True, "top_logprobs": 1})
        check(r.status == 200, f"tool chat answered {r.status}: {r.body[:300]}")
        choice = r.json()["choices"][0]
        calls = choice["message"].get("tool_calls") or []
        check(choice["finish_reason"] == "tool_calls", f"finish_reason {choice['finish_reason']!r}")
        check(calls and all(c["function"]["name"] == "bash" for c in calls), f"tool_calls {calls}")
        check("command" in json.loads(calls[0]["function"]["arguments"]), f"arguments {calls[0]}")
        ids = [t["id"] for t in choice["logprobs"]["content"]]
        print(f"smoke: tool call {calls[0]['function']['arguments']} ({len(ids)} token ids)")

        # Token ids from logprobs detokenize to text the server tokenizes back to the same ids.
        text = s.request("POST", "/detokenize", {"tokens": ids}).json()["content"]
        again = s.request("POST", "/tokenize", {"content": text}).json()["tokens"]
        check(again == ids, f"/tokenize of the detokenized logprob ids differs: {ids} vs {again}")

        # Context overflow: a named error with both token counts.
        r = s.request("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "word " * 1000}], "max_tokens": 8})
        err = r.json().get("error", {}) if r.body.startswith("{") else {}
        check(r.status == 400 and err.get("type") == "exceed_context_size_error",
              f"overflow answered {r.status}: {r.body[:300]}")
        check(err.get("n_ctx") == n_ctx and err.get("n_prompt_tokens", 0) > n_ctx, f"overflow body {err}")
        print(f"smoke: overflow {err['n_prompt_tokens']} > {err['n_ctx']} tokens")

        # Streaming: content deltas, a final usage chunk, then [DONE].
        r = s.request("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}})
        check(r.status == 200, f"stream answered {r.status}: {r.body[:300]}")
        events = sse_events(r.body)
        check(events and events[-1] == "[DONE]", "stream does not end with [DONE]")
        chunks = events[:-1]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        usage = [c["usage"] for c in chunks if c.get("usage")]
        check(text, "stream carried no content")
        check(usage and usage[-1]["completion_tokens"] > 0, f"no usage chunk: {chunks[-1]}")
        print(f"smoke: stream of {len(chunks)} chunks: {text!r}, usage {usage[-1]}")
    print("smoke: ok")


if __name__ == "__main__":
    main()

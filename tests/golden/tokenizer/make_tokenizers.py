#!/usr/bin/env python3
"""Writes the tokenizers and golden ids of plinth's `--tokenizer` tests.

plinth recomputes token ids as Hugging Face `transformers` does with
`tokenizer.apply_chat_template(messages, tools=tools,
add_generation_prompt=..., tokenize=True)`: render the chat template with
Jinja, then encode the text without adding special tokens. This script uses
the real implementations (`tokenizers` to build the tokenizers,
`transformers` to apply the templates) and records what they give, so the
Rust side (host/model/src/tokenize.rs, tests `golden_*`) is checked against them,
not against itself.

It writes two tokenizer directories, each with `tokenizer.json`,
`tokenizer_config.json` (its `chat_template` and special tokens) and
`cases.jsonl` (one conversation per line: `name`, `messages`, `tools`,
`add_generation_prompt`, the rendered `text` and its `ids`):

    toy/     the mock server's toy tokenizer (tests/mock-llm/src/tokens.rs):
             one id per byte (0..=255), its markers as special tokens from
             100000 up, and a template rendering what the mock's
             `prompt_ids` / `assistant_body` produce. tests/rl.rs runs plinth
             with it against the mock told to return no ids.
    chatml/  a small byte-level BPE trained here on generated text (NFC
             normalizer, GPT-2 byte-level split, single digits), with a
             ChatML-style template written for these tests: a system prompt,
             tools listed as JSON, tool calls, tool responses grouped into
             one turn, reasoning in <think> blocks; and a second, named
             `tool_use` (transformers picks it for requests with tools),
             that uses more of Python's string methods the way recent
             reasoning models' templates do: reasoning is shown only after
             the last user query, split out of the content when it is
             inlined, arguments given as objects written with `tojson`.

Needs `tokenizers`, `transformers` and `jinja2` (the atroposlib venv that
tests/run.sh installs has them):

    ~/.cache/plinth/atropos-venv/bin/python tests/golden/tokenizer/make_tokenizers.py

Training is deterministic here (one thread, fixed corpus), but a change of
`tokenizers` version may still merge differently: the files are checked in,
and regenerating them is only needed when a case or template changes.
"""

import json
import os
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402

HERE = Path(__file__).resolve().parent


def byte_chars():
    """GPT-2's printable stand-in character for each byte (the alphabet of
    byte-level pre-tokenizers): printable Latin-1 bytes stand for
    themselves, the others for code points from 256 up, in byte order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = {}
    extra = 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def added_token(content):
    """A special token as tokenizer_config.json files spell them (an
    AddedToken object, which `transformers` reads by its `__type`)."""
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": False,
            "rstrip": False, "single_word": False, "special": True}


def write_dir(name, tokenizer, config, cases):
    out = HERE / name
    out.mkdir(exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    # transformers reads the directory as it reads a model's: the template
    # (a string, or named templates it picks from) and the special tokens
    # come from tokenizer_config.json.
    fast = PreTrainedTokenizerFast.from_pretrained(str(out))
    lines = []
    for case in cases:
        kwargs = dict(tools=case.get("tools") or None, add_generation_prompt=case["add_generation_prompt"])
        text = fast.apply_chat_template(case["messages"], tokenize=False, **kwargs)
        ids = fast.apply_chat_template(case["messages"], tokenize=True, return_dict=False, **kwargs)
        assert ids == fast.encode(text, add_special_tokens=False), name
        lines.append(json.dumps({**case, "text": text, "ids": ids}, ensure_ascii=False))
    (out / "cases.jsonl").write_text("\n".join(lines) + "\n")
    return fast


# --- toy: the mock server's tokenizer -------------------------------------

TOY_MARKERS = [
    "<|im_start|>",  # 100000 IM_START
    "<|im_end|>",  # 100001 IM_END
    "<|system|>",  # 100002 SYSTEM
    "<|user|>",  # 100003 USER
    "<|assistant|>",  # 100004 ASSISTANT
    "<|tool|>",  # 100005 TOOL
    "<think>",  # 100006 THINK
    "</think>",  # 100007 END_THINK
    "<tool_call>",  # 100008 TOOL_CALL
]

# Every block trims the whitespace around it: the mock's template has none.
TOY_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- set ns = namespace(content='') -%}"
    "{%- if message.content is string -%}{%- set ns.content = message.content -%}"
    "{%- elif message.content is iterable and message.content is not mapping -%}"
    "{%- for part in message.content -%}{%- if part.text is string -%}"
    "{%- set ns.content = ns.content ~ part.text -%}{%- endif -%}{%- endfor -%}"
    "{%- endif -%}"
    "<|im_start|>"
    "{%- if message.role == 'system' or message.role == 'developer' -%}<|system|>"
    "{%- elif message.role == 'assistant' -%}<|assistant|>"
    "{%- elif message.role == 'tool' -%}<|tool|>"
    "{%- else -%}<|user|>{%- endif -%}"
    "{%- if message.role == 'assistant' -%}"
    "{%- if message.reasoning_content is string -%}<think>{{ message.reasoning_content }}</think>"
    "{%- elif message.reasoning is string -%}<think>{{ message.reasoning }}</think>{%- endif -%}"
    "{{ ns.content }}"
    "{%- if message.tool_calls -%}{%- for call in message.tool_calls -%}"
    "<tool_call>"
    "{%- if call.function.name is string -%}{{ call.function.name }}{%- endif -%}"
    "{%- if call.function.arguments is string -%}{{ call.function.arguments }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "<|im_end|>"
    "{%- else -%}{{ ns.content }}<|im_end|>{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|><|assistant|>{%- endif -%}"
)


def toy():
    chars = byte_chars()
    vocab = {chars[b]: b for b in range(256)}
    for n, marker in enumerate(TOY_MARKERS):
        vocab[marker] = 100_000 + n
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(TOY_MARKERS)
    for n, marker in enumerate(TOY_MARKERS):
        assert tok.token_to_id(marker) == 100_000 + n, marker
    call = {"id": "call_1_0", "type": "function",
            "function": {"name": "terminal", "arguments": "{\"command\": \"echo hi\"}"}}
    cases = [
        {"name": "first call", "add_generation_prompt": True, "messages": [
            {"role": "system", "content": "You are careful."},
            {"role": "user", "content": "Please do the task."}]},
        {"name": "a reply with reasoning and a call, then its output", "add_generation_prompt": True,
         "messages": [
             {"role": "user", "content": "Überprüfe das 🚀"},
             {"role": "assistant", "content": None, "reasoning_content": "look", "tool_calls": [call]},
             {"role": "tool", "tool_call_id": "call_1_0", "content": "hi\n"}]},
        {"name": "a finished reply", "add_generation_prompt": False, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "done"}]},
    ]
    config = {"chat_template": TOY_TEMPLATE, "bos_token": None,
              "eos_token": added_token("<|im_end|>")}
    fast = write_dir("toy", tok, config, cases)
    # One id per byte: the mock's tokenizer.
    assert fast.encode("é", add_special_tokens=False) == list("é".encode())


# --- chatml: a small trained BPE ------------------------------------------

CHATML_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Added, but not special (as tool-call tags are in several real models).
CHATML_ADDED = ["<think>", "</think>", "<tool_call>", "</tool_call>",
                "<tool_response>", "</tool_response>"]

CHATML_TEMPLATE = """\
{%- if tools %}
<|im_start|>system
{% if messages[0].role == 'system' %}
{{ messages[0].content }}

{% endif %}
You may call functions. Each function is described in JSON inside <tools></tools>:
<tools>
{% for tool in tools %}
{{ tool | tojson }}
{% endfor %}
</tools>
Call one as <tool_call>{"name": NAME, "arguments": ARGUMENTS}</tool_call>.<|im_end|>
{% elif messages[0].role == 'system' %}
<|im_start|>system
{{ messages[0].content }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'user' or message.role == 'system' %}
<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% elif message.role == 'assistant' %}
<|im_start|>assistant
{% if message.reasoning_content %}
<think>
{{ message.reasoning_content.strip() }}
</think>

{% endif %}
{%- if message.content %}{{ message.content }}{% endif %}
{%- for call in message.tool_calls or [] %}
{%- if not loop.first or message.content %}

{% endif %}
<tool_call>
{"name": "{{ call.function.name }}", "arguments": \
{% if call.function.arguments is string %}{{ call.function.arguments }}\
{% else %}{{ call.function.arguments | tojson }}{% endif %}}
</tool_call>
{%- endfor %}
<|im_end|>
{% elif message.role == 'tool' %}
{%- if loop.previtem is not defined or loop.previtem.role != 'tool' %}
<|im_start|>user
{%- endif %}

<tool_response>
{{ message.content }}
</tool_response>
{%- if loop.last or loop.nextitem.role != 'tool' %}
<|im_end|>
{% endif %}
{%- else %}
{{ raise_exception('unknown role: ' ~ message.role) }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
"""


# For requests with tools. Written for these tests in the manner of recent
# reasoning models' templates.
CHATML_TOOL_USE_TEMPLATE = """\
{%- set ns = namespace(last_query=messages | length - 1, multi_step=true) %}
{%- for message in messages[::-1] %}
{%- set index = messages | length - 1 - loop.index0 %}
{%- if ns.multi_step and message.role == 'user' and message.content is string
      and not (message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
{%- set ns.multi_step = false %}
{%- set ns.last_query = index %}
{%- endif %}
{%- endfor %}
<|im_start|>system
{{ messages[0].content.strip() if messages[0].role == 'system' else 'You are a coding agent.' }}

# Tools
{% for tool in tools %}
- {{ tool.function.name }}: {{ tool.function.description | default('') }}
  {{ tool.function.parameters | tojson(sort_keys=true) }}
{% endfor %}
<|im_end|>
{% for message in messages %}
{%- if message.role == 'system' %}
{%- elif message.role == 'assistant' %}
{%- set content = message.content if message.content is string else '' %}
{%- set reasoning = '' %}
{%- if message.reasoning_content is string %}
{%- set reasoning = message.reasoning_content %}
{%- elif '</think>' in content %}
{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
{%- set content = content.split('</think>')[-1].lstrip('\\n') %}
{%- endif %}
<|im_start|>assistant
{% if loop.index0 > ns.last_query and reasoning %}
<think>
{{ reasoning.strip('\\n') }}
</think>

{% endif %}
{{- content }}
{%- if message.tool_calls %}
{%- for call in message.tool_calls %}
{%- set fn = call.function if call.function is defined else call %}
{{- '\\n' if (loop.first and content) or not loop.first else '' }}<tool_call>
{"name": {{ fn.name | tojson }}, "arguments": {{ fn.arguments if fn.arguments is string else fn.arguments | tojson }}}
</tool_call>
{%- endfor %}
{%- endif %}
<|im_end|>
{% elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
<|im_start|>user
{%- endif %}

<tool_response>
{{ message.content | trim }}
</tool_response>
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
<|im_end|>
{% endif %}
{%- else %}
<|im_start|>{{ message.role | lower }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}
<|im_start|>assistant
{% if enable_thinking is defined and not enable_thinking %}
<think>

</think>

{% endif %}
{%- endif %}
"""


def corpus():
    """Deterministic text like what agents see: prose, shell, Python, JSON."""
    words = ("the agent runs a command in the sandbox and reads its output before it "
             "edits the file then runs the tests again until they pass").split()
    lines = []
    for i in range(400):
        w = words[i % len(words):] + words[:i % len(words)]
        lines.append(" ".join(w[: 5 + i % 11]).capitalize() + ".")
        lines.append(f"$ ls -la /workspace/src/module_{i % 17}.py && pytest -q tests/test_{i % 13}.py")
        lines.append(f"def function_{i % 23}(value, count={i % 7}):\n    return value * count + {i}\n")
        lines.append(json.dumps({"name": "terminal", "arguments": {"command": f"grep -rn item_{i % 9} ."}}))
        lines.append(f"Test {i} passed in {i * 0.013:.3f}s; 1234567890 naïve café — 日本語 ✓")
    return lines


def chatml():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200, min_frequency=2, show_progress=False,
        special_tokens=CHATML_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.add_tokens(CHATML_ADDED)
    tools = [{"type": "function", "function": {
        "name": "terminal",
        "description": "Run a command in the sandbox — its output comes back.",
        "parameters": {"type": "object",
                       "properties": {"command": {"type": "string", "description": "the \"command\""},
                                      "timeout": {"type": "number", "default": 2.5}},
                       "required": ["command"]}}}]
    call = lambda i, args: {"id": f"call_{i}", "type": "function",  # noqa: E731
                            "function": {"name": "terminal", "arguments": args}}
    cases = [
        {"name": "system and user", "add_generation_prompt": True, "messages": [
            {"role": "system", "content": "You are a careful software engineer."},
            {"role": "user", "content": "Fix the failing test in src/module_3.py."}]},
        {"name": "multi-turn, finished", "add_generation_prompt": False, "messages": [
            {"role": "user", "content": "What does ls do?"},
            {"role": "assistant", "content": "It lists a directory."},
            {"role": "user", "content": "And ls -la?"},
            {"role": "assistant", "content": "Also hidden files, in long form.\n"}]},
        {"name": "tools, calls, responses, reasoning", "add_generation_prompt": True,
         "tools": tools, "messages": [
             {"role": "system", "content": "Work in /workspace."},
             {"role": "user", "content": "Run the tests."},
             {"role": "assistant", "content": None, "reasoning_content": "  First look around.\n",
              "tool_calls": [call(1, "{\"command\": \"ls\"}"), call(2, "{\"command\": \"pytest -q\"}")]},
             {"role": "tool", "tool_call_id": "call_1", "content": "src\ntests\n"},
             {"role": "tool", "tool_call_id": "call_2", "content": "3 passed in 0.01s"},
             {"role": "assistant", "content": "All 3 tests pass.", "reasoning_content": "Done."},
             {"role": "user", "content": "Thanks."}]},
        {"name": "unicode and arguments as an object", "add_generation_prompt": True,
         "tools": tools, "messages": [
             {"role": "user", "content": "Cafe\u0301 naïve — 日本語 🚀\tend\r\n"},
             {"role": "assistant", "content": "On it ✓",
              "tool_calls": [call(3, {"command": "echo 'ü\"\\'", "timeout": 1e-07, "flags": [True, None, 3]})]},
             {"role": "tool", "tool_call_id": "call_3", "content": "ü\"\\\n"}]},
    ]
    cases += [
        {"name": "tool_use: reasoning only after the last query, inlined reasoning split out",
         "add_generation_prompt": True, "tools": tools, "messages": [
             {"role": "system", "content": "  Work in /workspace.\n"},
             {"role": "user", "content": "Where is the bug?"},
             {"role": "assistant", "content": "<think>\nOld thought.\n</think>\n\nIn parse()."},
             {"role": "user", "content": "Fix it."},
             {"role": "assistant", "content": "<think>Plan: edit.</think>Editing.",
              "tool_calls": [call(4, {"command": "sed -i 's/a/b/' src/parse.py", "timeout": 30})]},
             {"role": "tool", "tool_call_id": "call_4", "content": "  \n"},
             {"role": "assistant", "content": None, "reasoning_content": "\nNow test.\n",
              "tool_calls": [call(5, "{\"command\": \"pytest\"}"), call(6, {"command": "git diff"})]},
             {"role": "tool", "tool_call_id": "call_5", "content": "1 passed"},
             {"role": "tool", "tool_call_id": "call_6", "content": "diff --git a/src/parse.py"}]},
        {"name": "tool_use: a finished conversation without a system message",
         "add_generation_prompt": False, "tools": tools, "messages": [
             {"role": "user", "content": "Say hi."},
             {"role": "assistant", "content": "Hi — 👋", "reasoning_content": "Easy."}]},
    ]
    templates = [{"name": "default", "template": CHATML_TEMPLATE},
                 {"name": "tool_use", "template": CHATML_TOOL_USE_TEMPLATE}]
    config = {"chat_template": templates, "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": added_token("<|endoftext|>")}
    write_dir("chatml", tok, config, cases)


if __name__ == "__main__":
    toy()
    chatml()

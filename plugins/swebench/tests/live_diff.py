"""The live half of the differential test (tests/live.rs runs it with the swebench venv's
python): the real logs and mutated variants of them (lines shuffled, cut short, lines
with ids holding spaces, brackets, paths, colour codes, odd whitespace and the other
shapes the parsers treat specially spliced in, CRLF and lone CR line ends), each through
swebench 4.1.0's seven Python parsers, directly and through `get_logs_eval` on a file.

    python live_diff.py LOGS_DIR OUT.json [SEED]
"""

import json
import random
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS
from swebench.harness.grading import get_logs_eval
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

TRICKY = [
    "PASSED tests/test_a.py::test_x[a b]",
    "FAILED tests/test_a.py::test_y[1-2] - AssertionError: x - y",
    "FAILED  - weird",
    "ERROR: file or directory not found: tests/x.py",
    "ERROR tests/test_a.py - ImportError: boom",
    "XFAIL tests/a.py::t - reason",
    "XPASS tests/a.py::xp",
    "SKIPPED [1] tests/a.py:12: no network",
    "\x1b[32mPASSED\x1b[0m tests/a.py::colour",
    "\x1b[1m\x1b[31mFAILED\x1b[0m tests/a.py::colour_fail - x",
    "tests/a.py::verbose PASSED",
    "tests/a.py::verbose_fail FAILED",
    "tests/a.py::t[/tmp/x/y.txt] PASSED",
    "PASSED tests/a.py::t[/tmp/x/y.txt]",
    "PASSED a.py::t[//net/p]",
    "PASSED a.py::t[/a*b/c]",
    "PASSED a.py::t[x]]y",
    "PASSED a.py::t]x[",
    "PASSED a.py::test[MouseButton.LEFT-1]",
    "FAILED a.py::test[MouseButton.RIGHT] - MouseButton.RIGHT - z",
    "PASSEDX a.py::glued",
    "test_foo (app.tests.T) ... ok",
    "Does a docstring work? ... ok",
    "test_ok2 (a.B) ... OK",
    "test_ok3 (a.B) ...  OK",
    "test_x (a.B) ... skipped 'x'",
    "test_y (a.B) ... FAIL",
    "test_z (a.B) ... ERROR",
    "FAIL: test_y (a.B)",
    "ERROR: test_z (a.B)",
    "test_w (a.B) ... Testing against Django installed in '/x' with up to 8 processes\nFound 3 test(s).\nSystem check identified no issues (0 silenced).\nok",
    "test_v (a.B) ... Internal Server Error: /path/x/\nok",
    "test_u (a.B) ... System check identified no issues (0 silenced)\nok",
    "test_t (a.B) ... \nok",
    "test_s (a.B) ... some output\n  ok",
    "--version is equivalent to version",
    "Applying sites.0002_alter_domain_unique...test_no_migrations (x.T) ... ok",
    "test_sym ok",
    "test_sym2 F",
    "test_sym3 E",
    "  test_indent ok  ",
    "____ sympy/a/tests/test_b.py:test_c ____",
    "_ x.py:y z.py:w _",
    "__ a.py:b",
    "PASSED\x1ctests/a.py::sep",
    "PASSED\xa0tests/a.py::nbsp",
    "PASSED tests/a.py::t\x85x",
    "PASSED [\u0663m tests/a.py::digits",
    "PASSED\u2003tests/a.py::emspace",
    " PASSED tests/a.py::lead",
    "a.py::s PASSED x",
    "x PASSED y",
]
# Lines some parsers raise on (IndexError): each in a variant of its own.
CRASHERS = ["FAIL:", "ERROR:", "PASSED", "FAILED", " PASSED "]


def parser_functions():
    funcs = {}
    for repo, func in sorted(MAP_REPO_TO_PARSER_PY.items()):
        funcs.setdefault(func.__name__[len("parse_log_"):], (func, repo))
    return funcs


def run(func, text):
    try:
        return {"status_map": func(text, None)}
    except Exception as e:
        return {"error": type(e).__name__}


def variants(text, rng):
    lines = text.split("\n")
    out = {"original": text}
    shuffled = lines[:]
    rng.shuffle(shuffled)
    out["shuffled"] = "\n".join(shuffled)
    for i in range(3):
        out[f"cut{i}"] = text[: rng.randrange(0, len(text) + 1)]
    spliced = lines[:]
    for line in TRICKY:
        spliced.insert(rng.randrange(0, len(spliced) + 1), line)
    out["spliced"] = "\n".join(spliced)
    out["crlf"] = "\r\n".join(spliced)
    out["cr"] = "\r".join(lines[: len(lines) // 2]) + "\n" + "\n".join(lines[len(lines) // 2:])
    crasher = rng.choice(CRASHERS)
    at = rng.randrange(0, len(lines) + 1)
    out["crasher"] = "\n".join(lines[:at] + [crasher] + lines[at:])
    return out


def main(logs_dir, out_path, seed=0):
    rng = random.Random(seed)
    funcs = parser_functions()
    cases = []
    paths = sorted(Path(logs_dir).glob("*/*.txt"))
    texts = [(str(p.relative_to(logs_dir)), p.read_text(encoding="utf-8")) for p in paths]
    texts.append(("tricky-only", "\n".join(TRICKY)))
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "test_output.txt"
        for name, text in texts:
            for kind, variant in variants(text, rng).items():
                case = {"name": f"{name}:{kind}", "text": variant, "direct": {}, "log_eval": {}}
                with open(file, "w", encoding="utf-8", newline="") as f:
                    f.write(variant)
                for parser, (func, repo) in funcs.items():
                    case["direct"][parser] = run(func, variant)
                    spec = SimpleNamespace(repo=repo, version=next(iter(MAP_REPO_VERSION_TO_SPECS[repo])))
                    try:
                        status_map, found = get_logs_eval(spec, str(file))
                        case["log_eval"][parser] = {"status_map": status_map, "found": found}
                    except Exception as e:
                        case["log_eval"][parser] = {"error": type(e).__name__}
                cases.append(case)
    Path(out_path).write_text(json.dumps(cases), encoding="utf-8")
    print(f"{len(cases)} variants of {len(texts)} logs", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)

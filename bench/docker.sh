#!/usr/bin/env bash
# Docker backend figures (issue 4): container start, slot acquire from a warm
# pool and exec round trip, each beside the docker CLI doing the same on the
# same engine. Prepares the engine and test image first (tests/docker-setup.sh).
# Usage: bench/docker.sh [--quick] [--image NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
tests/docker-setup.sh
cargo bench -p plinth --bench docker -- "$@"

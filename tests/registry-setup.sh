#!/usr/bin/env bash
# The OCI registry host/oci/tests/registry.rs pushes to and pulls from: Debian's
# `docker-registry` package, the reference `distribution` server (registry:2).
# Idempotent: installs only when the binary is missing (root and apt needed then).
# The tests start their own instances (`docker-registry serve CONFIG` on a free
# port, storage in a temporary directory, htpasswd written by the test), so nothing
# is started here. Prints the binary's path on stdout (everything else on stderr):
#
#   export PLINTH_REGISTRY_BIN="$(tests/registry-setup.sh)" PLINTH_REQUIRE_REGISTRY=1
#
# Without PLINTH_REGISTRY_BIN the tests look for `docker-registry` on the PATH.
set -euo pipefail

say() { echo "registry-setup: $*" >&2; }

find_bin() {
    command -v docker-registry 2>/dev/null ||
        { [ -x /usr/bin/docker-registry ] && echo /usr/bin/docker-registry; }
}

if ! bin="$(find_bin)"; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "docker-registry is not installed and cannot be installed here (needs root and apt)"
        exit 1
    fi
    say "installing docker-registry (Debian's distribution/registry 2.x)"
    # The package's service is not wanted: the tests start their own instances.
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends docker-registry >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends docker-registry >&2; }
    bin="$(find_bin)" || { say "docker-registry missing after the install"; exit 1; }
fi

# The binary must run here.
"$bin" --version >&2
echo "$bin"

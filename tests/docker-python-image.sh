#!/usr/bin/env bash
# Builds the Docker image the SWE tests run in: Debian bookworm (minbase) with
# python3, pytest and git, made with debootstrap and `docker import` because no
# image registry is reachable. The image is saved under $PLINTH_IMAGE_CACHE
# (default ~/.cache/plinth-ci) and loaded from there on later runs.
set -euo pipefail

IMAGE=plinth-test-python
cache="${PLINTH_IMAGE_CACHE:-${HOME:-/root}/.cache/plinth-ci}"
tarball="$cache/$IMAGE.tar"
say() { echo "docker-python-image: $*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if [ -f "$tarball" ] && docker load -q -i "$tarball" >/dev/null; then
    say "loaded $IMAGE from $tarball"
    exit 0
fi

command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
say "debootstrap bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase --include=python3,python3-pytest,git,ca-certificates \
    bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
mkdir -p "$cache"
docker save -o "$tarball" "$IMAGE"
say "built $IMAGE and saved it to $tarball"

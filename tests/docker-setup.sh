#!/usr/bin/env bash
# Prepares the Docker engines tests/docker.rs and bench/docker.sh run against.
# Idempotent: every step checks first and does only what is missing.
#
# - installs docker.io (and busybox-static, iproute2) when dockerd is missing;
# - starts dockerd when the default socket does not answer (no systemd here);
# - starts a second engine for the multi-host tests, in its own network
#   namespace (nsenter --net=...), with its own --data-root, --exec-root,
#   --pidfile and socket. NOT with --bridge=none in the host namespace: that
#   deletes the host engine's docker0;
# - builds the test image `plinth-test-busybox` on both engines FROM scratch
#   with Debian's static busybox (no registry is reachable);
# - builds `plinth-test-no-tar` on the first engine FROM scratch with the
#   host's dash, sleep, rm and mkdir and their libraries: an image with a
#   shell but without `tar` (busybox runs its built-in `tar` even with no
#   `/bin/tar`, so it cannot be a busybox image);
# - builds `plinth-test-bash` on the first engine: the busybox image plus the
#   host's bash and its libraries, for persistent shell sessions (busybox has
#   no bash; without one, sessions fall back to fresh commands).
#
# The plinth tests talk to the engines through the Engine API; this script
# may use the docker CLI, plinth itself never does.
set -euo pipefail

IMAGE=plinth-test-busybox
NO_TAR_IMAGE=plinth-test-no-tar
BASH_IMAGE=plinth-test-bash
SOCK1=/var/run/docker.sock
NETNS=plinth-docker2
SOCK2=/var/run/plinth-docker2.sock
ROOT2=/var/lib/plinth-docker2
EXEC2=/var/run/plinth-docker2
PID2=/var/run/plinth-docker2.pid
LOGDIR=/var/log

say() { echo "docker-setup: $*" >&2; }

answers() { docker -H "unix://$1" version >/dev/null 2>&1; }

wait_for() {
    local sock=$1 log=$2
    for _ in $(seq 1 60); do
        answers "$sock" && return 0
        sleep 0.5
    done
    say "the engine at $sock did not answer in 30 s; the end of $log:"
    tail -n 20 "$log" >&2 || true
    return 1
}

if [ "$(id -u)" != 0 ]; then
    if answers "$SOCK1" && answers "$SOCK2"; then
        say "not root, but both engines answer"
    else
        say "needs root to install and start dockerd"
        exit 1
    fi
fi

# Packages.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
# The static build: the image has no libc for a dynamic one.
if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The first engine, on the default socket.
if ! answers "$SOCK1"; then
    say "starting dockerd"
    nohup dockerd >"$LOGDIR/plinth-dockerd.log" 2>&1 &
    wait_for "$SOCK1" "$LOGDIR/plinth-dockerd.log"
fi

# The second engine, in its own network namespace: its bridge, addresses and
# iptables rules stay there.
if ! answers "$SOCK2"; then
    if ! ip netns exec "$NETNS" true 2>/dev/null; then
        ip netns delete "$NETNS" 2>/dev/null || true
        ip netns add "$NETNS"
    fi
    ip netns exec "$NETNS" ip link set lo up
    # A pid file left by an engine that is gone stops a new one.
    if [ -f "$PID2" ] && ! kill -0 "$(cat "$PID2")" 2>/dev/null; then
        rm -f "$PID2"
    fi
    mkdir -p "$ROOT2" "$EXEC2"
    say "starting the second dockerd (netns $NETNS, $SOCK2)"
    nohup nsenter --net="/var/run/netns/$NETNS" dockerd \
        --data-root "$ROOT2" --exec-root "$EXEC2" --pidfile "$PID2" \
        -H "unix://$SOCK2" >"$LOGDIR/plinth-docker2.log" 2>&1 &
    wait_for "$SOCK2" "$LOGDIR/plinth-docker2.log"
fi

# The test image, on both engines.
build_dir=""
for sock in "$SOCK1" "$SOCK2"; do
    if docker -H "unix://$sock" image inspect "$IMAGE" >/dev/null 2>&1; then
        continue
    fi
    if [ -z "$build_dir" ]; then
        build_dir=$(mktemp -d)
        trap 'rm -rf "$build_dir"' EXIT
        cp /bin/busybox "$build_dir/busybox"
        cat >"$build_dir/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "sh", "-c", "mkdir -p /tmp /root /workspace && chmod 1777 /tmp"]
EOF
    fi
    say "building $IMAGE on $sock"
    # The classic builder needs no buildx plugin; its deprecation notice is
    # noise unless the build fails.
    if ! out=$(DOCKER_BUILDKIT=0 docker -H "unix://$sock" build -q -t "$IMAGE" "$build_dir" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
done

# The image without tar, on the first engine.
if ! docker -H "unix://$SOCK1" image inspect "$NO_TAR_IMAGE" >/dev/null 2>&1; then
    no_tar_dir=$(mktemp -d)
    trap 'rm -rf "$build_dir" "$no_tar_dir"' EXIT
    mkdir -p "$no_tar_dir/root/bin"
    for tool in dash sleep rm mkdir; do
        path=$(command -v "$tool")
        name=$tool
        [ "$tool" = dash ] && name=sh
        cp -L "$path" "$no_tar_dir/root/bin/$name"
        # The dynamic loader and libraries, at the paths the binary names.
        for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
            mkdir -p "$no_tar_dir/root$(dirname "$lib")"
            cp -L "$lib" "$no_tar_dir/root$lib"
        done
    done
    printf 'FROM scratch\nCOPY root/ /\n' >"$no_tar_dir/Dockerfile"
    say "building $NO_TAR_IMAGE on $SOCK1"
    if ! out=$(DOCKER_BUILDKIT=0 docker -H "unix://$SOCK1" build -q -t "$NO_TAR_IMAGE" "$no_tar_dir" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
fi

# The busybox image with bash, on the first engine.
if ! docker -H "unix://$SOCK1" image inspect "$BASH_IMAGE" >/dev/null 2>&1; then
    bash_dir=$(mktemp -d)
    trap 'rm -rf "$build_dir" "${no_tar_dir:-}" "$bash_dir"' EXIT
    path=$(command -v bash)
    mkdir -p "$bash_dir/root/usr/bin"
    cp -L "$path" "$bash_dir/root/usr/bin/bash"
    for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
        mkdir -p "$bash_dir/root$(dirname "$lib")"
        cp -L "$lib" "$bash_dir/root$lib"
    done
    printf 'FROM %s\nCOPY root/ /\n' "$IMAGE" >"$bash_dir/Dockerfile"
    say "building $BASH_IMAGE on $SOCK1"
    if ! out=$(DOCKER_BUILDKIT=0 docker -H "unix://$SOCK1" build -q -t "$BASH_IMAGE" "$bash_dir" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
fi

say "ready: unix://$SOCK1 and unix://$SOCK2 with $IMAGE, and $NO_TAR_IMAGE and $BASH_IMAGE on the first"

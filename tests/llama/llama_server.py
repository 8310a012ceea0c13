"""Start and stop a real llama-server from the plinth llama cache, and talk to it.

Shared by `capture.py` (which writes the fixtures in this directory) and `smoke.py`
(the quick end-to-end check). Standard library only, so it runs on any CI python3.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def setup_env():
    """The PLINTH_LLAMA_* paths: from the environment, else from tests/llama-setup.sh."""
    if "PLINTH_LLAMA_SERVER" not in os.environ:
        out = subprocess.run(
            ["bash", os.path.join(HERE, "..", "llama-setup.sh")],
            check=True, stdout=subprocess.PIPE, text=True,
        ).stdout
        for line in out.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value.strip("'")
    return {k: os.environ[k] for k in (
        "PLINTH_LLAMA_SERVER", "PLINTH_LLAMA_MODEL",
        "PLINTH_LLAMA_TEMPLATES", "PLINTH_LLAMA_TOOL_TEMPLATE")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class Server:
    """One llama-server process on a free loopback port; a context manager."""

    def __init__(self, args, log_path=None):
        env = setup_env()
        self.port = free_port()
        self.argv = [env["PLINTH_LLAMA_SERVER"], "-m", env["PLINTH_LLAMA_MODEL"],
                     "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.args = args
        self.log_path = log_path or os.devnull
        self.proc = None

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.first_health = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                r = self.request("GET", "/health")
            except OSError:
                time.sleep(0.05)
                continue
            if self.first_health is None:
                # The first answer: 503 while the model loads, if we were early enough.
                self.first_health = r
            if r.status == 200:
                self.ready_health = r
                return self
            time.sleep(0.05)
        raise RuntimeError("llama-server did not become healthy within 120 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def request(self, method, path, body=None, timeout=300):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.read().decode(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read().decode(), dict(e.headers))


def sse_events(body):
    """The `data:` payloads of a server-sent-events body, in order (JSON decoded except [DONE])."""
    events = []
    for block in body.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                payload = line[len("data: "):]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def die(msg):
    print(f"llama: {msg}", file=sys.stderr)
    sys.exit(1)

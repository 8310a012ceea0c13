#!/usr/bin/env python3
"""plinth's benchmark driver (Python stdlib only); `bench/run.sh` calls it.

Figures:
  * plugins (issue 2): read from the Rust bench target `host/plinth/benches/plugins.rs`
    (its JSON, `--plugins-json`), plus the size of the release `plinth` binary;
  * agent loop (issues 3 and 14): the release `plinth run` on N tasks x K steps against
    the Rust mock (`plinth-mock-llm`, a separate process so its CPU is not counted), whose
    bench script has every task run `echo step N && ls` K times, then a final marker
    command: K+1 chat calls ("steps") per task. With `--shell persistent` and `--shell
    fresh`, at concurrency 1 and 64 (mock latency 0), and 1,000 tasks at concurrency
    1,000 with 50 ms mock latency; the same with the bench-only no-process tool
    (bench/noop-tool); and the `bash -c` spawn floor (the 11,000 commands alone);
  * peers: /work/shared/bench/run_peers.py with plinth plugged in via `--runner`
    (bench/plinth_runner.sh), once per shell mode, beside the stdlib Python floor (always,
    it needs no install) and, with `--peers`, every peer (mini-swe-agent, Hermes), with
    plinth's ratios to each.

Everything transient lives under --scratch (default /tmp/plinth-bench); the report goes
to stdout (table) and --out (JSON, default bench/results/latest.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_BENCH = os.environ.get("SHARED_BENCH", os.path.join(os.path.dirname(ROOT), "shared", "bench"))
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_OVERHEAD_MS = 1.0
TARGET_RSS_MB = 200.0
# Issue 14's targets.
TARGET_PERSISTENT_VS_FLOOR_PY = 0.5   # CPU/step with --shell persistent vs the Python floor
TARGET_BELOW_MSWEA = 13.0             # ... and at least this many times below mini-swe-agent
TARGET_FRESH_VS_FLOOR_PY = 2.40 / 2.31  # --shell fresh: no worse than before sessions (2.40 vs 2.31 ms)
TARGET_PERSISTENT_VS_SPAWN_FLOOR = 0.6  # 1,000 x 11 wall vs the `bash -c` spawn floor
TARGET_NOEXEC_VS_LATENCY_FLOOR = 1.3    # 1,000 x 11 wall, no-process tool, vs 11 x 50 ms


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def r(x, nd=3):
    return None if x is None else round(x, nd)


# ----------------------------------------------------------------------------- the mock
class Mock:
    """`plinth-mock-llm` on a free port, in its own process (its CPU is not plinth's)."""

    def __init__(self, binary: str, steps: int, latency_ms: int, log_path: str, script: str | None = None):
        self.log = open(log_path, "w")
        argv = [binary, "--port", "0", "--latency-ms", str(latency_ms), "--steps", str(steps)]
        if script:
            argv += ["--script", script]
        self.p = subprocess.Popen(argv,
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"listening on (http://[\d.]+:(\d+)/v1)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"the mock did not start: {line!r}, see {log_path}")
        self.base_url, self.port = m.group(1), int(m.group(2))
        self.root = self.base_url[: -len("/v1")]

    def stats(self) -> dict:
        with urllib.request.urlopen(self.root + "/stats", timeout=10) as resp:
            return json.loads(resp.read())

    def cpu_s(self) -> float | None:
        try:
            fields = open(f"/proc/{self.p.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()  # our own child, by PID
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def mock_round_trip(mock: Mock, tools: list, n: int) -> dict:
    """Median time of one chat request on a kept-alive raw socket: the mock's share of a step.

    The body is what plinth sends at step 6 of a 10-step task (system, user, 5 turns, tools).
    """
    messages = [{"role": "system", "content": "You are an AI agent that can execute bash commands."
                 " When you have completed the task successfully, run: echo \"MINI_SWE_AGENT_FINAL_OUTPUT\""},
                {"role": "user", "content": "Benchmark task 1. STEPS=10. Run the commands you are given."}]
    for step in range(1, 6):
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{step}", "type": "function",
             "function": {"name": "terminal", "arguments": json.dumps({"command": f"echo step {step} && ls"})}}]})
        messages.append({"role": "tool", "tool_call_id": f"call_{step}", "content": json.dumps(
            {"content": {"output": f"step {step}\nREADME.md\nmain.py\nsrc\n", "exit_code": 0, "error": None}})})
    body = json.dumps({"model": "mock", "messages": messages, "tools": tools}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{mock.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    request = head + body
    s = socket.create_connection(("127.0.0.1", mock.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    try:
        for i in range(n + 20):
            t0 = time.perf_counter()
            s.sendall(request)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("mock closed the connection")
                buf += chunk
            header, _, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"content-length:\s*(\d+)", header, re.I)
            if m:
                need = int(m.group(1))
                while len(rest) < need:
                    rest += s.recv(65536)
            else:  # chunked
                while not rest.endswith(b"0\r\n\r\n"):
                    rest += s.recv(65536)
            if i >= 20:
                times.append(time.perf_counter() - t0)
            if not header.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"mock answered {header[:40]!r}")
    finally:
        s.close()
    times.sort()
    return {"n": len(times), "median_ms": r(times[len(times) // 2] * 1e3),
            "p90_ms": r(times[int(len(times) * 0.9)] * 1e3), "request_bytes": len(request)}


# ----------------------------------------------------------------------------- one plinth run
class RssSampler(threading.Thread):
    """Polls VmRSS/VmHWM of one process (plinth itself; its bash children are separate)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_rss_kb, self.hwm_kb = pid, 0, 0
        self.ev = threading.Event()

    def run(self):
        while not self.ev.is_set():
            try:
                txt = open(f"/proc/{self.pid}/status").read()
                rss = int(re.search(r"VmRSS:\s+(\d+)", txt).group(1))
                hwm = int(re.search(r"VmHWM:\s+(\d+)", txt).group(1))
                self.peak_rss_kb, self.hwm_kb = max(self.peak_rss_kb, rss), max(self.hwm_kb, hwm)
            except (OSError, AttributeError, ValueError):
                pass
            self.ev.wait(0.01)

    def stop(self):
        self.ev.set()
        self.join(2)


def write_prompts(path: str, n: int, k: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"task-{i + 1:04d}",
                                "prompt": f"Benchmark task {i + 1}. STEPS={k}. Run the commands you are "
                                          f"given in the working directory, then finish."}) + "\n")


def noexec_script(path: str, k: int) -> str:
    """A mock script with the bench script's shape (K tool calls, then a final reply) for the
    no-process tool (bench/noop-tool, `--no-terminal --tool`), which echoes each command
    back without running it. So a step is model call + component call + bookkeeping."""
    steps = [[{"kind": "tool_calls", "calls": [{"name": "terminal", "arguments": json.dumps(
        {"command": f"echo step {i + 1} && ls"})}]}] for i in range(k)]
    steps.append([{"kind": "text", "content": "All steps are done."}])
    with open(path, "w") as f:
        json.dump({"default": "noexec", "tasks": {"noexec": steps}}, f)
    return path


def run_plinth(a, name: str, n: int, k: int, concurrency: int, latency_ms: int, noexec: bool = False,
               shell: str = "persistent") -> dict:
    run_dir = os.path.join(a.scratch, "runs", f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}")
    os.makedirs(run_dir, exist_ok=True)
    prompts = os.path.join(run_dir, "prompts.jsonl")
    write_prompts(prompts, n, k)
    script = noexec_script(os.path.join(run_dir, "script.json"), k) if noexec else None
    mock = Mock(a.mock, k, latency_ms, os.path.join(run_dir, "mock.log"), script)
    out = os.path.join(run_dir, "trajectories.jsonl")
    argv = [a.plinth, "run", "--prompts-file", prompts, "--output-file", out,
            "--base-url", mock.base_url, "--api-key", "mock-key", "--model", "mock",
            "--concurrency", str(concurrency), "--max-iterations", str(k + 6), "--cwd", a.workdir,
            "--shell", shell]
    if noexec:
        argv += ["--no-terminal", "--tool", a.noop_tool]
    env = dict(os.environ, PLINTH_CACHE_DIR=a.cache)
    rec = {"name": name, "noexec": noexec, "shell": "none" if noexec else shell, "n_tasks": n, "k_work_steps": k, "concurrency": concurrency,
           "mock_latency_ms": latency_ms, "expected_calls": n * (k + 1), "command": shlex.join(argv)}
    mock_cpu0 = mock.cpu_s()
    stdout = open(os.path.join(run_dir, "stdout.log"), "w")
    stderr = open(os.path.join(run_dir, "stderr.log"), "w")
    t_launch = time.time()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env)
    sampler = RssSampler(p.pid)
    sampler.start()
    # Wait for the exit without reaping, so the zombie's /proc/PID/stat still
    # splits plinth's own CPU from its reaped children's (bash, ls).
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    wall = time.perf_counter() - t0
    t_exit = time.time()
    try:
        fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        self_cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        children_cpu = (int(fields[13]) + int(fields[14])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        self_cpu = children_cpu = None
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    stdout.close()
    stderr.close()
    try:
        ms = mock.stats()
    except OSError as e:
        ms = {"error": str(e)}
    mock_cpu1 = mock.cpu_s()
    mock.stop()

    completed = records = api_calls = 0
    if os.path.exists(out):
        for line in open(out, encoding="utf-8"):
            if line.strip():
                d = json.loads(line)
                records += 1
                completed += bool(d.get("completed"))
                api_calls += int(d.get("api_calls") or 0)
    calls = ms.get("chat_completions") or 0
    cpu = ru.ru_utime + ru.ru_stime
    first, last = ms.get("first_request_unix"), ms.get("last_request_unix")
    loop = (last - first) if first and last else None
    rec.update({
        "exit_code": p.returncode, "wall_s": r(wall), "calls": calls,
        "completed": completed, "records": records,
        "ok": p.returncode == 0 and completed == n and calls == n * (k + 1) and api_calls == calls,
        "steps_per_s": r(calls / wall, 1) if calls else None,
        "wall_ms_per_step": r(wall * 1e3 / calls) if calls else None,
        "loop_s": r(loop), "loop_ms_per_step": r(loop * 1e3 / calls) if loop and calls else None,
        "startup_s": r(first - t_launch) if first else None,
        "shutdown_s": r(t_exit - last) if last else None,
        "cpu_user_s": r(ru.ru_utime), "cpu_sys_s": r(ru.ru_stime),
        "cpu_ms_per_step": r(cpu * 1e3 / calls) if calls else None,
        "self_cpu_s": r(self_cpu), "children_cpu_s": r(children_cpu),
        "host_cpu_ms_per_step": r(self_cpu * 1e3 / calls) if calls and self_cpu is not None else None,
        "children_cpu_ms_per_step": r(children_cpu * 1e3 / calls) if calls and children_cpu is not None else None,
        "peak_rss_mb": r(ru.ru_maxrss / 1024, 1),
        "peak_rss_polled_mb": r(max(sampler.hwm_kb, sampler.peak_rss_kb) / 1024, 1),
        "mock_max_in_flight": ms.get("max_in_flight"),
        "mock_cpu_s": r(mock_cpu1 - mock_cpu0) if mock_cpu0 is not None and mock_cpu1 is not None else None,
        "run_dir": run_dir,
    })
    log(f"{name}: wall={rec['wall_s']}s calls={calls} completed={completed}/{n} "
        f"ms/step={rec['wall_ms_per_step']} cpu_ms/step={rec['cpu_ms_per_step']} "
        f"rss={rec['peak_rss_mb']}MB in_flight={rec['mock_max_in_flight']} ok={rec['ok']}")
    return rec


def summarize(runs: list[dict]) -> dict:
    """Medians over repeats (ranges kept) of the numeric figures."""
    out = {k: runs[0][k] for k in ("name", "noexec", "shell", "n_tasks", "k_work_steps", "concurrency", "mock_latency_ms",
                                   "expected_calls", "command")}
    out["repeats"] = len(runs)
    out["ok"] = all(x["ok"] for x in runs)
    for key in ("wall_s", "steps_per_s", "wall_ms_per_step", "loop_ms_per_step", "startup_s", "shutdown_s",
                "cpu_ms_per_step", "host_cpu_ms_per_step", "children_cpu_ms_per_step", "self_cpu_s",
                "children_cpu_s", "cpu_user_s", "cpu_sys_s", "peak_rss_mb", "peak_rss_polled_mb",
                "mock_max_in_flight", "mock_cpu_s"):
        vals = [x[key] for x in runs if x.get(key) is not None]
        if vals:
            out[key] = r(median(vals))
            if len(vals) > 1:
                out[key + "_range"] = [min(vals), max(vals)]
    out["runs"] = [{k: x[k] for k in ("wall_s", "cpu_ms_per_step", "peak_rss_mb", "ok", "run_dir")} for x in runs]
    return out


# ----------------------------------------------------------------------------- peers
PLINTH_RUNNERS = ("plinth_persistent", "plinth_fresh")
PEERS = ["mswea_api", "mswea_api_threads", "mswea_batch", "mswea_batch_threads", "hermes_mini_swe",
         "hermes_batch", "hermes_batch_procs"]


def run_peers(a, full: bool) -> dict:
    """run_peers.py with plinth plugged in once per shell mode, beside the stdlib Python floor
    (it needs no install) and, when `full`, every peer (installed into /tmp/peers first)."""
    runner = os.path.join(HERE, "plinth_runner.sh")
    base = (f"{runner} --prompts {{prompts}} --base-url {{base_url}} --out {{out}} "
            f"--max-steps {{max_steps}} --cwd {{cwd}} --workers 1")
    results = os.path.join(a.results_dir, "peers.json")
    only = ["floor_py", *PLINTH_RUNNERS]
    if full:
        only += PEERS
        peers_dir = os.environ.get("PEERS_DIR", "/tmp/peers")
        log("setup_peers.sh (installs mini-swe-agent and hermes-agent into /tmp/peers; minutes the first time)")
        setup = subprocess.run(["bash", os.path.join(SHARED_BENCH, "setup_peers.sh")], stdout=sys.stderr)
        if setup.returncode != 0:
            return {"error": f"setup_peers.sh failed with {setup.returncode}"}
        if not os.path.exists(f"{peers_dir}/hermes_src/mini_swe_runner.py"):
            log(f"hermes_mini_swe skipped: {peers_dir}/hermes_src/mini_swe_runner.py missing (see setup_peers.sh)")
            only.remove("hermes_mini_swe")
    argv = [sys.executable, os.path.join(SHARED_BENCH, "run_peers.py"),
            "--runner", f"plinth_persistent={base} --shell persistent",
            "--runner", f"plinth_fresh={base} --shell fresh",
            "--only", ",".join(only),
            "--n", str(a.peers_n), "--k", str(a.peers_k), "--repeat", str(a.peers_repeat),
            "--results", results, "--examples-dir", os.path.join(a.results_dir, "peer_examples")]
    log("run_peers.py: " + shlex.join(argv))
    env = dict(os.environ, PLINTH_BIN=a.plinth, PLINTH_CACHE_DIR=a.cache)
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, env=env)
    try:
        doc = json.load(open(results))
    except (OSError, ValueError) as e:
        return {"error": f"run_peers.py wrote no results ({e}); exit {proc.returncode}"}
    table = doc.get("table_median", {})
    out = {"command": shlex.join(argv), "exit_code": proc.returncode, "params": doc.get("params"),
           "host": doc.get("host"), "table_median": table, "results_file": results, "ratios": {}}
    for mine in PLINTH_RUNNERS:
        me = table.get(mine)
        if not me:
            continue
        ratios = {}
        for peer, row in table.items():
            if peer.startswith("plinth"):
                continue
            entry = {}
            for key, label in (("cpu_ms_per_step", "cpu_ms_per_step"), ("per_step_overhead_ms", "wall_ms_per_step")):
                if me.get(key) and row.get(key):
                    entry[label] = r(me[key] / row[key], 4)
                    entry[label + "_peer"] = row[key]
            ratios[peer] = entry
        out["ratios"][mine] = ratios
    return out


def spawn_floor(a, n: int, k: int) -> dict:
    """The `bash -c` spawn floor: the N x (K+1) commands of the 1,000-in-flight run alone,
    `bash -c 'echo step I && ls'` in the bench work dir, as many at once as there are cores
    (xargs, so no Python per command)."""
    count = n * (k + 1)
    ncpu = os.cpu_count() or 1
    t0 = time.perf_counter()
    before = os.times()
    proc = subprocess.run(
        ["xargs", "-P", str(ncpu), "-I{}", "bash", "-c", "echo step {} && ls"],
        input="\n".join(str(i) for i in range(count)) + "\n", text=True, cwd=a.workdir,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    rec = {"commands": count, "parallel": ncpu, "wall_s": r(wall), "cpu_s": r(cpu), "ok": proc.returncode == 0}
    log(f"spawn floor: {rec}")
    return rec


# ----------------------------------------------------------------------------- report
def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def print_report(rep: dict) -> None:
    p = rep.get("plugins") or {}
    w = sys.stdout.write
    w("\n== plinth bench ==  " + rep["meta"]["when"] + "  " + rep["meta"]["host"] + "\n")
    w(f"release binary {rep['binary']['path']}: {rep['binary']['size_mb']} MB "
      f"({rep['binary']['size_bytes']} bytes; built-in components embedded: {rep['binary'].get('builtins_bytes')} bytes)\n")
    if p:
        c = p["compile"]
        w("\n-- issue 2: plugin runtime (in-process, host/plinth/benches/plugins.rs) --\n")
        w(f"{'built-in':<10} {'wasm KB':>8} {'cold compile ms':>16} {'warm load ms':>13} {'warm p90 ms':>12}\n")
        for name, d in c["per_plugin"].items():
            w(f"{name:<10} {d['component_bytes'] / 1024:>8.0f} {d['cold']['median_ms']:>16.1f} "
              f"{d['warm']['median_ms']:>13.3f} {d['warm']['p90_ms']:>12.3f}\n")
        w(f"all {c['builtins']} built-ins in one runtime, one after another: cold {c['cold_all_ms']:.0f} ms, "
          f"warm {c['warm_all']['median_ms']:.2f} ms "
          f"(median); PluginRuntime::new {c['runtime_new']['median_ms']:.2f} ms\n")
        k = p["calls"]
        w(f"\n{'call (instantiate + call, fresh store each)':<52} {'median ms':>10} {'p90 ms':>9}\n")
        rows = [(f"terminal tool `{k['command']}`", k["terminal_invoke"]),
                (f"LocalSandbox::exec `{k['command']}` directly", k["sandbox_exec_direct"]),
                (f"std::process `{k['command']}` (blocking)", k["bash_trivial_command"]["wall"]),
                (f"LocalSandbox::exec `{k['bash_command']['command']}`", k["sandbox_exec_bench_command"]),
                (f"std::process `{k['bash_command']['command']}` (blocking)", k["bash_command"]["wall"]),
                ("terminal tool, no command (guest-only call)", k["terminal_invoke_no_exec"])]
        rows += [(f"{n} formatter, {k['trajectory_messages']}-message trajectory", d) for n, d in k["formatters"].items()]
        for label, d in rows:
            w(f"{label:<52} {d['median_ms']:>10.3f} {d['p90_ms']:>9.3f}\n")
        w(f"tool-call overhead of the component (median difference): {k['tool_overhead_median_ms']:.3f} ms\n")
    ag = rep.get("agent")
    if ag:
        cal = ag["calibration"]
        w("\n-- plinth run against plinth-mock-llm (separate process), `echo step N && ls` per step --\n")
        w("shell: persistent (one bash per trajectory) | fresh (bash -c per command) | none (the no-process "
          "tool, bench/noop-tool); host ovh = loop ms/step - command alone - mock round trip (c=1); host CPU = "
          "plinth's own CPU per step (its children's excluded); CPU ms/st = both\n")
        w(f"calibration: bash command alone {fmt(cal.get('command_wall_ms'), 3)} ms wall, "
          f"{fmt(cal.get('command_cpu_ms'), 3)} ms CPU (bash+ls); mock round trip {fmt(cal['mock_rtt']['median_ms'], 3)} ms\n")
        hdr = (f"{'run':<24} {'shell':<10} {'N':>5} {'K':>3} {'conc':>5} {'lat':>4} {'wall s':>7} {'steps/s':>8} "
               f"{'ms/step':>8} {'loop ms/st':>10} {'host ovh ms':>11} {'CPU ms/st':>9} {'host CPU':>8} "
               f"{'RSS MB':>7} {'ok':>3}\n")
        w(hdr)
        keys = ("c1_persistent", "c1_fresh", "c64_persistent", "c64_fresh", "c1_noexec",
                "inflight1000_persistent", "inflight1000_fresh", "inflight1000_noexec")
        for key in keys:
            s = ag.get(key)
            if not s:
                continue
            w(f"{key:<24} {s['shell']:<10} {s['n_tasks']:>5} {s['k_work_steps']:>3} {s['concurrency']:>5} "
              f"{s['mock_latency_ms']:>4} {fmt(s.get('wall_s')):>7} {fmt(s.get('steps_per_s'), 0):>8} "
              f"{fmt(s.get('wall_ms_per_step'), 3):>8} {fmt(s.get('loop_ms_per_step'), 3):>10} "
              f"{fmt(s.get('host_overhead_ms_per_step'), 3):>11} {fmt(s.get('cpu_ms_per_step'), 3):>9} "
              f"{fmt(s.get('host_cpu_ms_per_step'), 3):>8} {fmt(s.get('peak_rss_mb'), 1):>7} "
              f"{'yes' if s['ok'] else 'NO':>3}\n")
        fl = ag.get("spawn_floor")
        if fl:
            w(f"`bash -c` spawn floor: the same {fl['commands']} commands alone, {fl['parallel']} at a time: "
              f"{fl['wall_s']} s wall, {fl['cpu_s']} s CPU\n")
        for key in ("inflight1000_persistent", "inflight1000_fresh", "inflight1000_noexec"):
            f = ag.get(key)
            if f:
                w(f"{key}: wall {f['wall_s']} s = {f['spawn_floor_ratio']}x the spawn floor, "
                  f"{f['floor_ratio']}x the latency floor ({f['latency_floor_s']} s); peak RSS {f['peak_rss_mb']} MB; "
                  f"mock max in flight {f.get('mock_max_in_flight')}\n")
    if rep.get("targets"):
        w("\ntargets:\n")
        for t in rep["targets"]:
            w(f"  [{'PASS' if t['pass'] else 'FAIL'}] {t['name']}: {t['value']} (target {t['target']})\n")
    peers = rep.get("peers")
    if peers and peers.get("table_median"):
        w("\n-- peers: run_peers.py (its Python mock; CPU of the whole process tree, bash included), "
          "same invocation, medians --\n")
        w(f"{'runner':<22} {'W':>2} {'wall s':>7} {'steps/s':>8} {'ms/step':>8} {'CPU ms/step':>11} {'PSS MB':>7} {'ok':>3}\n")
        for name, row in peers["table_median"].items():
            w(f"{name:<22} {fmt(row.get('workers')):>2} {fmt(row.get('wall_s')):>7} {fmt(row.get('steps_per_s'), 1):>8} "
              f"{fmt(row.get('per_step_overhead_ms')):>8} {fmt(row.get('cpu_ms_per_step')):>11} "
              f"{fmt(row.get('peak_mem_tree_pss_mb'), 0):>7} {'yes' if row.get('ok') else 'NO':>3}\n")
        for mine, ratios in peers.get("ratios", {}).items():
            w(f"{mine} / peer:   " + "  ".join(
                f"{peer} cpu {fmt(e.get('cpu_ms_per_step'), 3)} wall {fmt(e.get('wall_ms_per_step'), 3)}"
                for peer, e in ratios.items()) + "\n")
    elif peers:
        w(f"\npeers: {peers.get('error')}\n")
    w("\n")


# ----------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plinth", default=os.path.join(ROOT, "target/release/plinth"))
    ap.add_argument("--mock", default=os.path.join(ROOT, "target/release/plinth-mock-llm"))
    ap.add_argument("--plugins-json", help="output of the plugins bench target")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--scratch", default=os.environ.get("PLINTH_BENCH_SCRATCH", "/tmp/plinth-bench"))
    ap.add_argument("--quick", action="store_true", help="smaller N, one repeat")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the c1/c64 runs (medians reported)")
    ap.add_argument("--k", type=int, default=10, help="work steps per task")
    ap.add_argument("--skip-agent", action="store_true")
    ap.add_argument("--peers", action="store_true",
                    help="every peer of shared/bench/run_peers.py, not just the Python floor (installs them; slow)")
    ap.add_argument("--skip-peers", action="store_true", help="no run_peers.py at all")
    ap.add_argument("--peers-n", type=int, default=50)
    ap.add_argument("--peers-k", type=int, default=10)
    ap.add_argument("--peers-repeat", type=int, default=3)
    ap.add_argument("--noop-tool", default=os.path.join(
        ROOT, "target/wasm32-wasip2/release/plinth_bench_noop.wasm"), help="the no-process tool component")
    a = ap.parse_args()
    # The peers harness runs each runner from its own directory.
    a.plinth, a.mock = os.path.abspath(a.plinth), os.path.abspath(a.mock)
    a.noop_tool = os.path.abspath(a.noop_tool)
    if a.quick:
        a.repeat = 1
        a.peers_repeat = 1
    os.makedirs(a.results_dir, exist_ok=True)
    os.makedirs(a.scratch, exist_ok=True)
    a.cache = os.path.join(a.scratch, "cache")
    # The same small fixed work dir as run_peers.py, so `ls` prints three names.
    a.workdir = os.path.join(a.scratch, "work")
    os.makedirs(os.path.join(a.workdir, "src"), exist_ok=True)
    for fn, txt in (("README.md", "hello\n"), ("main.py", "print(1)\n"), ("src/lib.py", "")):
        with open(os.path.join(a.workdir, fn), "w") as f:
            f.write(txt)

    ncpu = os.cpu_count() or 1
    rep: dict = {"meta": {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
                          "host": f"{platform.machine()} {ncpu} CPUs, Linux {platform.release()}",
                          "cpus": ncpu, "nofile_limit": list(__import__("resource").getrlimit(
                              __import__("resource").RLIMIT_NOFILE)),
                          "plinth": a.plinth, "mock": a.mock}}
    size = os.path.getsize(a.plinth)
    rep["binary"] = {"path": a.plinth, "size_bytes": size, "size_mb": round(size / 2**20, 2)}
    plugins = None
    if a.plugins_json and os.path.exists(a.plugins_json):
        text = open(a.plugins_json).read().strip().splitlines()
        plugins = json.loads(text[-1]) if text else None
        rep["plugins"] = plugins
        if plugins:
            rep["binary"]["builtins_bytes"] = sum(
                d["component_bytes"] for d in plugins["compile"]["per_plugin"].values())

    targets = []
    if not a.skip_agent:
        ag: dict = {}
        # Calibration: the per-step work that is not plinth's: the command and the mock.
        cal: dict = {}
        if plugins and "bash_command" in plugins["calls"]:
            b = plugins["calls"]["bash_command"]
            cal["command_wall_ms"] = b["wall"]["median_ms"]
            cal["command_cpu_ms"] = b["children_cpu_ms_mean"]
            cal["command"] = b["command"]
        mdir = os.path.join(a.scratch, "calibration")
        os.makedirs(mdir, exist_ok=True)
        mock = Mock(a.mock, a.k, 0, os.path.join(mdir, "mock.log"))
        try:
            tools = [{"type": "function", "function": {
                "name": "terminal", "description": "Run a bash command.",
                "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                               "required": ["command"]}}}]
            cal["mock_rtt"] = mock_round_trip(mock, tools, 300)
        finally:
            mock.stop()
        ag["calibration"] = cal
        log(f"calibration: {cal}")

        # Fill the compile cache (the cold compile is a plugins figure, not a per-step one).
        warm = run_plinth(a, "warmup", 2, 1, 1, 0)
        # The no-process tool is not built in: its first load compiles it.
        run_plinth(a, "warmup_noexec", 2, 1, 1, 0, True)
        ag["first_run_cold_cache"] = {"wall_s": warm["wall_s"], "startup_s": warm["startup_s"]}

        def per_step(s: dict) -> None:
            cmd_ms, cmd_cpu = cal.get("command_wall_ms"), cal.get("command_cpu_ms")
            rtt = cal["mock_rtt"]["median_ms"]
            if s.get("loop_ms_per_step") is not None and cmd_ms is not None and s["concurrency"] == 1:
                s["host_overhead_ms_per_step"] = r(s["loop_ms_per_step"] - cmd_ms - rtt - s["mock_latency_ms"])
                s["host_overhead_incl_startup_ms_per_step"] = r(
                    s["wall_ms_per_step"] - cmd_ms - rtt - s["mock_latency_ms"])

        n1, n64 = (20, 128) if a.quick else (50, 256)
        for key, n, conc, noexec, shell in (
                ("c1_persistent", n1, 1, False, "persistent"), ("c1_fresh", n1, 1, False, "fresh"),
                ("c64_persistent", n64, 64, False, "persistent"), ("c64_fresh", n64, 64, False, "fresh"),
                ("c1_noexec", n1, 1, True, "persistent")):
            runs = [run_plinth(a, key, n, a.k, conc, 0, noexec, shell) for _ in range(a.repeat)]
            s = summarize(runs)
            if noexec:
                s["host_overhead_ms_per_step"] = r(s["loop_ms_per_step"] - cal["mock_rtt"]["median_ms"])
            else:
                per_step(s)
            ag[key] = s
        n_big = 200 if a.quick else 1000
        floor = spawn_floor(a, n_big, a.k)
        ag["spawn_floor"] = floor
        for key, noexec, shell in (("inflight1000_persistent", False, "persistent"),
                                   ("inflight1000_fresh", False, "fresh"),
                                   ("inflight1000_noexec", True, "persistent")):
            f = summarize([run_plinth(a, key, n_big, a.k, n_big, 50, noexec, shell)])
            f["latency_floor_s"] = r((a.k + 1) * 0.05)
            f["floor_ratio"] = r(f["wall_s"] / f["latency_floor_s"])
            f["spawn_floor_s"] = floor["wall_s"]
            f["spawn_floor_ratio"] = r(f["wall_s"] / floor["wall_s"])
            f["cpus"] = ncpu
            ag[key] = f
        rep["agent"] = ag

        def target(name, value, goal, ok):
            targets.append({"name": name, "value": value, "target": goal, "pass": bool(ok)})

        for key in ("c1_persistent", "c1_fresh", "c1_noexec"):
            if ag[key].get("host_cpu_ms_per_step") is not None:
                target(f"host CPU per step, {key}: plinth's own CPU (its children's excluded)",
                       f"{ag[key]['host_cpu_ms_per_step']} ms", f"< {TARGET_OVERHEAD_MS} ms",
                       ag[key]["host_cpu_ms_per_step"] < TARGET_OVERHEAD_MS)
        fp, fn = ag["inflight1000_persistent"], ag["inflight1000_noexec"]
        target("1,000 x 11 in flight, --shell persistent: wall vs the `bash -c` spawn floor",
               f"{fp['spawn_floor_ratio']}x ({fp['wall_s']} s vs {floor['wall_s']} s)",
               f"<= {TARGET_PERSISTENT_VS_SPAWN_FLOOR}x", fp["spawn_floor_ratio"] <= TARGET_PERSISTENT_VS_SPAWN_FLOOR)
        target("1,000 x 11 in flight, no-process tool: wall vs the latency floor",
               f"{fn['floor_ratio']}x ({fn['wall_s']} s vs {fn['latency_floor_s']} s)",
               f"<= {TARGET_NOEXEC_VS_LATENCY_FLOOR}x", fn["floor_ratio"] <= TARGET_NOEXEC_VS_LATENCY_FLOOR)
        for key in ("inflight1000_persistent", "inflight1000_fresh", "inflight1000_noexec"):
            f = ag[key]
            target(f"{key}: peak RSS of plinth", f"{f['peak_rss_mb']} MB", f"<= {TARGET_RSS_MB:.0f} MB",
                   f["peak_rss_mb"] <= TARGET_RSS_MB)
            target(f"{key}: every task completed", f"ok={f['ok']}", "all", f["ok"])

    if not a.skip_peers:
        peers = run_peers(a, a.peers)
        rep["peers"] = peers
        table = peers.get("table_median") or {}
        floor_py, mswea = table.get("floor_py", {}), table.get("mswea_api", {})

        def cpu(name):
            return (table.get(name) or {}).get("cpu_ms_per_step")

        def peer_target(name, value, goal, ok):
            targets.append({"name": name, "value": value, "target": goal, "pass": bool(ok)})

        if cpu("plinth_persistent") and floor_py.get("cpu_ms_per_step"):
            ratio = cpu("plinth_persistent") / floor_py["cpu_ms_per_step"]
            peer_target("CPU per step (process tree), --shell persistent vs the Python floor (same run)",
                        f"{r(ratio)}x ({cpu('plinth_persistent')} vs {floor_py['cpu_ms_per_step']} ms)",
                        f"<= {TARGET_PERSISTENT_VS_FLOOR_PY}x", ratio <= TARGET_PERSISTENT_VS_FLOOR_PY)
        if cpu("plinth_persistent") and mswea.get("cpu_ms_per_step"):
            below = mswea["cpu_ms_per_step"] / cpu("plinth_persistent")
            peer_target("CPU per step, --shell persistent: times below mini-swe-agent (same run)",
                        f"{r(below, 1)}x ({cpu('plinth_persistent')} vs {mswea['cpu_ms_per_step']} ms)",
                        f">= {TARGET_BELOW_MSWEA}x", below >= TARGET_BELOW_MSWEA)
        if cpu("plinth_fresh") and floor_py.get("cpu_ms_per_step"):
            ratio = cpu("plinth_fresh") / floor_py["cpu_ms_per_step"]
            peer_target("CPU per step, --shell fresh vs the Python floor: no worse than before sessions",
                        f"{r(ratio)}x ({cpu('plinth_fresh')} vs {floor_py['cpu_ms_per_step']} ms)",
                        f"<= {r(TARGET_FRESH_VS_FLOOR_PY)}x (2.40 / 2.31 ms)", ratio <= TARGET_FRESH_VS_FLOOR_PY)
    rep["targets"] = targets


    path = os.path.join(a.results_dir, "latest.json")
    with open(path, "w") as fh:
        json.dump(rep, fh, indent=2)
    print_report(rep)
    print(json.dumps(rep))
    log(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""plinth's benchmark driver (Python stdlib only); `bench/run.sh` calls it.

Figures:
  * plugins (issue 2): read from the Rust bench target `host/benches/plugins.rs`
    (its JSON, `--plugins-json`), plus the size of the release `plinth` binary;
  * agent loop (issue 3): the release `plinth run` on N tasks x K steps against the Rust
    mock (`plinth-mock-llm`, a separate process so its CPU is not counted), whose bench
    script has every task run `echo step N && ls` K times, then a final marker command:
    K+1 chat calls ("steps") per task. At concurrency 1 and 64 (mock latency 0), and
    1,000 tasks at concurrency 1,000 with 50 ms mock latency;
  * peers (`--peers`): /work/shared/bench/run_peers.py with plinth plugged in via
    `--runner` (bench/plinth_runner.sh), and plinth's ratios to every peer.

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
TARGET_FLOOR_RATIO = 1.2
TARGET_RSS_MB = 200.0


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
    """A mock script with the bench script's shape (K tool calls, then a final reply) whose
    commands never start a process: `{"command": " "}` passes the tool's JSON Schema, reaches
    the terminal component, which refuses it itself (an observation back to the model).
    So a step is model call + plugin instantiate/call + bookkeeping, minus fork/exec."""
    call = {"kind": "tool_calls", "calls": [{"name": "terminal", "arguments": json.dumps({"command": " "})}]}
    steps = [[call] for _ in range(k)] + [[{"kind": "text", "content": "All steps are done."}]]
    with open(path, "w") as f:
        json.dump({"default": "noexec", "tasks": {"noexec": steps}}, f)
    return path


def run_plinth(a, name: str, n: int, k: int, concurrency: int, latency_ms: int, noexec: bool = False) -> dict:
    run_dir = os.path.join(a.scratch, "runs", f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}")
    os.makedirs(run_dir, exist_ok=True)
    prompts = os.path.join(run_dir, "prompts.jsonl")
    write_prompts(prompts, n, k)
    script = noexec_script(os.path.join(run_dir, "script.json"), k) if noexec else None
    mock = Mock(a.mock, k, latency_ms, os.path.join(run_dir, "mock.log"), script)
    out = os.path.join(run_dir, "trajectories.jsonl")
    argv = [a.plinth, "run", "--prompts-file", prompts, "--output-file", out,
            "--base-url", mock.base_url, "--api-key", "mock-key", "--model", "mock",
            "--concurrency", str(concurrency), "--max-iterations", str(k + 6), "--cwd", a.workdir]
    if noexec:
        argv += ["--max-format-errors", str(k + 6)]
    env = dict(os.environ, PLINTH_CACHE_DIR=a.cache)
    rec = {"name": name, "noexec": noexec, "n_tasks": n, "k_work_steps": k, "concurrency": concurrency,
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
    out = {k: runs[0][k] for k in ("name", "noexec", "n_tasks", "k_work_steps", "concurrency", "mock_latency_ms",
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
def run_peers(a, report: dict) -> dict:
    runner = os.path.join(HERE, "plinth_runner.sh")
    base = (f"{runner} --prompts {{prompts}} --base-url {{base_url}} --out {{out}} "
            f"--max-steps {{max_steps}} --cwd {{cwd}}")
    results = os.path.join(a.results_dir, "peers.json")
    only = ["floor_py", "plinth", "plinth_w4", "mswea_api", "mswea_api_threads", "mswea_batch",
            "mswea_batch_threads", "hermes_mini_swe", "hermes_batch", "hermes_batch_procs"]
    peers_dir = os.environ.get("PEERS_DIR", "/tmp/peers")
    if not os.path.exists(f"{peers_dir}/hermes_src/mini_swe_runner.py"):
        log(f"hermes_mini_swe skipped: {peers_dir}/hermes_src/mini_swe_runner.py missing (see setup_peers.sh)")
        only.remove("hermes_mini_swe")
    argv = [sys.executable, os.path.join(SHARED_BENCH, "run_peers.py"),
            "--runner", f"plinth={base} --workers 1", "--runner", f"plinth_w4={base} --workers 4",
            "--runner-workers", "plinth_w4=4", "--only", ",".join(only),
            "--n", str(a.peers_n), "--k", str(a.peers_k), "--repeat", str(a.peers_repeat),
            "--results", results, "--examples-dir", os.path.join(a.results_dir, "peer_examples")]
    log("setup_peers.sh (installs mini-swe-agent and hermes-agent into /tmp/peers; minutes the first time)")
    setup = subprocess.run(["bash", os.path.join(SHARED_BENCH, "setup_peers.sh")], stdout=sys.stderr)
    if setup.returncode != 0:
        return {"error": f"setup_peers.sh failed with {setup.returncode}"}
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
    for mine in ("plinth", "plinth_w4"):
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
    w(f"release binary target/release/plinth: {rep['binary']['size_mb']} MB "
      f"({rep['binary']['size_bytes']} bytes; built-in components embedded: {rep['binary'].get('builtins_bytes')} bytes)\n")
    if p:
        c = p["compile"]
        w("\n-- issue 2: plugin runtime (in-process, host/benches/plugins.rs) --\n")
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
        w("\n-- issue 3: plinth run against plinth-mock-llm (separate process), `echo step N && ls` per step --\n")
        w("host ovh = loop ms/step - command alone - mock round trip (c=1); host CPU = plinth's own CPU per step "
          "(its children's, bash and ls, excluded); CPU ms/st = both\n")
        w(f"calibration: bash command alone {fmt(cal.get('command_wall_ms'), 3)} ms wall, "
          f"{fmt(cal.get('command_cpu_ms'), 3)} ms CPU (bash+ls); mock round trip {fmt(cal['mock_rtt']['median_ms'], 3)} ms\n")
        hdr = (f"{'run':<19} {'N':>5} {'K':>3} {'conc':>5} {'lat':>4} {'wall s':>7} {'steps/s':>8} {'ms/step':>8} "
               f"{'loop ms/st':>10} {'host ovh ms':>11} {'CPU ms/st':>9} {'host CPU':>8} {'RSS MB':>7} {'ok':>3}\n")
        w(hdr)
        for key in ("c1", "c64", "inflight1000", "c1_noexec", "inflight1000_noexec"):
            s = ag.get(key)
            if not s:
                continue
            w(f"{key:<19} {s['n_tasks']:>5} {s['k_work_steps']:>3} {s['concurrency']:>5} {s['mock_latency_ms']:>4} "
              f"{fmt(s.get('wall_s')):>7} {fmt(s.get('steps_per_s'), 0):>8} {fmt(s.get('wall_ms_per_step'), 3):>8} "
              f"{fmt(s.get('loop_ms_per_step'), 3):>10} {fmt(s.get('host_overhead_ms_per_step'), 3):>11} "
              f"{fmt(s.get('cpu_ms_per_step'), 3):>9} {fmt(s.get('host_cpu_ms_per_step'), 3):>8} "
              f"{fmt(s.get('peak_rss_mb'), 1):>7} {'yes' if s['ok'] else 'NO':>3}\n")
        for key in ("inflight1000", "inflight1000_noexec"):
            f = ag.get(key)
            if not f:
                continue
            w(f"{key}: wall {f['wall_s']} s vs latency floor {f['latency_floor_s']} s = "
              f"{f['floor_ratio']}x; loop only {f.get('loop_floor_ratio')}x; "
              f"CPU floor (plinth + children + mock CPU / {f['cpus']} cores) {f.get('cpu_floor_s')} s "
              f"(commands alone {f.get('command_cpu_floor_s')} s) -> {f.get('wall_vs_floor')}x of "
              f"max(latency, CPU) floor; mock max in flight {f.get('mock_max_in_flight')}\n")
        w("no-process steps: the mock's tool calls carry an empty command the terminal component refuses "
          "itself (model call + component instantiate/call + bookkeeping, no fork/exec)\n")
    if rep.get("targets"):
        w("\ntargets:\n")
        for t in rep["targets"]:
            w(f"  [{'PASS' if t['pass'] else 'FAIL'}] {t['name']}: {t['value']} (target {t['target']})\n")
    peers = rep.get("peers")
    if peers and peers.get("table_median"):
        w("\n-- peers: run_peers.py, same invocation (medians) --\n")
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
    ap.add_argument("--peers", action="store_true", help="also run shared/bench/run_peers.py (slow)")
    ap.add_argument("--peers-n", type=int, default=50)
    ap.add_argument("--peers-k", type=int, default=10)
    ap.add_argument("--peers-repeat", type=int, default=1)
    a = ap.parse_args()
    # The peers harness runs each runner from its own directory.
    a.plinth, a.mock = os.path.abspath(a.plinth), os.path.abspath(a.mock)
    if a.quick:
        a.repeat = 1
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
        ag["first_run_cold_cache"] = {"wall_s": warm["wall_s"], "startup_s": warm["startup_s"]}

        def per_step(s: dict) -> None:
            cmd_ms, cmd_cpu = cal.get("command_wall_ms"), cal.get("command_cpu_ms")
            rtt = cal["mock_rtt"]["median_ms"]
            if s.get("loop_ms_per_step") is not None and cmd_ms is not None and s["concurrency"] == 1:
                s["host_overhead_ms_per_step"] = r(s["loop_ms_per_step"] - cmd_ms - rtt - s["mock_latency_ms"])
                s["host_overhead_incl_startup_ms_per_step"] = r(
                    s["wall_ms_per_step"] - cmd_ms - rtt - s["mock_latency_ms"])

        n1, n64 = (20, 128) if a.quick else (50, 256)
        for key, n, conc, noexec in (("c1", n1, 1, False), ("c64", n64, 64, False), ("c1_noexec", n1, 1, True)):
            runs = [run_plinth(a, key, n, a.k, conc, 0, noexec) for _ in range(a.repeat)]
            s = summarize(runs)
            if noexec:
                s["host_overhead_ms_per_step"] = r(s["loop_ms_per_step"] - cal["mock_rtt"]["median_ms"])
            else:
                per_step(s)
            ag[key] = s
        for key, noexec in (("inflight1000", False), ("inflight1000_noexec", True)):
            f = summarize([run_plinth(a, key, 1000, a.k, 1000, 50, noexec)])
            if not noexec:
                per_step(f)
            f["latency_floor_s"] = r((a.k + 1) * 0.05)
            f["floor_ratio"] = r(f["wall_s"] / f["latency_floor_s"])
            if f.get("loop_ms_per_step") is not None:
                loop_s = f["loop_ms_per_step"] * f["expected_calls"] / 1e3
                f["loop_floor_ratio"] = r(loop_s / f["latency_floor_s"])
            f["cpus"] = ncpu
            if f.get("children_cpu_s") is not None and not noexec:
                f["command_cpu_floor_s"] = r(f["children_cpu_s"] / ncpu)
            # On this machine the run is CPU-bound: everything that must run
            # (plinth, its commands, the mock) spread over every core.
            if f.get("cpu_user_s") is not None and f.get("mock_cpu_s") is not None:
                f["cpu_floor_s"] = r((f["cpu_user_s"] + f["cpu_sys_s"] + f["mock_cpu_s"]) / ncpu)
                f["floor"] = r(max(f["latency_floor_s"], f["cpu_floor_s"]))
                f["wall_vs_floor"] = r(f["wall_s"] / f["floor"])
            ag[key] = f
        rep["agent"] = ag

        def target(name, value, goal, ok):
            targets.append({"name": name, "value": value, "target": goal, "pass": bool(ok)})

        c1, c1n = ag["c1"], ag["c1_noexec"]
        if c1.get("host_overhead_ms_per_step") is not None:
            target("per-step host overhead, c=1: loop ms/step - command alone - mock round trip",
                   f"{c1['host_overhead_ms_per_step']} ms", f"< {TARGET_OVERHEAD_MS} ms",
                   c1["host_overhead_ms_per_step"] < TARGET_OVERHEAD_MS)
        target("per-step host overhead, c=1, no-process steps: loop ms/step - mock round trip",
               f"{c1n['host_overhead_ms_per_step']} ms", f"< {TARGET_OVERHEAD_MS} ms",
               c1n["host_overhead_ms_per_step"] < TARGET_OVERHEAD_MS)
        for key in ("c1", "c64", "c1_noexec"):
            if ag[key].get("host_cpu_ms_per_step") is not None:
                target(f"host CPU per step, {key}: plinth's own CPU (its children's excluded)",
                       f"{ag[key]['host_cpu_ms_per_step']} ms", f"< {TARGET_OVERHEAD_MS} ms",
                       ag[key]["host_cpu_ms_per_step"] < TARGET_OVERHEAD_MS)
        for key, label in (("inflight1000", "`echo step N && ls` steps"), ("inflight1000_noexec", "no-process steps")):
            f = ag[key]
            target(f"1,000 in flight ({label}): wall vs latency floor",
                   f"{f['floor_ratio']}x ({f['wall_s']} s vs {f['latency_floor_s']} s)",
                   f"<= {TARGET_FLOOR_RATIO}x", f["floor_ratio"] <= TARGET_FLOOR_RATIO)
            target(f"1,000 in flight ({label}): peak RSS of plinth", f"{f['peak_rss_mb']} MB",
                   f"< {TARGET_RSS_MB:.0f} MB", f["peak_rss_mb"] < TARGET_RSS_MB)
            target(f"1,000 in flight ({label}): every task completed", f"ok={f['ok']}", "all", f["ok"])
            if f.get("wall_vs_floor") is not None:
                target(f"1,000 in flight ({label}): wall vs max(latency floor, CPU floor) [diagnostic]",
                       f"{f['wall_vs_floor']}x ({f['wall_s']} s vs {f['floor']} s; CPU floor = "
                       f"(plinth {r(f['cpu_user_s'] + f['cpu_sys_s'], 2)} s + mock {f['mock_cpu_s']} s CPU) "
                       f"/ {ncpu} cores; mock saw {f.get('mock_max_in_flight')} in flight at most)",
                       f"<= {TARGET_FLOOR_RATIO}x", f["wall_vs_floor"] <= TARGET_FLOOR_RATIO)
    rep["targets"] = targets

    if a.peers:
        rep["peers"] = run_peers(a, rep)

    path = os.path.join(a.results_dir, "latest.json")
    with open(path, "w") as fh:
        json.dump(rep, fh, indent=2)
    print_report(rep)
    print(json.dumps(rep))
    log(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark ferroflow against the stock MLflow server and FastTrackML.

Starts each server on a fresh SQLite database in a temporary directory,
drives the same workloads against it with the Rust load generator
(bench/loadgen), samples the resident memory of the server's process tree,
and prints a Markdown table with absolute numbers and ratios.

Standard library only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SERVERS = ("ferroflow", "mlflow", "fasttrackml")
WORKLOADS = ("ingest", "small", "search", "history")

# Loadgen arguments per workload: the full run and the --quick smoke run.
FULL = {
    "ingest": {"concurrency": 8, "batch-size": 1000, "warmup": 3, "duration": 30},
    "small": {"concurrency": 16, "warmup": 3, "duration": 30},
    "search": {"runs": 2000, "seed-concurrency": 8, "max-results": 100, "iterations": 50,
               "page-size": 1000, "page-iterations": 10},
    "history": {"points": 100_000, "batch-size": 1000, "seed-concurrency": 4, "page-size": 25_000,
                "iterations": 5},
}
QUICK = {
    "ingest": {"concurrency": 8, "batch-size": 1000, "warmup": 1, "duration": 3},
    "small": {"concurrency": 16, "warmup": 1, "duration": 3},
    "search": {"runs": 200, "seed-concurrency": 8, "max-results": 100, "iterations": 10,
               "page-size": 1000, "page-iterations": 3},
    "history": {"points": 10_000, "batch-size": 1000, "seed-concurrency": 4, "page-size": 2_500,
                "iterations": 2},
}
# Upper bound for one workload, setup included (passed to the loadgen, which
# stops by itself; the orchestrator kills it a little later as a backstop).
WORKLOAD_MAX_S = 900
READY_TIMEOUT_S = 180
# Share of all cores busy above which the machine does not count as idle.
IDLE_BUSY = 0.15
IDLE_SETTLE_S = 3


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# machine and versions

def machine_description() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "os": os_name,
        "kernel": platform.release(),
    }


def last_word(text: str | None) -> str:
    """`mlflow, version 3.17.2` -> `3.17.2`; '?' when unknown."""
    return text.split()[-1] if text and text.split() else "?"


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def cpu_busy(seconds: float = 2.0) -> float | None:
    """Fraction of the machine's CPU time (all cores) that was busy over a short window."""
    a = _cpu_times()
    time.sleep(seconds)
    b = _cpu_times()
    if not a or not b or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def command_output(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if out.returncode == 0 and text else None


# ---------------------------------------------------------------------------
# process tree memory

def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return stat[stat.rfind(")") + 2:].split()


def start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants."""
    total = 0
    for p in process_tree(pid):
        fields = _stat_fields(p)
        if fields and len(fields) > 12:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if not fields:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _status_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def tree_memory(pid: int) -> dict:
    """RSS (and PSS where readable) summed over a process and all its descendants, in MiB."""
    pids = process_tree(pid)
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    pss_values = [_pss_kib(p) for p in pids]
    pss = sum(v for v in pss_values if v is not None) if all(v is not None for v in pss_values) else None
    return {
        "processes": len(pids),
        "rss_mib": rss / 1024,
        "pss_mib": pss / 1024 if pss is not None else None,
    }


# ---------------------------------------------------------------------------
# servers

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerSpec:
    name: str
    argv: list[str]
    env: dict = field(default_factory=dict)


def server_spec(name: str, port: int, workdir: Path, args: argparse.Namespace) -> ServerSpec:
    db = workdir / f"{name}.db"
    artifacts = workdir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    venv_bin = Path(args.venv) / "bin"
    if name == "ferroflow":
        argv = [str(args.ferroflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", str(artifacts)]
    elif name == "mlflow":
        # Default settings, as a user would start it (the default worker count included).
        argv = [str(venv_bin / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", str(artifacts)]
    elif name == "fasttrackml":
        # FastTrackML's own flags: host:port in one, and sqlite://<absolute path>.
        argv = [str(venv_bin / "fml"), "server", "--listen-address", f"127.0.0.1:{port}",
                "--database-uri", f"sqlite://{db}", "--default-artifact-root", str(artifacts)]
    else:
        raise ValueError(name)
    # No telemetry or other outside traffic from the servers under test.
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    return ServerSpec(name, argv, env)


class Server:
    def __init__(self, spec: ServerSpec, port: int, workdir: Path):
        self.spec = spec
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.log_path = workdir / f"{spec.name}.log"
        self.proc: subprocess.Popen | None = None
        # pid -> start time of every process seen in the server's tree.
        self.known: dict[int, str | None] = {}

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.spec.env)
        log_file = open(self.log_path, "wb")
        try:
            # Own session, so the whole tree can be stopped through its process group.
            self.proc = subprocess.Popen(self.spec.argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log_file.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"exited with code {self.proc.returncode if self.proc else '?'}"
                                   f" before becoming ready; last log lines:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"not ready after {timeout:.0f}s; last log lines:\n{self.log_tail()}")

    def remember_tree(self) -> None:
        if self.alive() and self.proc is not None:
            for pid in process_tree(self.proc.pid):
                self.known.setdefault(pid, start_time(pid))

    def memory(self) -> dict:
        if not self.alive() or self.proc is None:
            return {"error": "server not running"}
        self.remember_tree()
        return tree_memory(self.proc.pid)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.remember_tree()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        # Whatever of the group (or of the tree we saw) is still there gets SIGKILL.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # Descendants that left the process group: only the very processes seen
        # in the tree (same pid and start time), never a reused pid.
        for pid, started in self.known.items():
            if pid != self.proc.pid and started is not None and start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------------------
# workloads

def run_loadgen(loadgen: Path, workload: str, url: str, params: dict) -> dict:
    argv = [str(loadgen), workload, "--url", url, "--max-duration", str(WORKLOAD_MAX_S)]
    for k, v in params.items():
        argv += [f"--{k}", str(v)]
    backstop = WORKLOAD_MAX_S + 180
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=backstop)
    except subprocess.TimeoutExpired:
        return {"workload": workload, "ok": False, "error": f"load generator killed after {backstop}s"}
    lines = [line for line in out.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        err = (out.stderr or "").strip().splitlines()[-3:]
        return {"workload": workload, "ok": False, "error": f"no result (exit {out.returncode}): {' '.join(err)}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as e:
        return {"workload": workload, "ok": False, "error": f"unparsable result: {e}"}


def bench_server(name: str, args: argparse.Namespace, profile: dict, loadgen: Path) -> dict:
    result: dict = {"server": name, "workloads": {}, "memory": {}}
    workdir = Path(tempfile.mkdtemp(prefix=f"ferroflow-bench-{name}-"))
    result["workdir"] = str(workdir)
    # Other work on the machine skews everything: optionally wait for it to
    # calm down, and note how busy it was just before.
    busy = cpu_busy()
    deadline = time.monotonic() + args.wait_idle
    while busy is not None and busy > IDLE_BUSY and time.monotonic() < deadline:
        log(f"{name}: machine {100 * busy:.0f}% busy, waiting (up to {args.wait_idle:.0f}s) ...")
        time.sleep(10)
        busy = cpu_busy()
    result["cpu_busy_before"] = busy
    port = free_port()
    server = Server(server_spec(name, port, workdir, args), port, workdir)
    log(f"{name}: starting on {server.url} ({' '.join(server.spec.argv)})")
    try:
        t0 = time.monotonic()
        server.start()
        server.wait_ready(READY_TIMEOUT_S)
        result["startup_s"] = time.monotonic() - t0
        log(f"{name}: ready after {result['startup_s']:.1f}s")
        time.sleep(IDLE_SETTLE_S)
        if not server.alive():
            # e.g. it lost a race for the port and something else answered /health.
            raise RuntimeError(f"exited right after becoming ready; last log lines:\n{server.log_tail()}")
        result["memory"]["idle"] = server.memory()
        log(f"{name}: idle memory {fmt_mem(result['memory']['idle'])}")
        for workload in args.workloads:
            if not server.alive():
                result["workloads"][workload] = {"ok": False, "error": "server exited",
                                                 "log_tail": server.log_tail()}
                continue
            log(f"{name}: {workload} ...")
            assert server.proc is not None
            sys0, srv0, t0 = _cpu_times(), tree_cpu_seconds(server.proc.pid), time.monotonic()
            r = run_loadgen(loadgen, workload, server.url, profile[workload])
            sys1, srv1, wall = _cpu_times(), tree_cpu_seconds(server.proc.pid), time.monotonic() - t0
            # Where the machine's CPU went meanwhile: server, load generator, everything else.
            r["server_cpu_s"] = srv1 - srv0
            if sys0 and sys1 and wall > 0:
                busy_s = (sys1[0] - sys0[0]) / CLK_TCK
                other = max(0.0, busy_s - r["server_cpu_s"] - (r.get("client_cpu_s") or 0))
                r["other_cpu_share"] = other / wall / (os.cpu_count() or 1)
            result["workloads"][workload] = r
            log(f"{name}: {workload}: {summarize(workload, r)}")
        result["memory"]["after"] = server.memory()
        log(f"{name}: memory after load {fmt_mem(result['memory']['after'])}")
        if not server.alive():
            result["log_tail"] = server.log_tail()
    except Exception as e:  # noqa: BLE001 - a failing server must not stop the benchmark
        result["error"] = str(e)
        log(f"{name}: FAILED: {e}")
    finally:
        server.stop()
        if args.keep:
            log(f"{name}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def fmt_mem(m: dict) -> str:
    if "rss_mib" not in m:
        return m.get("error", "?")
    pss = f", PSS {m['pss_mib']:.0f} MiB" if m.get("pss_mib") is not None else ""
    return f"RSS {m['rss_mib']:.0f} MiB over {m['processes']} process(es){pss}"


def summarize(workload: str, r: dict) -> str:
    if not r.get("ok"):
        return f"error: {r.get('error')}"
    keys = {
        "ingest": ["points_per_s", "latency_p50_ms", "errors"],
        "small": ["requests_per_s", "latency_p50_ms", "latency_p99_ms", "errors"],
        "search": ["seed_s", "filtered_p50_ms", "filtered_p95_ms", "page_p50_ms", "valid"],
        "history": ["seed_s", "total_p50_ms", "pages", "valid"],
    }[workload]
    parts = []
    for k in keys:
        v = r.get(k)
        parts.append(f"{k}={fmt_num(v) if isinstance(v, float) else v}")
    parts.append(f"loadgen_cpu={100 * (r.get('client_cpu_share') or 0):.0f}%")
    parts.append(f"other_load={100 * (r.get('other_cpu_share') or 0):.0f}%")
    return " ".join(parts)


# ---------------------------------------------------------------------------
# report

def fmt_num(v: float | None) -> str:
    if v is None:
        return "n/a"
    av = abs(v)
    if av >= 10_000:
        return f"{v:,.0f}"
    if av >= 100:
        return f"{v:.0f}"
    if av >= 10:
        return f"{v:.1f}"
    if av >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


@dataclass
class Row:
    label: str
    source: str  # workload name or "memory"
    key: str
    higher_is_better: bool
    scale: float = 1.0


def rows_for(profile: dict, workloads: list[str]) -> list[Row]:
    i, s, se, h = profile["ingest"], profile["small"], profile["search"], profile["history"]
    rows: list[Row] = []
    if "ingest" in workloads:
        rows.append(Row(f"ingest: log-batch of {i['batch-size']} points, {i['concurrency']} clients (points/s)",
                        "ingest", "points_per_s", True))
    if "small" in workloads:
        rows += [
            Row(f"small: log-metric, {s['concurrency']} clients (requests/s)", "small", "requests_per_s", True),
            Row("small: log-metric latency p50 (ms)", "small", "latency_p50_ms", False),
            Row("small: log-metric latency p99 (ms)", "small", "latency_p99_ms", False),
        ]
    if "search" in workloads:
        rows += [
            Row(f"search: filtered + ordered, {se['max-results']} of {se['runs']} runs, p50 (ms)",
                "search", "filtered_p50_ms", False),
            Row("search: filtered + ordered, p95 (ms)", "search", "filtered_p95_ms", False),
            Row(f"search: unfiltered page of {se['page-size']} runs, p50 (ms)", "search", "page_p50_ms", False),
        ]
    if "history" in workloads:
        rows.append(Row(f"history: get-history of {h['points']:,} points, all pages of {h['page-size']:,} (s)",
                        "history", "total_p50_ms", False, 1 / 1000))
    rows += [
        Row("memory: RSS of the process tree, idle after start (MiB)", "memory", "idle", False),
        Row("memory: RSS of the process tree, after the load (MiB)", "memory", "after", False),
    ]
    if "search" in workloads:
        rows.append(Row(f"setup: seeding {se['runs']} runs via runs/create + log-batch (runs/s)",
                        "search", "seed_runs_per_s", True))
    if "history" in workloads:
        rows.append(Row("setup: logging the history via log-batch (points/s)",
                        "history", "seed_points_per_s", True))
    return rows


def cell_value(result: dict, row: Row) -> tuple[float | None, str]:
    """The number for a cell (None if unavailable) and its text."""
    if result.get("error") and not result.get("workloads"):
        return None, "error"
    if row.source == "memory":
        m = result.get("memory", {}).get(row.key)
        if not m or "rss_mib" not in m:
            return None, "error" if result.get("error") else "n/a"
        return m["rss_mib"], fmt_num(m["rss_mib"])
    r = result.get("workloads", {}).get(row.source)
    if r is None:
        return None, "error" if result.get("error") else "n/a"
    if not r.get("ok"):
        return None, "error"
    v = r.get(row.key)
    if v is None:
        return None, "n/a"
    v = v * row.scale
    text = fmt_num(v)
    notes = []
    if r.get("errors"):
        notes.append(f"{r['errors']} err")
    if r.get("valid") is False:
        notes.append("!")
    if notes:
        text += f" ({', '.join(notes)})"
    return v, text


def ratio_text(ff: float | None, other: float | None, higher_is_better: bool) -> str:
    if ff is None or other is None or ff <= 0 or other <= 0:
        return "–"
    r = ff / other if higher_is_better else other / ff
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def render(results: dict[str, dict], args: argparse.Namespace, profile: dict, machine: dict,
           versions: dict) -> str:
    servers = [s for s in SERVERS if s in results]
    rows = rows_for(profile, args.workloads)
    ratio_cols = [o for o in ("mlflow", "fasttrackml") if "ferroflow" in results and o in results]
    header = ["workload"] + servers + [f"ferroflow vs {o}" for o in ratio_cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        vals = {s: cell_value(results[s], row) for s in servers}
        cells = [row.label] + [vals[s][1] for s in servers]
        for o in ratio_cols:
            cells.append(ratio_text(vals["ferroflow"][0], vals[o][0], row.higher_is_better))
        lines.append("| " + " | ".join(cells) + " |")

    out = []
    mode = "quick smoke run" if args.quick else "full run"
    out.append(f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB RAM, "
               f"{machine['os']} (kernel {machine['kernel']}). Servers and load generator share the machine; "
               f"{mode}.")
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k in results or k == "loadgen"))
    out.append("")
    out.extend(lines)
    out.append("")
    notes = ["Ratios: how many times better ferroflow is (throughput: ferroflow / other; "
             "latency, time and memory: other / ferroflow); > 1 means ferroflow is better."]
    notes.append("Memory is the sum of VmRSS over the server process and all its descendants "
                 "(shared pages of forked workers count once per process).")
    pss = []
    for s in servers:
        m = results[s].get("memory", {}).get("after") or {}
        if m.get("pss_mib") is not None:
            pss.append(f"{s} {m['pss_mib']:.0f} MiB ({m['processes']} process(es))")
    if pss:
        notes.append("PSS after the load (shared pages split between processes): " + ", ".join(pss) + ".")
    cpu = []
    for s in servers:
        shares = [r.get("client_cpu_share") or 0 for r in results[s].get("workloads", {}).values()]
        if shares:
            cpu.append(f"{s} {100 * max(shares):.0f}%")
    if cpu:
        notes.append("Load generator CPU, highest over the workloads (% of one core): " + ", ".join(cpu) + ".")
    other = []
    for s in servers:
        shares = {w: r.get("other_cpu_share") or 0 for w, r in results[s].get("workloads", {}).items()}
        noisy = [f"{w} {100 * v:.0f}%" for w, v in shares.items() if v > IDLE_BUSY / 2]
        if noisy:
            other.append(f"{s}: " + ", ".join(noisy))
    if other:
        notes.append("Warning: other processes used CPU during these workloads (share of all cores), "
                     "so their numbers are pessimistic: " + "; ".join(other) + ".")
    flagged = []
    for s in servers:
        if results[s].get("error"):
            flagged.append(f"{s} failed: {results[s]['error'].splitlines()[0]}")
        for w, r in results[s].get("workloads", {}).items():
            if not r.get("ok"):
                flagged.append(f"{s} {w}: {str(r.get('error')).splitlines()[0][:200]}")
            elif r.get("valid") is False:
                flagged.append(f"{s} {w}: wrong result size (!): " + json.dumps(
                    {k: r.get(k) for k in ("filtered_rows", "filtered_rows_expected", "page_rows",
                                           "page_rows_expected", "points_fetched", "points") if k in r}))
            elif r.get("errors"):
                flagged.append(f"{s} {w}: {r['errors']} failed requests, first: {str(r.get('first_error'))[:200]}")
            if w == "history" and r.get("ok") and r.get("pages") is not None:
                expected_pages = -(-r.get("points", 0) // max(1, r.get("page_size", 1)))
                if r["pages"] != expected_pages:
                    flagged.append(f"{s} history: answered in {r['pages']} page(s), "
                                   f"not {expected_pages} (max_results not honoured)")
    busy = [f"{s} {100 * results[s]['cpu_busy_before']:.0f}%" for s in servers
            if (results[s].get("cpu_busy_before") or 0) > IDLE_BUSY]
    if busy:
        notes.append("Warning: other processes kept the machine busy just before these servers' runs "
                     "(share of all cores): " + ", ".join(busy) + "; their numbers are pessimistic.")
    out.extend(f"- {n}" for n in notes)
    if flagged:
        out.append("")
        out.append("Problems:")
        out.extend(f"- {f}" for f in flagged)
    return "\n".join(out)


# ---------------------------------------------------------------------------
# main

def parse_list(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
    return [a for a in allowed if a in items]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")).resolve()


def build(args: argparse.Namespace) -> None:
    packages = ["ferroflow-loadgen"]
    if "ferroflow" in args.servers and args.ferroflow_bin == default_ferroflow_bin():
        packages.append("ferroflow-cli")
    cmd = ["cargo", "build", "--release"] + [a for p in packages for a in ("-p", p)]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, cwd=REPO, check=True)


def default_ferroflow_bin() -> Path:
    return target_dir() / "release" / "ferroflow"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default=",".join(SERVERS),
                   type=lambda v: parse_list(v, SERVERS, "server"),
                   help=f"comma-separated subset of {','.join(SERVERS)} (default: all)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   type=lambda v: parse_list(v, WORKLOADS, "workload"),
                   help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    p.add_argument("--quick", action="store_true", help="short smoke run with small data sets")
    p.add_argument("--duration", type=float, help="measured seconds of ingest and small (overrides the profile)")
    p.add_argument("--venv", default=os.environ.get("BENCH_VENV", str(REPO / ".venv" / "bench")),
                   help="virtualenv with mlflow and fasttrackml (default: .venv/bench)")
    p.add_argument("--ferroflow-bin", type=Path, default=default_ferroflow_bin(), help="ferroflow binary")
    p.add_argument("--loadgen-bin", type=Path, default=target_dir() / "release" / "ferroflow-loadgen",
                   help="load generator binary")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each server, wait up to this long for the machine to be idle")
    p.add_argument("--json", type=Path, help="also write the raw results to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories (databases, server logs)")
    args = p.parse_args()

    profile = json.loads(json.dumps(QUICK if args.quick else FULL))
    if args.duration:
        profile["ingest"]["duration"] = profile["small"]["duration"] = args.duration

    if not args.no_build:
        build(args)
    if not args.loadgen_bin.exists():
        log(f"load generator not found at {args.loadgen_bin}; build it with "
            "`cargo build --release -p ferroflow-loadgen`")
        return 2
    venv_bin = Path(args.venv) / "bin"
    for name, exe in (("mlflow", "mlflow"), ("fasttrackml", "fml")):
        if name in args.servers and not (venv_bin / exe).exists():
            log(f"{exe} not found in {venv_bin}; run bench/run.sh (it creates the venv) or pass --venv")
            return 2

    machine = machine_description()
    versions = {
        "ferroflow": last_word(command_output([str(args.ferroflow_bin), "--version"])),
        "mlflow": last_word(command_output([str(venv_bin / "mlflow"), "--version"])),
        "fasttrackml": last_word(command_output([str(venv_bin / "fml"), "--version"])),
    }
    rev = command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if rev:
        versions["ferroflow"] += f" (git {rev})"
    log(f"machine: {machine}")

    results: dict[str, dict] = {}
    for name in args.servers:
        results[name] = bench_server(name, args, profile, args.loadgen_bin)

    report = render(results, args, profile, machine, versions)
    print(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "versions": versions, "profile": profile,
                                         "quick": args.quick, "results": results}, indent=2))
        log(f"raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

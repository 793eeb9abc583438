#!/usr/bin/env python3
"""Benchmark ferroflow against the stock MLflow server and FastTrackML.

Starts each server on a fresh database (SQLite in a temporary directory, or
a new database on a PostgreSQL or MySQL/MariaDB server: --backend),
drives the same workloads against it with the Rust load generator
(bench/loadgen), samples the resident memory of the server's process tree,
and prints a Markdown table with absolute numbers and ratios.

The artifact workloads (artifacts-local, artifacts-s3) start each server
again with --artifacts-destination (a local directory, or a bucket on an
S3-compatible server: s3s-fs or moto) and move one large file through the
proxy with curl.

Standard library only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# The access-control variants (--auth) run the same workloads as a non-admin user that owns
# its experiments: ferroflow with --auth and the audit log, sending Basic credentials or an API
# token, and MLflow's basic-auth app.
AUTH_SERVERS = ("ferroflow-basic", "ferroflow-token", "mlflow-basic-auth")
SERVERS = ("ferroflow", "mlflow", "fasttrackml") + AUTH_SERVERS
DEFAULT_SERVERS = ("ferroflow", "mlflow", "fasttrackml")
# --auth: the servers and workloads of the access-control comparison.
AUTH_PRESET_SERVERS = ("ferroflow", "ferroflow-basic", "ferroflow-token", "mlflow-basic-auth")
AUTH_PRESET_WORKLOADS = ("ingest", "small")
# Ratio columns: (server, compared with), shown when both ran.
RATIO_PAIRS = (("ferroflow", "mlflow"), ("ferroflow", "fasttrackml"),
               ("ferroflow-basic", "mlflow-basic-auth"), ("ferroflow-token", "mlflow-basic-auth"),
               ("ferroflow-basic", "ferroflow"), ("ferroflow-token", "ferroflow"))
# The admin of the access-control variants, and the user the load generator logs in as.
BENCH_ADMIN = ("admin", "bench admin password")
BENCH_USER = ("bench", "bench user password")
LOADGEN_WORKLOADS = ("ingest", "small", "search", "history", "registry")
# The load-generator workloads that seed data first and then time reads of it.
SEEDED_WORKLOADS = ("search", "history", "registry")
ARTIFACT_WORKLOADS = ("artifacts-local", "artifacts-s3")
WORKLOADS = LOADGEN_WORKLOADS + ARTIFACT_WORKLOADS
# The artifact proxy is compared against the stock server only.
ARTIFACT_SERVERS = ("ferroflow", "mlflow")
# FastTrackML has no model registry.
REGISTRY_SERVERS = ("ferroflow", "mlflow") + AUTH_SERVERS
# Backend stores (--backend): SQLite files, or a database created per server run
# on a PostgreSQL or MySQL/MariaDB server (dropped afterwards).
BACKENDS = ("sqlite", "postgres", "mysql")
BACKEND_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MySQL/MariaDB"}
# Servers that cannot use a backend show n/a.
UNSUPPORTED_BACKENDS = {("fasttrackml", "mysql"): "FastTrackML supports SQLite and PostgreSQL only"}

# Loadgen arguments per workload: the full run and the --quick smoke run.
FULL = {
    "ingest": {"concurrency": 8, "batch-size": 1000, "warmup": 3, "duration": 30},
    "small": {"concurrency": 16, "warmup": 3, "duration": 30},
    "search": {"runs": 2000, "seed-concurrency": 8, "max-results": 100, "iterations": 200,
               "page-size": 1000, "page-iterations": 10},
    "history": {"points": 100_000, "batch-size": 1000, "seed-concurrency": 4, "page-size": 25_000,
                "iterations": 5},
    "registry": {"models": 2000, "versions": 5, "seed-concurrency": 8, "iterations": 50},
    # Sizes in MiB; big-size-mb is one extra PUT + GET for the memory claim (local
    # destination only, 0 = off); client-mpu-min-mb None keeps the client's default
    # multipart threshold (500 MiB).
    "artifacts": {"size-mb": 1024, "s3-size-mb": 1024, "big-size-mb": 2048, "repeats": 3,
                  "client": True, "client-mpu-min-mb": None},
}
QUICK = {
    "ingest": {"concurrency": 8, "batch-size": 1000, "warmup": 1, "duration": 3},
    "small": {"concurrency": 16, "warmup": 1, "duration": 3},
    "search": {"runs": 200, "seed-concurrency": 8, "max-results": 100, "iterations": 10,
               "page-size": 1000, "page-iterations": 3},
    "history": {"points": 10_000, "batch-size": 1000, "seed-concurrency": 4, "page-size": 2_500,
                "iterations": 2},
    "registry": {"models": 200, "versions": 5, "seed-concurrency": 8, "iterations": 10},
    # The client's multipart threshold is lowered so that the quick run takes that path too.
    "artifacts": {"size-mb": 64, "s3-size-mb": 64, "big-size-mb": 0, "repeats": 3,
                  "client": True, "client-mpu-min-mb": 16},
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


def server_spec(name: str, port: int, workdir: Path, args: argparse.Namespace, store_uri: str,
                artifacts_destination: str | None = None) -> ServerSpec:
    """How to start a server on the backend store `store_uri` (see
    Database.uri). With artifacts_destination, it proxies artifacts to that
    place (`--artifacts-destination`, and the default artifact root
    `mlflow-artifacts:/` that both servers then pick by themselves)."""
    artifacts = workdir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    venv_bin = Path(args.venv) / "bin"
    if artifacts_destination is not None:
        artifact_flags = ["--artifacts-destination", artifacts_destination]
    else:
        artifact_flags = ["--default-artifact-root", str(artifacts)]
    # No telemetry or other outside traffic from the servers under test.
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if name.startswith("ferroflow"):
        argv = [str(args.ferroflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", store_uri] + artifact_flags
        if name in AUTH_SERVERS:
            argv.append("--auth")
            env["FERROFLOW_ADMIN_USERNAME"], env["FERROFLOW_ADMIN_PASSWORD"] = BENCH_ADMIN
    elif name.startswith("mlflow"):
        # Default settings, as a user would start it (the default worker count included).
        argv = [str(venv_bin / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", store_uri] + artifact_flags
        if name == "mlflow-basic-auth":
            # MLflow keeps its users and permissions in a database of its own (SQLite here, next
            # to the tracking store), configured through an INI file.
            config = workdir / "basic_auth.ini"
            config.write_text("[mlflow]\n"
                              "default_permission = READ\n"
                              f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
                              f"admin_username = {BENCH_ADMIN[0]}\n"
                              f"admin_password = {BENCH_ADMIN[1]}\n"
                              "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
            argv += ["--app-name", "basic-auth"]
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
            # The app refuses to start without a fixed key for its CSRF tokens.
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)
    elif name == "fasttrackml":
        if artifacts_destination is not None:
            raise ValueError("fasttrackml is not part of the artifact workloads")
        # FastTrackML's own flags: host:port in one, and sqlite://<absolute path> or postgres://.
        argv = [str(venv_bin / "fml"), "server", "--listen-address", f"127.0.0.1:{port}",
                "--database-uri", store_uri, "--default-artifact-root", str(artifacts)]
    else:
        raise ValueError(name)
    return ServerSpec(name, argv, env)


def basic(user: tuple[str, str]) -> str:
    import base64
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def post_json(url: str, body: dict, authorization: str) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"POST {url}: HTTP {e.code}: {e.read()[:300]!r}") from None


def login_header(name: str, url: str) -> str | None:
    """The Authorization header the load generator sends to server `name` (None: no
    access control): the admin creates the bench user, who logs in with Basic credentials
    or, for ferroflow-token, with an API token the user makes for itself."""
    if name not in AUTH_SERVERS:
        return None
    post_json(f"{url}/api/2.0/mlflow/users/create", {"username": BENCH_USER[0], "password": BENCH_USER[1]},
              basic(BENCH_ADMIN))
    if name == "ferroflow-token":
        made = post_json(f"{url}/api/2.0/ferroflow/tokens", {"name": "bench"}, basic(BENCH_USER))
        return f"Bearer {made['token']}"
    return basic(BENCH_USER)


class Database:
    """The backend store of one server run: a SQLite file in the run's
    directory, or a new database on the PostgreSQL or MySQL/MariaDB server of
    --postgres-url / --mysql-url, created with the psql / mysql command-line
    client before the server starts and dropped after it stopped."""

    counter = 0

    def __init__(self, backend: str, server: str, workdir: Path, args: argparse.Namespace):
        self.backend = backend
        self.server = server
        self.workdir = workdir
        self.created = False
        Database.counter += 1
        self.name = f"ffbench_{server}_{os.getpid()}_{Database.counter}"
        if backend != "sqlite":
            self.url = urllib.parse.urlsplit(args.postgres_url if backend == "postgres" else args.mysql_url)

    def _userinfo(self) -> str:
        u = self.url
        info = urllib.parse.quote(u.username or "", safe="")
        if u.password:
            info += ":" + urllib.parse.quote(u.password, safe="")
        return info + "@" if info else ""

    def _hostport(self) -> str:
        default = 5432 if self.backend == "postgres" else 3306
        return f"{self.url.hostname or '127.0.0.1'}:{self.url.port or default}"

    def uri(self) -> str:
        """The backend store URI as this server takes it."""
        if self.backend == "sqlite":
            db = self.workdir / f"{self.server}.db"
            # FastTrackML: sqlite:// followed by an absolute path; the others take SQLAlchemy's sqlite:///.
            return f"sqlite://{db}" if self.server == "fasttrackml" else f"sqlite:///{db}"
        if self.backend == "postgres":
            scheme = "postgres" if self.server == "fasttrackml" else "postgresql"
            return f"{scheme}://{self._userinfo()}{self._hostport()}/{self.name}"
        return f"mysql+pymysql://{self._userinfo()}{self._hostport()}/{self.name}"

    def statistics_command(self) -> tuple[str, dict] | None:
        """A shell command (and the environment it needs) that refreshes the
        planner statistics of this database: ANALYZE on PostgreSQL, ANALYZE
        TABLE on each table on MySQL/MariaDB. The load generator runs it once a
        workload's data is seeded, for every server alike, so the timed part
        sees what a long-lived deployment sees once autovacuum or InnoDB's
        automatic recalculation caught up (autovacuum may be off, and either may
        lag behind a burst of inserts)."""
        if self.backend == "sqlite":
            return None
        connection, env = client_connection(self.backend, self.url)
        if self.backend == "postgres":
            argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *connection, "-d", self.name, "-c", "ANALYZE"]
        else:
            argv = ["mysqlcheck", *connection, "--silent", "--analyze", self.name]
        return shlex.join(argv), env

    def describe(self) -> str:
        return "SQLite file" if self.backend == "sqlite" else f"{self.name} on {self._hostport()}"

    def create(self) -> None:
        if self.backend == "postgres":
            admin_sql(self.backend, self.url, f'CREATE DATABASE "{self.name}"')
        elif self.backend == "mysql":
            admin_sql(self.backend, self.url, f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
        self.created = True

    def drop(self) -> None:
        if not self.created or self.backend == "sqlite":
            return
        try:
            if self.backend == "postgres":
                # FORCE (PostgreSQL 13+) ends connections a killed server may have left behind.
                admin_sql(self.backend, self.url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            else:
                admin_sql(self.backend, self.url, f"DROP DATABASE IF EXISTS `{self.name}`")
        except RuntimeError as e:
            log(f"dropping database {self.name}: {e}")


def client_connection(backend: str, url: urllib.parse.SplitResult) -> tuple[list[str], dict]:
    """The options with which the PostgreSQL (psql) or MySQL (mysql,
    mysqlcheck) command-line clients reach the server of `url` as its user,
    and the environment variable that carries the password, if any."""
    env = {}
    if backend == "postgres":
        options = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
        if url.password:
            env["PGPASSWORD"] = url.password
    else:
        options = ["--protocol=TCP", "-h", url.hostname or "127.0.0.1", "-P", str(url.port or 3306),
                   "-u", url.username or "root"]
        if url.password:
            env["MYSQL_PWD"] = url.password
    return options, env


def admin_sql(backend: str, url: urllib.parse.SplitResult, sql: str, timeout: float = 120) -> str:
    """Runs one statement with the psql or mysql command-line client on the
    server of `url` (user and password from it); returns its plain output."""
    connection, password = client_connection(backend, url)
    env = {**os.environ, **password}
    if backend == "postgres":
        argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", *connection, "-d", "postgres", "-c", sql]
    else:
        argv = ["mysql", *connection, "-N", "-B", "-e", sql]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"{argv[0]}: {e}") from e
    if out.returncode != 0:
        raise RuntimeError(f"{argv[0]} exit {out.returncode}: {out.stderr.strip()[:300]}")
    return out.stdout.strip()


# Process names of the database servers, for their CPU time during a workload.
DB_PROCESS_NAMES = {"postgres": ("postgres",), "mysql": ("mariadbd", "mysqld")}


def db_cpu_seconds(backend: str) -> float | None:
    """CPU time of the database server's processes (user + system, plus that of
    their exited children, e.g. PostgreSQL backends of closed connections)."""
    names = DB_PROCESS_NAMES.get(backend)
    if not names:
        return None
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            fields = _stat_fields(entry)
            if fields and len(fields) > 14:
                total += sum(int(f) for f in fields[11:15])
    return total / CLK_TCK


class Server:
    def __init__(self, spec: ServerSpec, port: int, workdir: Path, health_path: str | None = "/health"):
        self.spec = spec
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.health_path = health_path
        self.log_path = workdir / f"{spec.name}.log"
        self.proc: subprocess.Popen | None = None
        self.root: Path | None = None  # s3s-fs: the directory holding its buckets
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
                if self.health_path is None:
                    # Ready when the port accepts connections.
                    with socket.create_connection(("127.0.0.1", self.port), timeout=5):
                        return
                with urllib.request.urlopen(self.url + self.health_path, timeout=5) as resp:
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

def run_loadgen(loadgen: Path, workload: str, url: str, params: dict, env: dict | None = None) -> dict:
    argv = [str(loadgen), workload, "--url", url, "--max-duration", str(WORKLOAD_MAX_S)]
    for k, v in params.items():
        argv += [f"--{k}", str(v)]
    backstop = WORKLOAD_MAX_S + 180
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=backstop, env={**os.environ, **(env or {})})
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


def wait_idle(name: str, args: argparse.Namespace) -> float | None:
    """Other work on the machine skews everything: optionally wait for it to
    calm down, and return how busy it was just before."""
    busy = cpu_busy()
    deadline = time.monotonic() + args.wait_idle
    while busy is not None and busy > IDLE_BUSY and time.monotonic() < deadline:
        log(f"{name}: machine {100 * busy:.0f}% busy, waiting (up to {args.wait_idle:.0f}s) ...")
        time.sleep(10)
        busy = cpu_busy()
    return busy


def bench_server(name: str, backend: str, args: argparse.Namespace, profile: dict, loadgen: Path,
                 shared: dict) -> dict:
    """All selected workloads against one server on one backend store: the
    load-generator workloads on one instance, then each artifact workload on an
    instance of its own (each instance with a fresh database)."""
    result: dict = {"server": name, "backend": backend, "workloads": {}, "memory": {}}
    if (name, backend) in UNSUPPORTED_BACKENDS:
        result["skipped"] = UNSUPPORTED_BACKENDS[(name, backend)]
        log(f"{name}: skipped on {backend}: {result['skipped']}")
        return result
    loadgen_workloads = [w for w in args.workloads if w in LOADGEN_WORKLOADS]
    if loadgen_workloads:
        bench_loadgen_workloads(name, backend, args, profile, loadgen, loadgen_workloads, result)
    for workload in args.workloads:
        if workload not in ARTIFACT_WORKLOADS:
            continue
        if name not in ARTIFACT_SERVERS:
            result["workloads"][workload] = {"ok": False, "skipped": "not part of the artifact workloads"}
            continue
        result["workloads"][workload] = bench_artifacts(name, backend, workload, args, profile, shared)
    return result


def bench_loadgen_workloads(name: str, backend: str, args: argparse.Namespace, profile: dict, loadgen: Path,
                            workloads: list[str], result: dict) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"ferroflow-bench-{name}-"))
    result["workdir"] = str(workdir)
    result["cpu_busy_before"] = wait_idle(name, args)
    port = free_port()
    db = Database(backend, name, workdir, args)
    server = Server(server_spec(name, port, workdir, args, db.uri()), port, workdir)
    try:
        db.create()
        result["database"] = db.describe()
        log(f"{name}: starting on {server.url} ({' '.join(server.spec.argv)})")
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
        authorization = login_header(name, server.url)
        for workload in workloads:
            if workload == "registry" and name not in REGISTRY_SERVERS:
                result["workloads"][workload] = {"ok": False, "skipped": "no model registry"}
                continue
            if not server.alive():
                result["workloads"][workload] = {"ok": False, "error": "server exited",
                                                 "log_tail": server.log_tail()}
                continue
            log(f"{name}: {workload} ...")
            assert server.proc is not None
            db0 = db_cpu_seconds(backend)
            sys0, srv0, t0 = _cpu_times(), tree_cpu_seconds(server.proc.pid), time.monotonic()
            params, env = dict(profile[workload]), {}
            refresh = db.statistics_command()
            if refresh and workload in SEEDED_WORKLOADS:
                params["after-seed"], env = refresh
            if authorization:
                env = {**env, "LOADGEN_AUTHORIZATION": authorization}
            r = run_loadgen(loadgen, workload, server.url, params, env)
            sys1, srv1, wall = _cpu_times(), tree_cpu_seconds(server.proc.pid), time.monotonic() - t0
            db1 = db_cpu_seconds(backend)
            if db0 is not None and db1 is not None:
                # The database server's work for this workload (not part of the server's tree).
                r["db_cpu_s"] = db1 - db0
            if workload == "registry" and r.get("ok") and r.get("seed_s"):
                # Seeding rate: registered-models/create + model-versions/create requests per second.
                requests = r["models"] * (1 + r["versions_per_model"])
                r["seed_requests_per_s"] = requests / r["seed_s"]
            # Where the machine's CPU went meanwhile: server, load generator, everything else.
            r["server_cpu_s"] = srv1 - srv0
            if sys0 and sys1 and wall > 0:
                busy_s = (sys1[0] - sys0[0]) / CLK_TCK
                other = max(0.0, busy_s - r["server_cpu_s"] - (r.get("client_cpu_s") or 0) - (r.get("db_cpu_s") or 0))
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
            log(f"{name}: kept {workdir}" + (f" and database {db.name}" if db.created and backend != "sqlite" else ""))
        else:
            db.drop()
            shutil.rmtree(workdir, ignore_errors=True)


def fmt_mem(m: dict) -> str:
    if "rss_mib" not in m:
        return m.get("error", "?")
    pss = f", PSS {m['pss_mib']:.0f} MiB" if m.get("pss_mib") is not None else ""
    return f"RSS {m['rss_mib']:.0f} MiB over {m['processes']} process(es){pss}"


def summarize(workload: str, r: dict) -> str:
    if not r.get("ok"):
        return f"error: {r.get('error')}"
    if workload in ARTIFACT_WORKLOADS:
        parts = [f"PUT {fmt_num(r.get('upload_mib_s'))} MiB/s", f"GET {fmt_num(r.get('download_mib_s'))} MiB/s",
                 f"peak RSS {fmt_num(r.get('peak_rss_mib'))} MiB"]
        if r.get("big"):
            parts.append(f"{r['big']['size_mib']} MiB PUT {fmt_num(r.get('big_upload_mib_s'))} / "
                         f"GET {fmt_num(r.get('big_download_mib_s'))} MiB/s, "
                         f"peak RSS {fmt_num(r.get('big_peak_rss_mib'))} MiB")
        if r.get("client"):
            mode = "multipart" if r["client"].get("multipart_used") else "single PUT"
            parts.append(f"client log_artifact {fmt_num(r.get('client_mib_s'))} MiB/s ({mode})")
        parts.append(f"curl_cpu={100 * (r.get('client_cpu_share') or 0):.0f}%")
        return ", ".join(parts)
    keys = {
        "ingest": ["points_per_s", "latency_p50_ms", "errors"],
        "small": ["requests_per_s", "latency_p50_ms", "latency_p99_ms", "errors"],
        "search": ["seed_s", "filtered_p50_ms", "filtered_p95_ms", "page_p50_ms", "valid"],
        "history": ["seed_s", "total_p50_ms", "pages", "valid"],
        "registry": ["seed_s", "models_p50_ms", "models_p95_ms", "versions_p50_ms", "versions_p95_ms", "valid"],
    }[workload]
    parts = []
    for k in keys:
        v = r.get(k)
        parts.append(f"{k}={fmt_num(v) if isinstance(v, float) else v}")
    parts.append(f"loadgen_cpu={100 * (r.get('client_cpu_share') or 0):.0f}%")
    parts.append(f"other_load={100 * (r.get('other_cpu_share') or 0):.0f}%")
    return " ".join(parts)


# ---------------------------------------------------------------------------
# artifact workloads

MIB = 1024 * 1024
ARTIFACT_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
# Upper bound for one curl transfer or one client upload.
TRANSFER_TIMEOUT_S = 1800
# Untimed 1 MiB PUT + GET pairs before the measured transfers (MLflow has 4 workers).
WARMUP_TRANSFERS = 8
# Before the transfers the server's process tree must be quiet: under 5% of one
# core over 2 s (waiting at most 120 s).
QUIET_CPU_SHARE = 0.05
QUIET_WINDOW_S = 2.0
QUIET_TIMEOUT_S = 120
# Credentials and region for the S3 destination (moto accepts anything; s3s-fs
# is started with exactly these keys and checks every signature).
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION = "testing", "testing", "us-east-1"
S3_ENV = {"AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
          "AWS_DEFAULT_REGION": S3_REGION, "AWS_EC2_METADATA_DISABLED": "true"}
S3_SERVERS = ("s3s-fs", "moto")
# s3s-fs as bench/run.sh installs it (cargo install s3s-fs ... --root .tools).
S3S_FS_TOOLS_BIN = REPO / ".tools" / "bin" / "s3s-fs"
# The ratio targets of the artifact proxy (issue): throughput vs MLflow, and
# ferroflow's memory during a 2 GB transfer (100 MB = 10^8 bytes).
TARGET_SPEEDUP = 3.0
TARGET_RSS_MIB = 100e6 / MIB


class RssSampler:
    """Samples the summed VmRSS of a process tree in a background thread
    (every 50 ms; the tree itself is re-read every 0.5 s). `peak()` returns
    the highest sample since the previous call."""

    def __init__(self, pid: int, interval: float = 0.05, rescan: float = 0.5):
        self.pid = pid
        self.interval = interval
        self.rescan = rescan
        self._lock = threading.Lock()
        self._peak = 0.0
        self._pids: list[int] = []
        self._scanned = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RssSampler":
        self._sample()
        self._thread.start()
        return self

    def _sample(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._scanned >= self.rescan or not self._pids:
                self._pids = process_tree(self.pid)
                self._scanned = now
            rss = sum(_status_kib(p, "VmRSS") for p in self._pids) / 1024
            self._peak = max(self._peak, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def peak(self) -> float:
        self._sample()
        with self._lock:
            peak, self._peak = self._peak, 0.0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wait_tree_quiet(pid: int, timeout: float = QUIET_TIMEOUT_S) -> float:
    """Waits until a process tree has (nearly) stopped using CPU after its start
    (MLflow's job runner and huey consumers import MLflow for a while after
    /health answers), so that this start-up work does not land in the first
    transfer. Returns the seconds waited."""
    t0 = time.monotonic()
    before = tree_cpu_seconds(pid)
    while time.monotonic() - t0 < timeout:
        time.sleep(QUIET_WINDOW_S)
        after = tree_cpu_seconds(pid)
        if after - before < QUIET_CPU_SHARE * QUIET_WINDOW_S:
            break
        before = after
    return time.monotonic() - t0


def tree_hwm(pid: int) -> dict:
    """VmHWM (the kernel's own peak RSS since start) of each process in a tree, in MiB."""
    values = [_status_kib(p, "VmHWM") / 1024 for p in process_tree(pid)]
    return {"processes": len(values), "sum_mib": sum(values), "max_mib": max(values, default=0.0)}


class TestFiles:
    """Files of random (incompressible) bytes, made once per benchmark run."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.files: dict[int, tuple[Path, str]] = {}

    def get(self, size_mib: int) -> tuple[Path, str]:
        if size_mib not in self.files:
            path = self.dir / f"{size_mib}MiB.bin"
            log(f"writing a {size_mib} MiB test file ...")
            digest = hashlib.sha256()
            with open(path, "wb") as f:
                for _ in range(size_mib):
                    chunk = os.urandom(MIB)
                    digest.update(chunk)
                    f.write(chunk)
            self.files[size_mib] = (path, digest.hexdigest())
        return self.files[size_mib]


def curl_transfer(url: str, size: int, upload: Path | None = None, output: Path | None = None,
                  headers: tuple[str, ...] = (), status: int = 200, sigv4: bool = False) -> dict:
    """One PUT (`curl -T file`) or GET (`curl -o /dev/null`, or into `output`).
    Throughput is the file size over curl's own total time. With sigv4, the
    request is signed for S3 (AWS Signature V4, payload not hashed)."""
    body = Path(tempfile.gettempdir()) / f"ferroflow-bench-curl-{os.getpid()}.out"
    argv = ["curl", "--silent", "--show-error", "--max-time", str(TRANSFER_TIMEOUT_S),
            "-w", "%{http_code} %{size_upload} %{size_download} %{time_total}"]
    if sigv4:
        # curl signs every header it is given, an emptied `Expect:` too (which it then
        # does not send, so the signature would not match): a signed PUT keeps the
        # `Expect: 100-continue` round trip.
        argv += ["--aws-sigv4", f"aws:amz:{S3_REGION}:s3", "--user", f"{S3_ACCESS_KEY}:{S3_SECRET_KEY}",
                 "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    else:
        argv += ["-H", "Expect:"]  # no `Expect: 100-continue` round trip before the body
    for h in headers:
        argv += ["-H", h]
    if upload is not None:
        argv += ["-T", str(upload), "-o", str(body)]
    else:
        argv += ["-o", str(output) if output is not None else os.devnull]
    argv.append(url)
    before = os.times()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=TRANSFER_TIMEOUT_S + 60)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"curl killed after {TRANSFER_TIMEOUT_S + 60}s"}
    after = os.times()
    r: dict = {"client_cpu_s": (after.children_user - before.children_user)
               + (after.children_system - before.children_system)}
    fields = out.stdout.split()
    if len(fields) != 4:
        r.update(ok=False, error=f"curl exit {out.returncode}: {out.stderr.strip()[:300]}")
        return r
    code, up, down, secs = int(fields[0]), int(float(fields[1])), int(float(fields[2])), float(fields[3])
    moved = up if upload is not None else down
    r.update(http_code=code, bytes=moved, seconds=secs, mib_per_s=moved / MIB / secs if secs > 0 else None)
    r["ok"] = out.returncode == 0 and code == status and moved == size
    if not r["ok"]:
        detail = out.stderr.strip()
        if upload is not None:
            try:
                detail += " " + body.read_text(errors="replace")[:300]
            except OSError:
                pass
        r["error"] = f"HTTP {code}, {moved} of {size} bytes, curl exit {out.returncode}: {detail.strip()[:300]}"
    body.unlink(missing_ok=True)
    return r


def parallel_range_get(url: str, size: int, parts: int, sigv4: bool) -> dict:
    """GET of a whole object as `parts` ranged GETs in parallel curl processes
    (as boto3's download_file fetches: 8 MiB ranges, 10 at a time); MiB/s is
    the size over the wall time of all of them."""
    chunk = -(-size // parts)
    procs = []
    t0 = time.monotonic()
    for i in range(parts):
        first, last = i * chunk, min(size, (i + 1) * chunk) - 1
        argv = ["curl", "--silent", "--show-error", "--max-time", str(TRANSFER_TIMEOUT_S), "-o", os.devnull,
                "-w", "%{http_code} %{size_download}", "-H", f"Range: bytes={first}-{last}"]
        if sigv4:
            argv += ["--aws-sigv4", f"aws:amz:{S3_REGION}:s3", "--user", f"{S3_ACCESS_KEY}:{S3_SECRET_KEY}",
                     "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        procs.append((subprocess.Popen(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                      last - first + 1))
    moved, errors = 0, []
    for proc, expected in procs:
        out, err = proc.communicate(timeout=TRANSFER_TIMEOUT_S + 60)
        fields = out.split()
        if proc.returncode != 0 or len(fields) != 2 or fields[0] != "206" or int(fields[1]) != expected:
            errors.append(f"curl exit {proc.returncode}: {out} {err.strip()[:200]}")
        else:
            moved += expected
    secs = time.monotonic() - t0
    if errors:
        return {"ok": False, "error": errors[0]}
    return {"ok": True, "bytes": moved, "seconds": secs, "parts": parts, "mib_per_s": moved / MIB / secs}


# Run in the bench venv: boto3's upload_file and download_file (the S3 client
# stock MLflow uses, default TransferConfig: 8 MiB parts and ranges, 10 threads)
# straight to the S3 server, each timed, with the S3 server's CPU time.
BOTO3_CEILING_SCRIPT = r"""
import json, os, sys, time
import boto3
endpoint, bucket, path, pid, repeats, scratch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s3 = boto3.client("s3", endpoint_url=endpoint)
tck = os.sysconf("SC_CLK_TCK")
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tck
size = os.path.getsize(path)
out = {"upload_runs": [], "download_runs": []}
for _ in range(repeats):
    os.sync(); c0, t0 = cpu(), time.perf_counter()
    s3.upload_file(path, bucket, "boto3.bin")
    out["upload_runs"].append({"seconds": time.perf_counter() - t0, "s3_cpu_s": cpu() - c0})
for _ in range(repeats):
    os.sync(); c0, t0 = cpu(), time.perf_counter()
    s3.download_file(bucket, "boto3.bin", scratch)
    out["download_runs"].append({"seconds": time.perf_counter() - t0, "s3_cpu_s": cpu() - c0})
    if os.path.getsize(scratch) != size:
        raise SystemExit(f"downloaded {os.path.getsize(scratch)} of {size} bytes")
    os.unlink(scratch)
for runs in (out["upload_runs"], out["download_runs"]):
    for r in runs:
        r["mib_per_s"] = size / 2**20 / r["seconds"]
print(json.dumps(out))
"""


def boto3_ceiling(args: argparse.Namespace, s3: Server, bucket: str, path: Path, repeats: int,
                  scratch: Path) -> dict:
    env = dict(os.environ)
    env.update(S3_ENV)
    assert s3.proc is not None
    argv = [str(Path(args.venv) / "bin" / "python"), "-c", BOTO3_CEILING_SCRIPT, s3.url, bucket, str(path),
            str(s3.proc.pid), str(repeats), str(scratch)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=TRANSFER_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"boto3 killed after {TRANSFER_TIMEOUT_S}s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        err = (out.stderr or "").strip().splitlines()[-2:]
        return {"ok": False, "error": f"boto3 exit {out.returncode}: {' '.join(err)[:300]}"}
    r = json.loads(lines[-1])
    size_gib = path.stat().st_size / 1024 ** 3
    r["ok"] = True
    r["upload_mib_s"], r["upload_best_mib_s"] = median_and_best(r["upload_runs"])
    r["download_mib_s"], r["download_best_mib_s"] = median_and_best(r["download_runs"])
    r["upload_s3_cpu_s_per_gib"] = statistics.median(t["s3_cpu_s"] for t in r["upload_runs"]) / size_gib
    r["download_s3_cpu_s_per_gib"] = statistics.median(t["s3_cpu_s"] for t in r["download_runs"]) / size_gib
    return r


def s3s_fs_binary(args: argparse.Namespace) -> Path | None:
    """s3s-fs from --s3s-fs-bin, $S3S_FS_BIN, the project's .tools/bin (bench/run.sh) or PATH."""
    if args.s3s_fs_bin is not None:
        return args.s3s_fs_bin
    if os.environ.get("S3S_FS_BIN"):
        return Path(os.environ["S3S_FS_BIN"])
    if S3S_FS_TOOLS_BIN.exists():
        return S3S_FS_TOOLS_BIN
    found = shutil.which("s3s-fs")
    return Path(found) if found else None


def start_s3(args: argparse.Namespace, workdir: Path) -> Server:
    """A fresh S3-compatible server on a free port, its state in workdir:
    s3s-fs (objects as files below workdir/root, every request signature
    checked against the bench keys) or moto (objects in memory; TMPDIR in
    workdir). The server's name is args.s3_server."""
    port = free_port()
    if args.s3_server == "s3s-fs":
        root = workdir / "root"
        root.mkdir(parents=True, exist_ok=True)
        argv = [str(args.s3s_fs_bin), "--host", "127.0.0.1", "--port", str(port),
                "--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY, str(root)]
        # It answers an unsigned `GET /` with 403 (anonymous access denied): ready
        # is when the port accepts connections.
        s3 = Server(ServerSpec("s3s-fs", argv, {"RUST_LOG": "error"}), port, workdir, health_path=None)
        s3.root = root
    else:
        exe = Path(args.moto_venv) / "bin" / "moto_server"
        spec = ServerSpec("moto", [str(exe), "-H", "127.0.0.1", "-p", str(port)], {"TMPDIR": str(workdir)})
        s3 = Server(spec, port, workdir, health_path="/")
    s3.start()
    s3.wait_ready(60)
    return s3


def create_bucket(s3: Server, bucket: str) -> None:
    if s3.spec.name == "s3s-fs":
        # s3s-fs keeps a bucket as a directory below its root.
        (s3.root / bucket).mkdir()
        return
    req = urllib.request.Request(f"{s3.url}/{bucket}", data=b"", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 200:
            raise RuntimeError(f"creating bucket {bucket}: HTTP {resp.status}")


def median_and_best(runs: list[dict]) -> tuple[float, float]:
    values = [t["mib_per_s"] for t in runs]
    return statistics.median(values), max(values)


def s3_ceiling(args: argparse.Namespace, files: TestFiles, size_mib: int, repeats: int) -> dict:
    """The S3 server's own throughput: the same curl PUT and GET straight to it,
    which bounds what either tracking server can reach with the S3 destination."""
    kind = args.s3_server
    result: dict = {"server": kind, "size_mib": size_mib, "ok": False}
    workdir = Path(tempfile.mkdtemp(prefix=f"ferroflow-bench-{kind}-"))
    s3 = None
    try:
        s3 = start_s3(args, workdir)
        assert s3.proc is not None
        create_bucket(s3, "ceiling")
        path, _ = files.get(size_mib)
        size = path.stat().st_size
        url = f"{s3.url}/ceiling/{size_mib}MiB.bin"
        # s3s-fs checks signatures: curl signs (SigV4). moto takes unsigned
        # requests; there the object is made public-read so the unsigned GET may read it.
        signed = kind == "s3s-fs"
        put_headers = () if signed else ("x-amz-acl: public-read",)
        sampler = RssSampler(s3.proc.pid).start()
        cpu0 = tree_cpu_seconds(s3.proc.pid)
        ups, downs = [], []
        for _ in range(repeats):
            os.sync()
            t = curl_transfer(url, size, upload=path, headers=put_headers, sigv4=signed)
            if not t.get("ok"):
                raise RuntimeError(f"PUT to {kind}: {t.get('error')}")
            ups.append(t)
        cpu1 = tree_cpu_seconds(s3.proc.pid)
        for _ in range(repeats):
            os.sync()
            t = curl_transfer(url, size, sigv4=signed)
            if not t.get("ok"):
                raise RuntimeError(f"GET from {kind}: {t.get('error')}")
            downs.append(t)
        cpu2 = tree_cpu_seconds(s3.proc.pid)
        # A ranged GET of one boto3 download chunk (8 MiB) from the middle of the
        # object: boto3's download_file (stock MLflow's S3 download) fetches
        # files above 8 MiB in such ranges, 10 at a time.
        ranges = []
        middle = (size // 2) // MIB * MIB
        for _ in range(repeats):
            t = curl_transfer(url, 8 * MIB, headers=(f"Range: bytes={middle}-{middle + 8 * MIB - 1}",), status=206,
                              sigv4=signed)
            if not t.get("ok"):
                raise RuntimeError(f"ranged GET from {kind}: {t.get('error')}")
            ranges.append(t)
        # The whole object as 10 ranged GETs in parallel.
        pars = []
        for _ in range(repeats):
            os.sync()
            t = parallel_range_get(url, size, 10, signed)
            if not t.get("ok"):
                raise RuntimeError(f"parallel ranged GET from {kind}: {t.get('error')}")
            pars.append(t)
        result["parallel_download_mib_s"], result["parallel_download_best_mib_s"] = median_and_best(pars)
        result["parallel_download_runs"] = pars
        # And the S3 client of stock MLflow, boto3, with its multipart upload and ranged download.
        # (Once on moto, where every 8 MiB range of the download reads the whole object.)
        b = boto3_ceiling(args, s3, "ceiling", path, 1 if kind == "moto" else repeats,
                          workdir / "boto3-download.bin")
        if not b.get("ok"):
            raise RuntimeError(f"boto3 to {kind}: {b.get('error')}")
        result["boto3"] = b
        result["peak_rss_mib"] = sampler.peak()
        sampler.stop()
        result["range_8mib_s"] = statistics.median(t["seconds"] for t in ranges)
        result["range_runs"] = ranges
        result["upload_mib_s"], result["upload_best_mib_s"] = median_and_best(ups)
        result["download_mib_s"], result["download_best_mib_s"] = median_and_best(downs)
        result["upload_runs"], result["download_runs"] = ups, downs
        result["upload_cpu_s_per_gib"] = (cpu1 - cpu0) / repeats * 1024 / size_mib
        result["download_cpu_s_per_gib"] = (cpu2 - cpu1) / repeats * 1024 / size_mib
        result["client_cpu_share"] = max(t["client_cpu_s"] / t["seconds"] for t in ups + downs)
        result["ok"] = True
        log(f"{kind} ceiling ({size_mib} MiB, median of {repeats}): PUT {result['upload_mib_s']:.0f} MiB/s, "
            f"GET {result['download_mib_s']:.0f} MiB/s, GET as 10 parallel ranges "
            f"{result['parallel_download_mib_s']:.0f} MiB/s, ranged GET of 8 MiB {result['range_8mib_s']:.3f}s, "
            f"{kind} CPU per GiB PUT {result['upload_cpu_s_per_gib']:.2f}s / GET "
            f"{result['download_cpu_s_per_gib']:.2f}s, peak RSS {result['peak_rss_mib']:.0f} MiB, "
            f"curl CPU {100 * result['client_cpu_share']:.0f}%; boto3 upload_file {b['upload_mib_s']:.0f} MiB/s "
            f"({kind} CPU {b['upload_s3_cpu_s_per_gib']:.2f}s/GiB), download_file {b['download_mib_s']:.0f} MiB/s "
            f"({kind} CPU {b['download_s3_cpu_s_per_gib']:.2f}s/GiB)")
    except Exception as e:  # noqa: BLE001
        result["error"] = str(e)
        log(f"{kind} ceiling FAILED: {e}")
    finally:
        if s3 is not None:
            s3.stop()
        if args.keep:
            log(f"{kind}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


# Run in the bench venv: one MlflowClient.log_artifact of the file into a new
# run, as a user would log it; the 3.x client picks multipart upload by itself
# (server-info) for files at or above MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE.
CLIENT_SCRIPT = r"""
import json, sys, time
from mlflow import MlflowClient
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

url, path = sys.argv[1], sys.argv[2]
multipart = {"attempted": False, "completed": False}
original = HttpArtifactRepository._try_multipart_upload

def tracked(self, *a, **kw):
    multipart["attempted"] = True
    out = original(self, *a, **kw)
    multipart["completed"] = True
    return out

HttpArtifactRepository._try_multipart_upload = tracked
client = MlflowClient(tracking_uri=url)
run = client.create_run(client.create_experiment("bench-artifacts-client"))
t0 = time.perf_counter()
client.log_artifact(run.info.run_id, path)
seconds = time.perf_counter() - t0
sizes = {a.path: a.file_size for a in client.list_artifacts(run.info.run_id)}
print(json.dumps({"seconds": seconds, "artifact_uri": run.info.artifact_uri, "multipart": multipart,
                  "sizes": sizes}))
"""


def client_upload(args: argparse.Namespace, url: str, path: Path, mpu_min_mib: int | None) -> dict:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    for k in list(env):
        if k.startswith(("MLFLOW_MULTIPART", "MLFLOW_ENABLE_PROXY_MULTIPART", "MLFLOW_TRACKING_")):
            del env[k]
    if mpu_min_mib is not None:
        env["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"] = str(mpu_min_mib * MIB)
    argv = [str(Path(args.venv) / "bin" / "python"), "-c", CLIENT_SCRIPT, url, str(path)]
    before = os.times()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=TRANSFER_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"client killed after {TRANSFER_TIMEOUT_S}s"}
    after = os.times()
    client_cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        err = (out.stderr or "").strip().splitlines()[-3:]
        return {"ok": False, "error": f"client exit {out.returncode}: {' '.join(err)[:300]}"}
    r = json.loads(lines[-1])
    r["client_cpu_s"] = client_cpu_s  # the whole Python client process, start-up included
    size = path.stat().st_size
    r["ok"] = r.get("sizes", {}).get(path.name) == size
    if not r["ok"]:
        r["error"] = f"artifact listing after log_artifact: {r.get('sizes')}, expected {path.name}: {size}"
    r["mib_per_s"] = size / MIB / r["seconds"] if r.get("seconds") else None
    return r


def bench_artifacts(name: str, backend: str, workload: str, args: argparse.Namespace, profile: dict,
                    shared: dict) -> dict:
    """One artifact workload on a server instance of its own, started with
    --artifacts-destination (a local directory, or a fresh bucket on an S3
    server of its own, s3s-fs or moto): PUT the file `repeats` times, GET it `repeats` times,
    check it once by SHA-256, then the optional 2 GiB transfer (local only)
    and the optional MlflowClient.log_artifact upload."""
    p = profile["artifacts"]
    s3 = workload == "artifacts-s3"
    size_mib = p["s3-size-mb"] if s3 else p["size-mb"]
    repeats = p["repeats"]
    r: dict = {"workload": workload, "ok": False, "size_mib": size_mib, "repeats": repeats}
    files: TestFiles = shared["files"]
    # The test files are written before any server runs (and stay in the page cache).
    path, sha = files.get(size_mib)
    size = path.stat().st_size
    files.get(1)  # warm-up file
    big_mib = 0 if s3 else p["big-size-mb"]
    if big_mib:
        files.get(big_mib)
    if s3 and "s3_ceiling" not in shared:
        shared["s3_ceiling"] = s3_ceiling(args, files, size_mib, repeats)
    workdir = Path(tempfile.mkdtemp(prefix=f"ferroflow-bench-{name}-{workload}-"))
    r["workdir"] = str(workdir)
    r["cpu_busy_before"] = wait_idle(f"{name} {workload}", args)
    s3server: Server | None = None
    server: Server | None = None
    db = Database(backend, name, workdir, args)
    samplers: list[RssSampler] = []
    try:
        env = {"TMPDIR": str(workdir / "tmp")}  # staging files of the server go away with the workdir
        (workdir / "tmp").mkdir()
        if s3:
            (workdir / "s3").mkdir()
            s3server = start_s3(args, workdir / "s3")
            bucket = f"bench-{name}"
            create_bucket(s3server, bucket)
            destination = f"s3://{bucket}/artifacts"
            env.update(S3_ENV)
            env["MLFLOW_S3_ENDPOINT_URL"] = s3server.url
        else:
            (workdir / "destination").mkdir()
            destination = str(workdir / "destination")
        r["destination"] = destination
        port = free_port()
        db.create()
        spec = server_spec(name, port, workdir, args, db.uri(), artifacts_destination=destination)
        spec.env.update(env)
        server = Server(spec, port, workdir)
        log(f"{name} {workload}: starting on {server.url} ({' '.join(spec.argv)})")
        server.start()
        server.wait_ready(READY_TIMEOUT_S)
        time.sleep(IDLE_SETTLE_S)
        if not server.alive():
            raise RuntimeError(f"exited right after becoming ready; last log lines:\n{server.log_tail()}")
        assert server.proc is not None
        pid = server.proc.pid
        r["quiet_wait_s"] = wait_tree_quiet(pid)
        r["memory_idle"] = server.memory()
        log(f"{name} {workload}: quiet after {r['quiet_wait_s']:.0f}s; idle memory {fmt_mem(r['memory_idle'])}")
        sampler = RssSampler(pid).start()
        samplers.append(sampler)
        s3_sampler = None
        if s3server is not None and s3server.proc is not None:
            s3_sampler = RssSampler(s3server.proc.pid).start()
            samplers.append(s3_sampler)

        s3_pid = s3server.proc.pid if s3server is not None and s3server.proc is not None else None

        def transfer(label: str, fn) -> dict:
            os.sync()  # the previous transfer's dirty pages are not written back during this one
            sampler.peak()
            cpu0 = tree_cpu_seconds(pid)
            s3cpu0 = tree_cpu_seconds(s3_pid) if s3_pid else 0.0
            t = fn()
            t["server_cpu_s"] = tree_cpu_seconds(pid) - cpu0
            if s3_pid:
                t["s3_cpu_s"] = tree_cpu_seconds(s3_pid) - s3cpu0
            t["peak_rss_mib"] = sampler.peak()
            if not t.get("ok"):
                raise RuntimeError(f"{label}: {t.get('error')}; server log:\n{server.log_tail(5)}")
            log(f"{name} {workload}: {label}: {t['mib_per_s']:.0f} MiB/s, peak RSS {t['peak_rss_mib']:.0f} MiB, "
                f"server CPU {t['server_cpu_s']:.1f}s, client CPU {t.get('client_cpu_s', 0):.1f}s"
                + (f", {s3server.spec.name} CPU {t['s3_cpu_s']:.1f}s" if s3_pid else ""))
            return t

        def summarize(direction: str, runs: list[dict]) -> None:
            """Records the repeated transfers of one direction ("upload" or "download") in r."""
            r[f"{direction}_runs"] = runs
            r[f"{direction}_mib_s"], r[f"{direction}_best_mib_s"] = median_and_best(runs)
            r[f"{direction}_peak_rss_mib"] = max(t["peak_rss_mib"] for t in runs)
            per_gib = 1024 / size_mib
            r[f"{direction}_server_cpu_s_per_gib"] = statistics.median(t["server_cpu_s"] for t in runs) * per_gib
            if s3_pid:
                r[f"{direction}_s3_cpu_s_per_gib"] = statistics.median(t["s3_cpu_s"] for t in runs) * per_gib

        # Warm-up, untimed: a few small PUTs and GETs, so that lazy initialisation
        # (e.g. each MLflow worker importing boto3 on its first S3 request) is not
        # part of the first timed transfer.
        warm_path, _ = files.get(1)
        warm_url = f"{server.url}{ARTIFACT_PREFIX}/bench/warmup.bin"
        for _ in range(WARMUP_TRANSFERS):
            for t in (curl_transfer(warm_url, MIB, upload=warm_path), curl_transfer(warm_url, MIB)):
                if not t.get("ok"):
                    raise RuntimeError(f"warm-up: {t.get('error')}; server log:\n{server.log_tail(5)}")
        wait_tree_quiet(pid)
        # Where the machine's CPU goes meanwhile: server, S3 server, clients (curl,
        # the mlflow client), this orchestrator, and everything else.
        sys0, own0, srv0 = _cpu_times(), os.times(), tree_cpu_seconds(pid)
        s30 = tree_cpu_seconds(s3_pid) if s3_pid else 0.0
        t_start = time.monotonic()
        name_in_store = f"bench/{size_mib}MiB.bin"
        url = f"{server.url}{ARTIFACT_PREFIX}/{name_in_store}"
        ups = [transfer(f"PUT {size_mib} MiB #{i + 1}", lambda: curl_transfer(url, size, upload=path))
               for i in range(repeats)]
        summarize("upload", ups)
        # The server lists what it stored, with the full size.
        with urllib.request.urlopen(f"{server.url}{ARTIFACT_PREFIX}?path=bench", timeout=60) as resp:
            listed = {f["path"]: int(f.get("file_size", -1)) for f in json.load(resp).get("files", [])}
        if listed.get(path.name) != size:
            raise RuntimeError(f"listing after PUT: {listed}, expected {path.name}: {size}")
        downs = [transfer(f"GET {size_mib} MiB #{i + 1}", lambda: curl_transfer(url, size))
                 for i in range(repeats)]
        summarize("download", downs)
        r["peak_rss_mib"] = max(r["upload_peak_rss_mib"], r["download_peak_rss_mib"])
        r["client_cpu_share"] = max(t["client_cpu_s"] / t["seconds"] for t in ups + downs)
        # Once, untimed: the bytes that come back are the bytes that went in.
        copy = workdir / "downloaded.bin"
        t = curl_transfer(url, size, output=copy)
        if not t.get("ok"):
            raise RuntimeError(f"GET for the checksum: {t.get('error')}")
        digest = hashlib.sha256()
        with open(copy, "rb") as f:
            while chunk := f.read(8 * MIB):
                digest.update(chunk)
        copy.unlink()
        r["sha256_ok"] = digest.hexdigest() == sha
        if not r["sha256_ok"]:
            raise RuntimeError("the downloaded file differs from the uploaded one (SHA-256)")
        if big_mib:
            big_path, _ = files.get(big_mib)
            big_size = big_path.stat().st_size
            big_url = f"{server.url}{ARTIFACT_PREFIX}/bench/{big_path.name}"
            up = transfer(f"PUT {big_mib} MiB", lambda: curl_transfer(big_url, big_size, upload=big_path))
            down = transfer(f"GET {big_mib} MiB", lambda: curl_transfer(big_url, big_size))
            r["big"] = {"size_mib": big_mib, "upload": up, "download": down}
            r["big_upload_mib_s"], r["big_download_mib_s"] = up["mib_per_s"], down["mib_per_s"]
            r["big_peak_rss_mib"] = max(up["peak_rss_mib"], down["peak_rss_mib"])
            r["peak_rss_mib"] = max(r["peak_rss_mib"], r["big_peak_rss_mib"])
        if p["client"]:
            # An extra: its failure is reported, but does not fail the workload.
            try:
                c = transfer(f"MlflowClient.log_artifact {size_mib} MiB",
                             lambda: client_upload(args, server.url, path, p["client-mpu-min-mb"]))
                c["multipart_used"] = c.get("multipart", {}).get("completed", False)
                r["client"] = c
                r["client_mib_s"] = c["mib_per_s"]
                r["client_mib_s_note"] = "multipart" if c["multipart_used"] else "single PUT"
                r["client_peak_rss_mib"] = c["peak_rss_mib"]
            except RuntimeError as e:
                r["client_error"] = str(e)
                log(f"{name} {workload}: client extra FAILED: {e}")
        wall = time.monotonic() - t_start
        sys1, own1, srv1 = _cpu_times(), os.times(), tree_cpu_seconds(pid)
        s31 = tree_cpu_seconds(s3_pid) if s3_pid else 0.0
        r["server_cpu_s"], r["s3_cpu_s"] = srv1 - srv0, s31 - s30
        if sys0 and sys1 and wall > 0:
            own = sum(own1[:4]) - sum(own0[:4])  # this process and its finished children (curl, client)
            other = (sys1[0] - sys0[0]) / CLK_TCK - r["server_cpu_s"] - r["s3_cpu_s"] - own
            r["other_cpu_share"] = max(0.0, other) / wall / (os.cpu_count() or 1)
        r["hwm"] = tree_hwm(pid)
        r["memory_after"] = server.memory()
        if s3_sampler is not None:
            r["s3_server"] = s3server.spec.name
            r["s3_peak_rss_mib"] = s3_sampler.peak()
        r["ok"] = True
        log(f"{name} {workload}: {summarize(workload, r)}")
    except Exception as e:  # noqa: BLE001 - a failing server must not stop the benchmark
        r["error"] = str(e)
        log(f"{name} {workload}: FAILED: {e}")
    finally:
        for s in samplers:
            s.stop()
        if server is not None:
            server.stop()
        if s3server is not None:
            s3server.stop()
        if args.keep:
            log(f"{name} {workload}: kept {workdir}"
                + (f" and database {db.name}" if db.created and backend != "sqlite" else ""))
        else:
            db.drop()
            shutil.rmtree(workdir, ignore_errors=True)
    return r


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
    if "registry" in workloads:
        g = profile["registry"]
        # The loadgen's filter `name LIKE '<prefix>-model-12%'` matches the model numbers starting with 12.
        matching = sum(1 for i in range(g["models"]) if str(i).startswith("12"))
        rows += [
            Row(f"registry: registered-models/search, name LIKE, {min(matching, 100)} of {g['models']:,} models, "
                f"p50 (ms)", "registry", "models_p50_ms", False),
            Row("registry: registered-models/search, p95 (ms)", "registry", "models_p95_ms", False),
            Row(f"registry: model-versions/search, name LIKE, {min(matching * g['versions'], 1000):,} of "
                f"{g['models'] * g['versions']:,} versions, p50 (ms)", "registry", "versions_p50_ms", False),
            Row("registry: model-versions/search, p95 (ms)", "registry", "versions_p95_ms", False),
        ]
    if any(w in LOADGEN_WORKLOADS for w in workloads):
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
    if "registry" in workloads:
        g = profile["registry"]
        rows.append(Row(f"setup: seeding {g['models']:,} models × {g['versions']} versions via registered-models/create "
                        f"+ model-versions/create (requests/s)", "registry", "seed_requests_per_s", True))
    a = profile["artifacts"]
    for w in ARTIFACT_WORKLOADS:
        if w not in workloads:
            continue
        size = a["s3-size-mb"] if w == "artifacts-s3" else a["size-mb"]
        n = a["repeats"]
        rows += [
            Row(f"{w}: PUT of {size:,} MiB through the proxy, curl, median of {n} (MiB/s)", w, "upload_mib_s", True),
            Row(f"{w}: GET of {size:,} MiB through the proxy, curl, median of {n} (MiB/s)", w, "download_mib_s",
                True),
            Row(f"{w}: peak RSS of the server tree during these PUTs and GETs (MiB)", w, "peak_rss_mib", False),
            Row(f"{w}: server CPU per GiB, PUT (s)", w, "upload_server_cpu_s_per_gib", False),
            Row(f"{w}: server CPU per GiB, GET (s)", w, "download_server_cpu_s_per_gib", False),
        ]
        if w == "artifacts-local" and a["big-size-mb"]:
            b = a["big-size-mb"]
            rows += [
                Row(f"{w}: PUT of {b:,} MiB, 1 run (MiB/s)", w, "big_upload_mib_s", True),
                Row(f"{w}: GET of {b:,} MiB, 1 run (MiB/s)", w, "big_download_mib_s", True),
                Row(f"{w}: peak RSS of the server tree during the {b:,} MiB PUT and GET (MiB)", w,
                    "big_peak_rss_mib", False),
            ]
        if a["client"]:
            rows.append(Row(f"{w}: extra: MlflowClient.log_artifact of {size:,} MiB, 1 run (MiB/s)", w,
                            "client_mib_s", True))
    return rows


def cell_value(result: dict, row: Row) -> tuple[float | None, str]:
    """The number for a cell (None if unavailable) and its text."""
    if result.get("skipped"):
        return None, "n/a"
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
    if r.get("skipped"):
        return None, "n/a"
    # An artifact workload that failed part way still shows what it measured.
    if not r.get("ok") and (row.source not in ARTIFACT_WORKLOADS or r.get(row.key) is None):
        return None, "error"
    v = r.get(row.key)
    if v is None:
        return None, "n/a"
    v = v * row.scale
    text = fmt_num(v)
    notes = []
    if r.get(row.key + "_note"):
        notes.append(r[row.key + "_note"])
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


def artifact_notes(results: dict[str, dict], servers: list[str], args: argparse.Namespace, profile: dict,
                   shared: dict, versions: dict) -> list[str]:
    workloads = [w for w in args.workloads if w in ARTIFACT_WORKLOADS]
    if not workloads:
        return []
    a = profile["artifacts"]
    runs = {(s, w): results[s]["workloads"][w] for s in servers for w in workloads
            if w in results[s].get("workloads", {}) and not results[s]["workloads"][w].get("skipped")}
    s3name = args.s3_server
    notes = ["Artifact workloads: each server is started again per destination with `--artifacts-destination` "
             + ("(a new local directory, or a new bucket on an S3 server of its own, "
                f"{s3name} {versions.get(s3name, '?')}) " if "artifacts-s3" in workloads else "(a new local directory) ")
             + "and moves one file of "
             f"random bytes through the proxy at `{ARTIFACT_PREFIX}/bench/...`: PUT with `curl -T`, GET with "
             f"`curl -o /dev/null`. MiB/s is the file size over curl's total time, median of {a['repeats']} runs "
             f"(every run and the best in --json); `sync` before each transfer; each GET is checked by size and "
             f"one more by SHA-256. Peak RSS: VmRSS summed over the server's process tree, sampled every 50 ms "
             f"(the S3 server and curl are not part of it)."]
    cpu = [f"{s} {w} {100 * r['client_cpu_share']:.0f}%" for (s, w), r in runs.items()
           if r.get("client_cpu_share") is not None]
    if cpu:
        notes.append("curl's CPU during the transfers, highest run (% of one core): " + ", ".join(cpu) + ".")
    c = shared.get("s3_ceiling")
    if c is not None:
        kind = c.get("server", s3name)
        if c.get("ok"):
            text = (f"{kind} {versions.get(kind, '?')} ceiling (the same curl PUT and GET of {c['size_mib']:,} MiB "
                    f"straight to {kind}, {'signed with SigV4, ' if kind == 's3s-fs' else ''}median of "
                    f"{a['repeats']}): PUT {fmt_num(c['upload_mib_s'])} MiB/s, "
                    f"GET {fmt_num(c['download_mib_s'])} MiB/s; {kind}'s CPU per GiB PUT "
                    f"{fmt_num(c.get('upload_cpu_s_per_gib'))} s, GET {fmt_num(c.get('download_cpu_s_per_gib'))} s. "
                    f"It bounds what a server moving each transfer as one stream reaches (parallel ranged GETs, "
                    f"as below, can go beyond the single-stream GET). A ranged GET of 8 MiB from that object takes "
                    f"{c['range_8mib_s']:.3f} s ({fmt_num(8 / c['range_8mib_s'])} MiB/s); boto3's download_file, "
                    f"which stock MLflow uses to fetch from S3 before it answers, reads files above 8 MiB in such "
                    f"ranges, 10 at a time; the whole object as 10 ranged GETs in parallel curl processes: "
                    f"{fmt_num(c.get('parallel_download_mib_s'))} MiB/s. ")
            b = c.get("boto3") or {}
            if b.get("ok"):
                text += (f"boto3 straight to {kind} (bench venv, default TransferConfig: multipart upload and "
                         f"ranged download in 8 MiB pieces, 10 threads, signed): upload_file "
                         f"{fmt_num(b['upload_mib_s'])} MiB/s with {fmt_num(b['upload_s3_cpu_s_per_gib'])} s of "
                         f"{kind} CPU per GiB, download_file {fmt_num(b['download_mib_s'])} MiB/s with "
                         f"{fmt_num(b['download_s3_cpu_s_per_gib'])} s per GiB. ")
            if kind == "moto":
                text += ("moto reads the whole object for each range, so that, not MLflow itself, sets MLflow's "
                         "artifacts-s3 GET, a cost real S3 does not have. moto keeps objects in memory: its RSS "
                         f"reached {fmt_num(c['peak_rss_mib'])} MiB there.")
            else:
                text += (f"s3s-fs keeps objects as files (page cache), its RSS reached "
                         f"{fmt_num(c['peak_rss_mib'])} MiB there.")
            notes.append(text)
        else:
            notes.append(f"{kind} ceiling: failed: {str(c.get('error')).splitlines()[0][:200]}")
    s3_rss = [f"{s} {fmt_num(r['s3_peak_rss_mib'])} MiB, {fmt_num(r.get('s3_cpu_s'))} s of CPU in all "
              f"(per GiB: PUT {fmt_num(r.get('upload_s3_cpu_s_per_gib'))} s, "
              f"GET {fmt_num(r.get('download_s3_cpu_s_per_gib'))} s)"
              for (s, w), r in runs.items() if r.get("s3_peak_rss_mib") is not None]
    if s3_rss:
        notes.append(f"{s3name}'s own peak RSS and CPU time during each server's artifacts-s3 run (not in the "
                     "servers' numbers; it shares the cores with them): " + "; ".join(s3_rss) + ".")
    hwm = [f"{s} {w} {fmt_num(r['hwm']['sum_mib'])} MiB ({r['hwm']['processes']} process(es))"
           for (s, w), r in runs.items() if r.get("hwm")]
    if hwm:
        notes.append("VmHWM at the end of each artifact workload (the kernel's own peak RSS since the server "
                     "started, exact for one process, summed over the tree otherwise): " + ", ".join(hwm) + ".")
    paths = [f"{s} {w}: {'multipart' if r['client'].get('multipart_used') else 'single PUT'}"
             for (s, w), r in runs.items() if r.get("client")]
    if paths:
        threshold = a["client-mpu-min-mb"]
        notes.append("The MlflowClient.log_artifact row is a cheap extra: one run of the mlflow client from the "
                     "bench venv logging the file into a new run, client start-up included. The client uploads in "
                     "parts of 10 MiB on parallel threads when the server's server-info says "
                     "multipart_uploads_enabled and the file is at least "
                     + (f"{threshold} MiB (lowered for --quick)" if threshold else "500 MiB (its default)")
                     + "; path taken: " + "; ".join(paths) + ". With an S3 destination the stock server hands out "
                     f"presigned S3 URLs, so those parts go straight to {s3name} and not through the server.")
    for (s, w), r in runs.items():
        if r.get("client_error"):
            notes.append(f"{s} {w}: the MlflowClient.log_artifact extra failed: "
                         f"{r['client_error'].splitlines()[0][:300]}")
    if "ferroflow" in servers and "mlflow" in servers:
        checks = []
        for w in workloads:
            ff, ml = runs.get(("ferroflow", w)), runs.get(("mlflow", w))
            if not ff or not ml:
                continue
            for key, what in (("upload_mib_s", "PUT"), ("download_mib_s", "GET")):
                if ff.get(key) and ml.get(key):
                    ratio = ff[key] / ml[key]
                    checks.append(f"{w} {what} {ratio:.2f}× ({'met' if ratio >= TARGET_SPEEDUP else 'NOT met'})")
        ff = runs.get(("ferroflow", "artifacts-local"))
        if ff and ff.get("big_peak_rss_mib") is not None:
            peak = max(ff["big_peak_rss_mib"], (ff.get("hwm") or {}).get("sum_mib", 0))
            checks.append(f"ferroflow peak RSS with the {ff['big']['size_mib']:,} MiB transfer {fmt_num(peak)} MiB "
                          f"(sampled and VmHWM; {'met' if peak < TARGET_RSS_MIB else 'NOT met'})")
        if checks:
            notes.append(f"Targets (at least {TARGET_SPEEDUP:.0f}× MLflow's throughput; ferroflow under 100 MB = "
                         f"{TARGET_RSS_MIB:.1f} MiB during a 2 GB transfer): " + "; ".join(checks) + ".")
    return notes


def render(all_results: dict[str, dict[str, dict]], args: argparse.Namespace, profile: dict, machine: dict,
           versions: dict, shared: dict, db_versions: dict) -> str:
    """The report: machine and versions, then a table with its notes for each backend store."""
    out = []
    mode = "quick smoke run" if args.quick else "full run"
    out.append(f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB RAM, "
               f"{machine['os']} (kernel {machine['kernel']}). Servers and load generator share the machine; "
               f"{mode}.")
    # Versions are per program: ferroflow-basic is ferroflow, mlflow-basic-auth is mlflow.
    servers_run = {s.split("-")[0] for results in all_results.values() for s in results}
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                        if k in servers_run or k in ("loadgen",) + S3_SERVERS))
    for backend, results in all_results.items():
        title = f"Backend store: {BACKEND_TITLES[backend]}"
        if backend == "sqlite":
            title += " (a new database file per server run)"
        else:
            title += (f" {db_versions.get(backend, '?')} at {backend_address(args, backend)}, a new database per "
                      f"server run, dropped afterwards")
        out.append("")
        if len(all_results) > 1:
            out.append(f"### {title}")
        else:
            out.append(title + ".")
        out.append("")
        out.append(render_backend(results, backend, args, profile, versions, shared))
    return "\n".join(out)


def backend_address(args: argparse.Namespace, backend: str) -> str:
    url = urllib.parse.urlsplit(args.postgres_url if backend == "postgres" else args.mysql_url)
    return f"{url.hostname}:{url.port or (5432 if backend == 'postgres' else 3306)}"


def render_backend(results: dict[str, dict], backend: str, args: argparse.Namespace, profile: dict,
                   versions: dict, shared: dict) -> str:
    servers = [s for s in SERVERS if s in results]
    rows = rows_for(profile, args.workloads)
    ratio_cols = [(a, b) for a, b in RATIO_PAIRS if a in results and b in results]
    header = ["workload"] + servers + [f"{a} vs {b}" for a, b in ratio_cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        vals = {s: cell_value(results[s], row) for s in servers}
        cells = [row.label] + [vals[s][1] for s in servers]
        for a, b in ratio_cols:
            cells.append(ratio_text(vals[a][0], vals[b][0], row.higher_is_better))
        lines.append("| " + " | ".join(cells) + " |")

    out = []
    out.extend(lines)
    out.append("")
    notes = ["Ratios \"a vs b\": how many times better a is (throughput: a / b; "
             "latency, time and memory: b / a); > 1 means a is better."]
    if any(s in AUTH_SERVERS for s in servers):
        notes.append("ferroflow-basic and ferroflow-token run `ferroflow server --auth` (every write audited in its "
                     "transaction); mlflow-basic-auth runs `mlflow server --app-name basic-auth`. On all three the "
                     "load generator is a non-admin user that created, and so manages, its experiments; "
                     "ferroflow-basic and mlflow-basic-auth send HTTP Basic credentials, ferroflow-token a "
                     "bearer API token. \"ferroflow-basic vs ferroflow\" is the cost of access control and "
                     "the audit log (1.00× = none; 0.87× = 15% slower).")
    notes.append("Memory is the sum of VmRSS over the server process and all its descendants "
                 "(shared pages of forked workers count once per process).")
    for s in servers:
        if results[s].get("skipped"):
            notes.append(f"{s}: n/a on this backend ({results[s]['skipped']}).")
    if "registry" in args.workloads and "fasttrackml" in servers and not results["fasttrackml"].get("skipped"):
        notes.append("fasttrackml: registry n/a (FastTrackML has no model registry).")
    if backend != "sqlite":
        db = [f"{s} {w} {fmt_num(r['db_cpu_s'])}" for s in servers for w, r in results[s].get("workloads", {}).items()
              if r.get("db_cpu_s") is not None]
        if db:
            notes.append(f"The {BACKEND_TITLES[backend]} server is not part of a server's process tree: its memory "
                         "is in none of the rows, and its CPU time during each workload (s) was: "
                         + ", ".join(db) + ".")
    pss = []
    for s in servers:
        m = results[s].get("memory", {}).get("after") or {}
        if m.get("pss_mib") is not None:
            pss.append(f"{s} {m['pss_mib']:.0f} MiB ({m['processes']} process(es))")
    if pss:
        notes.append("PSS after the load (shared pages split between processes): " + ", ".join(pss) + ".")
    cpu = []
    for s in servers:
        shares = [r.get("client_cpu_share") or 0 for w, r in results[s].get("workloads", {}).items()
                  if w in LOADGEN_WORKLOADS]
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
        if results[s].get("skipped"):
            continue
        if results[s].get("error"):
            flagged.append(f"{s} failed: {results[s]['error'].splitlines()[0]}")
        for w, r in results[s].get("workloads", {}).items():
            if r.get("skipped"):
                continue
            if not r.get("ok"):
                flagged.append(f"{s} {w}: {str(r.get('error')).splitlines()[0][:200]}")
            elif r.get("valid") is False:
                flagged.append(f"{s} {w}: wrong result size (!): " + json.dumps(
                    {k: r.get(k) for k in ("filtered_rows", "filtered_rows_expected", "page_rows",
                                           "page_rows_expected", "points_fetched", "points", "models_rows",
                                           "models_rows_expected", "versions_rows", "versions_rows_expected")
                     if k in r}))
            elif r.get("errors"):
                flagged.append(f"{s} {w}: {r['errors']} failed requests, first: {str(r.get('first_error'))[:200]}")
            if w == "history" and r.get("ok") and r.get("pages") is not None:
                expected_pages = -(-r.get("points", 0) // max(1, r.get("page_size", 1)))
                if r["pages"] != expected_pages:
                    flagged.append(f"{s} history: answered in {r['pages']} page(s), "
                                   f"not {expected_pages} (max_results not honoured)")
    busy = [f"{s} {100 * results[s]['cpu_busy_before']:.0f}%" for s in servers
            if (results[s].get("cpu_busy_before") or 0) > IDLE_BUSY]
    busy += [f"{s} {w} {100 * r['cpu_busy_before']:.0f}%" for s in servers
             for w, r in results[s].get("workloads", {}).items()
             if w in ARTIFACT_WORKLOADS and (r.get("cpu_busy_before") or 0) > IDLE_BUSY]
    notes += artifact_notes(results, servers, args, profile, shared, versions)
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
    packages = []
    if any(w in LOADGEN_WORKLOADS for w in args.workloads):
        packages.append("ferroflow-loadgen")
    if any(s.startswith("ferroflow") for s in args.servers) and args.ferroflow_bin == default_ferroflow_bin():
        packages.append("ferroflow-cli")
    if not packages:
        return
    cmd = ["cargo", "build", "--release"] + [a for p in packages for a in ("-p", p)]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, cwd=REPO, check=True)


def default_ferroflow_bin() -> Path:
    return target_dir() / "release" / "ferroflow"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", type=lambda v: parse_list(v, SERVERS, "server"),
                   help=f"comma-separated subset of {','.join(SERVERS)} (default: {','.join(DEFAULT_SERVERS)})")
    p.add_argument("--workloads", type=lambda v: parse_list(v, WORKLOADS, "workload"),
                   help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    p.add_argument("--auth", action="store_true",
                   help=f"the access-control comparison: servers {','.join(AUTH_PRESET_SERVERS)} and workloads "
                        f"{','.join(AUTH_PRESET_WORKLOADS)} unless --servers / --workloads say otherwise")
    p.add_argument("--backend", dest="backends", default="sqlite",
                   type=lambda v: parse_list(v, BACKENDS, "backend"),
                   help=f"backend store(s), comma-separated subset of {','.join(BACKENDS)} (default: sqlite); "
                        "one table per backend")
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"),
                   help="PostgreSQL server (user, optional password, host, port) for --backend postgres "
                        "(default: postgresql://postgres@127.0.0.1:5432)")
    p.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
                   help="MySQL/MariaDB server (user, optional password, host, port) for --backend mysql "
                        "(default: mysql://root@127.0.0.1:3306)")
    p.add_argument("--quick", action="store_true", help="short smoke run with small data sets")
    p.add_argument("--duration", type=float, help="measured seconds of ingest and small (overrides the profile)")
    p.add_argument("--venv", default=os.environ.get("BENCH_VENV", str(REPO / ".venv" / "bench")),
                   help="virtualenv with mlflow and fasttrackml (default: .venv/bench)")
    p.add_argument("--moto-venv", default=os.environ.get("BENCH_MOTO_VENV", str(REPO / ".venv" / "bench-moto")),
                   help="virtualenv with moto[server], for artifacts-s3 on moto (default: .venv/bench-moto)")
    p.add_argument("--s3-server", choices=("auto",) + S3_SERVERS, default="auto",
                   help="S3-compatible server of artifacts-s3 (default auto: s3s-fs when its binary is found, "
                        "else moto)")
    p.add_argument("--s3s-fs-bin", type=Path,
                   help="s3s-fs binary (default: $S3S_FS_BIN, .tools/bin/s3s-fs as bench/run.sh installs it, "
                        "or s3s-fs on PATH)")
    p.add_argument("--artifact-mb", type=int, metavar="MIB",
                   help="file size of artifacts-local (default 1024, --quick 64)")
    p.add_argument("--artifact-s3-mb", type=int, metavar="MIB",
                   help="file size of artifacts-s3 (default 1024, --quick 64)")
    p.add_argument("--artifact-big-mb", type=int, metavar="MIB",
                   help="size of the extra single PUT + GET of artifacts-local, 0 = none (default 2048, --quick 0)")
    p.add_argument("--artifact-repeats", type=int, metavar="N", help="runs of each transfer (default 3)")
    p.add_argument("--no-artifact-client", action="store_true",
                   help="skip the MlflowClient.log_artifact extra of the artifact workloads")
    p.add_argument("--ferroflow-bin", type=Path, default=default_ferroflow_bin(), help="ferroflow binary")
    p.add_argument("--loadgen-bin", type=Path, default=target_dir() / "release" / "ferroflow-loadgen",
                   help="load generator binary")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each server, wait up to this long for the machine to be idle")
    p.add_argument("--json", type=Path, help="also write the raw results to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories (databases, server logs)")
    args = p.parse_args()
    if args.servers is None:
        args.servers = list(AUTH_PRESET_SERVERS if args.auth else DEFAULT_SERVERS)
    if args.workloads is None:
        args.workloads = list(AUTH_PRESET_WORKLOADS if args.auth else WORKLOADS)

    profile = json.loads(json.dumps(QUICK if args.quick else FULL))
    if args.duration:
        profile["ingest"]["duration"] = profile["small"]["duration"] = args.duration
    a = profile["artifacts"]
    for opt, key in (("artifact_mb", "size-mb"), ("artifact_s3_mb", "s3-size-mb"),
                     ("artifact_big_mb", "big-size-mb"), ("artifact_repeats", "repeats")):
        if getattr(args, opt) is not None:
            a[key] = getattr(args, opt)
    if args.no_artifact_client:
        a["client"] = False
    artifact_run = any(w in ARTIFACT_WORKLOADS for w in args.workloads) and \
        any(s in ARTIFACT_SERVERS for s in args.servers)

    if not args.no_build:
        build(args)
    if any(w in LOADGEN_WORKLOADS for w in args.workloads) and not args.loadgen_bin.exists():
        log(f"load generator not found at {args.loadgen_bin}; build it with "
            "`cargo build --release -p ferroflow-loadgen`")
        return 2
    venv_bin = Path(args.venv) / "bin"
    for name, exe in (("mlflow", "mlflow"), ("mlflow-basic-auth", "mlflow"), ("fasttrackml", "fml")):
        if name in args.servers and not (venv_bin / exe).exists():
            log(f"{exe} not found in {venv_bin}; run bench/run.sh (it creates the venv) or pass --venv")
            return 2
    if artifact_run:
        if shutil.which("curl") is None:
            log("curl not found; the artifact workloads transfer with curl (apt-get install curl)")
            return 2
    if artifact_run and "artifacts-s3" in args.workloads:
        s3s_fs = s3s_fs_binary(args)
        if args.s3_server == "auto":
            args.s3_server = "s3s-fs" if s3s_fs is not None and s3s_fs.exists() else "moto"
            log(f"S3 server of artifacts-s3: {args.s3_server}"
                + ("" if s3s_fs else " (no s3s-fs binary found: bench/run.sh installs it into .tools)"))
        if args.s3_server == "s3s-fs":
            if s3s_fs is None or not s3s_fs.exists():
                log(f"s3s-fs not found ({s3s_fs or 'not on PATH'}); run bench/run.sh (it installs it into .tools), "
                    "or pass --s3s-fs-bin, or --s3-server moto")
                return 2
            args.s3s_fs_bin = s3s_fs
        elif not (Path(args.moto_venv) / "bin" / "moto_server").exists():
            log(f"moto_server not found in {args.moto_venv}/bin; run bench/run.sh (it creates that venv) "
                "or pass --moto-venv")
            return 2

    db_versions = {}
    for backend in args.backends:
        if backend == "sqlite":
            continue
        client = "psql" if backend == "postgres" else "mysql"
        if shutil.which(client) is None:
            log(f"{client} not found; --backend {backend} creates and drops databases with it")
            return 2
        url = urllib.parse.urlsplit(args.postgres_url if backend == "postgres" else args.mysql_url)
        try:
            db_versions[backend] = admin_sql(backend, url, "SHOW server_version" if backend == "postgres"
                                             else "SELECT VERSION()").split()[0]
        except RuntimeError as e:
            log(f"--backend {backend}: cannot reach the database server at {backend_address(args, backend)}: {e}")
            return 2

    machine = machine_description()
    versions = {
        "ferroflow": last_word(command_output([str(args.ferroflow_bin), "--version"])),
        "mlflow": last_word(command_output([str(venv_bin / "mlflow"), "--version"])),
        "fasttrackml": last_word(command_output([str(venv_bin / "fml"), "--version"])),
    }
    if artifact_run and "artifacts-s3" in args.workloads:
        if args.s3_server == "moto":
            versions["moto"] = last_word(command_output(
                [str(Path(args.moto_venv) / "bin" / "python"), "-c", "import moto; print(moto.__version__)"]))
        else:
            versions["s3s-fs"] = last_word(command_output([str(args.s3s_fs_bin), "--version"]))
    rev = command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if rev:
        dirty = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD"], capture_output=True).returncode
        versions["ferroflow"] += f" (git {rev}{', work tree modified' if dirty == 1 else ''})"
    log(f"machine: {machine}")

    # Shared by the servers' runs: the test files (made once) and the S3 server's ceiling (measured once).
    files_dir = Path(tempfile.mkdtemp(prefix="ferroflow-bench-files-"))
    shared: dict = {"files": TestFiles(files_dir)}
    results: dict[str, dict[str, dict]] = {}
    try:
        for backend in args.backends:
            results[backend] = {}
            for name in args.servers:
                results[backend][name] = bench_server(name, backend, args, profile, args.loadgen_bin, shared)
    finally:
        shutil.rmtree(files_dir, ignore_errors=True)

    report = render(results, args, profile, machine, versions, shared, db_versions)
    print(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "versions": versions, "profile": profile,
                                         "quick": args.quick, "backends": args.backends,
                                         "database_versions": db_versions,
                                         # backend -> server -> result
                                         "results": results,
                                         "s3_server": args.s3_server if artifact_run else None,
                                         "s3_ceiling": shared.get("s3_ceiling")}, indent=2))
        log(f"raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures for the ferroflow compatibility suite.

One tracking server is started per pytest session (ferroflow by default, or any
command given in FERROFLOW_SERVER_CMD, e.g. the stock `mlflow server`) on a free
port with a temporary SQLite database, proxying artifacts (--artifacts-destination)
to a temporary local directory; new experiments get the default artifact root
`mlflow-artifacts:/`.  Tests talk to it with the stock `mlflow` Python client
(MlflowClient and the fluent API) and with `requests`.

A second server, proxying artifacts to an S3 bucket, is started on demand (fixture
`s3_server`, used by the artifact tests through `artifact_server`) when an
S3-compatible endpoint is available (scripts/test.sh runs moto's standalone server).

Environment knobs:
  FERROFLOW_BIN          path to the ferroflow binary (default <repo>/target/release/ferroflow)
  FERROFLOW_SERVER_CMD   command template with {host} {port} {db} {backend} {artifacts} placeholders
                         ({db}: a SQLite file path; {backend}: the backend store URI);
                         {artifacts} is the artifacts destination (a local directory, or
                         s3://bucket/prefix for the S3 server), e.g.
                         `mlflow server --host {host} --port {port}
                          --backend-store-uri sqlite:///{db} --artifacts-destination {artifacts}`
  FERROFLOW_S3_SERVER_CMD  template for the S3 server (default: the one above)
  FERROFLOW_TEST_DATABASE  sqlite (default), postgres or mysql: each server gets a fresh database
                         there ({backend} in the template), dropped when it stops;
                         FERROFLOW_TEST_POSTGRES_URL / FERROFLOW_TEST_MYSQL_URL name the servers
                         (default: the local ones, postgres@127.0.0.1:5432 and root@127.0.0.1:3306)
  FERROFLOW_TEST_S3_ENDPOINT  S3-compatible endpoint (e.g. http://127.0.0.1:PORT, moto_server).
                         Unset: the S3 tests are skipped, or fail when CI is set.
                         The S3 server gets MLFLOW_S3_ENDPOINT_URL=<endpoint> and
                         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default "testing") /
                         AWS_DEFAULT_REGION (default us-east-1) in its environment.
  FERROFLOW_REFERENCE    "1" = the server under test is the stock MLflow server (auto-detected
                         when the command's executable is named `mlflow`); tests marked
                         `ferroflow_only` are then skipped.
  FERROFLOW_SERVER_START_TIMEOUT  seconds to wait for /health (default 90)
  FERROFLOW_KEEP_TMP=1   keep the temporary database/artifact/log directory
"""

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Keep failing requests fast: the client otherwise retries 5xx for minutes.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
os.environ.pop("MLFLOW_RUN_ID", None)

import pytest  # noqa: E402
import requests  # noqa: E402

import mlflow  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import ArtifactServer, unique_name  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from databases import new_database  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEFAULT_CMD = (
    "{bin} server --host {host} --port {port} "
    "--backend-store-uri {backend} --artifacts-destination {artifacts}"
)
S3_PREFIX = "artifacts"

# Filled in by the server fixtures (one entry per server: "main", "s3"); read by the
# terminal-summary hook.
_SERVERS = {}


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _server_template():
    template = os.environ.get("FERROFLOW_SERVER_CMD")
    if not template:
        binary = os.environ.get("FERROFLOW_BIN") or str(
            REPO_ROOT / "target" / "release" / "ferroflow"
        )
        template = DEFAULT_CMD.replace("{bin}", shlex.quote(binary))
    return template


def _server_command(template, port, db, backend, artifacts):
    return shlex.split(
        template.format(host=HOST, port=port, db=db, backend=backend, artifacts=artifacts)
    )


def _new_backend(db_path):
    """The backend store URI of a new server: a SQLite file at `db_path`, or with
    FERROFLOW_TEST_DATABASE=postgres|mysql a fresh database on that engine (see
    tests/databases.py). Returns (uri, drop) where drop() removes the database again."""
    return new_database(os.environ.get("FERROFLOW_TEST_DATABASE", "sqlite") or "sqlite", db_path)


def is_reference_server():
    flag = os.environ.get("FERROFLOW_REFERENCE")
    if flag is not None and flag != "":
        return flag not in ("0", "false", "no")
    template = os.environ.get("FERROFLOW_SERVER_CMD", "")
    if not template:
        return False
    first = shlex.split(template)[0]
    return os.path.basename(first) == "mlflow"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "ferroflow_only: asserts the behaviour ferroflow must have where the stock MLflow "
        "server has a known bug the spec says not to copy; skipped against the reference server",
    )


def pytest_collection_modifyitems(config, items):
    if not is_reference_server():
        return
    skip = pytest.mark.skip(reason="stock MLflow bug not replicated by ferroflow (ferroflow_only)")
    for item in items:
        if "ferroflow_only" in item.keywords:
            item.add_marker(skip)


def _log_tail(path, limit=80):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "<no server log>"
    return "\n".join(lines[-limit:])


class _ServerStartError(Exception):
    def __init__(self, message, log_tail):
        super().__init__(message)
        self.log_tail = log_tail


def _start_server(name, template, artifacts=None, env=None, backend=None, db=None):
    """Start a tracking server from `template` in a fresh temporary directory.

    `artifacts` is the artifacts destination (default: <workdir>/artifacts, created).
    `backend` is a ready backend store URI the caller owns (several servers can share one;
    `db` is then its SQLite file path, for the {db} placeholder); by default the server gets
    a fresh database from _new_backend, dropped by _shutdown_server.
    Returns a dict with url, proc, workdir, artifacts, log; raises _ServerStartError.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"ferroflow-compat-{name}-"))
    if db is None:
        db = workdir / "mlflow.db"
    if artifacts is None:
        artifacts = workdir / "artifacts"
        artifacts.mkdir()
    port = _free_port()
    if backend is None:
        backend, drop_database = _new_backend(db)
    else:
        drop_database = lambda: None  # noqa: E731 - the caller owns the database
    cmd = _server_command(template, port, db, backend, artifacts)
    log_path = workdir / "server.log"
    base_url = f"http://{HOST}:{port}"
    state = _SERVERS.setdefault(name, {})
    state.update(cmd=cmd, log=str(log_path), url=base_url)
    handle = dict(name=name, url=base_url, workdir=workdir, artifacts=artifacts, log=log_path,
                  drop_database=drop_database)

    log_file = open(log_path, "wb")
    handle["log_file"] = log_file
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(workdir),
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
        drop_database()
        raise _ServerStartError(f"could not start tracking server {cmd!r}: {exc}", "")
    handle["proc"] = proc

    deadline = time.monotonic() + float(os.environ.get("FERROFLOW_SERVER_START_TIMEOUT", "90"))
    ready = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(base_url + "/health", timeout=2).status_code == 200:
                ready = True
                break
        except requests.RequestException:
            pass
        time.sleep(0.25)
    if not ready:
        _stop(proc)
        log_file.close()
        tail = state["log_tail"] = _log_tail(log_path)
        if os.environ.get("FERROFLOW_KEEP_TMP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
            drop_database()
        raise _ServerStartError(
            f"tracking server did not become ready: {cmd!r} (exit code {proc.poll()})\n"
            f"--- server log ---\n{tail}",
            tail,
        )
    return handle


def _shutdown_server(handle):
    _stop(handle["proc"])
    handle["log_file"].close()
    _SERVERS[handle["name"]]["log_tail"] = _log_tail(handle["log"])
    if os.environ.get("FERROFLOW_KEEP_TMP") != "1":
        shutil.rmtree(handle["workdir"], ignore_errors=True)
        handle["drop_database"]()


@pytest.fixture(scope="session")
def _main_server():
    """Start one tracking server for the whole session (artifacts proxied to a local dir)."""
    try:
        handle = _start_server("main", _server_template())
    except _ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    mlflow.set_tracking_uri(handle["url"])
    os.environ["MLFLOW_TRACKING_URI"] = handle["url"]
    try:
        yield handle
    finally:
        _shutdown_server(handle)


@pytest.fixture(scope="session")
def server(_main_server):
    """The base URL of the session's tracking server."""
    return _main_server["url"]


@pytest.fixture(scope="session")
def artifacts_root(_main_server):
    """The main server's (local) artifacts destination directory."""
    return Path(_main_server["artifacts"])


def _s3_endpoint_or_skip():
    endpoint = os.environ.get("FERROFLOW_TEST_S3_ENDPOINT", "").rstrip("/")
    if not endpoint:
        msg = (
            "FERROFLOW_TEST_S3_ENDPOINT is not set: no S3-compatible server for the S3 artifact "
            "tests (scripts/test.sh starts moto_server and sets it)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg + " [CI is set, so this is an error]", pytrace=False)
        pytest.skip(msg)
    return endpoint


def _mentions_boto3(*texts):
    return any("boto3" in (t or "") for t in texts)


@pytest.fixture(scope="session")
def s3_server(_main_server):
    """A second tracking server whose artifacts destination is a fresh bucket in the S3 endpoint.

    The bucket is created with a plain unsigned PUT (moto accepts those).  Against an
    external server command (FERROFLOW_SERVER_CMD, e.g. stock mlflow) whose environment
    lacks boto3, the S3 tests are skipped.
    """
    endpoint = _s3_endpoint_or_skip()
    try:
        requests.get(endpoint + "/", timeout=10)
    except requests.RequestException as exc:
        pytest.fail(f"S3 endpoint {endpoint} (FERROFLOW_TEST_S3_ENDPOINT) unreachable: {exc}",
                    pytrace=False)
    bucket = f"ferroflow-compat-{uuid.uuid4().hex[:12]}"
    resp = requests.put(f"{endpoint}/{bucket}", timeout=30)
    if resp.status_code != 200:
        pytest.fail(f"could not create bucket {bucket} at {endpoint}: HTTP {resp.status_code} "
                    f"{resp.text[:300]}", pytrace=False)
    destination = f"s3://{bucket}/{S3_PREFIX}"

    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    env["AWS_ACCESS_KEY_ID"] = os.environ.get("AWS_ACCESS_KEY_ID") or "testing"
    env["AWS_SECRET_ACCESS_KEY"] = os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing"
    env["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    external = bool(os.environ.get("FERROFLOW_SERVER_CMD") or os.environ.get("FERROFLOW_S3_SERVER_CMD"))
    template = os.environ.get("FERROFLOW_S3_SERVER_CMD") or _server_template()
    try:
        handle = _start_server("s3", template, artifacts=destination, env=env)
    except _ServerStartError as exc:
        if external and _mentions_boto3(exc.log_tail):
            pytest.skip("the S3 tracking server's environment lacks boto3 (install boto3 next to "
                        "the server to run the S3 artifact tests)")
        pytest.fail(str(exc), pytrace=False)
    try:
        if external:
            # The stock server imports boto3 lazily: probe once with a read-only listing.
            probe = requests.get(handle["url"] + "/api/2.0/mlflow-artifacts/artifacts",
                                 params={"path": "boto3-probe"}, timeout=60)
            if probe.status_code != 200 and _mentions_boto3(probe.text, _log_tail(handle["log"])):
                pytest.skip("the S3 tracking server's environment lacks boto3 (install boto3 "
                            "next to the server to run the S3 artifact tests)")
        yield dict(url=handle["url"], endpoint=endpoint, bucket=bucket, prefix=S3_PREFIX)
    finally:
        _shutdown_server(handle)


@pytest.fixture(params=["local", "s3"])
def artifact_server(request, server, artifacts_root):
    """A server proxying artifacts to a local directory ("local") or to S3 ("s3").

    For "s3" the fluent API's tracking URI (and MLFLOW_TRACKING_URI) point at the S3
    server for the duration of the test.
    """
    if request.param == "local":
        yield ArtifactServer("local", server, root=artifacts_root)
        return
    s3 = request.getfixturevalue("s3_server")
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(s3["url"])
    os.environ["MLFLOW_TRACKING_URI"] = s3["url"]
    try:
        yield ArtifactServer("s3", s3["url"], s3_endpoint=s3["endpoint"], bucket=s3["bucket"],
                             prefix=s3["prefix"])
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(server)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


def _stop(proc):
    if proc.poll() is not None:
        return
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait(timeout=15)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for name, state in _SERVERS.items():
        label = "tracking server" if name == "main" else f"tracking server ({name})"
        terminalreporter.write_line(
            f"{label}: {' '.join(state.get('cmd', []))}"
            f"{' (reference)' if is_reference_server() else ''}"
        )
    if exitstatus == 0:
        return
    for name, state in _SERVERS.items():
        if state.get("log"):
            label = "tracking server" if name == "main" else f"tracking server ({name})"
            terminalreporter.section(f"{label} log (tail)")
            terminalreporter.write_line(state.get("log_tail") or _log_tail(state["log"]))


@pytest.fixture(scope="session", autouse=True)
def tracking_uri(server):
    return server


@pytest.fixture(scope="session")
def base_url(server):
    return server


@pytest.fixture(scope="session")
def api_url(server):
    return server + "/api/2.0/mlflow"


@pytest.fixture(scope="session")
def client(server):
    return MlflowClient(tracking_uri=server)


@pytest.fixture(autouse=True)
def _no_active_run():
    """Each test starts and ends without an active fluent run."""
    while mlflow.active_run() is not None:
        mlflow.end_run()
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def experiment_id(client):
    """A fresh, empty experiment."""
    return client.create_experiment(unique_name("compat"))


@pytest.fixture
def run_id(client, experiment_id):
    """A fresh RUNNING run in a fresh experiment."""
    return client.create_run(experiment_id).info.run_id


def pytest_report_header(config):
    return [f"mlflow client {mlflow.__version__} (python {sys.version.split()[0]})"]

"""`ferroflow db import` against databases that the stock `mlflow server` created and filled.

Each source is filled once through a real MLflow server (3.17 on each engine, 2.22 on MySQL, and
both releases on a file store, an `mlruns` directory) with the stock client of its release, then
imported into a different target engine. A ferroflow server on the result must answer like the
MLflow server on the source: every experiment, run, param, tag, metric history, dataset input,
logged model and registry object, and `models:/name@alias` must load and predict the same.

Environment: FERROFLOW_BIN (default target/release/ferroflow). The 3.x sources are filled and read
with this interpreter's venv (full mlflow 3.17), the 2.x source with FERROFLOW_MLFLOW2_VENV (default
.venv/mlflow2-server, full mlflow 2.22); client.py is the stock client's side. PostgreSQL and MySQL
databases come from tests/databases.py.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# MLflow 3.17 serves a file store only when asked to (it is deprecated there); 2.x ignores this.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from databases import new_database  # noqa: E402

BINARY = os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "release" / "ferroflow")
HOST = "127.0.0.1"
# The virtualenvs with the stock server and client of each MLflow release the sources come from.
VENVS = {"3": Path(sys.executable).parent.parent,
         "2": Path(os.environ.get("FERROFLOW_MLFLOW2_VENV") or REPO_ROOT / ".venv" / "mlflow2-server")}
# (MLflow release, source engine, target engine): each engine is both source and target of a 3.x
# import; the 2.x source is on MySQL, as in the reference deployment; "files" is a file store.
PAIRS = [("3", "sqlite", "postgres"), ("3", "postgres", "mysql"), ("3", "mysql", "sqlite"),
         ("2", "mysql", "postgres"), ("3", "files", "sqlite"), ("2", "files", "mysql")]


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A tracking server process (MLflow's or ferroflow's) on a free port."""

    def __init__(self, command, workdir, name):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = Path(workdir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [part.format(port=self.port) for part in command], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{command!r} did not start:\n{self.log_path.read_text()[-4000:]}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def ferroflow(*args, timeout=600):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def client(release, command, url):
    """Runs client.py `command` against `url` with the stock client of MLflow `release`."""
    python = VENVS[release] / "bin" / "python"
    done = subprocess.run([str(python), str(Path(__file__).with_name("client.py")), command, url],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"client.py {command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["mlflow"].startswith(release + "."), answer["mlflow"]
    return answer["result"]


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"mlflow{p[0]}-{p[1]}-to-{p[2]}")
def imported(request):
    """A filled MLflow server on the source engine, and a ferroflow server on the import of its
    database into the target engine."""
    release, source_engine, target_engine = request.param
    workdir = Path(tempfile.mkdtemp(prefix="ferroflow-import-"))
    artifacts = workdir / "mlartifacts"
    if source_engine == "files":
        source_uri, drop_source = str(workdir / "mlruns"), lambda: None
    else:
        source_uri, drop_source = new_database(source_engine, workdir / "mlflow.db")
    target_uri, drop_target = new_database(target_engine, workdir / "ferroflow.db")
    source = Server([str(VENVS[release] / "bin" / "mlflow"), "server", "--backend-store-uri", source_uri,
                     "--artifacts-destination", str(artifacts), "--host", HOST, "--port", "{port}",
                     "--workers", "1"], workdir, "mlflow")
    try:
        client(release, "fill", source.url)
        done = ferroflow("db", "import", "--from", source_uri, "--to", target_uri, "--verify")
        assert done.returncode == 0, done.stdout + done.stderr
        target = Server([BINARY, "server", "--backend-store-uri", target_uri, "--artifacts-destination",
                         str(artifacts), "--host", HOST, "--port", "{port}"], workdir, "ferroflow")
        try:
            yield dict(release=release, source_engine=source_engine, target_engine=target_engine,
                       source=source, target=target, output=done.stdout,
                       source_uri=source_uri, target_uri=target_uri)
        finally:
            target.stop()
    finally:
        source.stop()
        drop_source()
        drop_target()
        shutil.rmtree(workdir, ignore_errors=True)


def test_every_object_reads_back_the_same_through_the_stock_client(imported):
    release = imported["release"]
    expected = client(release, "snapshot", imported["source"].url)
    assert len(expected["runs"]) == 6 and len(expected["model_versions"]) == 2, "the fill wrote what it meant to"
    actual = client(release, "snapshot", imported["target"].url)
    if imported["source_engine"] == "files":
        actual["logged_models"] = [latest_model_metrics(model) for model in actual.get("logged_models", [])]
        if imported["target_engine"] == "mysql":
            expected = as_mysql_stores_it(expected)
    for section in expected:
        assert actual[section] == expected[section], f"{section} differ after the import"
    assert "Verified" in imported["output"], imported["output"]


def as_mysql_stores_it(value):
    """The snapshot with ±infinity as ±DBL_MAX: a file store keeps infinities, MySQL's DOUBLE cannot,
    and MLflow's database stores (on every engine) and ferroflow on MySQL store the largest double."""
    if isinstance(value, list):
        return [as_mysql_stores_it(v) for v in value]
    if isinstance(value, dict):
        return {k: as_mysql_stores_it(v) for k, v in value.items()}
    return {"inf": repr(sys.float_info.max), "-inf": repr(-sys.float_info.max)}.get(value, value) \
        if isinstance(value, str) else value


def latest_model_metrics(model):
    """A logged model of the snapshot with only the latest point of each metric, which is all that
    MLflow's file store answers (its database stores, and ferroflow, answer every point)."""
    *fields, metrics = model
    latest = {}
    for point in metrics:
        key, _, step, timestamp, _ = point
        if key not in latest or (step, timestamp) > tuple(latest[key][2:4]):
            latest[key] = point
    return [*fields, sorted(latest.values())]


def test_the_aliased_model_loads_and_predicts_the_same(imported):
    release = imported["release"]
    expected = client(release, "predict", imported["source"].url)
    assert len(expected) == 3
    assert client(release, "predict", imported["target"].url) == expected


def test_new_experiments_get_ids_mlflow_never_handed_out(imported):
    tracking = MlflowClient(imported["target"].url)
    known = [int(e.experiment_id) for e in tracking.search_experiments(view_type=ViewType.ALL)]
    created = int(tracking.create_experiment("after-the-move"))
    assert created > max(known)
    run = tracking.create_run(str(created))
    tracking.log_metric(run.info.run_id, "m", 2.0)
    assert tracking.get_run(run.info.run_id).data.metrics == {"m": 2.0}


def test_importing_again_into_the_same_target_copies_nothing_and_another_source_is_refused(imported):
    again = ferroflow("db", "import", "--from", imported["source_uri"], "--to", imported["target_uri"])
    assert again.returncode == 0 and "nothing to copy" in again.stdout, again.stdout + again.stderr
    with tempfile.TemporaryDirectory() as other:
        another = mlflow_schema(Path(other) / "other.db")
        refused = ferroflow("db", "import", "--from", another, "--to", imported["target_uri"])
    assert refused.returncode != 0
    assert "already holds an import" in refused.stderr, refused.stderr


def mlflow_schema(path):
    """A new, empty MLflow 3.17 database at `path` (MLflow creates its tables on first use)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{path}"
    SqlAlchemyStore(uri, str(Path(path).parent / "artifacts"))
    return uri


def bulk_source(path, runs, points_per_run):
    """An MLflow database holding `runs` runs with `points_per_run` metric points each, written
    straight into MLflow's tables (the stock client would take minutes for this many)."""
    uri = mlflow_schema(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                   "creation_time, last_update_time) VALUES (1, 'bulk', '/a/1', 'active', 1, 1)")
        for r in range(runs):
            run = f"{r:032x}"
            db.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                       "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                       "VALUES (?, ?, 'LOCAL', '', '', 'me', 'FINISHED', ?, ?, '', 'active', ?, 1)",
                       (run, f"run-{r}", r, r + 1, f"/a/1/{run}/artifacts"))
            db.execute("INSERT INTO params (key, value, run_uuid) VALUES ('p', ?, ?)", (str(r), run))
            db.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", (f"run-{r}", run))
            db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                           [("loss", 1.0 / (s + 1), 1000 + s, run, s) for s in range(points_per_run)])
            db.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                       "VALUES ('loss', ?, ?, ?, 0, ?)",
                       (1.0 / points_per_run, 999 + points_per_run, points_per_run - 1, run))
    db.close()
    return uri


def table_rows(path):
    """Every row of every table an import copies, for comparing two targets. The audit log is left
    out: its record of the import itself says when that import ran."""
    db = sqlite3.connect(path)
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if name not in ("import_state", "_sqlx_migrations", "sqlite_sequence")
              and not name.startswith("audit_")]
    rows = {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}
    rows["sqlite_sequence"] = db.execute("SELECT name, seq FROM sqlite_sequence WHERE name NOT LIKE 'audit%'"
                                         " ORDER BY name").fetchall()
    db.close()
    return rows


def import_position(path):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return db.execute("SELECT stage, after_key FROM import_state").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None


def test_an_import_killed_midway_resumes_to_the_same_result_and_verify_catches_a_changed_row(tmp_path):
    source = bulk_source(tmp_path / "mlflow.db", runs=2000, points_per_run=250)
    whole = tmp_path / "whole.db"
    done = ferroflow("db", "import", "--from", source, "--to", f"sqlite:///{whole}")
    assert done.returncode == 0, done.stderr

    resumed = tmp_path / "resumed.db"
    proc = subprocess.Popen([BINARY, "db", "import", "--from", source, "--to", f"sqlite:///{resumed}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    position = None
    while time.monotonic() < deadline and proc.poll() is None:
        position = import_position(resumed)
        if position and position[0] == "runs" and position[1]:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the import ended before it could be killed among the runs"
    assert position and position[0] == "runs"

    refused = ferroflow("db", "import", "--from", source, "--to", f"sqlite:///{resumed}")
    assert refused.returncode != 0 and "--resume" in refused.stderr, refused.stderr
    finished = ferroflow("db", "import", "--from", source, "--to", f"sqlite:///{resumed}", "--resume", "--verify")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Finished the interrupted import" in finished.stdout and "500000 metric points" in finished.stdout
    assert table_rows(resumed) == table_rows(whole)
    assert [(action, details["resumed"], details["verified"])
            for action, details in audit_events(f"sqlite:///{resumed}")] == [("ImportMlflow", True, True)]

    db = sqlite3.connect(resumed)
    with db:
        db.execute("UPDATE metrics SET value = value + 1 WHERE run_id = ? AND step = 7", (f"{5:032x}",))
    db.close()
    caught = ferroflow("db", "import", "--from", source, "--to", f"sqlite:///{resumed}", "--verify")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "metric points differ" in caught.stdout, caught.stdout


@pytest.fixture
def small_source(tmp_path):
    return bulk_source(tmp_path / "small.db", runs=3, points_per_run=2)


def refused(source, target, *extra):
    """Runs an import that must fail; returns its stderr."""
    result = ferroflow("db", "import", "--from", source, "--to", target, *extra)
    assert result.returncode != 0, result.stdout
    assert "panicked" not in result.stderr
    return result.stderr


def test_an_unknown_or_old_revision_is_refused_by_name_and_nothing_is_written(small_source, tmp_path):
    path = small_source.removeprefix("sqlite:///")
    for revision, says in [("ffffffffffff", "does not know"), ("cc1f77228345", "mlflow db upgrade")]:
        db = sqlite3.connect(path)
        with db:
            db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        db.close()
        target = tmp_path / f"target-{revision}.db"
        message = refused(small_source, f"sqlite:///{target}")
        assert revision in message and says in message, message
        assert not target.exists(), "a refused import leaves no target behind"


def test_a_database_that_is_not_mlflows_is_refused(tmp_path):
    ferroflow_db = tmp_path / "ferroflow.db"
    assert ferroflow("db", "upgrade", f"sqlite:///{ferroflow_db}").returncode == 0
    message = refused(f"sqlite:///{ferroflow_db}", f"sqlite:///{tmp_path / 'target.db'}")
    assert "not an MLflow tracking database" in message, message
    message = refused(f"sqlite:///{tmp_path / 'missing.db'}", f"sqlite:///{tmp_path / 'target.db'}")
    assert "no SQLite database" in message, message


def test_an_unreachable_source_is_named(tmp_path):
    message = refused("postgresql://postgres@127.0.0.1:1/mlflow", f"sqlite:///{tmp_path / 'target.db'}")
    assert "Could not connect to the MLflow database" in message and "127.0.0.1:1" in message, message


def test_orphan_rows_of_a_sqlite_source_are_left_out_and_reported(small_source, tmp_path):
    """SQLite does not enforce the foreign keys MLflow declares, so rows of runs and experiments that
    are gone can linger; ferroflow's schema refuses them, so they are counted instead."""
    path = small_source.removeprefix("sqlite:///")
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                   "VALUES ('loss', 1.0, 1, 'ffffffffffffffffffffffffffffffff', 0, 0)")
        db.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('t', 'v', 'ffffffffffffffffffffffffffffffff')")
        db.execute("INSERT INTO experiment_tags (key, value, experiment_id) VALUES ('t', 'v', 99)")
        # A run of an experiment that is gone, with a point of its own.
        db.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                   "start_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES "
                   "('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 'stray', 'LOCAL', '', '', 'me', 'FINISHED', 1, '', "
                   "'active', '/a', 99)")
        db.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                   "VALUES ('loss', 2.0, 1, 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 0, 0)")
    db.close()
    target = tmp_path / "target.db"
    done = ferroflow("db", "import", "--from", small_source, "--to", f"sqlite:///{target}", "--verify")
    assert done.returncode == 0, done.stdout + done.stderr
    for orphans in ["metrics rows whose run is not in the database (2 rows)",
                    "tags rows whose run is not in the database (1 rows)",
                    "runs rows whose experiment is not in the database (1 rows)",
                    "experiment_tags rows whose experiment is not in the database (1 rows)"]:
        assert orphans in done.stdout, done.stdout
    assert "Verified" in done.stdout, done.stdout
    rows = table_rows(target)
    assert (len(rows["runs"]), len(rows["metrics"])) == (3, 6), rows


def audit_events(target):
    """(action, details) of each event in the target's audit log, as `ferroflow audit export` gives them."""
    exported = ferroflow("audit", "export", "--backend-store-uri", target)
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    return [(e["action"], json.loads(e["details"]) if isinstance(e["details"], str) else e["details"])
            for e in events]


def test_the_import_is_recorded_in_the_audit_log_of_the_target(small_source, tmp_path):
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert ferroflow("db", "import", "--from", small_source, "--to", target).returncode == 0
    # Running it again copies nothing and records nothing.
    assert ferroflow("db", "import", "--from", small_source, "--to", target).returncode == 0
    events = audit_events(target)
    assert [action for action, _ in events] == ["ImportMlflow"], events
    details = events[0][1]
    assert details["source"] == small_source and details["rows"]["runs"] == 3, details
    assert details["resumed"] is False and details["verified"] is None, details
    verified = ferroflow("audit", "verify", "--backend-store-uri", target)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_corrupt_meta_yaml_of_a_file_store_is_named_and_nothing_is_written(tmp_path):
    store = tmp_path / "mlruns"
    run = store / "1" / ("a" * 32)
    (run / "metrics").mkdir(parents=True)
    (store / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: churn\nlifecycle_stage: active\n")
    (run / "metrics" / "loss").write_text("1700000000000 0.5 0\n")
    (run / "meta.yaml").write_text("run_id: [unclosed\n")
    target = tmp_path / "target.db"
    message = refused(str(store), f"sqlite:///{target}")
    assert f"{run}/meta.yaml" in message and "not valid YAML" in message, message
    assert not target.exists(), "a refused import leaves no target behind"
    (run / "meta.yaml").write_text(f"run_id: {'a' * 32}\nexperiment_id: '1'\nstatus: 3\nstart_time: 1\n")
    (run / "metrics" / "loss").write_text("1700000000000 0.5 0\nhalf a line\n")
    message = refused(f"file:{store}", f"sqlite:///{target}")
    assert "Line 2 of" in message and "not a metric point" in message, message
    (run / "metrics" / "loss").write_text("1700000000000 0.5 0\n")
    done = ferroflow("db", "import", "--from", f"file:{store}", "--to", f"sqlite:///{target}", "--verify")
    assert done.returncode == 0 and "Verified" in done.stdout, done.stdout + done.stderr


def test_a_target_that_holds_data_is_refused_untouched(small_source, tmp_path):
    target = tmp_path / "busy.db"
    server = Server([BINARY, "server", "--backend-store-uri", f"sqlite:///{target}", "--host", HOST,
                     "--port", "{port}"], tmp_path, "busy")
    try:
        client = MlflowClient(server.url)
        client.create_run("0")
    finally:
        server.stop()
    before = table_rows(target)
    message = refused(small_source, f"sqlite:///{target}")
    assert "not empty" in message and "1 runs" in message, message
    assert table_rows(target) == before

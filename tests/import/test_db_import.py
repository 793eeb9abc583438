"""`ferroflow db import` against databases that the stock `mlflow server` created and filled.

Each source engine is filled once through a real MLflow 3.17 server with the stock client, then
imported into a different target engine. A ferroflow server on the result must answer like the
MLflow server on the source: every experiment, run, param, tag, metric history, dataset input,
logged model and registry object, and `models:/name@alias` must load and predict the same.

Environment: FERROFLOW_BIN (default target/release/ferroflow); the `mlflow` executable of this
interpreter's venv runs the source servers. PostgreSQL and MySQL come from tests/databases.py.
"""

import math
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

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from databases import new_database  # noqa: E402

BINARY = os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "release" / "ferroflow")
MLFLOW = str(Path(sys.executable).parent / "mlflow")
HOST = "127.0.0.1"
# Each source engine is imported into another, so every engine is both source and target once.
PAIRS = [("sqlite", "postgres"), ("postgres", "mysql"), ("mysql", "sqlite")]


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


def fill(url):
    """What a team's MLflow server holds after some months, written through the stock client."""
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    client = MlflowClient(url, url)
    experiment = client.create_experiment("churn", tags={"team": "growth", "mlflow.note.content": "notes"})
    mlflow.set_experiment(experiment_id=experiment)
    with mlflow.start_run(run_name="sweep") as parent:
        mlflow.set_tag("kind", "sweep")
        for trial in range(3):
            with mlflow.start_run(run_name=f"trial-{trial}", nested=True) as child:
                mlflow.log_params({"n_estimators": 50 * (trial + 1), "min_samples_leaf": trial + 1})
                points = [Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(3000)]
                for start in range(0, len(points), 1000):
                    client.log_batch(child.info.run_id, metrics=points[start:start + 1000])
                client.log_batch(child.info.run_id, metrics=[
                    Metric("edge", math.nan, 1_700_000_000_000, 0),
                    Metric("edge", math.inf, 1_700_000_000_001, 1),
                    Metric("edge", -math.inf, 1_700_000_000_002, 2),
                    Metric("edge", -0.5, 1_700_000_000_003, 2),
                ], params=[Param("note", "x" * 500)], tags=[RunTag("trial", str(trial))])
        import pandas as pd
        from sklearn.ensemble import RandomForestRegressor

        frame = pd.DataFrame({"x": [float(i) for i in range(20)], "y": [float(i % 7) for i in range(20)]})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train", targets="y"), context="training")
        model = RandomForestRegressor(n_estimators=5, random_state=0).fit(frame[["x"]], frame["y"])
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="churn-model",
                                        input_example=frame[["x"]].head(2),
                                        skops_trusted_types=["sklearn.tree._tree.Tree"])
        mlflow.log_metric("r2", 0.75, model_id=info.model_id)
        mlflow.log_metric("r2", math.nan, step=1, model_id=info.model_id)
    client.create_model_version("churn-model", f"runs:/{parent.info.run_id}/model", parent.info.run_id,
                                description="second")
    client.set_registered_model_alias("churn-model", "champion", "1")
    client.set_registered_model_alias("churn-model", "challenger", "2")
    client.transition_model_version_stage("churn-model", "1", "Production")
    client.set_model_version_tag("churn-model", "2", "validated", "no")
    client.update_registered_model("churn-model", description="predicts churn")
    client.set_registered_model_tag("churn-model", "owner", "growth")
    client.create_registered_model("empty-model")
    client.create_model_version("empty-model", f"runs:/{parent.info.run_id}/model", parent.info.run_id)
    client.delete_model_version("empty-model", "1")

    gone = client.create_experiment("abandoned")
    doomed = client.create_run(gone)
    client.log_metric(doomed.info.run_id, "m", 1.0)
    client.delete_run(doomed.info.run_id)
    client.delete_experiment(gone)
    # An experiment MLflow created and forgot: its id is not handed out again.
    client.create_experiment("kept-after-a-gap")
    killed = client.create_run(experiment)
    client.set_terminated(killed.info.run_id, "KILLED")
    client.delete_run(killed.info.run_id)
    mlflow.set_tracking_uri(None)


def snapshot(url):
    """Everything a user can read back through the stock client, in comparable form."""
    client = MlflowClient(url, url)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    ids = [e.experiment_id for e in experiments]
    out = {"experiments": sorted(
        (e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time,
         sorted(e.tags.items())) for e in experiments)}
    runs = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000)
    out["runs"] = []
    for run in sorted(runs, key=lambda r: r.info.run_id):
        info = run.info
        history = {key: sorted((m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(info.run_id, key))
                   for key in run.data.metrics}
        out["runs"].append((
            info.run_id, info.run_name, info.experiment_id, info.user_id, info.status, info.start_time, info.end_time,
            info.artifact_uri, info.lifecycle_stage, sorted(run.data.params.items()), sorted(run.data.tags.items()),
            sorted((k, repr(v)) for k, v in run.data.metrics.items()), history,
            sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source, d.dataset.schema,
                    d.dataset.profile, sorted((t.key, t.value) for t in d.tags)) for d in run.inputs.dataset_inputs),
            sorted((o.model_id, o.step) for o in run.outputs.model_outputs) if run.outputs else []))
    out["logged_models"] = sorted(
        (m.model_id, m.experiment_id, m.name, m.artifact_location, m.creation_timestamp, m.last_updated_timestamp,
         str(m.status), m.model_type, m.source_run_id, sorted(m.tags.items()), sorted(m.params.items()),
         sorted((x.key, repr(x.value), x.step, x.timestamp, x.run_id) for x in m.metrics or []))
        for m in client.search_logged_models(ids))
    out["registered_models"] = sorted(
        (m.name, m.creation_timestamp, m.last_updated_timestamp, m.description, sorted(m.tags.items()),
         sorted(m.aliases.items())) for m in client.search_registered_models())
    versions = []
    for v in client.search_model_versions():
        # search_model_versions leaves out the aliases on MLflow's server; get_model_version has them.
        full = client.get_model_version(v.name, v.version)
        versions.append((v.name, v.version, v.creation_timestamp, v.last_updated_timestamp, v.user_id,
                         v.current_stage, v.description, v.source, v.run_id, v.status, v.run_link,
                         sorted(v.tags.items()), sorted(full.aliases)))
    out["model_versions"] = sorted(versions)
    return out


def assert_same(expected, actual):
    for section in expected:
        assert actual[section] == expected[section], f"{section} differ after the import"


@pytest.fixture(scope="module", params=PAIRS, ids=lambda pair: f"{pair[0]}-to-{pair[1]}")
def imported(request):
    """A filled MLflow server on the source engine, and the import of its database on the target."""
    source_engine, target_engine = request.param
    workdir = Path(tempfile.mkdtemp(prefix="ferroflow-import-"))
    artifacts = workdir / "mlartifacts"
    source_uri, drop_source = new_database(source_engine, workdir / "mlflow.db")
    target_uri, drop_target = new_database(target_engine, workdir / "ferroflow.db")
    source = Server([MLFLOW, "server", "--backend-store-uri", source_uri, "--artifacts-destination", str(artifacts),
                     "--host", HOST, "--port", "{port}", "--workers", "1"], workdir, "mlflow")
    try:
        fill(source.url)
        done = ferroflow("db", "import", "--from", source_uri, "--to", target_uri, "--verify")
        assert done.returncode == 0, done.stdout + done.stderr
        target = Server([BINARY, "server", "--backend-store-uri", target_uri, "--artifacts-destination",
                         str(artifacts), "--host", HOST, "--port", "{port}"], workdir, "ferroflow")
        try:
            yield dict(source=source, target=target, output=done.stdout, source_uri=source_uri,
                       target_uri=target_uri)
        finally:
            target.stop()
    finally:
        source.stop()
        drop_source()
        drop_target()
        shutil.rmtree(workdir, ignore_errors=True)


def test_every_object_reads_back_the_same_through_the_stock_client(imported):
    expected = snapshot(imported["source"].url)
    assert len(expected["runs"]) == 6 and len(expected["model_versions"]) == 2, "the fill wrote what it meant to"
    assert_same(expected, snapshot(imported["target"].url))
    assert "Verified" in imported["output"], imported["output"]


def test_the_aliased_model_loads_and_predicts_the_same(imported):
    import pandas as pd

    frame = pd.DataFrame({"x": [1.5, 12.0, 19.0]})
    predictions = []
    for server in (imported["source"], imported["target"]):
        mlflow.set_tracking_uri(server.url)
        mlflow.set_registry_uri(server.url)
        try:
            predictions.append(list(mlflow.pyfunc.load_model("models:/churn-model@champion").predict(frame)))
        finally:
            mlflow.set_tracking_uri(None)
    assert predictions[0] == predictions[1] and len(predictions[0]) == 3


def test_new_experiments_get_ids_mlflow_never_handed_out(imported):
    client = MlflowClient(imported["target"].url)
    known = [int(e.experiment_id) for e in client.search_experiments(view_type=ViewType.ALL)]
    created = int(client.create_experiment("after-the-move"))
    assert created > max(known)
    run = client.create_run(str(created))
    client.log_metric(run.info.run_id, "m", 2.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 2.0}


def test_importing_again_into_the_same_target_copies_nothing_and_another_source_is_refused(imported):
    again = ferroflow("db", "import", "--from", imported["source_uri"], "--to", imported["target_uri"])
    assert again.returncode == 0 and "nothing to copy" in again.stdout, again.stdout + again.stderr
    with tempfile.TemporaryDirectory() as other:
        another = mlflow_schema(Path(other) / "other.db")
        refused = ferroflow("db", "import", "--from", another, "--to", imported["target_uri"])
    assert refused.returncode != 0
    assert "already holds an import" in refused.stderr, refused.stderr


def mlflow_schema(path):
    """A new, empty MLflow database at `path` (MLflow creates its tables on first use)."""
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
    """Every row of every table an import fills, for comparing two targets."""
    db = sqlite3.connect(path)
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if name not in ("import_state", "_sqlx_migrations", "sqlite_sequence")]
    rows = {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}
    rows["sqlite_sequence"] = db.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name").fetchall()
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

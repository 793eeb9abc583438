"""`ferroflow db import` against mlflow-export-import, moving the same MLflow data.

Builds an MLflow 3.17 SQLite database (created by MLflow itself, then filled straight through SQL,
since the stock client would need hours for ten million points): experiments, runs with params, tags
and metric histories. Then, in one run:

- ferroflow: `ferroflow db import` of the whole database into a new SQLite file, timed, with the
  importer's peak resident memory;
- mlflow-export-import (from PyPI): `export-experiments` from an MLflow server on a part of the same
  data, then `import-experiments` into a second MLflow server on a new database, timed; and ferroflow
  importing that same part, for a ratio on equal data.

mlflow-export-import copies run by run over REST, at a roughly constant rate, so the full database's
time is estimated from the part's rate; the estimate is labelled as one. `--export-runs` equal to
`--runs` times it on everything instead.
"""

import argparse
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

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def log(message):
    print(message, file=sys.stderr, flush=True)


def mlflow_database(path, venv):
    """A new MLflow 3.17 SQLite database, tables created by MLflow itself."""
    code = ("import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
            "SqlAlchemyStore(f'sqlite:///{sys.argv[1]}', sys.argv[2])")
    subprocess.run([str(venv / "bin" / "python"), "-c", code, str(path), str(path.parent / "artifacts")],
                   check=True, capture_output=True)


def fill(path, runs, points_per_run, experiments=10, params=10, tags=5, keys=4):
    """`runs` runs over `experiments` experiments, each with `params` params, `tags` tags and
    `points_per_run` metric points spread over `keys` metric keys."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA journal_mode = MEMORY")
    steps = points_per_run // keys
    with db:
        for e in range(1, experiments + 1):
            db.execute("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                       "creation_time, last_update_time) VALUES (?, ?, ?, 'active', 1, 1)",
                       (e, f"experiment-{e}", f"/artifacts/{e}"))
        for r in range(runs):
            run = f"{r:032x}"
            experiment = 1 + r % experiments
            db.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                       "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                       "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
                       (run, f"run-{r}", 1_700_000_000_000 + r, 1_700_000_100_000 + r,
                        f"/artifacts/{experiment}/{run}/artifacts", experiment))
            db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                           [(f"param_{p}", str(r * p), run) for p in range(params)])
            db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                           [("mlflow.runName", f"run-{r}", run)] + [(f"tag_{t}", "x", run) for t in range(tags - 1)])
            db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                           [(f"metric_{k}", 1.0 / (s + 1 + k), 1_700_000_000_000 + s, run, s)
                            for k in range(keys) for s in range(steps)])
            db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                           "VALUES (?, ?, ?, ?, 0, ?)",
                           [(f"metric_{k}", 1.0 / (steps + k), 1_700_000_000_000 + steps - 1, steps - 1, run)
                            for k in range(keys)])
    db.close()
    return runs * keys * steps


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mlflow_server(venv, backend, workdir, name):
    port = free_port()
    log_file = open(workdir / f"{name}.log", "wb")
    proc = subprocess.Popen([str(venv / "bin" / "mlflow"), "server", "--backend-store-uri", backend,
                             "--artifacts-destination", str(workdir / f"{name}-artifacts"), "--host", HOST,
                             "--port", str(port), "--workers", "1"],
                            stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    url = f"http://{HOST}:{port}"
    import urllib.request

    for _ in range(240):
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server {name} did not start; see {workdir / (name + '.log')}")


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def timed(command, env=None):
    """Runs `command`; returns (seconds, its peak resident memory in MiB)."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Read the output first (a full pipe would stall the child), then reap it with its own rusage.
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({proc.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def ferroflow_import(binary, source, target):
    return timed([str(binary), "db", "import", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{target}"])


def export_import(venv, source, workdir):
    """mlflow-export-import moving every experiment of `source` between two MLflow servers."""
    target = workdir / "export-target.db"
    mlflow_database(target, venv)
    origin, origin_url = mlflow_server(venv, f"sqlite:///{source}", workdir, "export-origin")
    destination, destination_url = mlflow_server(venv, f"sqlite:///{target}", workdir, "export-destination")
    exported = workdir / "exported"
    try:
        env = dict(os.environ, MLFLOW_TRACKING_URI=origin_url)
        export_seconds, _ = timed([str(venv / "bin" / "export-experiments"), "--experiments", "all",
                                   "--output-dir", str(exported)], env)
        env = dict(os.environ, MLFLOW_TRACKING_URI=destination_url)
        import_seconds, _ = timed([str(venv / "bin" / "import-experiments"), "--input-dir", str(exported)], env)
    finally:
        stop(origin)
        stop(destination)
    db = sqlite3.connect(target)
    copied = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    db.close()
    return export_seconds, import_seconds, copied


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=10_000_000, help="metric points in all")
    parser.add_argument("--export-runs", type=int, default=100,
                        help="runs of the part that mlflow-export-import copies (default 100)")
    parser.add_argument("--ferroflow-bin", default=str(REPO / "target" / "release" / "ferroflow"))
    parser.add_argument("--mlflow-venv", default=str(REPO / ".venv" / "bench-import"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    venv = Path(args.mlflow_venv)
    binary = Path(args.ferroflow_bin)
    per_run = args.points // args.runs
    workdir = Path(tempfile.mkdtemp(prefix="ferroflow-bench-import-"))
    try:
        full = workdir / "full.db"
        log(f"building an MLflow database of {args.runs} runs x {per_run} points ...")
        mlflow_database(full, venv)
        points = fill(full, args.runs, per_run)
        part = workdir / "part.db"
        mlflow_database(part, venv)
        part_points = fill(part, args.export_runs, per_run)

        log("ferroflow db import, whole database ...")
        full_seconds, full_rss = ferroflow_import(binary, full, workdir / "ferroflow-full.db")
        log("ferroflow db import, the part ...")
        part_seconds, _ = ferroflow_import(binary, part, workdir / "ferroflow-part.db")
        log("mlflow-export-import, the part ...")
        export_seconds, import_seconds, copied = export_import(venv, part, workdir)
        mlflow_seconds = export_seconds + import_seconds
        estimate = mlflow_seconds * args.runs / args.export_runs

        print(f"Source: MLflow 3.17 SQLite database, {args.runs:,} runs, {points:,} metric points "
              f"({per_run:,} per run), 10 params and 5 tags per run. The part: {args.export_runs:,} runs, "
              f"{part_points:,} points (mlflow-export-import copied {copied:,} of them).")
        print()
        print("| data | ferroflow db import | mlflow-export-import | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| the part, {args.export_runs:,} runs | {part_seconds:.2f} s | {mlflow_seconds:.0f} s "
              f"(export {export_seconds:.0f} s + import {import_seconds:.0f} s) | {mlflow_seconds / part_seconds:.0f}x |")
        label = "measured" if args.export_runs >= args.runs else "estimated from the part's rate"
        print(f"| everything, {args.runs:,} runs, {points:,} points | {full_seconds:.1f} s "
              f"({points / full_seconds:,.0f} points/s, peak RSS {full_rss:.0f} MiB) | {estimate / 60:.0f} min ({label}) "
              f"| {estimate / full_seconds:.0f}x |")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

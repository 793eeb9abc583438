"""Seeds a ferroflow server for the UI tests through the stock mlflow client, and prints what it
made as one JSON object on the last line of stdout (the client prints its own lines before it).

MLFLOW_TRACKING_URI names the server. The data covers every page: an experiment with a tuning
sweep (a parent run and nested trials), a run whose metric history is long enough to need the
server's downsampling, artifacts of each previewed kind, and a registered model with versions,
an alias and a stage.
"""

import json
import math
import struct
import sys
import time
import zlib

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

LONG_HISTORY = 20_000


def png(width, height, rgb):
    """A solid-colour PNG, written by hand so the seed needs nothing beyond mlflow."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    sklearn_version: 1.5.0
mlflow_version: 3.17.2
signature:
  inputs: '[{"type": "double", "name": "MedInc", "required": true}, {"type": "double", "name": "HouseAge", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
"""


def main(workdir):
    client = MlflowClient()
    now = int(time.time() * 1000)
    sweep_id = client.create_experiment("ui-sweep", tags={"team": "forecasting"})
    client.create_experiment("ui-empty")

    parent = client.create_run(sweep_id, run_name="tuning-sweep", tags={"kind": "sweep"})
    trials = []
    for i in range(12):
        child = client.create_run(
            sweep_id,
            run_name=f"trial-{i:02d}",
            tags={"mlflow.parentRunId": parent.info.run_id, "kind": "trial"},
        )
        n_estimators = 50 + 10 * i
        leaf = 1 + i % 5
        median_ae = round(0.5 - 0.02 * i + 0.01 * (i % 3), 4)
        client.log_batch(
            child.info.run_id,
            params=[Param("n-estimators", str(n_estimators)), Param("min-samples-leaf", str(leaf))],
            metrics=[Metric("median-AE", median_ae + 0.1 / (s + 1), now + s, s) for s in range(6)],
            tags=[RunTag("trial", str(i))],
        )
        client.set_terminated(child.info.run_id)
        trials.append({"run_id": child.info.run_id, "name": f"trial-{i:02d}", "median_ae": median_ae + 0.1 / 6})
    client.set_terminated(parent.info.run_id)

    # A run with a long loss curve and artifacts of every previewed kind.
    main_run = client.create_run(sweep_id, run_name="long-run", tags={"mlflow.source.name": "train.py"})
    run_id = main_run.info.run_id
    client.log_param(run_id, "learning-rate", "0.01")
    for start in range(0, LONG_HISTORY, 1000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("loss", 1.0 / (1 + s / 100) + 0.05 * math.sin(s / 7), now + s, s)
                for s in range(start, start + 1000)
            ],
        )
    client.log_metric(run_id, "accuracy", 0.93, step=0)
    files = {
        "notes.txt": b"Training notes: the loss falls.\n",
        "config/params.json": json.dumps({"learning_rate": 0.01, "layers": [64, 32]}).encode(),
        "config/env.yaml": b"name: ui-test\ndependencies:\n  - python=3.11\n",
        "data/sample.csv": b'city,price,"note, quoted"\nOslo,12.5,"a, b"\nBergen,9.75,plain\n',
        "plots/curve.png": png(24, 16, (40, 120, 200)),
        "model/MLmodel": MLMODEL.encode(),
    }
    for path, content in files.items():
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    client.log_artifacts(run_id, str(workdir))
    client.set_terminated(run_id)

    model = "ui-model"
    client.create_registered_model(model, description="The forecasting model.")
    source = f"{main_run.info.artifact_uri}/model"
    for _ in range(2):
        client.create_model_version(model, source, run_id=run_id)
    client.transition_model_version_stage(model, "1", "Staging")
    client.set_registered_model_alias(model, "champion", "2")

    print(
        json.dumps(
            {
                "sweep_experiment_id": sweep_id,
                "parent_run_id": parent.info.run_id,
                "trials": trials,
                "long_run_id": run_id,
                "long_history": LONG_HISTORY,
                "artifacts": {path: content.decode("latin-1") for path, content in files.items()},
                "model": model,
            }
        )
    )


if __name__ == "__main__":
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        main(pathlib.Path(tmp))
    sys.stdout.flush()

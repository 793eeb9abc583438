"""The stock client's side of the import suite, run with the MLflow release of the source server.

    python client.py fill URL       write a team's worth of objects through the stock client
    python client.py snapshot URL   print, as JSON, everything the stock client reads back
    python client.py predict URL    print the predictions of models:/churn-model@champion

The suite runs it in the virtualenv of the MLflow release that filled the source (2.x or 3.x), so
each server is read by the client its users had. Only what a release has is written and read.
"""

import json
import math
import os
import sys

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402

MLFLOW_3 = int(mlflow.__version__.split(".")[0]) >= 3
FRAME = {"x": [float(i) for i in range(20)], "y": [float(i % 7) for i in range(20)]}


def fill(url):
    """What a team's MLflow server holds after some months."""
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

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
        frame = pd.DataFrame(FRAME)
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train", targets="y"), context="training")
        model = RandomForestRegressor(n_estimators=5, random_state=0).fit(frame[["x"]], frame["y"])
        if MLFLOW_3:
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name="churn-model",
                                            input_example=frame[["x"]].head(2),
                                            skops_trusted_types=["sklearn.tree._tree.Tree"])
            mlflow.log_metric("r2", 0.75, model_id=info.model_id)
            mlflow.log_metric("r2", math.nan, step=1, model_id=info.model_id)
        else:
            mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name="churn-model",
                                     input_example=frame[["x"]].head(2))
            mlflow.log_metric("r2", 0.75)
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
    client.create_experiment("kept-after-a-gap")
    killed = client.create_run(experiment)
    client.set_terminated(killed.info.run_id, "KILLED")
    client.delete_run(killed.info.run_id)


def snapshot(url):
    """Everything a user can read back through the stock client, as JSON-able lists."""
    client = MlflowClient(url, url)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    ids = [e.experiment_id for e in experiments]
    out = {"experiments": sorted(
        [e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time,
         sorted(e.tags.items())] for e in experiments)}
    runs = []
    for run in client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000):
        info = run.info
        history = {key: sorted([m.step, m.timestamp, repr(m.value)] for m in client.get_metric_history(info.run_id, key))
                   for key in run.data.metrics}
        outputs = getattr(run, "outputs", None)
        runs.append([
            info.run_id, info.run_name, info.experiment_id, info.user_id, info.status, info.start_time, info.end_time,
            info.artifact_uri, info.lifecycle_stage, sorted(run.data.params.items()), sorted(run.data.tags.items()),
            sorted([k, repr(v)] for k, v in run.data.metrics.items()), history,
            sorted([d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source, d.dataset.schema,
                    d.dataset.profile, sorted([t.key, t.value] for t in d.tags)] for d in run.inputs.dataset_inputs),
            sorted([o.model_id, o.step] for o in outputs.model_outputs) if outputs else []])
    out["runs"] = sorted(runs)
    if MLFLOW_3:
        out["logged_models"] = sorted(
            [m.model_id, m.experiment_id, m.name, m.artifact_location, m.creation_timestamp,
             m.last_updated_timestamp, str(m.status), m.model_type, m.source_run_id, sorted(m.tags.items()),
             sorted(m.params.items()), sorted([x.key, repr(x.value), x.step, x.timestamp, x.run_id]
                                              for x in m.metrics or [])]
            for m in client.search_logged_models(ids))
    out["registered_models"] = sorted(
        [m.name, m.creation_timestamp, m.last_updated_timestamp, m.description, sorted(m.tags.items()),
         sorted(m.aliases.items())] for m in client.search_registered_models())
    versions = []
    for v in client.search_model_versions():
        # search_model_versions leaves out the aliases on MLflow's server; get_model_version has them.
        full = client.get_model_version(v.name, v.version)
        versions.append([v.name, v.version, v.creation_timestamp, v.last_updated_timestamp, v.user_id,
                         v.current_stage, v.description, v.source, v.run_id, v.status, v.run_link,
                         sorted(v.tags.items()), sorted(full.aliases)])
    out["model_versions"] = sorted(versions)
    # Through JSON and back, so that tuples and lists compare alike.
    return json.loads(json.dumps(out))


def predict(url):
    import pandas as pd

    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    model = mlflow.pyfunc.load_model("models:/churn-model@champion")
    return [float(v) for v in model.predict(pd.DataFrame({"x": [1.5, 12.0, 19.0]}))]


if __name__ == "__main__":
    command, url = sys.argv[1], sys.argv[2]
    result = {"fill": fill, "snapshot": snapshot, "predict": predict}[command](url)
    print(json.dumps({"result": result, "mlflow": mlflow.__version__}))

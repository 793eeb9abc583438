"""Run inputs: mlflow.log_input with pandas and meta datasets, run inputs on get/search."""

import json

import mlflow
import pandas as pd
import pytest
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import Dataset, DatasetInput, InputTag

from helpers import assert_json_error, post, unique_name


def _inputs(client, run_id):
    run = client.get_run(run_id)
    return {
        (i.dataset.name, i.dataset.digest): (i.dataset, {t.key: t.value for t in i.tags})
        for i in run.inputs.dataset_inputs
    }


def test_log_input_pandas_dataset(client):
    exp = mlflow.set_experiment(unique_name("ds-pandas"))
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    ds = mlflow.data.from_pandas(df, source="s3://bucket/path/train.csv", name="train-data")
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training", tags={"split": "train"})
    inputs = _inputs(client, run.info.run_id)
    assert list(inputs) == [("train-data", ds.digest)]
    dataset, tags = inputs[("train-data", ds.digest)]
    assert tags == {"mlflow.data.context": "training", "split": "train"}
    assert dataset.source_type == "s3"
    assert json.loads(dataset.source) == {"uri": "s3://bucket/path/train.csv"}
    assert json.loads(dataset.profile) == json.loads(ds.profile if isinstance(ds.profile, str)
                                                     else json.dumps(ds.profile))
    if ds.schema is not None:
        assert dataset.schema
    found = client.search_runs([exp.experiment_id], "dataset.name = 'train-data' AND dataset.context = 'training'")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    found = client.search_runs([exp.experiment_id], f"dataset.digest = '{ds.digest}'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_log_input_meta_dataset(client):
    mlflow.set_experiment(unique_name("ds-meta"))
    ds = MetaDataset(HTTPDatasetSource("https://example.com/data.csv"), name="meta-data")
    with mlflow.start_run() as run:
        mlflow.log_input(ds)
    inputs = _inputs(client, run.info.run_id)
    dataset, tags = inputs[("meta-data", ds.digest)]
    assert dataset.source_type == "http"
    assert json.loads(dataset.source) == {"url": "https://example.com/data.csv"}
    assert tags == {}


def test_same_dataset_in_two_contexts_and_runs(client):
    exp = mlflow.set_experiment(unique_name("ds-multi"))
    train = MetaDataset(HTTPDatasetSource("https://example.com/a.csv"), name="shared")
    other = MetaDataset(HTTPDatasetSource("https://example.com/b.csv"), name="other")
    with mlflow.start_run() as r1:
        mlflow.log_input(train, context="training")
        mlflow.log_input(other, context="eval")
    with mlflow.start_run() as r2:
        mlflow.log_input(train, context="eval")
    in1 = _inputs(client, r1.info.run_id)
    assert {k[0] for k in in1} == {"shared", "other"}
    assert in1[("shared", train.digest)][1] == {"mlflow.data.context": "training"}
    assert in1[("other", other.digest)][1] == {"mlflow.data.context": "eval"}
    assert _inputs(client, r2.info.run_id)[("shared", train.digest)][1] == {"mlflow.data.context": "eval"}

    def ids(f):
        return {r.info.run_id for r in client.search_runs([exp.experiment_id], f)}

    assert ids("dataset.name = 'shared'") == {r1.info.run_id, r2.info.run_id}
    assert ids("dataset.context = 'eval'") == {r1.info.run_id, r2.info.run_id}
    # Each dataset clause is matched against any of the run's inputs independently:
    # r1 has 'shared' (training) and 'other' (eval), so it matches too.
    assert ids("dataset.name = 'shared' AND dataset.context = 'eval'") == {r1.info.run_id, r2.info.run_id}
    assert ids("dataset.name = 'other' AND dataset.context = 'training'") == {r1.info.run_id}
    assert ids("dataset.name = 'other'") == {r1.info.run_id}


def test_logging_same_input_twice_is_deduplicated(client, run_id):
    ds = Dataset(name="dedup", digest="abc123", source_type="local", source='{"uri": "/tmp/x"}')
    inp = DatasetInput(ds, tags=[InputTag("mlflow.data.context", "training")])
    client.log_inputs(run_id, datasets=[inp])
    client.log_inputs(run_id, datasets=[inp])
    run = client.get_run(run_id)
    assert len(run.inputs.dataset_inputs) == 1


def test_log_inputs_over_http_and_run_shape(api_url, client, run_id):
    body = {
        "run_id": run_id,
        "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": "test"}],
            "dataset": {"name": "raw", "digest": "d1g3st", "source_type": "local",
                        "source": '{"uri": "/data/raw"}', "schema": '{"cols": []}', "profile": '{"rows": 3}'},
        }],
    }
    resp = post(api_url, "runs/log-inputs", body)
    assert resp.status_code == 200, resp.text
    run = client.get_run(run_id)
    (inp,) = run.inputs.dataset_inputs
    assert inp.dataset.name == "raw" and inp.dataset.digest == "d1g3st"
    assert inp.dataset.source_type == "local" and inp.dataset.source == '{"uri": "/data/raw"}'
    assert inp.dataset.schema == '{"cols": []}' and inp.dataset.profile == '{"rows": 3}'
    assert [(t.key, t.value) for t in inp.tags] == [("mlflow.data.context", "test")]


def test_log_inputs_unknown_run(api_url):
    body = {"run_id": "0123456789abcdef0123456789abcdef",
            "datasets": [{"dataset": {"name": "x", "digest": "y", "source_type": "local", "source": "{}"}}]}
    assert_json_error(post(api_url, "runs/log-inputs", body), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("field, size", [("name", 501), ("digest", 37)])
def test_log_inputs_limits(api_url, client, run_id, field, size):
    dataset = {"name": "n", "digest": "d", "source_type": "local", "source": "{}"}
    dataset[field] = "z" * size
    resp = post(api_url, "runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": dataset}]})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).inputs.dataset_inputs == []

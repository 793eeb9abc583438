"""The fluent API (mlflow.start_run & co.) end to end."""

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from helpers import expect_mlflow_error, now_ms, unique_name, user_tags


def test_set_experiment_creates_and_reuses(client):
    name = unique_name("fluent-exp")
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    assert client.get_experiment_by_name(name).experiment_id == exp.experiment_id
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    by_id = mlflow.set_experiment(experiment_id=exp.experiment_id)
    assert by_id.name == name


def test_run_lifecycle(client):
    exp = mlflow.set_experiment(unique_name("fluent"))
    before = now_ms()
    with mlflow.start_run(run_name="fluent-run") as run:
        run_id = run.info.run_id
        assert run.info.status == "RUNNING"
        assert run.info.experiment_id == exp.experiment_id
        assert mlflow.active_run().info.run_id == run_id
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"layers": 3, "opt": "adam"})
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metrics({"loss": 0.25, "acc": 0.75}, step=1)
        mlflow.log_metric("loss", 0.125, step=2)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"a": "1", "b": "2"})
    after = now_ms()
    assert mlflow.active_run() is None

    r = client.get_run(run_id)
    assert r.info.status == "FINISHED"
    assert r.info.run_name == "fluent-run"
    assert before <= r.info.start_time <= r.info.end_time <= after + 1000
    assert r.data.params == {"lr": "0.1", "layers": "3", "opt": "adam"}
    assert r.data.metrics == {"loss": 0.125, "acc": 0.75}
    assert user_tags(r) == {"stage": "dev", "a": "1", "b": "2"}
    assert r.data.tags["mlflow.runName"] == "fluent-run"
    assert r.data.tags.get("mlflow.user")
    assert r.info.user_id == r.data.tags["mlflow.user"]
    assert "mlflow.source.name" in r.data.tags
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [
        (0, 0.5), (1, 0.25), (2, 0.125)]
    assert mlflow.last_active_run().info.run_id == run_id


def test_generated_run_name(client):
    mlflow.set_experiment(unique_name("fluent-name"))
    with mlflow.start_run() as run:
        name = run.info.run_name
    assert name
    r = client.get_run(run.info.run_id)
    assert r.info.run_name == name
    assert r.data.tags["mlflow.runName"] == name


def test_run_name_from_tags_argument(client):
    mlflow.set_experiment(unique_name("fluent-tagname"))
    with mlflow.start_run(tags={"mlflow.runName": "tagged-name", "x": "y"}) as run:
        pass
    r = client.get_run(run.info.run_id)
    assert r.info.run_name == "tagged-name"
    assert r.data.tags["x"] == "y"


def test_description_becomes_note_tag(client):
    mlflow.set_experiment(unique_name("fluent-desc"))
    with mlflow.start_run(description="my notes") as run:
        pass
    assert client.get_run(run.info.run_id).data.tags["mlflow.note.content"] == "my notes"


def test_nested_runs(client):
    exp = mlflow.set_experiment(unique_name("fluent-nested"))
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-1", nested=True) as c1:
            mlflow.log_metric("x", 1)
        with mlflow.start_run(run_name="child-2", nested=True) as c2:
            with mlflow.start_run(run_name="grandchild", nested=True) as gc:
                pass
        assert mlflow.active_run().info.run_id == parent.info.run_id
    pid = parent.info.run_id
    assert client.get_run(c1.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(c2.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(gc.info.run_id).data.tags["mlflow.parentRunId"] == c2.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(pid).data.tags
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{pid}'",
                                  order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in children] == ["child-1", "child-2"]
    for rid in (pid, c1.info.run_id, c2.info.run_id, gc.info.run_id):
        assert client.get_run(rid).info.status == "FINISHED"


def test_start_run_twice_without_nested_fails():
    mlflow.set_experiment(unique_name("fluent-twice"))
    with mlflow.start_run():
        with pytest.raises(Exception):
            mlflow.start_run()


def test_exception_marks_run_failed(client):
    mlflow.set_experiment(unique_name("fluent-fail"))
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as run:
            raise RuntimeError("boom")
    info = client.get_run(run.info.run_id).info
    assert info.status == "FAILED"
    assert info.end_time is not None


def test_end_run_with_status(client):
    mlflow.set_experiment(unique_name("fluent-killed"))
    run = mlflow.start_run()
    mlflow.end_run(status="KILLED")
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED"
    assert info.end_time is not None


def test_resume_run_by_id(client):
    mlflow.set_experiment(unique_name("fluent-resume"))
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
    run_id = run.info.run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    with mlflow.start_run(run_id=run_id) as resumed:
        assert resumed.info.run_id == run_id
        assert client.get_run(run_id).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0)
        mlflow.log_param("p", "1")
    r = client.get_run(run_id)
    assert r.info.status == "FINISHED"
    assert r.data.metrics == {"m": 2.0}
    assert r.data.params == {"p": "1"}


def test_changing_param_fails(client):
    mlflow.set_experiment(unique_name("fluent-param"))
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
        with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
            mlflow.log_param("p", "2")
    assert client.get_run(run.info.run_id).data.params == {"p": "1"}


def test_start_run_explicit_experiment_id(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        pass
    assert client.get_run(run.info.run_id).info.experiment_id == experiment_id


def test_fluent_experiment_helpers():
    name = unique_name("fluent-helpers")
    exp_id = mlflow.create_experiment(name, tags={"k": "v"})
    exp = mlflow.get_experiment(exp_id)
    assert exp.name == name and exp.tags == {"k": "v"}
    assert mlflow.get_experiment_by_name(name).experiment_id == exp_id
    assert [e.experiment_id for e in mlflow.search_experiments(filter_string=f"name = '{name}'")] == [exp_id]
    mlflow.delete_experiment(exp_id)
    assert mlflow.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert mlflow.search_experiments(filter_string=f"name = '{name}'") == []
    assert len(mlflow.search_experiments(filter_string=f"name = '{name}'", view_type=ViewType.ALL)) == 1


def test_fluent_search_runs_list_and_dataframe():
    exp = mlflow.set_experiment(unique_name("fluent-search"))
    ids = []
    for i in range(3):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_metric("score", i)
            mlflow.log_param("i", i)
        ids.append(run.info.run_id)
    runs = mlflow.search_runs(experiment_ids=[exp.experiment_id], filter_string="metrics.score >= 1",
                              order_by=["metrics.score DESC"], output_format="list")
    assert [r.info.run_id for r in runs] == [ids[2], ids[1]]

    df = mlflow.search_runs(experiment_names=[exp.name], order_by=["params.i ASC"])
    assert list(df["run_id"]) == ids
    assert list(df["metrics.score"]) == [0.0, 1.0, 2.0]
    assert list(df["params.i"]) == ["0", "1", "2"]
    assert list(df["tags.mlflow.runName"]) == ["r0", "r1", "r2"]
    assert set(df["status"]) == {"FINISHED"}


def test_fluent_delete_run(client):
    exp = mlflow.set_experiment(unique_name("fluent-delete"))
    with mlflow.start_run() as run:
        pass
    mlflow.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert mlflow.search_runs([exp.experiment_id], output_format="list") == []
    assert len(mlflow.search_runs([exp.experiment_id], run_view_type=ViewType.DELETED_ONLY,
                                  output_format="list")) == 1


def test_set_experiment_tag_fluent(client):
    exp = mlflow.set_experiment(unique_name("fluent-exptag"))
    mlflow.set_experiment_tag("k", "v")
    mlflow.set_experiment_tags({"a": "1", "b": "2"})
    assert client.get_experiment(exp.experiment_id).tags == {"k": "v", "a": "1", "b": "2"}


def test_delete_tag_fluent(client):
    mlflow.set_experiment(unique_name("fluent-deltag"))
    with mlflow.start_run() as run:
        mlflow.set_tag("gone", "x")
        mlflow.set_tag("kept", "y")
        mlflow.delete_tag("gone")
        with pytest.raises(MlflowException) as info:
            mlflow.delete_tag("never-there")
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert user_tags(client.get_run(run.info.run_id)) == {"kept": "y"}


def test_log_metric_with_timestamp(client):
    mlflow.set_experiment(unique_name("fluent-ts"))
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0, step=3, timestamp=123456)
    (m,) = client.get_metric_history(run.info.run_id, "m")
    assert (m.value, m.step, m.timestamp) == (1.0, 3, 123456)

"""Runs through MlflowClient: create/get/update/delete/restore, tags, params, log-batch."""

import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

from helpers import (
    assert_json_error,
    expect_mlflow_error,
    now_ms,
    post,
    unique_name,
    user_tags,
)


# ---------------------------------------------------------------- create / get


def test_create_run_fields(client, experiment_id):
    start = now_ms() - 5000
    run = client.create_run(
        experiment_id,
        start_time=start,
        run_name="my-run",
        tags={"mlflow.user": "alice", "team": "core"},
    )
    info = run.info
    assert len(info.run_id) == 32 and all(c in "0123456789abcdef" for c in info.run_id)
    assert info.experiment_id == experiment_id
    assert info.run_name == "my-run"
    assert info.status == "RUNNING"
    assert info.start_time == start
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.user_id == "alice"
    assert info.artifact_uri.rstrip("/").endswith(f"{info.run_id}/artifacts")
    assert run.data.tags["mlflow.runName"] == "my-run"
    assert run.data.tags["team"] == "core"
    assert run.data.metrics == {} and run.data.params == {}

    fetched = client.get_run(info.run_id)
    assert fetched.info.run_id == info.run_id
    assert fetched.info.run_name == "my-run"
    assert fetched.info.start_time == start
    assert fetched.info.user_id == "alice"
    assert fetched.info.status == "RUNNING"
    assert fetched.data.tags == {"mlflow.runName": "my-run", "mlflow.user": "alice", "team": "core"}


def test_create_run_artifact_uri_under_experiment_location(client, experiment_id):
    exp = client.get_experiment(experiment_id)
    run = client.create_run(experiment_id)
    expected = exp.artifact_location.rstrip("/") + f"/{run.info.run_id}/artifacts"
    assert run.info.artifact_uri == expected


def test_create_run_without_name_gets_generated_name(client, experiment_id):
    run = client.create_run(experiment_id)
    name = run.info.run_name
    assert name
    assert run.data.tags["mlflow.runName"] == name
    assert client.get_run(run.info.run_id).info.run_name == name


def test_generated_run_names_differ(client, experiment_id):
    names = {client.create_run(experiment_id).info.run_name for _ in range(5)}
    assert len(names) >= 4


def test_create_run_name_from_tag(client, experiment_id):
    run = client.create_run(experiment_id, tags={"mlflow.runName": "from-tag"})
    assert run.info.run_name == "from-tag"
    assert client.get_run(run.info.run_id).info.run_name == "from-tag"


def test_create_run_name_and_same_tag(client, experiment_id):
    run = client.create_run(experiment_id, run_name="same", tags={"mlflow.runName": "same"})
    assert run.info.run_name == "same"
    assert run.data.tags["mlflow.runName"] == "same"


def test_create_run_name_conflicting_with_tag(client, experiment_id):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_run(experiment_id, run_name="one", tags={"mlflow.runName": "two"})


def test_create_run_in_default_experiment(client):
    run = client.create_run("0")
    assert run.info.experiment_id == "0"
    client.delete_run(run.info.run_id)


def test_create_run_unknown_experiment(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.create_run("987654324")


def test_get_run_unknown_id(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_run("0123456789abcdef0123456789abcdef")


def test_run_start_time_omitted_over_http(api_url, experiment_id, client):
    resp = post(api_url, "runs/create", {"experiment_id": experiment_id})
    assert resp.status_code == 200, resp.text
    info = resp.json()["run"]["info"]
    assert info["status"] == "RUNNING"
    assert info["run_id"] == info["run_uuid"]
    assert client.get_run(info["run_id"]).info.experiment_id == experiment_id


# ---------------------------------------------------------------- update


def test_update_run_status_and_end_time(client, run_id):
    end = now_ms()
    client.update_run(run_id, status="FINISHED")
    client.set_terminated(run_id, status="FINISHED", end_time=end)
    info = client.get_run(run_id).info
    assert info.status == "FINISHED"
    assert info.end_time == end


def test_set_terminated_failed(client, run_id):
    client.set_terminated(run_id, status="FAILED")
    info = client.get_run(run_id).info
    assert info.status == "FAILED"
    assert info.end_time is not None and info.end_time >= info.start_time


@pytest.mark.parametrize("status", ["SCHEDULED", "KILLED", "FAILED", "FINISHED", "RUNNING"])
def test_update_run_every_status(client, run_id, status):
    client.update_run(run_id, status=status)
    assert client.get_run(run_id).info.status == status


def test_update_run_name_updates_tag(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="before").info.run_id
    client.update_run(run_id, name="after")
    run = client.get_run(run_id)
    assert run.info.run_name == "after"
    assert run.data.tags["mlflow.runName"] == "after"
    assert run.info.status == "RUNNING"


def test_update_run_status_only_keeps_name(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="keep").info.run_id
    client.update_run(run_id, status="KILLED")
    run = client.get_run(run_id)
    assert run.info.run_name == "keep"
    assert run.data.tags["mlflow.runName"] == "keep"
    assert run.info.status == "KILLED"


def test_set_run_name_tag_renames_run(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="orig").info.run_id
    client.set_tag(run_id, "mlflow.runName", "via-tag")
    run = client.get_run(run_id)
    assert run.info.run_name == "via-tag"
    assert run.data.tags["mlflow.runName"] == "via-tag"


def test_update_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.update_run("0123456789abcdef0123456789abcdef", status="FINISHED")


def test_update_run_over_http_returns_run_info(api_url, run_id):
    resp = post(api_url, "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 1234})
    assert resp.status_code == 200, resp.text
    info = resp.json()["run_info"]
    assert info["run_id"] == run_id
    assert info["status"] == "FINISHED"
    assert info["end_time"] == 1234


# ---------------------------------------------------------------- delete / restore


def test_delete_and_restore_run(client, experiment_id):
    keep = client.create_run(experiment_id).info.run_id
    gone = client.create_run(experiment_id).info.run_id
    client.delete_run(gone)

    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    ids = lambda vt: {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=vt)}  # noqa: E731
    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}

    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == {keep, gone}
    assert ids(ViewType.DELETED_ONLY) == set()


def test_delete_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_run("0123456789abcdef0123456789abcdee")


def test_restore_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.restore_run("0123456789abcdef0123456789abcded")


def test_deleted_run_rejects_writes(client, run_id):
    client.delete_run(run_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "p", "v")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, "m", 1.0)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_tag(run_id, "t", "v")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, now_ms(), 0)])
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.update_run(run_id, status="FINISHED")
    run = client.get_run(run_id)
    assert run.data.params == {} and run.data.metrics == {}
    assert "t" not in run.data.tags
    assert run.info.status == "RUNNING"


def test_finished_run_still_accepts_writes(client, run_id):
    client.set_terminated(run_id)
    client.log_param(run_id, "p", "v")
    client.log_metric(run_id, "m", 2.0)
    client.set_tag(run_id, "t", "v")
    run = client.get_run(run_id)
    assert run.data.params == {"p": "v"}
    assert run.data.metrics == {"m": 2.0}
    assert run.data.tags["t"] == "v"
    assert run.info.status == "FINISHED"


# ---------------------------------------------------------------- tags


def test_set_tag_upsert_and_delete(client, run_id):
    client.set_tag(run_id, "a", "1")
    client.set_tag(run_id, "b", "2")
    client.set_tag(run_id, "a", "3")
    assert user_tags(client.get_run(run_id)) == {"a": "3", "b": "2"}
    client.delete_tag(run_id, "a")
    assert user_tags(client.get_run(run_id)) == {"b": "2"}


def test_set_tag_empty_value_and_unicode(client, run_id):
    client.set_tag(run_id, "empty", "")
    client.set_tag(run_id, "unicode", "héllo wörld ✓ 你好")
    tags = client.get_run(run_id).data.tags
    assert tags["empty"] == ""
    assert tags["unicode"] == "héllo wörld ✓ 你好"


def test_tag_key_with_allowed_symbols(client, run_id):
    key = "a.b-c_d/e f:g"
    client.set_tag(run_id, key, "v")
    assert client.get_run(run_id).data.tags[key] == "v"


def test_delete_missing_tag(client, run_id):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_tag(run_id, "never-set")


def test_delete_tag_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_tag("0123456789abcdef0123456789abcdec", "k")


def test_set_tag_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_tag("0123456789abcdef0123456789abcdeb", "k", "v")


def test_long_tag_value_truncated(api_url, client, run_id):
    # Over HTTP (bypassing any client-side handling): 8000 chars are kept verbatim,
    # longer values are silently truncated to 8000.
    ok = post(api_url, "runs/set-tag", {"run_id": run_id, "key": "exact", "value": "v" * 8000})
    assert ok.status_code == 200, ok.text
    resp = post(api_url, "runs/set-tag", {"run_id": run_id, "key": "long", "value": "w" * 9000})
    assert resp.status_code == 200, resp.text
    tags = client.get_run(run_id).data.tags
    assert tags["exact"] == "v" * 8000
    assert tags["long"] == "w" * 8000


@pytest.mark.parametrize("key", ["bad!key", "../escape", "/abs", "a//b", "trailing/", "k" * 251])
def test_invalid_tag_keys_rejected(client, run_id, key):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_tag(run_id, key, "v")


# ---------------------------------------------------------------- params


def test_log_params_and_immutability(client, run_id):
    client.log_param(run_id, "lr", "0.01")
    client.log_param(run_id, "empty", "")
    client.log_param(run_id, "lr", "0.01")  # same value again is fine
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "lr", "0.02")
    assert client.get_run(run_id).data.params == {"lr": "0.01", "empty": ""}


def test_log_param_non_string_values_are_stringified(client, run_id):
    client.log_param(run_id, "int", 5)
    client.log_param(run_id, "float", 0.5)
    client.log_param(run_id, "bool", True)
    client.log_param(run_id, "none", None)
    assert client.get_run(run_id).data.params == {
        "int": "5",
        "float": "0.5",
        "bool": "True",
        "none": "None",
    }


def test_param_max_length(client, run_id):
    client.log_param(run_id, "exact", "p" * 6000)
    assert client.get_run(run_id).data.params["exact"] == "p" * 6000


def test_long_param_value_truncated_over_http(api_url, client, run_id):
    resp = post(api_url, "runs/log-parameter", {"run_id": run_id, "key": "long", "value": "q" * 7000})
    assert resp.status_code == 200, resp.text
    assert client.get_run(run_id).data.params["long"] == "q" * 6000
    # Re-logging the same long value is "the same value" (compared after truncation).
    again = post(api_url, "runs/log-parameter", {"run_id": run_id, "key": "long", "value": "q" * 7000})
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("key", ["bad!key", "../escape", "k" * 251])
def test_invalid_param_keys_rejected(client, run_id, key):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, key, "v")
    assert client.get_run(run_id).data.params == {}


def test_log_param_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.log_param("0123456789abcdef0123456789abcdea", "p", "v")


# ---------------------------------------------------------------- log_batch


def test_log_batch_everything(client, run_id):
    ts = now_ms()
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 0.5, ts, 0), Metric("loss", 0.25, ts + 1, 1), Metric("acc", 0.9, ts, 0)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {"loss": 0.25, "acc": 0.9}
    assert run.data.params == {"p1": "a", "p2": "b"}
    assert user_tags(run) == {"t1": "x", "t2": "y"}
    hist = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [(0, 0.5, ts), (1, 0.25, ts + 1)]


def test_log_batch_param_same_value_ok_changed_value_rejected(client, run_id):
    client.log_batch(run_id, params=[Param("p", "1")])
    client.log_batch(run_id, params=[Param("p", "1")])
    ts = now_ms()
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(
            run_id,
            metrics=[Metric("batch_metric", 1.0, ts, 0)],
            params=[Param("p", "2")],
            tags=[RunTag("batch_tag", "x")],
        )
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1"}


def test_log_batch_duplicate_param_keys_applies_nothing(client, run_id):
    ts = now_ms()
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(
            run_id,
            metrics=[Metric("batch_metric", 1.0, ts, 0)],
            params=[Param("dup", "a"), Param("dup", "b"), Param("other", "c")],
            tags=[RunTag("batch_tag", "x")],
        )
    run = client.get_run(run_id)
    assert run.data.params == {}
    assert run.data.metrics == {}
    assert "batch_tag" not in run.data.tags
    assert client.get_metric_history(run_id, "batch_metric") == []


def test_log_batch_duplicate_param_keys_over_http(api_url, client, run_id):
    ts = now_ms()
    resp = post(api_url, "runs/log-batch", {
        "run_id": run_id,
        "metrics": [{"key": "batch_metric", "value": 1.0, "timestamp": ts, "step": 0}],
        "params": [{"key": "dup", "value": "a"}, {"key": "dup", "value": "a"}],
        "tags": [{"key": "batch_tag", "value": "x"}],
    })
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    run = client.get_run(run_id)
    assert run.data.params == {} and run.data.metrics == {}
    assert "batch_tag" not in run.data.tags


def test_log_batch_too_many_metrics_over_http(api_url, client, run_id):
    ts = now_ms()
    metrics = [{"key": f"m{i}", "value": float(i), "timestamp": ts, "step": 0} for i in range(1001)]
    resp = post(api_url, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}


def test_log_batch_limit_exactly_1000_metrics_ok(api_url, client, run_id):
    ts = now_ms()
    metrics = [{"key": f"m{i}", "value": float(i), "timestamp": ts, "step": 0} for i in range(1000)]
    resp = post(api_url, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    assert resp.status_code == 200, resp.text
    data = client.get_run(run_id).data.metrics
    assert len(data) == 1000 and data["m999"] == 999.0


def test_log_batch_too_many_params_over_http(api_url, client, run_id):
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    resp = post(api_url, "runs/log-batch", {"run_id": run_id, "params": params})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.params == {}


def test_log_batch_too_many_tags_over_http(api_url, client, run_id):
    tags = [{"key": f"t{i}", "value": "v"} for i in range(101)]
    resp = post(api_url, "runs/log-batch", {"run_id": run_id, "tags": tags})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert user_tags(client.get_run(run_id)) == {}


def test_log_batch_too_many_entities_over_http(api_url, client, run_id):
    ts = now_ms()
    body = {
        "run_id": run_id,
        "metrics": [{"key": f"m{i}", "value": 1.0, "timestamp": ts} for i in range(950)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(51)],
    }
    resp = post(api_url, "runs/log-batch", body)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    run = client.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}


def test_log_batch_metric_missing_timestamp_over_http(api_url, client, run_id):
    resp = post(api_url, "runs/log-batch", {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1}, {"key": "m2", "value": 1.0}],
    })
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}


def test_log_batch_client_splits_large_batches(client, run_id):
    ts = now_ms()
    metrics = [Metric(f"m{i}", float(i), ts, 0) for i in range(1500)]
    params = [Param(f"p{i}", str(i)) for i in range(150)]
    client.log_batch(run_id, metrics=metrics, params=params)
    data = client.get_run(run_id).data
    assert len(data.metrics) == 1500 and data.metrics["m1499"] == 1499.0
    assert len(data.params) == 150 and data.params["p149"] == "149"


def test_log_batch_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.log_batch("0123456789abcdef0123456789abcde9", params=[Param("p", "v")])


def test_log_batch_empty_over_http(api_url, client, run_id):
    resp = post(api_url, "runs/log-batch", {"run_id": run_id})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}


def test_run_status_enum_roundtrip(client, run_id):
    client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.KILLED))
    assert client.get_run(run_id).info.status == "KILLED"


def test_unknown_run_error_is_mlflow_exception(client):
    with pytest.raises(MlflowException) as info:
        client.get_run("ffffffffffffffffffffffffffffffff")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "ffffffffffffffffffffffffffffffff" in str(info.value)


def test_runs_in_different_experiments_are_isolated(client):
    e1 = client.create_experiment(unique_name("iso"))
    e2 = client.create_experiment(unique_name("iso"))
    r1 = client.create_run(e1).info.run_id
    r2 = client.create_run(e2).info.run_id
    assert [r.info.run_id for r in client.search_runs([e1])] == [r1]
    assert [r.info.run_id for r in client.search_runs([e2])] == [r2]
    assert {r.info.run_id for r in client.search_runs([e1, e2])} == {r1, r2}

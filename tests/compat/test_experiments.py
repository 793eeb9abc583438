"""Experiments: create/get/get-by-name/update/delete/restore and experiment tags."""

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from helpers import expect_mlflow_error, now_ms, post, unique_name


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    by_name = client.get_experiment_by_name("Default")
    assert by_name is not None and by_name.experiment_id == "0"


def test_create_and_get_experiment(client):
    name = unique_name("create")
    before = now_ms()
    exp_id = client.create_experiment(name, tags={"team": "core", "empty": ""})
    after = now_ms()
    assert isinstance(exp_id, str) and exp_id.isdigit() and exp_id != "0"

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "core", "empty": ""}
    assert before - 1000 <= exp.creation_time <= after + 1000
    assert exp.last_update_time >= exp.creation_time
    # The default artifact location ends with the experiment id.
    assert exp.artifact_location
    assert exp.artifact_location.rstrip("/").endswith(exp_id)


def test_experiment_ids_are_distinct_integers(client):
    ids = [client.create_experiment(unique_name("ids")) for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(i.isdigit() for i in ids)


def test_create_with_explicit_artifact_location(client):
    # Inside the artifact roots: ferroflow refuses locations outside them (/tmp paths too).
    location = f"mlflow-artifacts:/{unique_name('custom-location')}"
    exp_id = client.create_experiment(unique_name("loc"), artifact_location=location)
    assert client.get_experiment(exp_id).artifact_location == location


def test_get_experiment_by_name(client):
    name = unique_name("byname")
    exp_id = client.create_experiment(name)
    exp = client.get_experiment_by_name(name)
    assert exp is not None
    assert exp.experiment_id == exp_id
    assert exp.name == name


def test_get_experiment_by_name_missing_returns_none(client):
    assert client.get_experiment_by_name(unique_name("missing")) is None


def test_get_experiment_by_name_is_case_sensitive(client):
    name = unique_name("CaseName")
    client.create_experiment(name)
    assert client.get_experiment_by_name(name.lower()) is None


def test_get_experiment_unknown_id(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_experiment("987654321")


def test_duplicate_experiment_name(client):
    name = unique_name("dup")
    client.create_experiment(name)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)


def test_duplicate_name_of_deleted_experiment_still_rejected(client):
    name = unique_name("dupdel")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)


def test_experiment_name_too_long(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_experiment("x" * 501)


def test_experiment_name_max_length_ok(client):
    name = unique_name("long")
    name = name + "y" * (500 - len(name))
    exp_id = client.create_experiment(name)
    assert client.get_experiment(exp_id).name == name


def test_experiment_name_empty(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_experiment("")


def test_rename_experiment(client):
    old, new = unique_name("old"), unique_name("new")
    exp_id = client.create_experiment(old)
    created = client.get_experiment(exp_id)
    client.rename_experiment(exp_id, new)
    exp = client.get_experiment(exp_id)
    assert exp.name == new
    assert exp.last_update_time >= created.last_update_time
    assert client.get_experiment_by_name(old) is None
    assert client.get_experiment_by_name(new).experiment_id == exp_id


def test_rename_to_existing_name_rejected(client):
    a, b = unique_name("a"), unique_name("b")
    exp_a = client.create_experiment(a)
    client.create_experiment(b)
    with pytest.raises(MlflowException) as info:
        client.rename_experiment(exp_a, b)
    # The stock server answers 400 BAD_REQUEST (a raw database uniqueness error);
    # any client-error code is acceptable, a server error is not.
    assert info.value.error_code in (
        "RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE", "BAD_REQUEST"), info.value
    assert client.get_experiment(exp_a).name == a


def test_rename_deleted_experiment_rejected(client, api_url):
    name = unique_name("rendel")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    # Raw HTTP: the stock server answers 500 INVALID_STATE, which the client would
    # only see after minutes of retries.
    resp = post(api_url, "experiments/update", {"experiment_id": exp_id, "new_name": unique_name("x")})
    assert resp.status_code in (400, 500), resp.text
    assert resp.json()["error_code"] in ("INVALID_STATE", "INVALID_PARAMETER_VALUE"), resp.text
    assert client.get_experiment(exp_id).name == name


def test_rename_unknown_experiment(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.rename_experiment("987654322", unique_name("x"))


def test_delete_and_restore_experiment(client):
    name = unique_name("delres")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)

    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # get-by-name still finds deleted experiments.
    assert client.get_experiment_by_name(name).lifecycle_stage == "deleted"

    filt = f"name = '{name}'"
    assert client.search_experiments(filter_string=filt) == []
    assert [e.experiment_id for e in client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=filt)] == [exp_id]
    assert [e.experiment_id for e in client.search_experiments(
        view_type=ViewType.ALL, filter_string=filt)] == [exp_id]

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert [e.experiment_id for e in client.search_experiments(filter_string=filt)] == [exp_id]
    assert client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=filt) == []


def test_delete_experiment_soft_deletes_runs_and_restore_restores(client):
    exp_id = client.create_experiment(unique_name("delruns"))
    r1 = client.create_run(exp_id).info.run_id
    r2 = client.create_run(exp_id).info.run_id
    # r3 deleted before the experiment: it stays deleted or comes back, but never disappears.
    r3 = client.create_run(exp_id).info.run_id
    client.delete_run(r3)

    client.delete_experiment(exp_id)
    for rid in (r1, r2, r3):
        assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY) == []
    deleted = {r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)}
    assert deleted == {r1, r2, r3}

    client.restore_experiment(exp_id)
    for rid in (r1, r2):
        assert client.get_run(rid).info.lifecycle_stage == "active"
    active = {r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY)}
    assert {r1, r2} <= active
    everything = {r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.ALL)}
    assert everything == {r1, r2, r3}


def test_delete_unknown_experiment(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment("987654323")


def test_delete_already_deleted_experiment(client):
    exp_id = client.create_experiment(unique_name("deltwice"))
    client.delete_experiment(exp_id)
    # The stock server reports an already-deleted experiment as not found.
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment(exp_id)


def test_restore_active_experiment_rejected(client):
    exp_id = client.create_experiment(unique_name("resact"))
    # Only deleted experiments can be restored; an active one is "not found".
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_create_run_in_deleted_experiment_rejected(client):
    exp_id = client.create_experiment(unique_name("deadexp"))
    client.delete_experiment(exp_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_run(exp_id)


def test_set_experiment_tag_upserts(client):
    exp_id = client.create_experiment(unique_name("tags"), tags={"a": "1"})
    client.set_experiment_tag(exp_id, "b", "2")
    client.set_experiment_tag(exp_id, "a", "updated")
    client.set_experiment_tag(exp_id, "mlflow.note.content", "a description")
    assert client.get_experiment(exp_id).tags == {
        "a": "updated",
        "b": "2",
        "mlflow.note.content": "a description",
    }


def _needs_delete_experiment_tag(client):
    if not hasattr(client, "delete_experiment_tag"):
        pytest.skip("this mlflow client has no delete_experiment_tag (added in 3.x)")


def test_delete_experiment_tag(client):
    _needs_delete_experiment_tag(client)
    exp_id = client.create_experiment(unique_name("deltag"), tags={"keep": "k", "drop": "d"})
    client.delete_experiment_tag(exp_id, "drop")
    assert client.get_experiment(exp_id).tags == {"keep": "k"}


def test_delete_missing_experiment_tag(client):
    _needs_delete_experiment_tag(client)
    exp_id = client.create_experiment(unique_name("deltagmissing"))
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment_tag(exp_id, "never-set")


def test_set_tag_on_deleted_experiment_rejected(client):
    exp_id = client.create_experiment(unique_name("tagdead"))
    client.delete_experiment(exp_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_experiment_tag(exp_id, "k", "v")


def test_experiment_tag_value_too_long(client):
    exp_id = client.create_experiment(unique_name("taglong"))
    client.set_experiment_tag(exp_id, "ok", "v" * 20000)
    assert len(client.get_experiment(exp_id).tags["ok"]) == 20000
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_experiment_tag(exp_id, "too-long", "v" * 20001)


def test_experiment_tag_invalid_key(client):
    exp_id = client.create_experiment(unique_name("tagkey"))
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_experiment_tag(exp_id, "bad/../key", "v")


def test_get_experiment_non_integer_id(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.get_experiment("not-a-number")


def test_delete_experiment_tag_over_http(client, api_url):
    exp_id = client.create_experiment(unique_name("deltaghttp"), tags={"keep": "k", "drop": "d"})
    resp = post(api_url, "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "drop"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    assert client.get_experiment(exp_id).tags == {"keep": "k"}

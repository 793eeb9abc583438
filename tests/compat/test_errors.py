"""Raw HTTP behaviour: request parsing, error bodies and status codes, prefixes, server endpoints."""

import json
import math

import pytest
import requests
from packaging.version import Version

from helpers import assert_json_error, get, post, unique_name


def raw(base_url, method, path, data=None, content_type="application/json", **kwargs):
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.request(method, base_url + path, data=data, headers=headers, timeout=60, **kwargs)


# ---------------------------------------------------------------- server endpoints


def test_health(base_url):
    resp = requests.get(base_url + "/health", timeout=10)
    assert resp.status_code == 200
    assert resp.text.strip() == "OK"


def test_version(base_url):
    resp = requests.get(base_url + "/version", timeout=10)
    assert resp.status_code == 200
    # The client parses this as a version (span logging needs >= 3.4).
    assert Version(resp.text.strip()) >= Version("3.4")


# ---------------------------------------------------------------- request encoding


@pytest.mark.parametrize("body", ["{bad", '{"name": ', "{'name': 'single-quoted'}"])
def test_malformed_json_is_400_json_error(base_url, body):
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/create", body)
    err = assert_json_error(resp, 400)
    assert err["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), err


def test_malformed_json_creates_nothing(base_url, client):
    name = unique_name("malformed")
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/create", '{"name": "%s"' % name)
    assert_json_error(resp, 400)
    assert client.get_experiment_by_name(name) is None


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_post_requires_json_content_type(base_url, client, content_type):
    name = unique_name("ctype")
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/create",
               json.dumps({"name": name}), content_type=content_type)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_experiment_by_name(name) is None


def test_json_content_type_with_charset_accepted(base_url, client):
    name = unique_name("charset")
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/create",
               json.dumps({"name": name}), content_type="application/json; charset=utf-8")
    assert resp.status_code == 200, resp.text
    assert client.get_experiment_by_name(name).experiment_id == resp.json()["experiment_id"]


def test_camel_case_field_names_accepted(api_url, client, experiment_id):
    resp = post(api_url, "runs/create", {"experimentId": experiment_id, "runName": "camel", "startTime": 77})
    assert resp.status_code == 200, resp.text
    info = resp.json()["run"]["info"]
    assert info["experiment_id"] == experiment_id
    assert info["run_name"] == "camel"
    assert info["start_time"] == 77


def test_both_spellings_of_a_field_rejected(api_url, experiment_id):
    resp = post(api_url, "runs/create", {"experiment_id": experiment_id, "experimentId": experiment_id})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_int64_as_numeric_string_accepted(api_url, client, experiment_id):
    resp = post(api_url, "runs/create", {"experiment_id": experiment_id, "start_time": "1234"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["run"]["info"]["start_time"] == 1234


def test_enum_by_number_accepted(api_url, client, run_id):
    resp = post(api_url, "runs/update", {"run_id": run_id, "status": 3})
    assert resp.status_code == 200, resp.text
    assert client.get_run(run_id).info.status == "FINISHED"


def test_run_uuid_alias_accepted(api_url, client, run_id):
    resp = post(api_url, "runs/set-tag", {"run_uuid": run_id, "key": "via", "value": "uuid"})
    assert resp.status_code == 200, resp.text
    assert client.get_run(run_id).data.tags["via"] == "uuid"
    resp = get(api_url, "runs/get", {"run_uuid": run_id})
    assert resp.status_code == 200, resp.text
    assert resp.json()["run"]["info"]["run_id"] == run_id


@pytest.mark.parametrize(
    "path, body",
    [
        ("experiments/create", {"name": 123}),
        ("experiments/create", {"name": ["a"]}),
        ("experiments/create", {"name": unique_name("t"), "tags": {"a": "b"}}),
        ("runs/search", {"experiment_ids": "0"}),
        ("runs/search", {"experiment_ids": ["0"], "max_results": "abc"}),
        ("runs/search", {"experiment_ids": ["0"], "filter": 5}),
        ("runs/log-metric", {"run_id": "RUN", "key": "m", "value": "abc", "timestamp": 1}),
        ("runs/log-metric", {"run_id": "RUN", "key": "m", "value": 1.0, "timestamp": "soon"}),
        ("runs/log-batch", {"run_id": "RUN", "metrics": "not-a-list"}),
        ("runs/log-batch", {"run_id": "RUN", "tags": {"a": "b"}}),
        ("runs/set-tag", {"run_id": "RUN", "key": "k", "value": 5}),
        ("runs/set-tag", {"run_id": "RUN", "key": ["k"], "value": "v"}),
        ("runs/log-parameter", {"run_id": "RUN", "key": "k", "value": {"x": 1}}),
    ],
)
def test_wrong_field_type_is_400(api_url, run_id, path, body):
    body = {k: (run_id if v == "RUN" else v) for k, v in body.items()}
    resp = post(api_url, path, body)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_wrong_field_type_changes_nothing(api_url, client, run_id):
    resp = post(api_url, "runs/log-metric", {"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}


@pytest.mark.parametrize(
    "path, body",
    [
        ("experiments/create", {}),
        ("experiments/create", {"name": ""}),
        ("experiments/update", {"experiment_id": "0"}),
        ("experiments/delete", {}),
        ("experiments/set-experiment-tag", {"experiment_id": "0", "value": "v"}),
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1}),
        ("runs/log-parameter", {"run_id": "RUN", "value": "v"}),
        ("runs/set-tag", {"run_id": "RUN", "value": "v"}),
        ("runs/delete-tag", {"run_id": "RUN"}),
        ("runs/update", {}),
        ("runs/delete", {}),
        ("runs/log-batch", {}),
    ],
)
def test_missing_required_field_is_400(api_url, run_id, path, body):
    body = {k: (run_id if v == "RUN" else v) for k, v in body.items()}
    resp = post(api_url, path, body)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "path, params",
    [
        ("runs/get", {}),
        ("runs/get", {"run_id": ""}),
        ("experiments/get", {}),
        ("experiments/get-by-name", {}),
        ("metrics/get-history", {"metric_key": "m"}),
    ],
)
def test_get_missing_required_query_is_400(api_url, path, params):
    assert_json_error(get(api_url, path, params), 400, "INVALID_PARAMETER_VALUE")


def test_non_integer_experiment_id_is_400(api_url):
    assert_json_error(get(api_url, "experiments/get", {"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE")
    resp = post(api_url, "runs/search", {"experiment_ids": ["abc"]})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


# ---------------------------------------------------------------- integer overflow


def test_int32_overflow_max_results_is_400(api_url):
    resp = post(api_url, "runs/search", {"experiment_ids": ["0"], "max_results": 99999999999})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_int64_overflow_max_results_is_400(api_url):
    resp = post(api_url, "experiments/search", {"max_results": 99999999999999999999999})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.ferroflow_only
def test_int64_overflow_start_time_is_400(api_url, client, experiment_id):
    # Stock MLflow answers 200 and silently stores start_time 0 and drops run_name.
    resp = post(api_url, "runs/create",
                {"experiment_id": experiment_id, "start_time": 99999999999999999999999, "run_name": "ovf"})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.search_runs([experiment_id]) == []


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("field", ["timestamp", "step"])
def test_int64_overflow_metric_field_is_400(api_url, client, run_id, field):
    # Stock MLflow answers 200 and stores the metric with that field (and the ones after it) = 0.
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 5, "step": 1}
    body[field] = 99999999999999999999999
    assert_json_error(post(api_url, "runs/log-metric", body), 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}


@pytest.mark.ferroflow_only
def test_int64_overflow_experiment_id_is_client_error(api_url):
    # Stock MLflow answers 500 ("Python int too large to convert to SQLite INTEGER").
    resp = get(api_url, "experiments/get", {"experiment_id": "99999999999999999999999"})
    assert resp.status_code in (400, 404), resp.text
    assert_json_error(resp, resp.status_code)
    assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")


# ---------------------------------------------------------------- bare JSON tokens (stock bug)


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("token, check", [
    ("NaN", math.isnan),
    ("Infinity", lambda v: v > 1.79e308),
    ("-Infinity", lambda v: v < -1.79e308),
    ("1e309", lambda v: v > 1.79e308),
])
def test_bare_nonfinite_token_not_stored_as_zero(base_url, client, run_id, token, check):
    # Stock MLflow stores value 0 / timestamp 0 for these and answers 200 (spec: do not copy).
    body = '{"run_id": "%s", "key": "bare", "value": %s, "timestamp": 7, "step": 3}' % (run_id, token)
    resp = raw(base_url, "POST", "/api/2.0/mlflow/runs/log-metric", body)
    metrics = client.get_metric_history(run_id, "bare")
    if resp.status_code == 200:
        assert len(metrics) == 1
        assert check(metrics[0].value), metrics[0]
        assert (metrics[0].timestamp, metrics[0].step) == (7, 3)
    else:
        # Rejecting is allowed (spec 1.2); it is a JSON-level error like malformed JSON.
        err = assert_json_error(resp, 400)
        assert err["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), err
        assert metrics == []


# ---------------------------------------------------------------- routing


def test_unknown_endpoint_is_404(base_url):
    for path in ("/api/2.0/mlflow/no-such-endpoint", "/api/2.0/mlflow/runs/nope", "/no/such/path"):
        resp = requests.get(base_url + path, timeout=10)
        assert resp.status_code == 404, path
        if resp.headers.get("Content-Type", "").startswith("application/json"):
            # A JSON 404 must say ENDPOINT_NOT_FOUND: the client relies on it for fallbacks.
            assert resp.json().get("error_code") == "ENDPOINT_NOT_FOUND", resp.text


def test_unknown_endpoint_post_is_404(base_url):
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/frobnicate", "{}")
    assert resp.status_code == 404


def test_wrong_method_on_known_path(base_url):
    resp = requests.delete(base_url + "/api/2.0/mlflow/runs/get", timeout=10)
    assert resp.status_code == 405
    resp = requests.get(base_url + "/api/2.0/mlflow/runs/create", timeout=10)
    assert resp.status_code == 405


def test_ajax_api_prefix(base_url, client):
    name = unique_name("ajax")
    resp = raw(base_url, "POST", "/ajax-api/2.0/mlflow/experiments/create", json.dumps({"name": name}))
    assert resp.status_code == 200, resp.text
    exp_id = resp.json()["experiment_id"]
    assert client.get_experiment(exp_id).name == name
    got = requests.get(base_url + "/ajax-api/2.0/mlflow/experiments/get",
                       params={"experiment_id": exp_id}, timeout=10)
    assert got.status_code == 200
    assert got.json()["experiment"]["name"] == name
    run = raw(base_url, "POST", "/ajax-api/2.0/mlflow/runs/create", json.dumps({"experiment_id": exp_id}))
    assert run.status_code == 200, run.text
    rid = run.json()["run"]["info"]["run_id"]
    searched = raw(base_url, "POST", "/ajax-api/2.0/mlflow/runs/search",
                   json.dumps({"experiment_ids": [exp_id]}))
    assert [r["info"]["run_id"] for r in searched.json()["runs"]] == [rid]
    missing = requests.get(base_url + "/ajax-api/2.0/mlflow/runs/get",
                           params={"run_id": "0123456789abcdef0123456789abcdef"}, timeout=10)
    assert_json_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")


# ---------------------------------------------------------------- error statuses & response shape


def test_not_found_errors(api_url):
    assert_json_error(get(api_url, "runs/get", {"run_id": "0123456789abcdef0123456789abcdef"}),
                      404, "RESOURCE_DOES_NOT_EXIST")
    assert_json_error(get(api_url, "experiments/get", {"experiment_id": "987654326"}),
                      404, "RESOURCE_DOES_NOT_EXIST")
    assert_json_error(get(api_url, "experiments/get-by-name", {"experiment_name": unique_name("nope")}),
                      404, "RESOURCE_DOES_NOT_EXIST")


def test_already_exists_is_400(api_url):
    name = unique_name("dup-http")
    assert post(api_url, "experiments/create", {"name": name}).status_code == 200
    assert_json_error(post(api_url, "experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_param_change_is_400(api_url, run_id):
    assert post(api_url, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}).status_code == 200
    assert_json_error(post(api_url, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"}),
                      400, "INVALID_PARAMETER_VALUE")


def test_experiment_name_too_long_over_http(api_url):
    assert_json_error(post(api_url, "experiments/create", {"name": "x" * 501}), 400, "INVALID_PARAMETER_VALUE")


def test_artifact_location_runs_uri_rejected(api_url):
    resp = post(api_url, "experiments/create", {"name": unique_name("art"), "artifact_location": "runs:/abc"})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_experiment_create_with_bad_tag_key_rejected(api_url, client):
    name = unique_name("badtag")
    resp = post(api_url, "experiments/create", {"name": name, "tags": [{"key": "bad!", "value": "v"}]})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_experiment_by_name(name) is None


def test_success_response_shapes(api_url, experiment_id):
    created = post(api_url, "runs/create", {"experiment_id": experiment_id, "start_time": 1000,
                                            "run_name": "shape", "tags": [{"key": "k", "value": "v"}]})
    assert created.status_code == 200
    assert created.headers["Content-Type"].startswith("application/json")
    info = created.json()["run"]["info"]
    rid = info["run_id"]
    assert info["run_uuid"] == rid
    assert info["start_time"] == 1000 and isinstance(info["start_time"], int)
    assert info["status"] == "RUNNING"
    assert info["lifecycle_stage"] == "active"
    assert "end_time" not in info

    ok = post(api_url, "runs/log-metric", {"run_id": rid, "key": "m", "value": 2, "timestamp": 3000, "step": 4})
    assert ok.status_code == 200 and ok.json() == {}
    post(api_url, "runs/log-parameter", {"run_id": rid, "key": "p", "value": "v"})

    run = get(api_url, "runs/get", {"run_id": rid}).json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 2.0, "timestamp": 3000, "step": 4}]
    assert run["data"]["params"] == [{"key": "p", "value": "v"}]
    assert {t["key"]: t["value"] for t in run["data"]["tags"]} == {"k": "v", "mlflow.runName": "shape"}

    exp = get(api_url, "experiments/get", {"experiment_id": experiment_id}).json()["experiment"]
    assert exp["experiment_id"] == experiment_id
    assert isinstance(exp["creation_time"], int)

    hist = get(api_url, "metrics/get-history", {"run_id": rid, "metric_key": "m"}).json()
    assert hist["metrics"] == [{"key": "m", "value": 2.0, "timestamp": 3000, "step": 4}]

    assert post(api_url, "runs/delete", {"run_id": rid}).json() == {}


def test_get_request_query_string_repeated_keys(api_url, client, experiment_id):
    a = client.create_run(experiment_id).info.run_id
    b = client.create_run(experiment_id).info.run_id
    client.log_metric(a, "m", 1.0, timestamp=1, step=0)
    client.log_metric(b, "m", 2.0, timestamp=1, step=0)
    resp = requests.get(f"{api_url}/metrics/get-history-bulk-interval?run_ids={a}&run_ids={b}&metric_key=m",
                        timeout=60)
    assert resp.status_code == 200, resp.text
    assert sorted((m["run_id"], m["value"]) for m in resp.json()["metrics"]) == sorted([(a, 1.0), (b, 2.0)])


# ---------------------------------------------------------------- never a 500 on bad input


BAD_INPUTS = [
    ("POST", "experiments/create", '{"name": null}'),
    ("POST", "experiments/create", '{"name": true}'),
    ("POST", "experiments/create", '{"name": "x", "tags": [{"value": "v"}]}'),
    ("POST", "experiments/update", '{"experiment_id": "abc", "new_name": "x"}'),
    ("POST", "experiments/delete", '{"experiment_id": "-1"}'),
    ("POST", "experiments/set-experiment-tag", '{"experiment_id": "987654327", "key": "k", "value": "v"}'),
    ("POST", "runs/create", '{"experiment_id": "abc"}'),
    ("POST", "runs/update", '{"run_id": "nope", "status": "FINISHED"}'),
    ("POST", "runs/log-metric", '{"run_id": "RUN", "key": "", "value": 1, "timestamp": 1}'),
    ("POST", "runs/log-metric", '{"run_id": "RUN", "key": "m", "value": null, "timestamp": 1}'),
    ("POST", "runs/log-batch", '{"run_id": "RUN", "params": [{"value": "v"}]}'),
    ("POST", "runs/log-batch", '{"run_id": "RUN", "metrics": [{"key": "m", "timestamp": 1}]}'),
    ("POST", "runs/log-batch", '{"run_id": "RUN", "params": [{"key": "k" }, {"key": "k"}]}'),
    ("POST", "runs/search", '{"experiment_ids": ["0"], "filter": "((("}'),
    ("POST", "runs/search", '{"experiment_ids": ["0"], "order_by": ["metrics.`unterminated"]}'),
    ("POST", "runs/search", '{"experiment_ids": ["0"], "page_token": "eyJvZmZzZXQiOiAiYSJ9"}'),
    ("POST", "runs/search", '{"experiment_ids": ["0"], "max_results": -1}'),
    ("POST", "experiments/search", '{"max_results": 10, "filter": "name LIKE"}'),
    ("POST", "experiments/search", '{"max_results": 10, "page_token": "bm90IGpzb24="}'),
    ("GET", "runs/get?run_id=%00", None),
    ("GET", "metrics/get-history?run_id=RUN&metric_key=m&max_results=-5", None),
    ("GET", "metrics/get-history?run_id=RUN&metric_key=m&max_results=10&page_token=%%%", None),
    ("GET", "experiments/get-by-name?experiment_name=%00", None),
]


@pytest.mark.parametrize("method, path, body", BAD_INPUTS)
def test_bad_input_is_4xx_json(base_url, run_id, method, path, body):
    path = path.replace("RUN", run_id)
    if body is not None:
        body = body.replace("RUN", run_id)
    resp = raw(base_url, method, "/api/2.0/mlflow/" + path, body,
               content_type="application/json" if body is not None else None)
    assert 400 <= resp.status_code < 500, f"{resp.status_code}: {resp.text[:300]}"
    assert_json_error(resp, resp.status_code)


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("body", ["[]", '"a string"', "123", '[{"name": "x"}]'])
def test_non_object_json_body_is_400(base_url, body):
    # Stock MLflow answers these with a 500 HTML page.
    resp = raw(base_url, "POST", "/api/2.0/mlflow/experiments/create", body)
    assert_json_error(resp, 400)


@pytest.mark.ferroflow_only
def test_non_object_batch_entries_are_400(api_url, client, run_id):
    # Stock MLflow answers a 500 HTML page for "metrics": [1, 2].
    resp = post(api_url, "runs/log-batch", {"run_id": run_id, "metrics": [1, 2]})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}

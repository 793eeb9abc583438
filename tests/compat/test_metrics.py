"""Metrics: logging, latest-value rules, special values, history (paged) and bulk-interval."""

import math

import pytest
import requests
from mlflow.entities import Metric

from helpers import (
    DBL_MAX,
    assert_json_error,
    expect_mlflow_error,
    get,
    is_neg_inf,
    is_pos_inf,
    now_ms,
    post,
)


def history(client, run_id, key):
    return [(m.key, m.value, m.timestamp, m.step) for m in client.get_metric_history(run_id, key)]


def test_log_metric_and_history(client, run_id):
    client.log_metric(run_id, "loss", 1.0, timestamp=1000, step=0)
    client.log_metric(run_id, "loss", 0.5, timestamp=2000, step=1)
    client.log_metric(run_id, "loss", 0.25, timestamp=3000, step=2)
    assert history(client, run_id, "loss") == [
        ("loss", 1.0, 1000, 0),
        ("loss", 0.5, 2000, 1),
        ("loss", 0.25, 3000, 2),
    ]
    assert client.get_run(run_id).data.metrics == {"loss": 0.25}


def test_log_metric_defaults(client, run_id):
    before = now_ms()
    client.log_metric(run_id, "m", 3)
    after = now_ms()
    (metric,) = client.get_metric_history(run_id, "m")
    assert metric.value == 3.0
    assert metric.step == 0
    assert before - 1000 <= metric.timestamp <= after + 1000


def test_metric_values_are_exact_doubles(client, run_id):
    values = [0.1, -2.5e-300, 1e300, 123456789.123456789, -0.0, 2**53 + 0.0]
    for step, v in enumerate(values):
        client.log_metric(run_id, "precise", v, timestamp=1000 + step, step=step)
    got = [m.value for m in client.get_metric_history(run_id, "precise")]
    assert got == values


def test_negative_and_large_steps(client, run_id):
    client.log_metric(run_id, "s", 1.0, timestamp=10, step=-5)
    client.log_metric(run_id, "s", 2.0, timestamp=20, step=2**40)
    assert sorted(m.step for m in client.get_metric_history(run_id, "s")) == [-5, 2**40]
    assert client.get_run(run_id).data.metrics["s"] == 2.0


def test_latest_metric_highest_step_wins(client, run_id):
    # Higher step wins even though it was logged earlier and has an older timestamp.
    client.log_metric(run_id, "m", 1.0, timestamp=5000, step=10)
    client.log_metric(run_id, "m", 2.0, timestamp=9000, step=3)
    assert client.get_run(run_id).data.metrics["m"] == 1.0


def test_latest_metric_same_step_newest_timestamp_wins(client, run_id):
    client.log_metric(run_id, "m", 7.0, timestamp=9000, step=1)
    client.log_metric(run_id, "m", 8.0, timestamp=5000, step=1)
    assert client.get_run(run_id).data.metrics["m"] == 7.0


def test_latest_metric_same_step_and_timestamp_max_value_wins(client, run_id):
    client.log_metric(run_id, "m", 3.0, timestamp=5000, step=1)
    client.log_metric(run_id, "m", 9.0, timestamp=5000, step=1)
    client.log_metric(run_id, "m", 4.0, timestamp=5000, step=1)
    assert client.get_run(run_id).data.metrics["m"] == 9.0


def test_latest_metric_over_http_includes_timestamp_and_step(api_url, client, run_id):
    client.log_metric(run_id, "m", 1.5, timestamp=4242, step=7)
    client.log_metric(run_id, "m", 0.5, timestamp=1111, step=2)
    run = get(api_url, "runs/get", {"run_id": run_id}).json()["run"]
    metrics = [m for m in run["data"]["metrics"] if m["key"] == "m"]
    assert len(metrics) == 1
    assert metrics[0]["value"] == 1.5
    assert metrics[0]["timestamp"] == 4242
    assert metrics[0]["step"] == 7


def test_exact_duplicate_metric_is_idempotent(client, run_id):
    client.log_metric(run_id, "dup", 1.0, timestamp=100, step=1)
    client.log_metric(run_id, "dup", 1.0, timestamp=100, step=1)
    assert history(client, run_id, "dup") == [("dup", 1.0, 100, 1)]


def test_same_step_different_values_all_kept(client, run_id):
    client.log_metric(run_id, "m", 1.0, timestamp=100, step=1)
    client.log_metric(run_id, "m", 2.0, timestamp=100, step=1)
    client.log_metric(run_id, "m", 2.0, timestamp=200, step=1)
    assert sorted(history(client, run_id, "m")) == [
        ("m", 1.0, 100, 1),
        ("m", 2.0, 100, 1),
        ("m", 2.0, 200, 1),
    ]


def test_nan_and_infinity_round_trip(client, run_id):
    client.log_metric(run_id, "nan", float("nan"), timestamp=1, step=0)
    client.log_metric(run_id, "pinf", float("inf"), timestamp=1, step=0)
    client.log_metric(run_id, "ninf", float("-inf"), timestamp=1, step=0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert is_pos_inf(metrics["pinf"])
    assert is_neg_inf(metrics["ninf"])
    (nan_h,) = client.get_metric_history(run_id, "nan")
    (pinf_h,) = client.get_metric_history(run_id, "pinf")
    (ninf_h,) = client.get_metric_history(run_id, "ninf")
    assert math.isnan(nan_h.value)
    assert is_pos_inf(pinf_h.value)
    assert is_neg_inf(ninf_h.value)


def test_special_values_over_http_use_strings_or_max_double(api_url, run_id):
    for key, value in (("nan", "NaN"), ("pinf", "Infinity"), ("ninf", "-Infinity")):
        resp = post(api_url, "runs/log-metric",
                    {"run_id": run_id, "key": key, "value": value, "timestamp": 5, "step": 0})
        assert resp.status_code == 200, resp.text
    data = get(api_url, "runs/get", {"run_id": run_id}).json()["run"]["data"]
    values = {m["key"]: m["value"] for m in data["metrics"]}
    assert values["nan"] == "NaN"
    assert values["pinf"] in ("Infinity", DBL_MAX)
    assert values["ninf"] in ("-Infinity", -DBL_MAX)


def test_nan_latest_value_when_nan_logged_last(client, run_id):
    client.log_metric(run_id, "m", 1.0, timestamp=1, step=0)
    client.log_metric(run_id, "m", float("nan"), timestamp=2, step=1)
    assert math.isnan(client.get_run(run_id).data.metrics["m"])
    client.log_metric(run_id, "m", 5.0, timestamp=3, step=2)
    assert client.get_run(run_id).data.metrics["m"] == 5.0


def test_metric_history_missing_key_is_empty(client, run_id):
    assert client.get_metric_history(run_id, "never-logged") == []


def test_metric_history_unknown_run_is_empty(client):
    # The stock server does not check that the run exists here: it returns no points.
    assert client.get_metric_history("0123456789abcdef0123456789abcde8", "m") == []


def test_log_metric_unknown_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.log_metric("0123456789abcdef0123456789abcde7", "m", 1.0)


@pytest.mark.parametrize("key", ["bad!key", "../m", "k" * 251])
def test_invalid_metric_keys_rejected(client, run_id, key):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, key, 1.0)
    assert client.get_run(run_id).data.metrics == {}


def test_negative_timestamp_rejected_over_http(api_url, client, run_id):
    resp = post(api_url, "runs/log-metric",
                {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": -1, "step": 0})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.metrics == {}


def test_log_metric_missing_value_rejected_over_http(api_url, run_id):
    resp = post(api_url, "runs/log-metric", {"run_id": run_id, "key": "m", "timestamp": 1})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_metric_history_paging_over_http(api_url, client, run_id):
    client.log_batch(run_id, metrics=[Metric("p", float(i), 1000 + i, i) for i in range(7)])
    seen, token, pages = [], None, 0
    while True:
        params = {"run_id": run_id, "metric_key": "p", "max_results": 3}
        if token:
            params["page_token"] = token
        resp = get(api_url, "metrics/get-history", params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages += 1
        assert len(body.get("metrics", [])) <= 3
        seen.extend(m["step"] for m in body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            break
        assert pages < 10
    assert seen == list(range(7))
    assert pages == 3

    full = get(api_url, "metrics/get-history", {"run_id": run_id, "metric_key": "p"}).json()
    assert [m["step"] for m in full["metrics"]] == list(range(7))
    assert "next_page_token" not in full


def test_metric_history_bad_max_results_over_http(api_url, run_id):
    resp = get(api_url, "metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": 0})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_metric_history_bad_page_token_over_http(api_url, run_id):
    resp = get(api_url, "metrics/get-history",
               {"run_id": run_id, "metric_key": "m", "max_results": 5, "page_token": "!!not-a-token!!"})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_metric_history_more_than_one_client_page(client, run_id):
    """The client fetches history in pages of 25000; 30000 points need a second page."""
    total, chunk = 30000, 1000
    base_ts = 1_700_000_000_000
    for start in range(0, total, chunk):
        client.log_batch(
            run_id,
            metrics=[Metric("big", float(i) / 2, base_ts + i, i) for i in range(start, start + chunk)],
        )
    hist = client.get_metric_history(run_id, "big")
    assert len(hist) == total
    assert [m.step for m in hist] == list(range(total))
    assert all(m.value == m.step / 2 and m.timestamp == base_ts + m.step for m in hist)
    assert client.get_run(run_id).data.metrics["big"] == (total - 1) / 2


# ---------------------------------------------------------------- bulk interval (UI endpoint)


def _bulk(api_url, run_ids, key, **extra):
    params = [("run_ids", r) for r in run_ids] + [("metric_key", key)]
    params += [(k, str(v)) for k, v in extra.items()]
    return requests.get(f"{api_url}/metrics/get-history-bulk-interval", params=params, timeout=60)


@pytest.fixture
def two_runs_with_100_steps(client, experiment_id):
    runs = []
    for n in range(2):
        rid = client.create_run(experiment_id).info.run_id
        client.log_batch(rid, metrics=[Metric("m", i * 10.0 + n, 1000 + i, i) for i in range(100)])
        runs.append(rid)
    return runs


def test_bulk_interval_repeated_run_ids(api_url, two_runs_with_100_steps):
    a, b = two_runs_with_100_steps
    resp = _bulk(api_url, [a, b], "m")
    assert resp.status_code == 200, resp.text
    metrics = resp.json()["metrics"]
    assert len(metrics) == 200
    by_run = {}
    for m in metrics:
        assert m["key"] == "m"
        by_run.setdefault(m["run_id"], []).append(m)
    assert set(by_run) == {a, b}
    for n, rid in enumerate((a, b)):
        pts = by_run[rid]
        assert [p["step"] for p in pts] == list(range(100))
        assert all(p["value"] == p["step"] * 10.0 + n and p["timestamp"] == 1000 + p["step"] for p in pts)


def test_bulk_interval_sampling_keeps_first_and_last(api_url, two_runs_with_100_steps):
    a, b = two_runs_with_100_steps
    resp = _bulk(api_url, [a, b], "m", max_results=10)
    assert resp.status_code == 200, resp.text
    for rid in (a, b):
        steps = [m["step"] for m in resp.json()["metrics"] if m["run_id"] == rid]
        assert 2 <= len(steps) <= 10
        assert steps == sorted(set(steps))
        assert steps[0] == 0 and steps[-1] == 99


def test_bulk_interval_step_range(api_url, two_runs_with_100_steps):
    a, _ = two_runs_with_100_steps
    resp = _bulk(api_url, [a], "m", start_step=5, end_step=8)
    assert resp.status_code == 200, resp.text
    assert [(m["run_id"], m["step"]) for m in resp.json()["metrics"]] == [(a, s) for s in (5, 6, 7, 8)]

    sampled = _bulk(api_url, [a], "m", start_step=5, end_step=80, max_results=5).json()["metrics"]
    steps = [m["step"] for m in sampled]
    assert len(steps) <= 5 and steps[0] == 5 and steps[-1] == 80
    assert all(5 <= s <= 80 for s in steps) and steps == sorted(set(steps))


def test_bulk_interval_unknown_metric_is_empty(api_url, two_runs_with_100_steps):
    resp = _bulk(api_url, two_runs_with_100_steps, "nope")
    assert resp.status_code == 200, resp.text
    assert resp.json().get("metrics", []) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"start_step": 5},
        {"end_step": 5},
        {"start_step": 8, "end_step": 5},
        {"max_results": 0},
        {"max_results": 2501},
    ],
)
def test_bulk_interval_invalid_arguments(api_url, two_runs_with_100_steps, extra):
    resp = _bulk(api_url, two_runs_with_100_steps[:1], "m", **extra)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_bulk_interval_missing_required(api_url, two_runs_with_100_steps):
    assert_json_error(_bulk(api_url, two_runs_with_100_steps, ""), 400, "INVALID_PARAMETER_VALUE")
    resp = requests.get(f"{api_url}/metrics/get-history-bulk-interval", params={"metric_key": "m"}, timeout=60)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_bulk_interval_too_many_runs(api_url, two_runs_with_100_steps):
    resp = _bulk(api_url, [two_runs_with_100_steps[0]] * 101, "m")
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")

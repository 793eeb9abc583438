"""search_runs and search_experiments: filters, ordering, paging, view types, bad input."""

import math
import time

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType

from helpers import assert_json_error, expect_mlflow_error, post, unique_name

# ============================================================== runs


class Fixture:
    """An experiment with five runs of known content (one of them deleted)."""

    def __init__(self, client):
        self.client = client
        self.exp = client.create_experiment(unique_name("search"))
        self.ids = {}
        self._run("alpha", 1000, "alice", "FINISHED", 2000,
                  metrics=[("acc", 0.5, 0), ("acc", 0.9, 1), ("loss", 0.1, 0)],
                  params={"lr": "0.01", "opt": "adam", "my param": "x y"},
                  tags={"team": "red", "with-dash": "d1", "key with space": "s1"},
                  dataset=("train_ds", "d-train", "training"))
        self._run("beta", 2000, "bob", None, None,
                  metrics=[("acc", 0.8, 0), ("loss", 0.3, 0)],
                  params={"lr": "0.1", "opt": "sgd"},
                  tags={"team": "blue"},
                  dataset=("eval_ds", "d-eval", "eval"))
        self._run("gamma", 3000, "alice", "FAILED", 3500,
                  metrics=[("acc", 0.7, 0), ("acc", float("nan"), 1), ("loss", 0.2, 0)],
                  params={"lr": "0.01"},
                  tags={})
        self._run("Delta", 4000, "carol", "KILLED", 4100,
                  metrics=[("loss", 0.4, 0)],
                  params={"opt": "Adam"},
                  tags={"team": "Red"},
                  dataset=("train_ds", "d-train", "validation"))
        self._run("epsilon", 5000, "alice", None, None,
                  metrics=[("acc", 0.95, 0)], params={"lr": "0.01"}, tags={"team": "red"})
        client.delete_run(self.ids["epsilon"])

    def _run(self, name, start, user, status, end, metrics, params, tags, dataset=None):
        c = self.client
        run = c.create_run(self.exp, start_time=start, run_name=name, tags={"mlflow.user": user})
        rid = run.info.run_id
        self.ids[name] = rid
        c.log_batch(
            rid,
            metrics=[Metric(k, v, start + step, step) for k, v, step in metrics],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if dataset:
            ds_name, digest, context = dataset
            ds = Dataset(name=ds_name, digest=digest, source_type="local",
                         source='{"uri": "/data/' + ds_name + '"}')
            c.log_inputs(rid, datasets=[DatasetInput(ds, tags=[InputTag("mlflow.data.context", context)])])
        if status:
            c.set_terminated(rid, status=status, end_time=end)

    def names(self, filter_string="", order_by=None, view=ViewType.ACTIVE_ONLY):
        runs = self.client.search_runs([self.exp], filter_string=filter_string,
                                       run_view_type=view, order_by=order_by)
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r.info.run_id] for r in runs]


@pytest.fixture(scope="module")
def fx(client):
    return Fixture(client)


def test_search_returns_full_runs(fx):
    (run,) = fx.client.search_runs([fx.exp], "attributes.run_name = 'alpha'")
    assert run.info.run_id == fx.ids["alpha"]
    assert run.info.status == "FINISHED"
    assert run.info.start_time == 1000 and run.info.end_time == 2000
    assert run.info.user_id == "alice"
    assert run.data.metrics == {"acc": 0.9, "loss": 0.1}
    assert run.data.params == {"lr": "0.01", "opt": "adam", "my param": "x y"}
    assert run.data.tags["team"] == "red"
    assert run.data.tags["mlflow.runName"] == "alpha"
    (ds_input,) = run.inputs.dataset_inputs
    assert ds_input.dataset.name == "train_ds"
    assert ds_input.dataset.digest == "d-train"
    assert {t.key: t.value for t in ds_input.tags} == {"mlflow.data.context": "training"}


def test_default_order_is_start_time_desc(fx):
    assert fx.names() == ["Delta", "gamma", "beta", "alpha"]


def test_view_types(fx):
    assert fx.names(view=ViewType.DELETED_ONLY) == ["epsilon"]
    assert fx.names(view=ViewType.ALL) == ["epsilon", "Delta", "gamma", "beta", "alpha"]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("", {"alpha", "beta", "gamma", "Delta"}),
        ("metrics.acc > 0.85", {"alpha"}),
        ("metrics.acc >= 0.8", {"alpha", "beta"}),
        ("metrics.acc < 0.85", {"beta"}),
        ("metrics.acc <= 0.9", {"alpha", "beta"}),
        ("metrics.acc = 0.8", {"beta"}),
        ("metrics.acc = 0.5", set()),  # only the latest value counts
        ("metrics.acc > 0", {"alpha", "beta"}),  # NaN latest value never compares
        ("metrics.loss > 0.15 AND metrics.loss < 0.35", {"beta", "gamma"}),
        ("metric.loss >= 0.4", {"Delta"}),
        ("params.lr = '0.01'", {"alpha", "gamma"}),
        ('params.lr = "0.01"', {"alpha", "gamma"}),
        ("params.lr != '0.01'", {"beta"}),
        ("param.opt = 'Adam'", {"Delta"}),
        ("parameters.opt LIKE 'a%'", {"alpha"}),
        ("params.opt ILIKE 'a%'", {"alpha", "Delta"}),
        ("params.opt LIKE '_dam'", {"alpha", "Delta"}),
        ("params.opt LIKE '%d%'", {"alpha", "beta", "Delta"}),
        ("params.lr IS NULL", {"Delta"}),
        ("params.lr IS NOT NULL", {"alpha", "beta", "gamma"}),
        ("tags.team = 'red'", {"alpha"}),
        ("tag.team ILIKE 'red'", {"alpha", "Delta"}),
        ("tags.team LIKE 'R%'", {"Delta"}),
        ("tags.team != 'red'", {"beta", "Delta"}),
        ("tags.team IS NULL", {"gamma"}),
        ("tags.team IS NOT NULL", {"alpha", "beta", "Delta"}),
        ("attributes.run_name = 'alpha'", {"alpha"}),
        ("run_name = 'beta'", {"beta"}),
        ("attribute.run_name LIKE '%ta'", {"beta", "Delta"}),
        ("attributes.run_name ILIKE 'delta'", {"Delta"}),
        ("attributes.run_name != 'alpha'", {"beta", "gamma", "Delta"}),
        ("tags.mlflow.runName = 'beta'", {"beta"}),
        ("tags.`mlflow.runName` = 'gamma'", {"gamma"}),
        ("attributes.status = 'FINISHED'", {"alpha"}),
        ("status != 'RUNNING'", {"alpha", "gamma", "Delta"}),
        ("attributes.start_time > 2500", {"gamma", "Delta"}),
        ("attributes.start_time >= 2000 AND attributes.start_time < 4000", {"beta", "gamma"}),
        ("attributes.start_time = 1000", {"alpha"}),
        ("attributes.start_time != 1000", {"beta", "gamma", "Delta"}),
        ("attributes.end_time > 3000", {"gamma", "Delta"}),
        ("attributes.end_time <= 2000", {"alpha"}),
        ("attributes.user_id = 'alice'", {"alpha", "gamma"}),
        ("attributes.user_id != 'alice'", {"beta", "Delta"}),
        ("params.`my param` = 'x y'", {"alpha"}),
        ('params."my param" = \'x y\'', {"alpha"}),
        ("tags.`with-dash` = 'd1'", {"alpha"}),
        ('tags."key with space" = \'s1\'', {"alpha"}),
        ("`metrics`.`acc` > 0.85", {"alpha"}),
        ("dataset.name = 'train_ds'", {"alpha", "Delta"}),
        ("datasets.name != 'train_ds'", {"beta"}),
        ("dataset.digest = 'd-eval'", {"beta"}),
        ("dataset.context = 'training'", {"alpha"}),
        ("dataset.context LIKE 'val%'", {"Delta"}),
        ("dataset.name IN ('train_ds', 'eval_ds')", {"alpha", "beta", "Delta"}),
        ("dataset.name = 'train_ds' AND dataset.context = 'validation'", {"Delta"}),
        ("metrics.acc > 0.5 AND params.lr = '0.01' AND tags.team = 'red'", {"alpha"}),
        ("params.lr = '0.01' and tags.team = 'red'", {"alpha"}),
        ("metrics.acc > 0.5 AND metrics.loss > 0.5", set()),
        # Conjunctions in which a later clause may lead the search (on MySQL, a metric filter does).
        ("params.lr = '0.01' AND metrics.loss < 0.35", {"alpha", "gamma"}),
        ("tags.team IS NULL AND metrics.loss > 0.15", {"gamma"}),
        ("status != 'RUNNING' AND params.lr IS NOT NULL AND metrics.acc != 0.9", {"gamma"}),
        ("tags.team != 'red' AND params.opt LIKE '%d%'", {"beta", "Delta"}),
        ("dataset.name = 'train_ds' AND metrics.loss >= 0.4", {"Delta"}),
        ("params.lr IS NULL AND tags.team ILIKE 'red'", {"Delta"}),
        ("metrics.no_such_metric > 0", set()),
        ("params.no_such_param = 'x'", set()),
    ],
)
def test_run_filters(fx, filter_string, expected):
    assert set(fx.names(filter_string)) == expected


def test_metric_not_equal_matches_nan(fx):
    # A NaN latest value satisfies only "!=".
    assert set(fx.names("metrics.acc != 0.9")) == {"beta", "gamma"}


def test_run_id_in_and_not_in(fx):
    a, g = fx.ids["alpha"], fx.ids["gamma"]
    assert set(fx.names(f"attributes.run_id IN ('{a}', '{g}')")) == {"alpha", "gamma"}
    assert set(fx.names(f"attributes.run_id NOT IN ('{a}')")) == {"beta", "gamma", "Delta"}
    assert set(fx.names(f"attributes.run_id = '{g}'")) == {"gamma"}
    assert fx.names(f"attributes.run_id IN ('{fx.ids['epsilon']}')") == []
    assert fx.names(f"run_id IN ('{fx.ids['epsilon']}')", view=ViewType.ALL) == ["epsilon"]


def test_filters_apply_to_deleted_runs_with_view_type(fx):
    assert fx.names("tags.team = 'red'", view=ViewType.ALL) == ["epsilon", "alpha"]
    assert fx.names("metrics.acc > 0.92", view=ViewType.DELETED_ONLY) == ["epsilon"]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (["metrics.acc DESC"], ["alpha", "beta", "gamma", "Delta"]),
        (["metrics.acc ASC"], ["beta", "alpha", "gamma", "Delta"]),
        (["metrics.acc"], ["beta", "alpha", "gamma", "Delta"]),
        (["metrics.loss DESC"], ["Delta", "beta", "gamma", "alpha"]),
        (["params.lr ASC"], ["gamma", "alpha", "beta", "Delta"]),
        (["params.lr DESC"], ["beta", "gamma", "alpha", "Delta"]),
        (["params.lr ASC", "attributes.start_time ASC"], ["alpha", "gamma", "beta", "Delta"]),
        (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "Delta"]),
        (["start_time DESC"], ["Delta", "gamma", "beta", "alpha"]),
        (["attributes.end_time DESC"], ["Delta", "gamma", "alpha", "beta"]),
        (["tags.team ASC"], ["Delta", "beta", "alpha", "gamma"]),
        (["attributes.user_id ASC", "metrics.loss DESC"], ["gamma", "alpha", "beta", "Delta"]),
        (["tags.`mlflow.runName` DESC"], ["gamma", "beta", "alpha", "Delta"]),
    ],
)
def test_run_order_by(fx, order_by, expected):
    assert fx.names(order_by=order_by) == expected


def test_order_by_with_filter(fx):
    assert fx.names("params.lr = '0.01'", order_by=["attributes.start_time ASC"]) == ["alpha", "gamma"]


@pytest.mark.parametrize(
    "bad_filter",
    [
        "metrics.acc > 'a'",
        "params.lr > '1'",
        "params.lr = 1",
        "tags.team = red",
        "metrics.acc > 0.5 OR metrics.loss < 1",
        "this is not a filter",
        "foo.bar = 'x'",
        "attributes.start_time > 'abc'",
        "attributes.not_an_attribute = 'x'",
        "metrics.acc >",
        "params.lr IN ('0.01')",
        "attributes.run_id IN ()",
        "dataset.unknown = 'x'",
        "metrics.acc LIKE '0.9'",
    ],
)
def test_bad_run_filters_rejected(fx, bad_filter):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        fx.client.search_runs([fx.exp], filter_string=bad_filter)


@pytest.mark.parametrize(
    "bad_order",
    [
        ["metrics.acc SIDEWAYS"],
        ["foo.bar"],
        ["attributes.not_an_attribute"],
    ],
)
def test_bad_order_by_rejected(fx, bad_order):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        fx.client.search_runs([fx.exp], order_by=bad_order)


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("order_by", [["metrics.acc", "metrics.acc DESC"], ["start_time", "start_time DESC"]])
def test_duplicate_order_by_key_rejected(fx, api_url, order_by):
    # The stock server answers 500 INTERNAL_ERROR ("`order_by` contains duplicate fields"),
    # which the client retries for minutes; a user error must be a 400.
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        fx.client.search_runs([fx.exp], order_by=order_by)
    resp = post(api_url, "runs/search", {"experiment_ids": [fx.exp], "order_by": order_by})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_search_runs_max_results_limit(fx):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        fx.client.search_runs([fx.exp], max_results=50001)


def test_search_runs_unknown_experiment_is_empty(client):
    assert client.search_runs(["987654325"]) == []


def test_search_runs_bad_page_token(api_url, fx):
    resp = post(api_url, "runs/search", {"experiment_ids": [fx.exp], "page_token": "!!garbage!!"})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_search_runs_over_http_shape(api_url, fx):
    resp = post(api_url, "runs/search", {"experiment_ids": [fx.exp], "max_results": 2})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [r["info"]["run_name"] for r in body["runs"]] == ["Delta", "gamma"]
    assert isinstance(body["next_page_token"], str) and body["next_page_token"]
    nxt = post(api_url, "runs/search",
               {"experiment_ids": [fx.exp], "max_results": 2, "page_token": body["next_page_token"]}).json()
    assert [r["info"]["run_name"] for r in nxt["runs"]] == ["beta", "alpha"]
    assert "next_page_token" not in nxt


@pytest.fixture(scope="module")
def paging_exp(client):
    exp = client.create_experiment(unique_name("paging"))
    runs = []
    for i in range(23):
        # Groups of three runs share a start_time, so the run_id tie-break matters.
        run = client.create_run(exp, start_time=10_000 + (i // 3), run_name=f"run-{i:02d}")
        client.log_metric(run.info.run_id, "score", float(i % 5), timestamp=1, step=0)
        runs.append(run)
    return exp, runs


def _page_through(client, exp, page_size, **kwargs):
    ids, token, pages = [], None, 0
    while True:
        page = client.search_runs([exp], max_results=page_size, page_token=token, **kwargs)
        assert len(page) <= page_size
        ids.extend(r.info.run_id for r in page)
        pages += 1
        token = page.token
        if not token:
            return ids, pages
        assert pages < 100


def test_paging_default_order(client, paging_exp):
    exp, runs = paging_exp
    expected = [r.info.run_id for r in sorted(runs, key=lambda r: (-r.info.start_time, r.info.run_id))]
    assert [r.info.run_id for r in client.search_runs([exp])] == expected
    for size in (1, 5, 7, 22, 23):
        ids, pages = _page_through(client, exp, size)
        assert ids == expected, f"page size {size}"
        assert pages == math.ceil(23 / size)
    ids, pages = _page_through(client, exp, 24)
    assert ids == expected and pages == 1


def test_paging_with_order_by_is_stable(client, paging_exp):
    exp, runs = paging_exp
    order = ["metrics.score DESC"]
    full = [r.info.run_id for r in client.search_runs([exp], order_by=order)]
    assert len(full) == 23 and len(set(full)) == 23
    scores = [client.get_run(r).data.metrics["score"] for r in full]
    assert scores == sorted(scores, reverse=True)
    ids, _ = _page_through(client, exp, 4, order_by=order)
    assert ids == full


def test_paging_with_filter(client, paging_exp):
    exp, runs = paging_exp
    full = [r.info.run_id for r in client.search_runs([exp], "metrics.score >= 3")]
    assert len(full) == sum(1 for i in range(23) if i % 5 >= 3)
    ids, _ = _page_through(client, exp, 2, filter_string="metrics.score >= 3")
    assert ids == full


def test_search_across_experiments(client, fx, paging_exp):
    exp, _ = paging_exp
    runs = client.search_runs([fx.exp, exp], max_results=1000)
    assert len(runs) == 4 + 23


# ============================================================== experiments


@pytest.fixture(scope="module")
def exps(client):
    prefix = unique_name("ExpSearch")
    spec = [
        ("a", {"k": "v1", "group": "x"}),
        ("b", {"k": "v2", "group": "x"}),
        ("c", {}),
        ("D", {"k": "V1"}),
        ("e", {"group": "y"}),
    ]
    out = {"prefix": prefix, "ids": {}, "created": {}}
    for suffix, tags in spec:
        exp_id = client.create_experiment(f"{prefix}-{suffix}", tags=tags)
        out["ids"][suffix] = exp_id
        out["created"][suffix] = client.get_experiment(exp_id).creation_time
        time.sleep(0.02)
    deleted = client.create_experiment(f"{prefix}-deleted")
    client.delete_experiment(deleted)
    out["ids"]["deleted"] = deleted
    return out


def _exp_names(client, exps, extra_filter="", **kwargs):
    filt = f"name LIKE '{exps['prefix']}-%'"
    if extra_filter:
        filt += " AND " + extra_filter
    res = client.search_experiments(filter_string=filt, **kwargs)
    return [e.name[len(exps["prefix"]) + 1:] for e in res]


def test_default_experiment_is_searchable(client):
    found = client.search_experiments(filter_string="experiment_id IN ('0')")
    assert [(e.experiment_id, e.name) for e in found] == [("0", "Default")]
    found = client.search_experiments(filter_string="name = 'Default'")
    assert [e.experiment_id for e in found] == ["0"]


def test_experiment_search_default_order(client, exps):
    # Newest first.
    assert _exp_names(client, exps) == ["e", "D", "c", "b", "a"]


def test_experiment_search_view_types(client, exps):
    assert set(_exp_names(client, exps, view_type=ViewType.ALL)) == {"a", "b", "c", "D", "e", "deleted"}
    assert _exp_names(client, exps, view_type=ViewType.DELETED_ONLY) == ["deleted"]


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("name = '{p}-a'", {"a"}),
        ("attribute.name != '{p}-a'", {"b", "c", "D", "e"}),
        ("name LIKE '%-D'", {"D"}),
        ("name LIKE '%-d'", set()),
        ("name ILIKE '%-d'", {"D"}),
        ("tags.k = 'v1'", {"a"}),
        ("tag.k ILIKE 'v1'", {"a", "D"}),
        ("tags.k LIKE 'v%'", {"a", "b"}),
        ("tags.k != 'v1'", {"b", "D"}),
        ("tags.group = 'x' AND tags.k = 'v2'", {"b"}),
        ("tags.k IS NULL", {"c", "e"}),
        ("tags.k IS NOT NULL", {"a", "b", "D"}),
        ("tags.nothing = 'x'", set()),
    ],
)
def test_experiment_filters(client, exps, extra, expected):
    assert set(_exp_names(client, exps, extra.format(p=exps["prefix"]))) == expected


def test_experiment_filter_name_uppercase_prefix_ilike(client, exps):
    res = client.search_experiments(filter_string=f"name ILIKE '{exps['prefix'].upper()}-%'")
    assert {e.experiment_id for e in res} == {exps["ids"][s] for s in ("a", "b", "c", "D", "e")}
    res = client.search_experiments(filter_string=f"name LIKE '{exps['prefix'].upper()}-%'")
    assert res == []


def test_experiment_filter_creation_time(client, exps):
    t = exps["created"]["c"]
    names = set(_exp_names(client, exps, f"creation_time >= {t}"))
    assert names == {s for s in ("a", "b", "c", "D", "e") if exps["created"][s] >= t}
    assert "c" in names and "a" not in names
    names = set(_exp_names(client, exps, f"creation_time < {t}"))
    assert names == {s for s in ("a", "b", "c", "D", "e") if exps["created"][s] < t}
    assert "a" in names and "c" not in names
    assert set(_exp_names(client, exps, f"last_update_time >= {exps['created']['a']}")) == {
        "a", "b", "c", "D", "e"}


def test_experiment_filter_experiment_id(client, exps):
    a, c = exps["ids"]["a"], exps["ids"]["c"]
    assert set(_exp_names(client, exps, f"experiment_id IN ('{a}', '{c}')")) == {"a", "c"}
    assert set(_exp_names(client, exps, f"experiment_id NOT IN ('{a}', '{c}')")) == {"b", "D", "e"}
    assert set(_exp_names(client, exps, f"experiment_id = '{a}'")) == {"a"}
    assert set(_exp_names(client, exps, f"experiment_id != '{a}'")) == {"b", "c", "D", "e"}


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (["name ASC"], ["D", "a", "b", "c", "e"]),
        (["name DESC"], ["e", "c", "b", "a", "D"]),
        (["creation_time ASC"], ["a", "b", "c", "D", "e"]),
        (["experiment_id DESC"], ["e", "D", "c", "b", "a"]),
        (["attribute.experiment_id ASC"], ["a", "b", "c", "D", "e"]),
        (["last_update_time DESC"], ["e", "D", "c", "b", "a"]),
    ],
)
def test_experiment_order_by(client, exps, order_by, expected):
    assert _exp_names(client, exps, order_by=order_by) == expected


def test_experiment_paging(client, exps):
    filt = f"name LIKE '{exps['prefix']}-%'"
    full = [e.experiment_id for e in client.search_experiments(filter_string=filt, view_type=ViewType.ALL)]
    assert len(full) == 6
    for size in (1, 2, 4, 6):
        ids, token, pages = [], None, 0
        while True:
            page = client.search_experiments(filter_string=filt, view_type=ViewType.ALL,
                                             max_results=size, page_token=token)
            assert len(page) <= size
            ids.extend(e.experiment_id for e in page)
            pages += 1
            token = page.token
            if not token:
                break
        assert ids == full, f"page size {size}"
        assert pages == math.ceil(6 / size)


def test_experiment_search_over_http(api_url, exps):
    resp = post(api_url, "experiments/search",
                {"max_results": 2, "filter": f"name LIKE '{exps['prefix']}-%'", "order_by": ["name ASC"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    names = [e["name"] for e in body["experiments"]]
    assert names == [f"{exps['prefix']}-D", f"{exps['prefix']}-a"]
    assert body["next_page_token"]
    exp = body["experiments"][1]
    assert exp["experiment_id"] == exps["ids"]["a"]
    assert exp["lifecycle_stage"] == "active"
    assert {t["key"]: t["value"] for t in exp["tags"]} == {"k": "v1", "group": "x"}
    assert isinstance(exp["creation_time"], int) and isinstance(exp["last_update_time"], int)


def test_experiment_search_max_results_required_over_http(api_url):
    resp = post(api_url, "experiments/search", {})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = post(api_url, "experiments/search", {"max_results": 50001})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_experiment_search_get_method_over_http(api_url, exps):
    import requests

    resp = requests.get(f"{api_url}/experiments/search",
                        params={"max_results": 10, "filter": f"name = '{exps['prefix']}-b'"}, timeout=60)
    assert resp.status_code == 200, resp.text
    assert [e["experiment_id"] for e in resp.json()["experiments"]] == [exps["ids"]["b"]]


@pytest.mark.parametrize(
    "bad_filter",
    [
        "name > 'x'",
        "foo = 'x'",
        "metrics.acc > 1",
        "params.x = 'y'",
        "experiment_id IN ('abc')",
        "creation_time > 1.5",
        "creation_time > 'yesterday'",
        "name = unquoted",
        "name = 'a' OR name = 'b'",
        "complete garbage here",
    ],
)
def test_bad_experiment_filters_rejected(client, bad_filter):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_experiments(filter_string=bad_filter)


@pytest.mark.parametrize("bad_order", [["foo"], ["name SIDEWAYS"], ["tags.k"]])
def test_bad_experiment_order_by_rejected(client, bad_order):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_experiments(order_by=bad_order)


def test_experiment_search_bad_page_token(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_experiments(max_results=5, page_token="!!garbage!!")

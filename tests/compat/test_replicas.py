"""Several ferroflow replicas on one database.

Two `ferroflow server` processes are started on ONE backend database (a fresh one from
FERROFLOW_TEST_DATABASE: postgres, mysql, or one SQLite file shared by both) and one shared
artifacts destination.  16 concurrent clients (threads, one `requests.Session` each; client i
talks to replica i % 2) are released together by a barrier so that they really race, and:

  * create runs in a shared experiment -> every acknowledged run is found by runs/search
    (paged) from each replica;
  * log batches to 4 shared runs (per-client metric keys and steps, a common key "shared"
    whose step is unique per (client, batch), per-client params re-logged with the same value,
    a common and a per-client tag) -> every acknowledged point is in metrics/get-history,
    the latest values (runs/get) are the ones with the highest step;
  * set the same tag key on the shared runs (and a tag of their own) -> the tag holds one of
    the written values, every client's own tag holds its last value;
  * race to log param "p" with different values on one run -> exactly one 200, every other
    client 400 INVALID_PARAMETER_VALUE, the stored value is the winner's;
  * race to create one experiment name / one registered model name -> exactly one 200,
    15 x 400 RESOURCE_ALREADY_EXISTS;
  * register versions of one registered model concurrently -> versions exactly 1..total;

and no client ever sees a 5xx (or a dropped connection).  Every request is recorded; each test
collects all its findings and fails once with the complete list (request, status, body).
The servers' logs are in their temporary directories (FERROFLOW_KEEP_TMP=1 keeps them);
their tails are printed by the session summary on failure.

ferroflow only: the stock MLflow server is not tested for replica safety here.
"""

import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import (
    _new_backend,
    _server_template,
    _ServerStartError,
    _shutdown_server,
    _start_server,
    is_reference_server,
)
from helpers import unique_name

# ferroflow's own replica support: the stock MLflow server (FERROFLOW_SERVER_CMD) is not tested.
pytestmark = pytest.mark.skipif(
    is_reference_server(), reason="replica test of ferroflow itself (the server under test is stock MLflow)"
)

CLIENTS = 16
REPLICAS = 2
TIMEOUT = 60

RUNS_PER_CLIENT = 10
SHARED_RUNS = 4
BATCHES_PER_CLIENT = 8  # per shared run
POINTS_PER_BATCH = 10  # of the client's own metric key
TAG_ROUNDS = 8
PARAM_ROUNDS = 10
NAME_ROUNDS = 10
VERSIONS_PER_CLIENT = 5
BASE_TS = 1_700_000_000_000


# ---------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def replicas():
    """Two ferroflow servers on one database and one artifacts destination; their base URLs.

    They start at the same moment on the empty database, so both try to create the schema: the
    migration lock must let exactly one of them do it while the other waits."""
    shared = Path(tempfile.mkdtemp(prefix="ferroflow-compat-replicas-"))
    artifacts = shared / "artifacts"
    artifacts.mkdir()
    db = shared / "mlflow.db"
    backend, drop_database = _new_backend(db)
    handles = []
    try:
        with ThreadPoolExecutor(max_workers=REPLICAS) as pool:
            starts = [pool.submit(_start_server, f"replica-{n}", _server_template(), artifacts=artifacts,
                                  backend=backend, db=db) for n in range(REPLICAS)]
            failures = []
            for start in starts:
                try:
                    handles.append(start.result())
                except _ServerStartError as exc:
                    failures.append(str(exc))
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        yield [h["url"] for h in handles]
    finally:
        for handle in handles:
            _shutdown_server(handle)
        if os.environ.get("FERROFLOW_KEEP_TMP") != "1":
            shutil.rmtree(shared, ignore_errors=True)
            drop_database()


# ---------------------------------------------------------------- recording clients


# Every request of the module: dicts with test, client, replica, method, path, request, status, body.
CALLS = []
_CALLS_LOCK = threading.Lock()


class Reply:
    def __init__(self, status, body, text):
        self.status = status  # None: no HTTP response (connection error, timeout)
        self.body = body  # parsed JSON or None
        self.text = text

    @property
    def ok(self):
        return self.status == 200

    @property
    def server_error(self):
        return self.status is None or self.status >= 500

    @property
    def error_code(self):
        return self.body.get("error_code") if isinstance(self.body, dict) else None


class Api:
    """One client: a requests.Session talking to one replica; records every call."""

    def __init__(self, test, client, replica, url):
        self.test = test
        self.client = client
        self.replica = replica
        self.url = url
        self.session = requests.Session()

    def close(self):
        self.session.close()

    def call(self, method, path, body=None, params=None):
        started = time.monotonic()
        try:
            resp = self.session.request(method, f"{self.url}/api/2.0/mlflow/{path}", json=body,
                                        params=params, timeout=TIMEOUT)
            status, text = resp.status_code, resp.text
            try:
                parsed = resp.json()
            except ValueError:
                parsed = None
        except requests.RequestException as exc:
            status, text, parsed = None, f"{type(exc).__name__}: {exc}", None
        with _CALLS_LOCK:
            CALLS.append(dict(test=self.test, client=self.client, replica=self.replica,
                              method=method, path=path, request=body if body is not None else params,
                              status=status, body=text[:1000], seconds=time.monotonic() - started))
        return Reply(status, parsed, text)

    def post(self, path, body):
        return self.call("POST", path, body=body)

    def get(self, path, params):
        return self.call("GET", path, params=params)


def _api(test, urls, client):
    replica = client % len(urls)
    return Api(test, client, replica, urls[replica])


def race(test, urls, work, clients=CLIENTS):
    """Run work(i, api, barrier) in `clients` threads released together; returns the results
    in client order.  `barrier` lets work() line the clients up again between rounds."""
    barrier = threading.Barrier(clients, timeout=120)

    def worker(i):
        api = _api(test, urls, i)
        try:
            barrier.wait()
            return work(i, api, barrier)
        except BaseException:
            barrier.abort()
            raise
        finally:
            api.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker, i) for i in range(clients)]
        errors = [f.exception() for f in futures]
    real = [e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)]
    if real or any(errors):
        raise (real or [e for e in errors if e is not None])[0]
    return [f.result() for f in futures]


def describe(call):
    return (f"client {call['client']} -> replica {call['replica']}: {call['method']} {call['path']} "
            f"{_short(call['request'])} => {call['status']} {call['body'][:400]}")


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def server_errors(test):
    """Findings for every call of `test` that got a 5xx or no response at all."""
    return [f"5xx/no response: {describe(c)}" for c in list(CALLS)
            if c["test"] == test and (c["status"] is None or c["status"] >= 500)]


def unexpected(reply, what):
    return f"{what}: HTTP {reply.status} {reply.text[:400]}"


def check(problems, test):
    """Fail with every finding of the test: its own checks first, then every 5xx it met."""
    problems = problems + server_errors(test)
    statuses = Counter(c["status"] for c in list(CALLS) if c["test"] == test)
    assert not problems, (f"{len(problems)} problem(s) in {test} (HTTP statuses of its requests: "
                          f"{dict(statuses)}):\n  " + "\n  ".join(problems[:200])
                          + ("\n  ..." if len(problems) > 200 else ""))


def checker(test, urls):
    """An Api for the verification reads, one per replica."""
    return [Api(test, "check", n, url) for n, url in enumerate(urls)]


# ---------------------------------------------------------------- reads


def search_run_ids(api, experiment_id, problems, page_size=25):
    found = []
    token = None
    for _ in range(1000):
        body = {"experiment_ids": [experiment_id], "max_results": page_size, "run_view_type": "ALL"}
        if token:
            body["page_token"] = token
        reply = api.post("runs/search", body)
        if not reply.ok:
            problems.append(unexpected(reply, f"runs/search on replica {api.replica}"))
            return None
        found += [r["info"]["run_id"] for r in reply.body.get("runs", [])]
        token = reply.body.get("next_page_token")
        if not token:
            return found
    problems.append(f"runs/search on replica {api.replica}: paging does not end")
    return None


def metric_history(api, run_id, key, problems, page_size=None):
    points = []
    token = None
    for _ in range(1000):
        params = {"run_id": run_id, "metric_key": key}
        if page_size:
            params["max_results"] = page_size
        if token:
            params["page_token"] = token
        reply = api.get("metrics/get-history", params)
        if not reply.ok:
            problems.append(unexpected(reply, f"metrics/get-history {key} of {run_id} on replica {api.replica}"))
            return None
        points += reply.body.get("metrics", [])
        token = reply.body.get("next_page_token")
        if not token:
            return points
    problems.append(f"metrics/get-history {key} of {run_id} on replica {api.replica}: paging does not end")
    return None


def get_run(api, run_id, problems):
    reply = api.get("runs/get", {"run_id": run_id})
    if not reply.ok:
        problems.append(unexpected(reply, f"runs/get {run_id} on replica {api.replica}"))
        return None
    data = reply.body["run"].get("data", {})
    return dict(
        metrics={m["key"]: m for m in data.get("metrics", [])},
        params={p["key"]: p["value"] for p in data.get("params", [])},
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
    )


def create_experiment(api):
    reply = api.post("experiments/create", {"name": unique_name("replicas")})
    assert reply.ok, unexpected(reply, "experiments/create")
    return reply.body["experiment_id"]


def create_run(api, experiment_id):
    reply = api.post("runs/create", {"experiment_id": experiment_id, "start_time": BASE_TS})
    assert reply.ok, unexpected(reply, "runs/create")
    return reply.body["run"]["info"]["run_id"]


@pytest.fixture(scope="module")
def shared_experiment(replicas):
    api = Api("setup", "setup", 0, replicas[0])
    try:
        return create_experiment(api)
    finally:
        api.close()


def _shared_runs(test, replicas, experiment_id, count):
    api = Api(test, "setup", 0, replicas[0])
    try:
        return [create_run(api, experiment_id) for _ in range(count)]
    finally:
        api.close()


# ---------------------------------------------------------------- tests


def test_replicas_share_one_database(replicas):
    """Sanity: what one replica writes the other reads."""
    test = "sanity"
    a, b = checker(test, replicas)
    name = unique_name("replicas-sanity")
    created = a.post("experiments/create", {"name": name})
    assert created.ok, unexpected(created, "experiments/create")
    seen = b.get("experiments/get-by-name", {"experiment_name": name})
    assert seen.ok, unexpected(seen, "experiments/get-by-name on the other replica")
    assert seen.body["experiment"]["experiment_id"] == created.body["experiment_id"]
    check([], test)


def test_concurrent_run_creation(replicas):
    test = "run-creation"
    setup = Api(test, "setup", 0, replicas[0])
    experiment_id = create_experiment(setup)
    setup.close()

    def work(i, api, barrier):
        acked, failed = [], []
        for n in range(RUNS_PER_CLIENT):
            reply = api.post("runs/create", {"experiment_id": experiment_id, "start_time": BASE_TS + n,
                                             "run_name": f"c{i}-r{n}"})
            if reply.ok:
                acked.append(reply.body["run"]["info"]["run_id"])
            elif not reply.server_error:  # 5xx: listed by check()
                failed.append(unexpected(reply, f"client {i} runs/create #{n}"))
        return acked, failed

    results = race(test, replicas, work)
    problems = [f for _, failed in results for f in failed]
    acked = [run_id for ids, _ in results for run_id in ids]
    if len(set(acked)) != len(acked):
        dupes = [k for k, v in Counter(acked).items() if v > 1]
        problems.append(f"run ids handed out twice: {dupes}")
    for api in checker(test, replicas):
        found = search_run_ids(api, experiment_id, problems)
        if found is None:
            continue
        if len(found) != len(set(found)):
            problems.append(f"runs/search on replica {api.replica} returned duplicates over its pages: "
                            f"{[k for k, v in Counter(found).items() if v > 1]}")
        missing = set(acked) - set(found)
        extra = set(found) - set(acked)
        if missing:
            problems.append(f"acknowledged runs missing from runs/search on replica {api.replica}: "
                            f"{sorted(missing)}")
        if extra:
            problems.append(f"runs/search on replica {api.replica} found runs nobody created: {sorted(extra)}")
    if len(acked) != CLIENTS * RUNS_PER_CLIENT:
        problems.append(f"{len(acked)} of {CLIENTS * RUNS_PER_CLIENT} runs/create acknowledged")
    check(problems, test)


def _shared_value(run_index, client, batch):
    return float(run_index * 100_000 + client * BATCHES_PER_CLIENT + batch) + 0.25


def _shared_point(run_index, client, batch):
    """(step, value, timestamp) of the 'shared' point of this client's batch on this run."""
    step = client * BATCHES_PER_CLIENT + batch
    return step, _shared_value(run_index, client, batch), BASE_TS + step


def _own_value(client, step):
    return client + step / 1000.0


def test_log_batch_to_shared_runs(replicas, shared_experiment):
    test = "log-batch"
    runs = _shared_runs(test, replicas, shared_experiment, SHARED_RUNS)

    def work(i, api, barrier):
        acked = []  # (run index, batch)
        failed = []
        for b in range(BATCHES_PER_CLIENT):
            for k in range(SHARED_RUNS):
                r = (i + k) % SHARED_RUNS  # clients start on different runs
                metrics = [
                    {"key": f"m{i}", "value": _own_value(i, b * POINTS_PER_BATCH + j),
                     "timestamp": BASE_TS + b * POINTS_PER_BATCH + j, "step": b * POINTS_PER_BATCH + j}
                    for j in range(POINTS_PER_BATCH)
                ]
                step, value, timestamp = _shared_point(r, i, b)
                metrics.append({"key": "shared", "value": value, "timestamp": timestamp, "step": step})
                body = {
                    "run_id": runs[r],
                    "metrics": metrics,
                    "params": [{"key": f"bp{i}", "value": str(i)}],
                    "tags": [{"key": "batch_tag", "value": f"c{i}-b{b}"},
                             {"key": f"bt{i}", "value": str(b)}],
                }
                reply = api.post("runs/log-batch", body)
                if reply.ok:
                    acked.append((r, b))
                elif not reply.server_error:  # 5xx: listed by check()
                    failed.append(unexpected(reply, f"client {i} log-batch #{b} to shared run {r}"))
        return acked, failed

    results = race(test, replicas, work)
    problems = [f for _, failed in results for f in failed]
    acked = {(i, r, b) for i, (pairs, _) in enumerate(results) for r, b in pairs}
    attempted = {(i, r, b) for i in range(CLIENTS) for r in range(SHARED_RUNS)
                 for b in range(BATCHES_PER_CLIENT)}

    apis = checker(test, replicas)
    for r, run_id in enumerate(runs):
        # Full histories, alternating the replica that answers.
        api = apis[r % REPLICAS]
        history = metric_history(api, run_id, "shared", problems)
        if history is not None:
            stored = Counter((p["step"], p["value"], p["timestamp"]) for p in history)
            expected = {_shared_point(r, i, b) for (i, rr, b) in acked if rr == r}
            possible = {_shared_point(r, i, b) for (i, rr, b) in attempted if rr == r}
            lost = sorted(set(expected) - set(stored))
            if lost:
                problems.append(f"shared run {r}: {len(lost)} acknowledged 'shared' points missing from "
                                f"get-history (replica {api.replica}): (step, value, ts) {lost[:20]}")
            dupes = [p for p, n in stored.items() if n > 1]
            if dupes:
                problems.append(f"shared run {r}: 'shared' points stored more than once: {dupes[:20]}")
            alien = [p for p in stored if p not in possible]
            if alien:
                problems.append(f"shared run {r}: 'shared' points nobody wrote: {alien[:20]}")
        for i in range(CLIENTS):
            history = metric_history(api, run_id, f"m{i}", problems)
            if history is None:
                continue
            stored = Counter((p["step"], p["value"], p["timestamp"]) for p in history)
            expected = Counter()
            for b in range(BATCHES_PER_CLIENT):
                if (i, r, b) in acked:
                    for j in range(POINTS_PER_BATCH):
                        s = b * POINTS_PER_BATCH + j
                        expected[(s, _own_value(i, s), BASE_TS + s)] += 1
            if stored != expected:
                lost = sorted((expected - stored).elements())
                extra = sorted((stored - expected).elements())
                problems.append(f"shared run {r}, key m{i} (replica {api.replica}): history has "
                                f"{sum(stored.values())} points, {sum(expected.values())} acknowledged; "
                                f"missing {lost[:10]} extra {extra[:10]}")

        # Latest values, params and tags, from every replica.
        acked_shared = [(i * BATCHES_PER_CLIENT + b, i, b) for (i, rr, b) in acked if rr == r]
        written_batch_tags = {f"c{i}-b{b}" for (i, rr, b) in attempted if rr == r}
        for api_r in apis:
            run = get_run(api_r, run_id, problems)
            if run is None:
                continue
            where = f"shared run {r} via replica {api_r.replica}"
            if acked_shared:
                step, i, b = max(acked_shared)
                latest = run["metrics"].get("shared")
                want = _shared_value(r, i, b)
                if latest is None or latest["value"] != want or latest["step"] != step:
                    problems.append(f"{where}: latest 'shared' is {latest}, expected step {step} value {want} "
                                    f"(client {i} batch {b}, the highest step)")
            for i in range(CLIENTS):
                batches = [b for b in range(BATCHES_PER_CLIENT) if (i, r, b) in acked]
                if not batches:
                    continue
                step = max(batches) * POINTS_PER_BATCH + POINTS_PER_BATCH - 1
                latest = run["metrics"].get(f"m{i}")
                if latest is None or latest["value"] != _own_value(i, step) or latest["step"] != step:
                    problems.append(f"{where}: latest m{i} is {latest}, expected step {step} "
                                    f"value {_own_value(i, step)}")
                if run["params"].get(f"bp{i}") != str(i):
                    problems.append(f"{where}: param bp{i} is {run['params'].get(f'bp{i}')!r}, expected {str(i)!r}")
                if run["tags"].get(f"bt{i}") != str(max(batches)):
                    problems.append(f"{where}: tag bt{i} is {run['tags'].get(f'bt{i}')!r}, expected "
                                    f"{str(max(batches))!r} (the client's last batch)")
            if run["tags"].get("batch_tag") not in written_batch_tags:
                problems.append(f"{where}: tag batch_tag is {run['tags'].get('batch_tag')!r}, not a written value")
    expected_total = CLIENTS * SHARED_RUNS * BATCHES_PER_CLIENT
    if len(acked) != expected_total:
        problems.append(f"{len(acked)} of {expected_total} log-batch requests acknowledged")
    check(problems, test)


def test_set_same_tag_on_shared_runs(replicas, shared_experiment):
    test = "set-tag"
    runs = _shared_runs(test, replicas, shared_experiment, SHARED_RUNS)

    def work(i, api, barrier):
        acked, failed = [], []
        for t in range(TAG_ROUNDS):
            for k in range(SHARED_RUNS):
                r = (i + k) % SHARED_RUNS
                for key, value in (("winner", f"client-{i}-round-{t}"), (f"own-{i}", f"round-{t}")):
                    reply = api.post("runs/set-tag", {"run_id": runs[r], "key": key, "value": value})
                    if reply.ok:
                        acked.append((r, key, value))
                    elif not reply.server_error:  # 5xx: listed by check()
                        failed.append(unexpected(reply, f"client {i} set-tag {key}={value} on shared run {r}"))
        return acked, failed

    results = race(test, replicas, work)
    problems = [f for _, failed in results for f in failed]
    written = {(r, f"client-{i}-round-{t}") for i in range(CLIENTS) for r in range(SHARED_RUNS)
               for t in range(TAG_ROUNDS)}
    for r, run_id in enumerate(runs):
        values = set()
        for api in checker(test, replicas):
            run = get_run(api, run_id, problems)
            if run is None:
                continue
            where = f"shared run {r} via replica {api.replica}"
            winner = run["tags"].get("winner")
            values.add(winner)
            if (r, winner) not in written:
                problems.append(f"{where}: tag 'winner' is {winner!r}, not one of the written values")
            for i, (acked, _) in enumerate(results):
                mine = [v for (rr, key, v) in acked if rr == r and key == f"own-{i}"]
                if mine and run["tags"].get(f"own-{i}") != mine[-1]:
                    problems.append(f"{where}: tag own-{i} is {run['tags'].get(f'own-{i}')!r}, expected "
                                    f"{mine[-1]!r} (the client's last write)")
        if len(values) > 1:
            problems.append(f"shared run {r}: the replicas disagree on tag 'winner': {values}")
    total = sum(len(a) for a, _ in results)
    if total != CLIENTS * TAG_ROUNDS * SHARED_RUNS * 2:
        problems.append(f"{total} of {CLIENTS * TAG_ROUNDS * SHARED_RUNS * 2} set-tag requests acknowledged")
    check(problems, test)


def _one_winner(replies, what, loser_code):
    """Findings unless exactly one reply is 200 and every other one 400 `loser_code`."""
    problems = []
    winners = [i for i, reply in enumerate(replies) if reply.status == 200]
    if len(winners) != 1:
        problems.append(f"{what}: {len(winners)} clients got 200 (clients {winners}), expected exactly one")
    for i, reply in enumerate(replies):
        if reply.server_error:
            continue  # listed by check()
        if reply.status != 200 and (reply.status != 400 or reply.error_code != loser_code):
            problems.append(f"{what}: client {i} got HTTP {reply.status} {reply.text[:300]}, "
                            f"expected 400 {loser_code}")
    return winners, problems


def test_param_race_one_winner(replicas, shared_experiment):
    test = "param-race"
    (run_id,) = _shared_runs(test, replicas, shared_experiment, 1)
    keys = ["p"] + [f"p{n}" for n in range(1, PARAM_ROUNDS)]

    def work(i, api, barrier):
        replies = []
        for n, key in enumerate(keys):
            if n:
                barrier.wait()
            replies.append(api.post("runs/log-parameter", {"run_id": run_id, "key": key, "value": f"v{i}"}))
        return replies

    results = race(test, replicas, work)
    problems = []
    apis = checker(test, replicas)
    runs = [get_run(api, run_id, problems) for api in apis]
    for n, key in enumerate(keys):
        winners, found = _one_winner([results[i][n] for i in range(CLIENTS)], f"log-parameter {key!r}",
                                     "INVALID_PARAMETER_VALUE")
        problems += found
        for api, run in zip(apis, runs):
            if run is None:
                continue
            stored = run["params"].get(key)
            if len(winners) == 1 and stored != f"v{winners[0]}":
                problems.append(f"param {key!r} via replica {api.replica} is {stored!r}, but the winner "
                                f"(the one 200) was client {winners[0]} with 'v{winners[0]}'")
            elif stored not in {f"v{i}" for i in range(CLIENTS)}:
                problems.append(f"param {key!r} via replica {api.replica} is {stored!r}, not a written value")
    check(problems, test)


def _name_race(replicas, test, create, created_id, stored_id):
    """All clients create the same name, NAME_ROUNDS times; created_id(reply) is what the
    winner got, stored_id(api, name) -> (id, problem) what a replica reads afterwards."""
    names = [unique_name(f"replicas-{test}") for _ in range(NAME_ROUNDS)]

    def work(i, api, barrier):
        replies = []
        for n, name in enumerate(names):
            if n:
                barrier.wait()
            replies.append(create(api, name))
        return replies

    results = race(test, replicas, work)
    problems = []
    apis = checker(test, replicas)
    for n, name in enumerate(names):
        replies = [results[i][n] for i in range(CLIENTS)]
        winners, found = _one_winner(replies, f"{test} {name!r}", "RESOURCE_ALREADY_EXISTS")
        problems += found
        for api in apis:
            stored, problem = stored_id(api, name)
            if problem:
                problems.append(problem)
            elif len(winners) == 1 and stored != created_id(replies[winners[0]]):
                problems.append(f"{test} {name!r}: replica {api.replica} reads {stored!r}, the winner "
                                f"(client {winners[0]}) got {replies[winners[0]].text[:300]}")
    return problems


def test_duplicate_experiment_name_race(replicas):
    test = "experiments-create"

    def create(api, name):
        return api.post("experiments/create", {"name": name})

    def created_id(reply):
        return reply.body.get("experiment_id")

    def stored_id(api, name):
        reply = api.get("experiments/get-by-name", {"experiment_name": name})
        if not reply.ok:
            return None, unexpected(reply, f"experiments/get-by-name {name!r} on replica {api.replica}")
        return reply.body["experiment"]["experiment_id"], None

    problems = _name_race(replicas, test, create, created_id, stored_id)
    for api in checker(test, replicas):
        reply = api.post("experiments/search", {"filter": f"name LIKE 'replicas-{test}-%'",
                                                 "max_results": 1000, "view_type": "ALL"})
        if not reply.ok:
            problems.append(unexpected(reply, f"experiments/search on replica {api.replica}"))
            continue
        names = Counter(e["name"] for e in reply.body.get("experiments", []))
        if sorted(names.values()) != [1] * NAME_ROUNDS:
            problems.append(f"experiments/search on replica {api.replica}: experiments per raced name {dict(names)}, "
                            f"expected {NAME_ROUNDS} names once each")
    check(problems, test)


def test_duplicate_registered_model_name_race(replicas):
    test = "registered-models-create"

    def create(api, name):
        return api.post("registered-models/create", {"name": name})

    def created_id(reply):
        return reply.body["registered_model"]["name"]

    def stored_id(api, name):
        reply = api.get("registered-models/get", {"name": name})
        if not reply.ok:
            return None, unexpected(reply, f"registered-models/get {name!r} on replica {api.replica}")
        return reply.body["registered_model"]["name"], None

    problems = _name_race(replicas, test, create, created_id, stored_id)
    check(problems, test)


def test_model_version_numbering(replicas, shared_experiment):
    test = "model-versions-create"
    run_ids = _shared_runs(test, replicas, shared_experiment, CLIENTS)
    name = unique_name("replicas-versions")
    setup = Api(test, "setup", 0, replicas[0])
    created = setup.post("registered-models/create", {"name": name})
    assert created.ok, unexpected(created, "registered-models/create")
    setup.close()

    def work(i, api, barrier):
        acked, failed = [], []
        for n in range(VERSIONS_PER_CLIENT):
            reply = api.post("model-versions/create", {"name": name, "source": f"runs:/{run_ids[i]}/model",
                                                       "run_id": run_ids[i]})
            if reply.ok:
                acked.append(int(reply.body["model_version"]["version"]))
            elif not reply.server_error:  # 5xx: listed by check()
                failed.append(unexpected(reply, f"client {i} model-versions/create #{n}"))
        return acked, failed

    results = race(test, replicas, work)
    problems = [f for _, failed in results for f in failed]
    owner = {}
    for i, (versions, _) in enumerate(results):
        for v in versions:
            if v in owner:
                problems.append(f"version {v} handed to client {owner[v]} and to client {i}")
            owner[v] = i
    total = CLIENTS * VERSIONS_PER_CLIENT
    acked = sorted(owner)
    if acked != list(range(1, len(acked) + 1)):
        problems.append(f"acknowledged versions are not 1..{len(acked)}: {acked}")
    if len(acked) != total:
        problems.append(f"{len(acked)} of {total} model-versions/create acknowledged")
    for api in checker(test, replicas):
        stored = []
        token = None
        while True:
            params = {"filter": f"name='{name}'", "max_results": 20}
            if token:
                params["page_token"] = token
            reply = api.get("model-versions/search", params)
            if not reply.ok:
                problems.append(unexpected(reply, f"model-versions/search on replica {api.replica}"))
                break
            stored += reply.body.get("model_versions", [])
            token = reply.body.get("next_page_token")
            if not token:
                break
        numbers = sorted(int(mv["version"]) for mv in stored)
        if numbers != list(range(1, total + 1)):
            problems.append(f"model-versions/search on replica {api.replica}: versions {numbers}, "
                            f"expected exactly 1..{total}")
        for mv in stored:
            v = int(mv["version"])
            if v in owner and mv.get("run_id") != run_ids[owner[v]]:
                problems.append(f"version {v} (acknowledged to client {owner[v]}) has run_id {mv.get('run_id')}, "
                                f"expected {run_ids[owner[v]]}")
        reply = api.get("registered-models/get", {"name": name})
        if reply.ok:
            latest = [int(mv["version"]) for mv in reply.body["registered_model"].get("latest_versions", [])]
            if latest and max(latest) != total:
                problems.append(f"registered-models/get on replica {api.replica}: latest_versions {latest}, "
                                f"expected {total}")
        else:
            problems.append(unexpected(reply, f"registered-models/get on replica {api.replica}"))
    check(problems, test)


def test_no_server_errors_anywhere(replicas):
    """No request of this module (races, setup and verification) got a 5xx or no response."""
    bad = [describe(c) for c in list(CALLS) if c["status"] is None or c["status"] >= 500]
    statuses = Counter(c["status"] for c in CALLS)
    assert CALLS, "no requests were recorded"
    assert not bad, (f"{len(bad)} of {len(CALLS)} requests got a 5xx or no response "
                     f"(statuses {dict(statuses)}):\n  " + "\n  ".join(bad[:200]))

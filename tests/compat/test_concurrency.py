"""Concurrent clients: no lost writes and no 'database is locked' style failures."""

from concurrent.futures import ThreadPoolExecutor

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from helpers import unique_name


def test_parallel_writers_same_run(server, client, run_id):
    def work(worker):
        c = MlflowClient(tracking_uri=server)
        for i in range(25):
            c.log_metric(run_id, f"w{worker}", float(i), timestamp=1000 + i, step=i)
        c.log_param(run_id, f"p{worker}", str(worker))
        c.set_tag(run_id, f"t{worker}", "x")
        c.log_batch(run_id, metrics=[Metric("shared", float(worker), 5, worker)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    run = client.get_run(run_id)
    for w in range(8):
        assert run.data.metrics[f"w{w}"] == 24.0
        assert run.data.params[f"p{w}"] == str(w)
        assert run.data.tags[f"t{w}"] == "x"
        assert [m.step for m in client.get_metric_history(run_id, f"w{w}")] == list(range(25))
    assert run.data.metrics["shared"] == 7.0
    assert len(client.get_metric_history(run_id, "shared")) == 8


def test_parallel_run_and_experiment_creation(server, client):
    names = [unique_name("par") for _ in range(6)]

    def work(name):
        c = MlflowClient(tracking_uri=server)
        exp_id = c.create_experiment(name)
        return exp_id, [c.create_run(exp_id).info.run_id for _ in range(5)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, names))

    exp_ids = [e for e, _ in results]
    assert len(set(exp_ids)) == 6
    for exp_id, run_ids in results:
        assert len(set(run_ids)) == 5
        assert {r.info.run_id for r in client.search_runs([exp_id])} == set(run_ids)

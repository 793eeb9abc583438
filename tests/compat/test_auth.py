"""Access control with the stock client: two ferroflow replicas on one database, with --auth.

The admin creates users and a group; alice owns an experiment and a model; bob is refused
writes until granted, and a group DENY hides alice's runs from him. Grants go through
`get_app_client("basic-auth")` of whichever client line is installed (2.x:
per-resource permission calls; 3.x: users/permissions/grant). A token revoked through one replica
stops working at once through the other, and `ferroflow audit verify` passes on the log both wrote.
"""

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client
from mlflow.tracking import MlflowClient

from conftest import REPO_ROOT, _new_backend, _server_template, _shutdown_server, _start_server
from helpers import unique_name

pytestmark = pytest.mark.ferroflow_only

ADMIN_PASSWORD = "compat admin password"
PASSWORD = "compat user password"


@pytest.fixture(scope="module")
def auth_replicas():
    shared = Path(tempfile.mkdtemp(prefix="ferroflow-compat-auth-"))
    artifacts = shared / "artifacts"
    artifacts.mkdir()
    db = shared / "mlflow.db"
    backend, drop_database = _new_backend(db)
    env = dict(os.environ, FERROFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, FERROFLOW_AUTH_DEFAULT_PERMISSION="READ")
    template = _server_template() + " --auth"
    handles = []
    try:
        handles.append(_start_server("auth-1", template, artifacts=artifacts, env=env, backend=backend, db=db))
        handles.append(_start_server("auth-2", template, artifacts=artifacts, env=env, backend=backend, db=db))
        yield dict(urls=[h["url"] for h in handles], backend=backend)
    finally:
        for handle in handles:
            _shutdown_server(handle)
        shutil.rmtree(shared, ignore_errors=True)
        drop_database()


class Login:
    """Sets the stock client's credential variables for the duration of a block."""

    def __init__(self, monkeypatch, username=None, password=None, token=None):
        self.monkeypatch = monkeypatch
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        if username:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        if token:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)


def ferroflow_cli(*args, url=None, login=None, token=None, password=None):
    """Runs the `ferroflow` binary; `login` is (username, password) for the management commands."""
    binary = os.environ.get("FERROFLOW_BIN") or str(REPO_ROOT / "target" / "release" / "ferroflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    if url:
        env["MLFLOW_TRACKING_URI"] = url
    if login:
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = login
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return subprocess.run([binary, *args], env=env, input=password, capture_output=True, text=True, timeout=120)


def error_code(excinfo):
    return getattr(excinfo.value, "error_code", None)


def grant(auth, kind, resource, username, permission):
    """Grant with whichever API this client line has."""
    if hasattr(auth, "grant_user_permission"):
        auth.grant_user_permission(username, kind, resource, permission)
    elif kind == "experiment":
        auth.create_experiment_permission(resource, username, permission)
    else:
        auth.create_registered_model_permission(resource, username, permission)


def test_permission_matrix_with_the_stock_client(auth_replicas, monkeypatch):
    url, second = auth_replicas["urls"]
    auth = get_app_client("basic-auth", tracking_uri=url)
    client = MlflowClient(url)
    alice, bob = unique_name("alice"), unique_name("bob")

    # Anonymous: 401.
    Login(monkeypatch)
    with pytest.raises(MlflowException) as anonymous:
        client.search_experiments()
    assert "401" in str(anonymous.value) or error_code(anonymous) == "UNAUTHENTICATED"

    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    created = auth.create_user(alice, PASSWORD)
    assert created.username == alice and not created.is_admin
    auth.create_user(bob, PASSWORD)
    with pytest.raises(MlflowException) as weak:
        auth.create_user(unique_name("carol"), "short")
    assert error_code(weak) == "INVALID_PARAMETER_VALUE"
    group = unique_name("team")
    admin_session = requests.Session()
    admin_session.auth = ("admin", ADMIN_PASSWORD)
    assert admin_session.post(f"{url}/api/2.0/ferroflow/groups", json={"name": group}).ok
    assert admin_session.post(f"{url}/api/2.0/ferroflow/groups/members/add",
                              json={"group": group, "username": bob}).ok

    Login(monkeypatch, alice, PASSWORD)
    experiment = client.create_experiment(unique_name("alice-exp"))
    run = client.create_run(experiment).info.run_id
    client.log_metric(run, "m", 1.0)
    model = unique_name("alice-model")
    client.create_registered_model(model)
    client.create_model_version(model, f"runs:/{run}/model", run_id=run)

    Login(monkeypatch, bob, PASSWORD)
    assert client.get_run(run).data.metrics == {"m": 1.0}  # default READ
    with pytest.raises(MlflowException) as refused:
        client.log_metric(run, "m", 2.0)
    assert error_code(refused) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as refused:
        client.transition_model_version_stage(model, "1", "Production")
    assert error_code(refused) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException):
        grant(auth, "experiment", experiment, bob, "EDIT")  # only MANAGE may grant

    Login(monkeypatch, alice, PASSWORD)
    grant(auth, "experiment", experiment, bob, "EDIT")
    grant(auth, "registered_model", model, bob, "EDIT")
    with pytest.raises(MlflowException) as unknown:
        grant(auth, "experiment", experiment, bob, "SUPERUSER")
    assert error_code(unknown) == "INVALID_PARAMETER_VALUE"

    Login(monkeypatch, bob, PASSWORD)
    client.log_metric(run, "m", 2.0)
    client.transition_model_version_stage(model, "1", "Production")
    # Through the other replica too.
    MlflowClient(second).log_metric(run, "m", 3.0)

    # NO_PERMISSIONS on one of alice's experiments hides it from bob; pages of a search over
    # both experiments still hold max_results of the rows he may read.
    Login(monkeypatch, alice, PASSWORD)
    private = client.create_experiment(unique_name("alice-private"))
    for _ in range(3):
        client.create_run(private)
    for _ in range(4):
        client.create_run(experiment)
    grant(auth, "experiment", private, bob, "NO_PERMISSIONS")
    Login(monkeypatch, bob, PASSWORD)
    with pytest.raises(MlflowException) as unreadable:
        client.get_experiment(private)
    assert error_code(unreadable) == "PERMISSION_DENIED"
    pages, token = [], None
    while True:
        page = client.search_runs([experiment, private], max_results=2, page_token=token)
        pages.append([r.info.experiment_id for r in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1], pages  # the 5 runs of `experiment`, none of `private`
    assert {e for p in pages for e in p} == {experiment}
    visible = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    assert experiment in visible and private not in visible

    # A DENY to bob's group beats his own EDIT, at once, on both replicas; searches leave it out.
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    denied = admin_session.post(f"{url}/api/2.0/ferroflow/grants", json={
        "resource_type": "experiment", "resource_id": experiment, "principal_kind": "group",
        "principal": group, "permission": "DENY"})
    assert denied.ok, denied.text
    Login(monkeypatch, bob, PASSWORD)
    for replica in (url, second):
        with pytest.raises(MlflowException) as hidden:
            MlflowClient(replica).get_run(run)
        assert error_code(hidden) == "PERMISSION_DENIED"
        found = MlflowClient(replica).search_runs([experiment])
        assert list(found) == []
        names = [e.name for e in MlflowClient(replica).search_experiments(max_results=1000)]
        assert all(not n.startswith("alice-exp") for n in names), names


def test_a_token_revoked_on_one_replica_stops_at_once_on_the_other(auth_replicas, monkeypatch):
    url, second = auth_replicas["urls"]
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    user = unique_name("tokenuser")
    get_app_client("basic-auth", tracking_uri=url).create_user(user, PASSWORD)
    session = requests.Session()
    session.auth = (user, PASSWORD)
    made = session.post(f"{url}/api/2.0/ferroflow/tokens", json={"name": "ci"})
    assert made.ok, made.text
    token = made.json()["token"]

    Login(monkeypatch, token=token)
    experiment = MlflowClient(second).create_experiment(unique_name("token-exp"))
    Login(monkeypatch, user, token)  # the token as the Basic password
    assert MlflowClient(second).get_experiment(experiment).name.startswith("token-exp")

    revoked = session.post(f"{url}/api/2.0/ferroflow/tokens/revoke", json={"id": made.json()["token_info"]["id"]})
    assert revoked.ok, revoked.text
    for login in ({"token": token}, {"username": user, "password": token}):
        Login(monkeypatch, **login)
        with pytest.raises(MlflowException) as refused:
            MlflowClient(second).get_experiment(experiment)
        assert "401" in str(refused.value) or error_code(refused) == "UNAUTHENTICATED"


def test_audit_log_of_both_replicas_verifies_after_concurrent_writes(auth_replicas):
    urls = auth_replicas["urls"]
    session = requests.Session()
    session.auth = ("admin", ADMIN_PASSWORD)
    experiment = session.post(f"{urls[0]}/api/2.0/mlflow/experiments/create",
                              json={"name": unique_name("audit-load")}).json()["experiment_id"]
    writers, per_writer = 8, 40

    def write(worker):
        own = requests.Session()
        own.auth = ("admin", ADMIN_PASSWORD)
        url = urls[worker % 2]
        run = own.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}).json()
        run_id = run["run"]["info"]["run_id"]
        for step in range(per_writer):
            done = own.post(f"{url}/api/2.0/mlflow/runs/log-metric",
                            json={"run_id": run_id, "key": "m", "value": step, "timestamp": 0, "step": step})
            assert done.ok, done.text
        return run_id

    with ThreadPoolExecutor(writers) as pool:
        runs = list(pool.map(write, range(writers)))
    assert len(set(runs)) == writers

    # One event per acknowledged write, from both replicas, each naming its run.
    for run_id in runs:
        found = session.get(f"{urls[1]}/api/2.0/ferroflow/audit/search",
                            params={"action": "LogMetric", "resource_id": run_id, "max_results": 1000})
        assert found.ok, found.text
        events = found.json().get("events", [])
        assert len(events) == per_writer, (run_id, len(events))
        assert all(e["status"] == 200 and e["actor"] == "admin" for e in events)

    done = ferroflow_cli("audit", "verify", "--backend-store-uri", auth_replicas["backend"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout


def test_the_cli_manages_users_groups_grants_and_tokens(auth_replicas, monkeypatch):
    url, second = auth_replicas["urls"]
    admin = ("admin", ADMIN_PASSWORD)
    carol, group = unique_name("carol"), unique_name("cli-team")

    def ok(*args, **kwargs):
        done = ferroflow_cli(*args, url=url, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    weak = ferroflow_cli("users", "create", carol, url=url, login=admin, password="short")
    assert weak.returncode != 0 and "12 characters" in weak.stderr, weak.stderr
    anonymous = ferroflow_cli("groups", "list", url=url)
    assert anonymous.returncode != 0 and "UNAUTHENTICATED" in anonymous.stderr, anonymous.stderr
    ok("users", "create", carol, login=admin, password=PASSWORD + "\n")
    ok("groups", "create", group, "--description", "made by the CLI", login=admin)
    ok("groups", "add-member", group, carol, login=admin)
    listed = json.loads(ok("groups", "list", login=(carol, PASSWORD)))["groups"]
    assert [(g["name"], g["members"]) for g in listed] == [(group, [carol])]

    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    experiment = MlflowClient(url).create_experiment(unique_name("cli-exp"))
    ok("grants", "set", "experiment", experiment, "EDIT", "--group", group, login=admin)
    holders = json.loads(ok("grants", "list", "experiment", experiment, login=admin))["grants"]
    assert any(h["principal_kind"] == "group" and h["principal"] == group and h["permission"] == "EDIT"
               for h in holders), holders

    # carol's token (printed alone on stdout) works with the stock client on the other replica.
    token = ok("tokens", "create", "ci", "--expires-in-days", "7", login=(carol, PASSWORD)).strip()
    assert token.startswith("ffp_")
    Login(monkeypatch, token=token)
    run = MlflowClient(second).create_run(experiment).info.run_id

    ok("grants", "delete", "experiment", experiment, "--group", group, login=admin)
    with pytest.raises(MlflowException) as refused:
        MlflowClient(second).create_run(experiment)
    assert error_code(refused) == "PERMISSION_DENIED"

    (mine,) = json.loads(ok("tokens", "list", token=token))["tokens"]
    ok("tokens", "revoke", mine["id"], login=(carol, PASSWORD))
    with pytest.raises(MlflowException) as revoked:
        MlflowClient(second).get_run(run)
    assert "401" in str(revoked.value) or error_code(revoked) == "UNAUTHENTICATED"

    lines = ok("audit", "search", "--actor", carol, "--action", "CreateRun", login=admin).splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["status"], e["auth_method"], e["token_id"]) for e in events] == [
        (200, "token", mine["id"]), (403, "token", mine["id"])]
    assert ferroflow_cli("audit", "search", url=url, login=(carol, PASSWORD)).returncode != 0


def test_roles_of_the_3x_client_are_groups(auth_replicas, monkeypatch):
    url, second = auth_replicas["urls"]
    auth = get_app_client("basic-auth", tracking_uri=url)
    if not hasattr(auth, "create_role"):
        pytest.skip(f"mlflow {mlflow.__version__}'s basic-auth client has no role API")
    client = MlflowClient(url)
    owner, member = unique_name("roleowner"), unique_name("rolemember")
    name = unique_name("readers")

    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    auth.create_user(owner, PASSWORD)
    member_id = auth.create_user(member, PASSWORD).id
    Login(monkeypatch, owner, PASSWORD)
    experiment = client.create_experiment(unique_name("role-exp"))
    run = client.create_run(experiment).info.run_id
    model = unique_name("role-model")
    client.create_registered_model(model)

    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    role = auth.create_role("default", name, description="can log to one experiment")
    assert (role.name, role.workspace, role.description, role.permissions) == (
        name, "default", "can log to one experiment", [])
    assert auth.get_role(role.id).name == name
    assert role.id in [r.id for r in auth.list_roles("default")]
    assert auth.list_roles("elsewhere") == []
    for bad_call, code in [
        (lambda: auth.create_role("default", name), "RESOURCE_ALREADY_EXISTS"),
        (lambda: auth.create_role("elsewhere", unique_name("role")), "INVALID_PARAMETER_VALUE"),
        (lambda: auth.create_role("default", " "), "INVALID_PARAMETER_VALUE"),
        (lambda: auth.get_role(987654321), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: auth.add_role_permission(role.id, "prompt", "*", "READ"), "INVALID_PARAMETER_VALUE"),
        (lambda: auth.add_role_permission(role.id, "experiment", experiment, "SUPERUSER"),
         "INVALID_PARAMETER_VALUE"),
        (lambda: auth.add_role_permission(role.id, "experiment", "987654321", "EDIT"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: auth.update_role_permission(987654321, "READ"), "RESOURCE_DOES_NOT_EXIST"),
    ]:
        with pytest.raises(MlflowException) as refused:
            bad_call()
        assert error_code(refused) == code, refused.value

    # A role permission is a grant to the role's group; assigning the role adds a member.
    Login(monkeypatch, member, PASSWORD)
    with pytest.raises(MlflowException) as refused:
        client.log_metric(run, "m", 1.0)
    assert error_code(refused) == "PERMISSION_DENIED"
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    edit = auth.add_role_permission(role.id, "experiment", experiment, "EDIT")
    assert (edit.role_id, edit.resource_type, edit.resource_pattern, edit.permission) == (
        role.id, "experiment", experiment, "EDIT")
    every_model = auth.add_role_permission(role.id, "registered_model", "*", "EDIT")
    assignment = auth.assign_role(member, role.id)
    assert (assignment.user_id, assignment.role_id) == (member_id, role.id)
    with pytest.raises(MlflowException) as twice:
        auth.assign_role(member, role.id)
    assert error_code(twice) == "RESOURCE_ALREADY_EXISTS"
    assert [(a.id, a.user_id) for a in auth.list_role_users(role.id)] == [(assignment.id, member_id)]
    assert {p.id for p in auth.list_role_permissions(role.id)} == {edit.id, every_model.id}

    Login(monkeypatch, member, PASSWORD)
    client.log_metric(run, "m", 1.0)
    MlflowClient(second).set_registered_model_tag(model, "reviewed", "yes")  # through the wildcard
    assert [r.name for r in auth.list_user_roles(member)] == [name]
    for admin_only in (lambda: auth.create_role("default", unique_name("mine")),
                       lambda: auth.list_role_users(role.id),
                       lambda: auth.list_user_roles(owner)):
        with pytest.raises(MlflowException) as refused:
            admin_only()
        assert error_code(refused) == "PERMISSION_DENIED"

    # Renaming the role renames its group; its grants and members follow.
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    renamed = unique_name("loggers")
    assert auth.update_role(role.id, name=renamed).name == renamed
    groups = requests.get(f"{url}/api/2.0/ferroflow/groups", auth=("admin", ADMIN_PASSWORD)).json()["groups"]
    assert [(g["id"], g["members"]) for g in groups if g["name"] == renamed] == [(role.id, [member])]
    Login(monkeypatch, member, PASSWORD)
    MlflowClient(second).log_metric(run, "m", 2.0)

    # Lowering, removing and unassigning take effect at once, on the other replica too.
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    assert auth.update_role_permission(edit.id, "READ").permission == "READ"
    Login(monkeypatch, member, PASSWORD)
    with pytest.raises(MlflowException) as lowered:
        MlflowClient(second).log_metric(run, "m", 3.0)
    assert error_code(lowered) == "PERMISSION_DENIED"
    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    auth.remove_role_permission(edit.id)
    assert [p.id for p in auth.list_role_permissions(role.id)] == [every_model.id]
    auth.unassign_role(member, role.id)
    Login(monkeypatch, member, PASSWORD)
    with pytest.raises(MlflowException) as unassigned:
        MlflowClient(second).set_registered_model_tag(model, "reviewed", "again")
    assert error_code(unassigned) == "PERMISSION_DENIED"
    assert auth.list_user_roles(member) == []

    Login(monkeypatch, "admin", ADMIN_PASSWORD)
    auth.delete_role(role.id)
    with pytest.raises(MlflowException) as gone:
        auth.get_role(role.id)
    assert error_code(gone) == "RESOURCE_DOES_NOT_EXIST"

"""Model registry through the stock client: registering a real scikit-learn model, versions,
aliases, stages, loading by every models:/ form, search and paging, tags, rename, deletion,
concurrent registration, source validation and error codes.

A small RandomForestRegressor (fixed seeds, synthetic data) is logged with
mlflow.sklearn.log_model; loading it back through the registry must reproduce the original
predictions exactly.  With the mlflow 3 client the model is a logged model
(models:/<model_id>); the parts that need logged models are skipped with the mlflow 2 client.
"""

import json
import threading
from types import SimpleNamespace

import mlflow
import numpy as np
import pytest
import sklearn
from mlflow.exceptions import RestException
from packaging.version import Version
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor

from helpers import assert_json_error, expect_mlflow_error, get, post, unique_name

MLFLOW3 = Version(mlflow.__version__).major >= 3
needs_mlflow3 = pytest.mark.skipif(
    not MLFLOW3, reason="logged models (models:/<model_id>) need the mlflow 3 client"
)
# Listing the requirements skips the client's slow requirement inference (a subprocess).
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}"]
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def uname(prefix="reg"):
    return unique_name(prefix)


def vnum(mv):
    return int(mv.version)


def vnums(mvs):
    return sorted(vnum(mv) for mv in mvs)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _allow_model_deserialization():
    """mlflow 3 refuses to deserialize (skops/pickle) models unless told the source is trusted;
    these models are the test's own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=150, n_features=5, noise=0.5, random_state=42)
    return X, y


@pytest.fixture(scope="module")
def sk_models(data):
    """Three different forests ("a", "b", "c") on the same data, so a wrong version shows."""
    X, y = data
    specs = {"a": (8, 0), "b": (10, 1), "c": (12, 2)}
    models = {
        key: RandomForestRegressor(n_estimators=n, max_depth=6, random_state=seed, n_jobs=1).fit(X, y)
        for key, (n, seed) in specs.items()
    }
    preds = {key: m.predict(X) for key, m in models.items()}
    assert not np.array_equal(preds["a"], preds["b"]) and not np.array_equal(preds["b"], preds["c"])
    return models


@pytest.fixture(scope="module")
def experiment(client):
    return client.create_experiment(uname("registry"))


def log_sklearn(model, experiment_id, registered_model_name=None):
    """Log `model` in a new run with mlflow.sklearn.log_model; returns what was logged."""
    kwargs = dict(pip_requirements=PIP_REQUIREMENTS, registered_model_name=registered_model_name)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        if MLFLOW3:
            # mlflow 3 saves with skops by default; forests need their tree type trusted to load.
            info = mlflow.sklearn.log_model(
                model, name="model", skops_trusted_types=SKOPS_TRUSTED_TYPES, **kwargs
            )
        else:
            info = mlflow.sklearn.log_model(model, artifact_path="model", **kwargs)
    return SimpleNamespace(
        run_id=run.info.run_id,
        artifact_uri=run.info.artifact_uri,
        model_id=getattr(info, "model_id", None) if MLFLOW3 else None,
        info=info,
        model=model,
    )


@pytest.fixture(scope="module")
def registered(client, experiment, sk_models):
    """One registered model with versions 1 (forest a, via log_model's registered_model_name),
    2 (forest b, mlflow.register_model with a runs:/ URI) and 3 (forest c, mlflow.register_model
    with models:/<model_id> on mlflow 3, a runs:/ URI on mlflow 2)."""
    name = uname("rf")
    logged = {"a": log_sklearn(sk_models["a"], experiment, registered_model_name=name)}
    logged["b"] = log_sklearn(sk_models["b"], experiment)
    logged["c"] = log_sklearn(sk_models["c"], experiment)
    v1 = client.get_model_version(name, "1")
    v2 = mlflow.register_model(f"runs:/{logged['b'].run_id}/model", name)
    if MLFLOW3:
        v3 = mlflow.register_model(f"models:/{logged['c'].model_id}", name)
    else:
        v3 = mlflow.register_model(f"runs:/{logged['c'].run_id}/model", name)
    return SimpleNamespace(name=name, logged=logged, versions=[v1, v2, v3])


def source_kwargs(logged):
    """create_model_version arguments naming a source that holds `logged`'s model files."""
    if MLFLOW3:
        return dict(source=f"models:/{logged.model_id}", run_id=logged.run_id, model_id=logged.model_id)
    return dict(source=f"runs:/{logged.run_id}/model", run_id=logged.run_id)


@pytest.fixture(scope="module")
def src(registered):
    return source_kwargs(registered.logged["a"])


def new_model(client, src, versions=0, **kwargs):
    """A fresh registered model with `versions` versions of a valid source."""
    name = uname("m")
    client.create_registered_model(name, **kwargs)
    for i in range(versions):
        assert vnum(client.create_model_version(name, **src)) == i + 1
    return name


# ---------------------------------------------------------------- registering


def test_register_versions(client, registered):
    name, logged = registered.name, registered.logged
    assert [vnum(mv) for mv in registered.versions] == [1, 2, 3]
    assert all(mv.name == name for mv in registered.versions)
    if MLFLOW3:
        assert int(logged["a"].info.registered_model_version) == 1

    rm = client.get_registered_model(name)
    assert rm.name == name
    expected_runs = {1: logged["a"].run_id, 2: logged["b"].run_id, 3: logged["c"].run_id}
    for number, run_id in expected_runs.items():
        mv = client.get_model_version(name, str(number))
        assert vnum(mv) == number
        assert mv.name == name
        assert mv.status == "READY"
        assert mv.run_id == run_id
        assert mv.source
        assert mv.creation_timestamp > 0 and mv.last_updated_timestamp >= mv.creation_timestamp
    if MLFLOW3:
        for number, key in ((1, "a"), (2, "b"), (3, "c")):
            assert client.get_model_version(name, str(number)).source == f"models:/{logged[key].model_id}"
    else:
        for number, key in ((1, "a"), (2, "b"), (3, "c")):
            source = client.get_model_version(name, str(number)).source
            assert source == logged[key].artifact_uri.rstrip("/") + "/model"
    versions = client.search_model_versions(f"name = '{name}'")
    assert vnums(versions) == [1, 2, 3]


@needs_mlflow3
@pytest.mark.ferroflow_only  # the stock SQL store does not save a version's model_id
def test_version_records_model_id(api_url, registered):
    # The stock client drops model_id when it parses a ModelVersion, so read the JSON.
    want = {str(n): registered.logged[k].model_id for n, k in ((1, "a"), (2, "b"), (3, "c"))}
    for number, model_id in want.items():
        resp = get(api_url, "model-versions/get", {"name": registered.name, "version": number})
        assert resp.status_code == 200, resp.text
        assert resp.json()["model_version"].get("model_id") == model_id
    resp = post(api_url, "model-versions/search", {"filter": f"name = '{registered.name}'"})
    assert resp.status_code == 200, resp.text
    assert {mv["version"]: mv.get("model_id") for mv in resp.json()["model_versions"]} == want


@needs_mlflow3
def test_register_updates_logged_model_tag(client, registered):
    """The client records the registrations on the logged model (set_logged_model_tags)."""
    for key, number in (("a", 1), ("b", 2), ("c", 3)):
        model = client.get_logged_model(registered.logged[key].model_id)
        entries = json.loads(model.tags["mlflow.modelVersions"])
        assert {"name": registered.name, "version": number} in [
            {"name": e["name"], "version": int(e["version"])} for e in entries
        ]


def test_download_uri(client, registered):
    uri = client.get_model_version_download_uri(registered.name, "2")
    assert isinstance(uri, str) and uri
    if MLFLOW3:
        logged_model = client.get_logged_model(registered.logged["b"].model_id)
        assert uri.rstrip("/") == logged_model.artifact_location.rstrip("/")
    else:
        assert uri.rstrip("/") == registered.logged["b"].artifact_uri.rstrip("/") + "/model"


# ---------------------------------------------------------------- loading


LOAD_FORMS = [
    # uri template, the forest it must load
    pytest.param("models:/{name}/1", "a", id="version"),
    pytest.param("models:/{name}@champion", "b", id="alias"),
    pytest.param("models:/{name}/Production", "b", id="stage-production"),
    pytest.param("models:/{name}/Staging", "a", id="stage-staging"),
    pytest.param("models:/{name}/latest", "c", id="latest"),
    pytest.param("models:/{model_id}", "a", id="model-id", marks=needs_mlflow3),
]


@pytest.fixture(scope="module")
def load_setup(client, registered):
    """champion -> v2, v2 Production, v1 Staging, v3 (the latest) in no stage."""
    name = registered.name
    client.set_registered_model_alias(name, "champion", "2")
    client.transition_model_version_stage(name, "2", "Production")
    client.transition_model_version_stage(name, "1", "Staging")
    return registered


@pytest.mark.parametrize("loader", ["pyfunc", "sklearn"])
@pytest.mark.parametrize("template,expected", LOAD_FORMS)
def test_load_model_by_uri(load_setup, data, sk_models, tmp_path, loader, template, expected):
    X, _ = data
    uri = template.format(name=load_setup.name, model_id=load_setup.logged["a"].model_id)
    if loader == "pyfunc":
        loaded = mlflow.pyfunc.load_model(uri, dst_path=str(tmp_path))
    else:
        loaded = mlflow.sklearn.load_model(uri, dst_path=str(tmp_path))
        assert isinstance(loaded, RandomForestRegressor)
    predictions = np.asarray(loaded.predict(X))
    want = sk_models[expected].predict(X)
    assert predictions.shape == want.shape
    assert np.array_equal(predictions, want), f"{uri} did not load forest {expected!r}"


def test_load_version_created_from_source(client, src, data, sk_models, tmp_path):
    """A version made by create_model_version (runs:/ source on mlflow 2, models:/<model_id> on 3)."""
    X, _ = data
    name = new_model(client, src, versions=1)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1", dst_path=str(tmp_path))
    assert np.array_equal(np.asarray(loaded.predict(X)), sk_models["a"].predict(X))


# ---------------------------------------------------------------- aliases


def test_aliases(client, src):
    name = new_model(client, src, versions=3)
    client.set_registered_model_alias(name, "champion", "1")
    assert vnum(client.get_model_version_by_alias(name, "champion")) == 1
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": "1"}
    assert client.get_model_version(name, "1").aliases == ["champion"]

    # moving the alias
    client.set_registered_model_alias(name, "champion", "2")
    mv = client.get_model_version_by_alias(name, "champion")
    assert vnum(mv) == 2 and mv.aliases == ["champion"]
    assert client.get_model_version(name, "1").aliases == []
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": "2"}

    # a second alias on the same version, one on another
    client.set_registered_model_alias(name, "challenger", "2")
    client.set_registered_model_alias(name, "old", "1")
    assert sorted(client.get_model_version(name, "2").aliases) == ["challenger", "champion"]
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {
        "champion": "2",
        "challenger": "2",
        "old": "1",
    }

    client.delete_registered_model_alias(name, "champion")
    assert sorted(client.get_model_version(name, "2").aliases) == ["challenger"]
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {
        "challenger": "2",
        "old": "1",
    }
    assert vnum(client.get_model_version_by_alias(name, "challenger")) == 2


def test_get_by_alias_latest(client, src):
    """`latest` is reserved: looking it up as an alias gives the highest version."""
    name = new_model(client, src, versions=3)
    client.set_registered_model_alias(name, "champion", "1")
    assert vnum(client.get_model_version_by_alias(name, "latest")) == 3
    assert vnum(client.get_model_version_by_alias(name, "LATEST")) == 3
    client.delete_model_version(name, "3")
    assert vnum(client.get_model_version_by_alias(name, "latest")) == 2


def test_get_unknown_alias(client, src):
    """The stock server answers INVALID_PARAMETER_VALUE for an alias the model does not have."""
    name = new_model(client, src, versions=1)
    client.set_registered_model_alias(name, "champion", "1")
    client.delete_registered_model_alias(name, "champion")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.get_model_version_by_alias(name, "champion")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.get_model_version_by_alias(name, "never-set")


@pytest.mark.ferroflow_only  # the stock server leaves `aliases` empty in search results
def test_search_model_versions_shows_aliases(client, src):
    name = new_model(client, src, versions=3)
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "2")
    client.set_registered_model_alias(name, "old", "1")
    found = {vnum(mv): sorted(mv.aliases) for mv in client.search_model_versions(f"name = '{name}'")}
    assert found == {1: ["old"], 2: ["challenger", "champion"], 3: []}


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V12", "bad alias", "a/b"])
def test_invalid_alias_names(client, src, alias):
    name = new_model(client, src, versions=1)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, alias, "1")
    assert client.get_registered_model(name).aliases == {}


def test_alias_to_unknown_version(client, src):
    name = new_model(client, src, versions=1)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(name, "champion", "7")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(uname("missing"), "champion", "1")


def test_alias_over_http(api_url, client, src):
    name = new_model(client, src, versions=2)
    resp = post(api_url, "registered-models/alias", {"name": name, "alias": "prod", "version": "2"})
    assert resp.status_code == 200, resp.text
    resp = get(api_url, "registered-models/alias", {"name": name, "alias": "prod"})
    assert resp.status_code == 200, resp.text
    mv = resp.json()["model_version"]
    assert mv["name"] == name and mv["version"] == "2" and mv["aliases"] == ["prod"]
    resp = get(api_url, "registered-models/get", {"name": name})
    assert resp.status_code == 200, resp.text
    assert resp.json()["registered_model"]["aliases"] == [{"alias": "prod", "version": "2"}]
    resp = post(api_url, "registered-models/alias", {"name": name, "alias": "v3", "version": "1"})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")


# ---------------------------------------------------------------- stages


def stages_of(client, name):
    return {vnum(mv): mv.current_stage for mv in client.search_model_versions(f"name = '{name}'")}


def latest_by_stage(mvs):
    return {mv.current_stage: vnum(mv) for mv in mvs}


def test_stage_transitions(client, src):
    name = new_model(client, src, versions=4)
    assert stages_of(client, name) == {1: "None", 2: "None", 3: "None", 4: "None"}

    mv = client.transition_model_version_stage(name, "1", "Production")
    assert vnum(mv) == 1 and mv.current_stage == "Production"
    client.transition_model_version_stage(name, "2", "Staging")
    assert stages_of(client, name) == {1: "Production", 2: "Staging", 3: "None", 4: "None"}

    # promoting v2 archives the previous Production version, not other stages
    mv = client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert stages_of(client, name) == {1: "Archived", 2: "Production", 3: "None", 4: "None"}
    assert client.get_model_version(name, "1").current_stage == "Archived"

    assert vnums(client.get_latest_versions(name, stages=["Production"])) == [2]
    assert latest_by_stage(client.get_latest_versions(name)) == {"Archived": 1, "Production": 2, "None": 4}
    assert latest_by_stage(client.get_registered_model(name).latest_versions) == {
        "Archived": 1,
        "Production": 2,
        "None": 4,
    }

    # without archive_existing_versions two versions share the stage; the latest is the highest
    client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=False)
    assert stages_of(client, name) == {1: "Archived", 2: "Production", 3: "Production", 4: "None"}
    assert vnums(client.get_latest_versions(name, stages=["Production"])) == [3]
    assert vnums(client.get_latest_versions(name, stages=["Production", "Archived"])) == [1, 3]
    assert client.get_latest_versions(name, stages=["Staging"]) == []

    # stage names are case-insensitive
    mv = client.transition_model_version_stage(name, "4", "staging")
    assert mv.current_stage == "Staging"
    client.transition_model_version_stage(name, "4", "None")
    assert client.get_model_version(name, "4").current_stage == "None"


def test_transition_invalid_stage(api_url, client, src):
    name = new_model(client, src, versions=1)
    resp = post(api_url, "model-versions/transition-stage",
                {"name": name, "version": "1", "stage": "Nonsense", "archive_existing_versions": False})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_model_version(name, "1").current_stage == "None"


# ---------------------------------------------------------------- search


@pytest.fixture(scope="module")
def search_models(client):
    """Five registered models sharing a unique prefix, with tags."""
    prefix = uname("search")
    names = {}
    for i, (suffix, team) in enumerate([("c", "red"), ("a", "blue"), ("e", "red"), ("b", "green"), ("d", "red")]):
        name = f"{prefix}-{suffix}"
        client.create_registered_model(name, tags={"team": team, "idx": str(i)}, description=f"model {suffix}")
        names[suffix] = name
    return SimpleNamespace(prefix=prefix, names=names)


def rm_names(models):
    return [m.name for m in models]


def test_search_registered_models_filters(client, search_models):
    prefix, names = search_models.prefix, search_models.names
    all_sorted = sorted(names.values())
    assert rm_names(client.search_registered_models(f"name LIKE '{prefix}-%'")) == all_sorted
    assert rm_names(client.search_registered_models(f"name ILIKE '{prefix.upper()}-%'")) == all_sorted
    assert rm_names(client.search_registered_models(f"name = '{names['c']}'")) == [names["c"]]
    assert rm_names(client.search_registered_models(f"name = '{prefix}'")) == []
    assert rm_names(
        client.search_registered_models(f"name LIKE '{prefix}-%' AND tags.team = 'red'")
    ) == sorted([names["c"], names["d"], names["e"]])
    assert rm_names(
        client.search_registered_models(f"tags.team = 'green' AND name LIKE '{prefix}%'")
    ) == [names["b"]]
    assert rm_names(
        client.search_registered_models(f"name LIKE '{prefix}-%' AND tags.team != 'red'")
    ) == sorted([names["a"], names["b"]])
    found = client.search_registered_models(f"name = '{names['a']}'")
    assert found[0].tags == {"team": "blue", "idx": "1"}
    assert found[0].description == "model a"


def test_search_registered_models_order_by(client, search_models):
    prefix, names = search_models.prefix, search_models.names
    flt = f"name LIKE '{prefix}-%'"
    assert rm_names(client.search_registered_models(flt, order_by=["name DESC"])) == sorted(
        names.values(), reverse=True
    )
    assert rm_names(client.search_registered_models(flt, order_by=["name ASC"])) == sorted(names.values())
    # "timestamp" and "last_updated_timestamp" both order by the last update (name breaks ties);
    # touching the first-created model makes it the most recently updated one
    client.update_registered_model(names["c"], description="touched")

    def last_updated(n):
        return client.get_registered_model(n).last_updated_timestamp

    by_update = sorted(names.values(), key=lambda n: (-last_updated(n), n))
    assert by_update[0] == names["c"]
    for key in ("last_updated_timestamp", "timestamp"):
        assert rm_names(client.search_registered_models(flt, order_by=[f"{key} DESC"])) == by_update, key
    by_update_asc = sorted(names.values(), key=lambda n: (last_updated(n), n))
    assert rm_names(client.search_registered_models(flt, order_by=["last_updated_timestamp ASC"])) \
        == by_update_asc


def test_search_registered_models_paging(client, search_models):
    flt = f"name LIKE '{search_models.prefix}-%'"
    pages, token = [], None
    while True:
        page = client.search_registered_models(flt, max_results=2, page_token=token)
        pages.append(rm_names(page))
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"
    assert [len(p) for p in pages] == [2, 2, 1]
    collected = [n for p in pages for n in p]
    assert collected == sorted(search_models.names.values())  # each exactly once, in order

    desc_pages, token = [], None
    while True:
        page = client.search_registered_models(flt, max_results=3, order_by=["name DESC"], page_token=token)
        desc_pages.extend(rm_names(page))
        token = page.token
        if not token:
            break
    assert desc_pages == sorted(search_models.names.values(), reverse=True)


@pytest.fixture(scope="module")
def search_versions(client, experiment):
    """One registered model with 7 versions: 1-4 from run r1, 5-7 from run r2; 1 and 3 tagged."""
    r1 = client.create_run(experiment).info.run_id
    r2 = client.create_run(experiment).info.run_id
    name = uname("versions")
    client.create_registered_model(name)
    for i in range(1, 8):
        run_id = r1 if i <= 4 else r2
        tags = {"flavor": "x"} if i in (1, 3) else {"flavor": "y"}
        mv = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags=tags)
        assert vnum(mv) == i
    return SimpleNamespace(name=name, r1=r1, r2=r2)


def test_search_model_versions_filters(client, search_versions):
    name, r1, r2 = search_versions.name, search_versions.r1, search_versions.r2
    assert vnums(client.search_model_versions(f"name = '{name}'")) == list(range(1, 8))
    assert vnums(client.search_model_versions(f"name = '{name}' AND version_number > 4")) == [5, 6, 7]
    assert vnums(client.search_model_versions(f"name = '{name}' AND version_number <= 2")) == [1, 2]
    assert vnums(client.search_model_versions(f"run_id = '{r2}'")) == [5, 6, 7]
    assert vnums(client.search_model_versions(f"run_id = '{r1}'")) == [1, 2, 3, 4]
    assert vnums(client.search_model_versions(f"run_id IN ('{r1}', '{r2}')")) == list(range(1, 8))
    assert vnums(client.search_model_versions(f"name = '{name}' AND tags.flavor = 'x'")) == [1, 3]
    assert vnums(client.search_model_versions(f"name LIKE '{name[:-3]}%' AND run_id = '{r2}'")) == [5, 6, 7]
    assert client.search_model_versions(f"name = '{name}-nope'") == []
    for mv in client.search_model_versions(f"run_id = '{r1}'"):
        assert mv.name == name and mv.run_id == r1
        assert mv.source == f"runs:/{r1}/model"


def test_search_version_number_quoted(client, search_versions):
    """A quoted number is accepted for version_number (the stock server converts it)."""
    name = search_versions.name
    assert vnums(client.search_model_versions(f"name = '{name}' AND version_number = '2'")) == [2]
    assert vnums(client.search_model_versions(f"name = '{name}' AND version_number >= '6'")) == [6, 7]


def test_search_model_versions_order_and_paging(client, search_versions):
    flt = f"name = '{search_versions.name}'"
    desc = client.search_model_versions(flt, order_by=["version_number DESC"])
    assert [vnum(mv) for mv in desc] == [7, 6, 5, 4, 3, 2, 1]
    asc = client.search_model_versions(flt, order_by=["version_number ASC"])
    assert [vnum(mv) for mv in asc] == [1, 2, 3, 4, 5, 6, 7]

    pages, token = [], None
    while True:
        page = client.search_model_versions(flt, max_results=3, order_by=["version_number ASC"],
                                            page_token=token)
        pages.append([vnum(mv) for mv in page])
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [v for p in pages for v in p] == [1, 2, 3, 4, 5, 6, 7]


def test_search_invalid_filter(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_registered_models("nonsense_key = 'x'")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_model_versions("nonsense_key = 'x'")


# ---------------------------------------------------------------- tags and descriptions


def test_registered_model_tags_and_description(client):
    name = uname("tags")
    rm = client.create_registered_model(name, tags={"a": "1", "team": "core"}, description="first")
    assert rm.tags == {"a": "1", "team": "core"} and rm.description == "first"
    client.set_registered_model_tag(name, "b", "2")
    client.set_registered_model_tag(name, "a", "changed")
    client.delete_registered_model_tag(name, "team")
    assert client.get_registered_model(name).tags == {"a": "changed", "b": "2"}

    before = client.get_registered_model(name).last_updated_timestamp
    updated = client.update_registered_model(name, description="second")
    assert updated.description == "second"
    rm = client.get_registered_model(name)
    assert rm.description == "second"
    assert rm.last_updated_timestamp >= before


def test_model_version_tags_and_description(client, src):
    name = new_model(client, src)
    mv = client.create_model_version(name, tags={"x": "1", "keep": "k"}, description="v desc", **src)
    assert mv.tags == {"x": "1", "keep": "k"} and mv.description == "v desc"
    client.set_model_version_tag(name, "1", "y", "2")
    client.delete_model_version_tag(name, "1", "x")
    assert client.get_model_version(name, "1").tags == {"keep": "k", "y": "2"}
    updated = client.update_model_version(name, "1", description="new desc")
    assert updated.description == "new desc"
    assert client.get_model_version(name, "1").description == "new desc"
    # the registered model's own tags are separate
    assert client.get_registered_model(name).tags == {}


def test_delete_missing_tags_is_noop(client, src):
    name = new_model(client, src, versions=1, tags={"keep": "1"})
    client.delete_registered_model_tag(name, "never-set")
    client.delete_model_version_tag(name, "1", "never-set")
    assert client.get_registered_model(name).tags == {"keep": "1"}
    assert client.get_model_version(name, "1").tags == {}


def test_version_without_description(client, src):
    """The stock server returns an empty description for a version created without one."""
    name = new_model(client, src, versions=1)
    assert client.get_model_version(name, "1").description == ""
    assert client.search_model_versions(f"name = '{name}'")[0].description == ""


def test_tag_on_unknown_targets(client, src):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_tag(uname("missing"), "k", "v")
    name = new_model(client, src, versions=1)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_model_version_tag(name, "5", "k", "v")


# ---------------------------------------------------------------- rename / delete


def test_rename_registered_model(client, src):
    old = new_model(client, src, versions=2, tags={"t": "1"})
    client.set_registered_model_alias(old, "champion", "2")
    client.set_model_version_tag(old, "1", "vt", "x")
    new = uname("renamed")
    client.rename_registered_model(old, new)  # the client returns None

    rm = client.get_registered_model(new)
    assert rm.name == new and rm.tags == {"t": "1"}
    assert {k: str(v) for k, v in rm.aliases.items()} == {"champion": "2"}
    for number in ("1", "2"):
        assert client.get_model_version(new, number).name == new
    assert client.get_model_version(new, "1").tags == {"vt": "x"}
    assert vnum(client.get_model_version_by_alias(new, "champion")) == 2
    assert vnums(client.search_model_versions(f"name = '{new}'")) == [1, 2]

    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(old)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(old, "1")
    assert client.search_model_versions(f"name = '{old}'") == []
    assert rm_names(client.search_registered_models(f"name = '{old}'")) == []

    # numbering continues under the new name
    assert vnum(client.create_model_version(new, **src)) == 3


def test_rename_over_http(api_url, client, src):
    old = new_model(client, src, versions=1)
    new = uname("renamed")
    resp = post(api_url, "registered-models/rename", {"name": old, "new_name": new})
    assert resp.status_code == 200, resp.text
    assert resp.json()["registered_model"]["name"] == new
    assert client.get_model_version(new, "1").name == new


def test_rename_to_same_name(client, src):
    """Renaming a model to its own name is a no-op, not a conflict."""
    name = new_model(client, src, versions=1)
    client.rename_registered_model(name, name)
    assert client.get_registered_model(name).name == name
    assert vnums(client.search_model_versions(f"name = '{name}'")) == [1]


def test_rename_to_existing_name(client, src):
    a = new_model(client, src, versions=1)
    b = new_model(client, src)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.rename_registered_model(a, b)
    assert vnums(client.search_model_versions(f"name = '{a}'")) == [1]


def test_delete_model_version(client, src):
    name = new_model(client, src, versions=3)
    client.set_registered_model_alias(name, "gone", "2")
    client.set_registered_model_alias(name, "stays", "1")
    client.delete_model_version(name, "2")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "2")
    assert vnums(client.search_model_versions(f"name = '{name}'")) == [1, 3]
    # the deleted version's aliases go with it
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {"stays": "1"}

    # deleting the latest version does not free its number
    client.delete_model_version(name, "3")
    assert vnums(client.search_model_versions(f"name = '{name}'")) == [1]
    assert latest_by_stage(client.get_registered_model(name).latest_versions) == {"None": 1}
    assert vnum(client.create_model_version(name, **src)) == 4
    assert vnums(client.search_model_versions(f"name = '{name}'")) == [1, 4]

    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_model_version(name, "2")


def test_delete_registered_model(client, src):
    name = new_model(client, src, versions=2, tags={"t": "1"})
    client.set_registered_model_alias(name, "champion", "1")
    client.delete_registered_model(name)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "1")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.create_model_version(name, **src)
    assert rm_names(client.search_registered_models(f"name = '{name}'")) == []
    assert client.search_model_versions(f"name = '{name}'") == []
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_registered_model(name)

    # the name can be registered again, starting from version 1 with nothing carried over
    client.create_registered_model(name)
    assert vnum(client.create_model_version(name, **src)) == 1
    rm = client.get_registered_model(name)
    assert rm.tags == {} and rm.aliases == {}


# ---------------------------------------------------------------- concurrency


def test_concurrent_registration(server, client, registered):
    name = new_model(client, source_kwargs(registered.logged["a"]))
    sources = [source_kwargs(registered.logged[k]) for k in ("a", "b", "c", "a")]
    results, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(i):
        worker_client = mlflow.tracking.MlflowClient(tracking_uri=server)
        try:
            start.wait(timeout=60)
            for _ in range(5):
                mv = worker_client.create_model_version(name, **sources[i])
                with lock:
                    results.append(vnum(mv))
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "registration threads hung"
    assert errors == []
    assert sorted(results) == list(range(1, 21))
    assert vnums(client.search_model_versions(f"name = '{name}'")) == list(range(1, 21))
    assert latest_by_stage(client.get_latest_versions(name)) == {"None": 20}
    assert vnum(client.create_model_version(name, **sources[0])) == 21


# ---------------------------------------------------------------- source validation


@pytest.fixture(scope="module")
def other_run(client, experiment):
    return client.create_run(experiment).info


def _bad_sources(registered, other):
    """(id, request fields, ferroflow_only) for create_model_version sources to refuse."""
    run = registered.logged["a"]
    root = run.artifact_uri.rstrip("/")
    other_root = other.artifact_uri.rstrip("/")
    exp_root = root.rsplit("/", 2)[0]  # mlflow-artifacts:/<exp>
    cases = [
        ("local-path", dict(source="/etc/passwd", run_id=run.run_id), False),
        ("file-uri", dict(source="file:///etc", run_id=run.run_id), False),
        ("local-path-no-run", dict(source="/etc/passwd"), False),
        ("other-bucket", dict(source="s3://other-bucket/x", run_id=run.run_id), True),
        ("other-bucket-no-run", dict(source="s3://other-bucket/x"), True),
        ("runs-other-run", dict(source=f"runs:/{other.run_id}/model", run_id=run.run_id), False),
        ("runs-without-run-id", dict(source=f"runs:/{run.run_id}/model"), False),
        ("models-version-other-run",
         dict(source=f"models:/{registered.name}/1", run_id=other.run_id), False),
        ("artifacts-other-run", dict(source=f"{other_root}/model", run_id=run.run_id), False),
        ("artifacts-experiment-root", dict(source=f"{exp_root}", run_id=run.run_id), False),
        ("dotdot-runs", dict(source=f"runs:/{run.run_id}/model/../../../{other.run_id}", run_id=run.run_id),
         False),
        ("dotdot-artifacts", dict(source=f"{root}/../../{other.run_id}/artifacts/model", run_id=run.run_id),
         False),
        ("dotdot-encoded", dict(source=f"{root}/%2E%2E/%2E%2E/{other.run_id}/artifacts/model",
                                run_id=run.run_id), False),
    ]
    if MLFLOW3:
        model_id = run.model_id
        other_model = registered.logged["b"]
        cases += [
            ("models-other-model", dict(source=f"models:/{other_model.model_id}", model_id=model_id), False),
            ("artifacts-other-model", dict(source=f"{other_root}/model", model_id=model_id), False),
            ("runs-with-model-id", dict(source=f"runs:/{run.run_id}/model", model_id=model_id), False),
        ]
    return cases


BAD_SOURCE_IDS = [
    "local-path", "file-uri", "local-path-no-run", "other-bucket", "other-bucket-no-run",
    "runs-other-run", "runs-without-run-id", "models-version-other-run", "artifacts-other-run", "artifacts-experiment-root", "dotdot-runs",
    "dotdot-artifacts", "dotdot-encoded", "models-other-model", "artifacts-other-model",
    "runs-with-model-id",
]
FERROFLOW_ONLY_SOURCES = {"other-bucket", "other-bucket-no-run"}
MLFLOW3_SOURCES = {"models-other-model", "artifacts-other-model", "runs-with-model-id"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c,
            marks=([pytest.mark.ferroflow_only] if c in FERROFLOW_ONLY_SOURCES else [])
            + ([needs_mlflow3] if c in MLFLOW3_SOURCES else []),
        )
        for c in BAD_SOURCE_IDS
    ],
)
def test_invalid_source_refused(api_url, client, registered, other_run, case):
    cases = {cid: fields for cid, fields, _ in _bad_sources(registered, other_run)}
    fields = cases[case]
    name = uname("src")
    client.create_registered_model(name)

    # over HTTP: 400 INVALID_PARAMETER_VALUE
    resp = post(api_url, "model-versions/create", {"name": name, **fields})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")

    # through the client: a RestException with that error code
    with expect_mlflow_error("INVALID_PARAMETER_VALUE") as info:
        client.create_model_version(name, **fields)
    assert isinstance(info.value, RestException)

    assert client.search_model_versions(f"name = '{name}'") == []
    # nothing was consumed: the first valid version is still 1
    assert vnum(client.create_model_version(name, **source_kwargs(registered.logged["a"]))) == 1


@pytest.mark.ferroflow_only  # the stock server registers a version of a run that does not exist
def test_source_of_unknown_run_refused(api_url, client):
    name = new_model(client, {})
    missing = "0123456789abcdef0123456789abcdef"
    resp = post(api_url, "model-versions/create",
                {"name": name, "source": f"runs:/{missing}/model", "run_id": missing})
    assert_json_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    assert client.search_model_versions(f"name = '{name}'") == []


def test_valid_sources_accepted(client, registered):
    run = registered.logged["a"]
    name = uname("src-ok")
    client.create_registered_model(name)
    accepted = [
        dict(source=f"runs:/{run.run_id}/model", run_id=run.run_id),
        dict(source=run.artifact_uri.rstrip("/") + "/model", run_id=run.run_id),
        dict(source=f"models:/{registered.name}/1"),
    ]
    if MLFLOW3:
        accepted.append(dict(source=f"models:/{run.model_id}", model_id=run.model_id))
        logged_model = client.get_logged_model(run.model_id)
        accepted.append(dict(source=logged_model.artifact_location.rstrip("/") + "/MLmodel",
                             model_id=run.model_id))
    for i, fields in enumerate(accepted, start=1):
        mv = client.create_model_version(name, **fields)
        assert vnum(mv) == i, fields
        assert mv.status == "READY"
    assert vnums(client.search_model_versions(f"name = '{name}'")) == list(range(1, len(accepted) + 1))


# ---------------------------------------------------------------- error codes


def test_duplicate_registered_model(client):
    name = uname("dup")
    client.create_registered_model(name)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_registered_model(name)


def test_unknown_model_and_version(client, src):
    missing = uname("missing")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(missing)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(missing, "1")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.create_model_version(missing, **src)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.update_registered_model(missing, description="x")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.rename_registered_model(missing, uname("new"))
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version_by_alias(missing, "champion")
    name = new_model(client, src, versions=1)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "2")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.update_model_version(name, "2", description="x")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.transition_model_version_stage(name, "2", "Staging")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version_download_uri(name, "2")


def test_error_statuses_over_http(api_url, client):
    missing = uname("missing")
    resp = get(api_url, "registered-models/get", {"name": missing})
    assert_json_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = get(api_url, "model-versions/get", {"name": missing, "version": "1"})
    assert_json_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    name = uname("dup")
    resp = post(api_url, "registered-models/create", {"name": name})
    assert resp.status_code == 200, resp.text
    assert resp.json()["registered_model"]["name"] == name
    resp = post(api_url, "registered-models/create", {"name": name})
    assert_json_error(resp, 400, "RESOURCE_ALREADY_EXISTS")
    resp = post(api_url, "registered-models/create", {})
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")

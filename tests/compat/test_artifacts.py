"""Artifact proxy (--artifacts-destination): the stock client's artifact calls, the raw
/api/2.0/mlflow-artifacts routes, multipart uploads and path safety.

Most tests run twice through the `artifact_server` fixture: against the session server,
which proxies to a local directory ("local"), and against a second server proxying to a
bucket of an S3-compatible endpoint ("s3", needs FERROFLOW_TEST_S3_ENDPOINT).  Where the
stock MLflow server behaves differently (and ferroflow follows the interface instead) the
case is marked ferroflow_only, for one destination or both.
"""

import itertools
import json
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import mlflow
import pytest
import requests

from helpers import (
    ARTIFACTS_API,
    ArtifactServer,
    assert_json_error,
    quote_path,
    raw_request,
    unique_name,
)

MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # the smallest part S3 accepts (all but the last part)
UNICODE_NAME = "with space ünïcødé 文件.txt"
DESTINATIONS = ("local", "s3")
REFUSED = (400, 403)


def destinations(ferroflow_only=()):
    """Indirect parameters for `artifact_server`; the named destinations are ferroflow_only."""
    return [
        pytest.param(kind, marks=pytest.mark.ferroflow_only) if kind in ferroflow_only else kind
        for kind in DESTINATIONS
    ]


def uid():
    return unique_name("t")


def run_store_path(run):
    """mlflow-artifacts:/<exp>/<run>/artifacts -> <exp>/<run>/artifacts (path under the destination)."""
    uri = run.info.artifact_uri
    assert uri.startswith("mlflow-artifacts:/"), uri
    return urlsplit(uri).path.strip("/")


def new_run(srv):
    exp_id = srv.client.create_experiment(unique_name("artifacts"))
    return srv.client.create_run(exp_id)


def make_tree(base):
    """A directory tree with nested folders, text files, an empty file, a 6 MB binary, unicode."""
    files = {
        "a.txt": b"alpha\n",
        "b.json": json.dumps({"k": [1, 2, 3], "s": "x"}).encode(),
        "empty.txt": b"",
        "blob.bin": os.urandom(6 * MiB + 123),
        UNICODE_NAME: "héllo wörld ✓\n".encode(),
        "nested/c.txt": b"gamma\n" * 1000,
        "nested/deeper/d.yaml": b"key: value\n",
        "nested/deeper/e.txt": b"epsilon",
        "nested/sp ace/f.csv": b"a,b\n1,2\n",
    }
    for rel, data in files.items():
        path = Path(base) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(base):
    base = Path(base)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def assert_same_tree(actual, expected):
    assert sorted(actual) == sorted(expected)
    for rel, data in expected.items():
        assert actual[rel] == data, f"{rel}: {len(actual[rel])} bytes, expected {len(data)}"


def new_dir(base, name=None):
    """A fresh existing directory (the 2.x client's download_artifacts needs dst_path to exist)."""
    path = Path(base) / (name or f"dl-{uid()}")
    path.mkdir(parents=True)
    return str(path)


def listing(client, run_id, path=None):
    return [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path)]


def put(srv, path, data, prefix="/api/2.0"):
    return requests.put(f"{srv.url}{prefix}/mlflow-artifacts/artifacts/{quote_path(path)}",
                        data=data, timeout=120)


def get(srv, path, prefix="/api/2.0", **kwargs):
    return requests.get(f"{srv.url}{prefix}/mlflow-artifacts/artifacts/{quote_path(path)}",
                        timeout=120, **kwargs)


def delete(srv, path):
    return requests.delete(srv.artifact_url(path), timeout=120)


def list_raw(srv, path, prefix="/api/2.0"):
    return requests.get(f"{srv.url}{prefix}/mlflow-artifacts/artifacts", params={"path": path},
                        timeout=60)


def assert_put_ok(resp):
    assert resp.status_code == 200, resp.text[:500]
    # ferroflow answers {}, the stock server an empty body.
    assert resp.content.strip() in (b"", b"{}"), resp.content[:200]


def assert_refused(resp, what):
    """400 INVALID_PARAMETER_VALUE or 403 PERMISSION_DENIED, as an MLflow JSON error."""
    status = resp.status_code
    assert status in REFUSED, f"{what}: expected 400/403, got {status}: {resp.content[:300]!r}"
    code = "INVALID_PARAMETER_VALUE" if status == 400 else "PERMISSION_DENIED"
    assert_json_error(resp, status, code)


def content_disposition_filename(value):
    """(disposition type, filename=..., filename*=... decoded) of a Content-Disposition header."""
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip()
    plain = params.get("filename")
    if plain and plain.startswith('"') and plain.endswith('"'):
        plain = plain[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    star = params.get("filename*")
    if star:
        charset, _, encoded = star.partition("''")
        assert charset.lower() == "utf-8", star
        star = unquote(encoded, encoding="utf-8")
    return parts[0].lower(), plain, star


# ================================================================ through the client


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_experiment_and_run_artifact_locations(artifact_server):
    client = artifact_server.client
    exp_id = client.create_experiment(unique_name("art-loc"))
    assert client.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/{exp_id}"
    run = client.create_run(exp_id)
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run.info.run_id}/artifacts"
    assert client.get_run(run.info.run_id).info.artifact_uri == run.info.artifact_uri

    exp = mlflow.set_experiment(unique_name("art-loc-fluent"))
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    with mlflow.start_run() as active:
        assert active.info.artifact_uri == (
            f"mlflow-artifacts:/{exp.experiment_id}/{active.info.run_id}/artifacts"
        )


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_log_artifacts_tree_list_and_download(artifact_server, tmp_path):
    client = artifact_server.client
    src = tmp_path / "src"
    files = make_tree(src)
    run = new_run(artifact_server)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(src), "tree")

    assert [(p, d) for p, d, _ in listing(client, run_id)] == [("tree", True)]
    top = listing(client, run_id, "tree")
    assert [(p, d) for p, d, _ in top] == sorted([
        ("tree/a.txt", False), ("tree/b.json", False), ("tree/blob.bin", False),
        ("tree/empty.txt", False), ("tree/nested", True), (f"tree/{UNICODE_NAME}", False),
    ])
    # A 0-byte file has no file_size on the wire from the stock server (proto default): None.
    sizes = {p: s or 0 for p, d, s in top if not d}
    for rel in ("a.txt", "b.json", "blob.bin", "empty.txt", UNICODE_NAME):
        assert sizes[f"tree/{rel}"] == len(files[rel]), rel

    nested = listing(client, run_id, "tree/nested")
    assert [(p, d) for p, d, _ in nested] == [
        ("tree/nested/c.txt", False), ("tree/nested/deeper", True), ("tree/nested/sp ace", True),
    ]
    assert nested[0][2] == len(files["nested/c.txt"])
    deeper = listing(client, run_id, "tree/nested/deeper")
    assert deeper == [("tree/nested/deeper/d.yaml", False, 11), ("tree/nested/deeper/e.txt", False, 7)]
    assert listing(client, run_id, "tree/nested/sp ace") == [("tree/nested/sp ace/f.csv", False, 8)]

    # The whole tree, then single files, byte for byte.
    whole = client.download_artifacts(run_id, "tree", new_dir(tmp_path, "dl-tree"))
    assert_same_tree(read_tree(whole), files)
    everything = client.download_artifacts(run_id, "", new_dir(tmp_path, "dl-root"))
    assert_same_tree(read_tree(Path(everything) / "tree"), files)
    for rel in ("blob.bin", UNICODE_NAME, "empty.txt", "nested/sp ace/f.csv"):
        local = client.download_artifacts(run_id, f"tree/{rel}", new_dir(tmp_path))
        assert Path(local).name == Path(rel).name
        assert Path(local).read_bytes() == files[rel], rel

    # The objects sit under <destination>/<exp>/<run>/artifacts/ with their own names.
    stored = artifact_server.stored_files(run_store_path(run))
    assert stored == {f"tree/{rel}": len(data) for rel, data in files.items()}


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_list_artifacts_of_a_file_or_missing_path_is_empty(artifact_server, tmp_path):
    client = artifact_server.client
    run_id = new_run(artifact_server).info.run_id
    assert client.list_artifacts(run_id) == []
    f = tmp_path / "one.txt"
    f.write_text("1")
    client.log_artifact(run_id, str(f), "dir")
    assert client.list_artifacts(run_id, "dir/one.txt") == []
    assert client.list_artifacts(run_id, "nope") == []
    assert client.list_artifacts(run_id, "dir/nope") == []
    assert listing(client, run_id, "dir") == [("dir/one.txt", False, 1)]


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_fluent_log_and_load(artifact_server, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    single = tmp_path / "single.bin"
    single.write_bytes(os.urandom(1000))
    exp = mlflow.set_experiment(unique_name("art-fluent"))
    with mlflow.start_run() as run:
        mlflow.log_text("hello wörld", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2], "c": {"d": "e"}}, "cfg/params.json")
        mlflow.log_dict({"y": 2}, "cfg/params.yaml")
        mlflow.log_artifacts(str(src), "tree")
        mlflow.log_artifact(str(single))
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp.experiment_id}/{run_id}/artifacts"

    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello wörld"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/cfg/params.json") == {
        "a": 1, "b": [1, 2], "c": {"d": "e"}}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/cfg/params.yaml").strip() == "y: 2"

    tree = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{run_id}/tree",
                                               dst_path=new_dir(tmp_path, "dl1"))
    assert_same_tree(read_tree(tree), files)
    one = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{run_id}/single.bin",
                                              dst_path=new_dir(tmp_path, "dl2"))
    assert Path(one).read_bytes() == single.read_bytes()
    # The mlflow-artifacts:/ URI itself works as well.
    direct = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/tree/{UNICODE_NAME}",
        dst_path=new_dir(tmp_path, "dl3"))
    assert Path(direct).read_bytes() == files[UNICODE_NAME]
    names = sorted(f.path for f in mlflow.MlflowClient().list_artifacts(run_id))
    assert names == ["cfg", "notes", "single.bin", "tree"]


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_logging_again_replaces_the_artifact(artifact_server, tmp_path):
    client = artifact_server.client
    run_id = new_run(artifact_server).info.run_id
    f = tmp_path / "same.txt"
    f.write_bytes(b"first version, longer than the second")
    client.log_artifact(run_id, str(f))
    f.write_bytes(b"second")
    client.log_artifact(run_id, str(f))
    assert listing(client, run_id) == [("same.txt", False, 6)]
    got = client.download_artifacts(run_id, "same.txt", new_dir(tmp_path, "dl"))
    assert Path(got).read_bytes() == b"second"


# ================================================================ multipart through the client


@pytest.fixture
def multipart_spy(monkeypatch):
    """Count the client's multipart calls (HttpArtifactRepository.create_multipart_upload,
    _upload_part, complete/abort) and make every file >= 1 byte go through multipart."""
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    calls = {"create": [], "parts": [], "complete": 0, "abort": 0}
    orig_create = HttpArtifactRepository.create_multipart_upload
    orig_complete = HttpArtifactRepository.complete_multipart_upload
    orig_abort = HttpArtifactRepository.abort_multipart_upload
    orig_part = HttpArtifactRepository._upload_part

    def create(self, local_file, num_parts=1, artifact_path=None):
        calls["create"].append(num_parts)
        return orig_create(self, local_file, num_parts, artifact_path)

    def complete(self, *args, **kwargs):
        calls["complete"] += 1
        return orig_complete(self, *args, **kwargs)

    def abort(self, *args, **kwargs):
        calls["abort"] += 1
        return orig_abort(self, *args, **kwargs)

    def upload_part(credential, local_file, size, start_byte):
        part = orig_part(credential=credential, local_file=local_file, size=size,
                         start_byte=start_byte)
        calls["parts"].append((credential.part_number, credential.url))
        return part

    monkeypatch.setattr(HttpArtifactRepository, "create_multipart_upload", create)
    monkeypatch.setattr(HttpArtifactRepository, "complete_multipart_upload", complete)
    monkeypatch.setattr(HttpArtifactRepository, "abort_multipart_upload", abort)
    monkeypatch.setattr(HttpArtifactRepository, "_upload_part", staticmethod(upload_part))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(PART_SIZE))
    return calls


def _log_big_file_and_check(srv, tmp_path, calls):
    client = srv.client
    run = new_run(srv)
    run_id = run.info.run_id
    data = os.urandom(12 * MiB + 4321)  # 3 parts of 5 MiB
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    client.log_artifact(run_id, str(big), "models")

    assert calls["create"] == [3], calls
    assert sorted(n for n, _ in calls["parts"]) == [1, 2, 3], calls
    assert calls["complete"] == 1 and calls["abort"] == 0, calls
    # (listed over raw HTTP: the 3.x client's list_artifacts(run_id, path) also searches
    # logged models, which test_log_artifacts_tree_list_and_download covers)
    assert list_raw(srv, f"{run_store_path(run)}/models").json() == {
        "files": [{"path": "big.bin", "is_dir": False, "file_size": len(data)}]}
    got = client.download_artifacts(run_id, "models/big.bin", new_dir(tmp_path, "dl"))
    assert Path(got).read_bytes() == data
    assert srv.stored_files(run_store_path(run)) == {"models/big.bin": len(data)}


# The stock server's local repository has no multipart support (mpu/create answers 501 and
# the client falls back to a single PUT).
@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("local",)), indirect=True)
def test_client_multipart_upload_with_env_flag(artifact_server, tmp_path, monkeypatch, multipart_spy):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    _log_big_file_and_check(artifact_server, tmp_path, multipart_spy)


@pytest.mark.parametrize("artifact_server", ["s3"], indirect=True)
def test_client_multipart_upload_from_server_info(artifact_server, tmp_path, monkeypatch, multipart_spy):
    """The 3.x client turns multipart on by itself when /server-info says the server supports it
    (for buckets; see test_local_destination_offers_single_uploads)."""
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    if not hasattr(MlflowArtifactsRepository, "_fetch_server_capabilities"):
        pytest.skip("this client only uploads in parts with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD")
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    info = requests.get(artifact_server.url + "/api/3.0/mlflow/server-info", timeout=30)
    assert info.status_code == 200, info.text
    assert info.json().get("multipart_uploads_enabled") is True, info.json()
    _log_big_file_and_check(artifact_server, tmp_path, multipart_spy)


@pytest.mark.parametrize("artifact_server", ["local"], indirect=True)
def test_local_destination_offers_single_uploads(artifact_server, tmp_path, monkeypatch, multipart_spy):
    """On local disk one streamed PUT beats parts, so (as in stock MLflow) server-info offers no
    multipart uploads and the client sends large files whole."""
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    info = requests.get(artifact_server.url + "/api/3.0/mlflow/server-info", timeout=30).json()
    assert info.get("multipart_uploads_enabled", False) is False, info
    srv = artifact_server
    run = new_run(srv)
    data = os.urandom(6 * MiB + 17)
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    srv.client.log_artifact(run.info.run_id, str(big), "models")
    assert multipart_spy["create"] == [] and multipart_spy["parts"] == [], multipart_spy
    got = srv.client.download_artifacts(run.info.run_id, "models/big.bin", new_dir(tmp_path, "dl"))
    assert Path(got).read_bytes() == data


# The stock server offers presigned downloads for S3 destinations.
@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
def test_server_info_offers_no_multipart_download(artifact_server):
    """Presigned downloads are not offered (501), so server-info must not advertise them."""
    info = requests.get(artifact_server.url + "/api/3.0/mlflow/server-info", timeout=30).json()
    assert info.get("multipart_downloads_enabled", False) is False, info
    resp = requests.get(f"{artifact_server.api}/presigned/x/y.bin", timeout=30)
    assert_json_error(resp, 501, "NOT_IMPLEMENTED")


# ================================================================ multipart over raw HTTP


def mpu_create(srv, directory, filename, num_parts):
    return requests.post(f"{srv.api}/mpu/create/{quote_path(directory)}",
                         json={"path": f"/client/side/{filename}", "num_parts": num_parts},
                         timeout=60)


def mpu_complete(srv, directory, filename, upload_id, parts):
    return requests.post(f"{srv.api}/mpu/complete/{quote_path(directory)}",
                         json={"path": filename, "upload_id": upload_id, "parts": parts},
                         timeout=120)


def mpu_abort(srv, directory, filename, upload_id):
    return requests.post(f"{srv.api}/mpu/abort/{quote_path(directory)}",
                         json={"path": filename, "upload_id": upload_id}, timeout=60)


def mpu_put_parts(created, data, numbers=None):
    """PUT the parts (1-based `numbers`, default all) to the credential urls -> completed part list."""
    parts = []
    for cred in created["credentials"]:
        n = cred["part_number"]
        if numbers is not None and n not in numbers:
            continue
        chunk = data[(n - 1) * PART_SIZE:n * PART_SIZE]
        resp = requests.put(cred["url"], data=chunk, headers=cred.get("headers") or {}, timeout=120)
        assert resp.status_code == 200, f"part {n}: {resp.status_code} {resp.text[:300]}"
        parts.append({"part_number": n, "etag": resp.headers.get("ETag", ""), "url": cred["url"]})
    return parts


def _created(srv, directory, filename, num_parts):
    resp = mpu_create(srv, directory, filename, num_parts)
    assert resp.status_code == 200, resp.text[:500]
    body = resp.json()
    assert isinstance(body.get("upload_id"), str) and body["upload_id"], body
    creds = body["credentials"]
    assert sorted(c["part_number"] for c in creds) == list(range(1, num_parts + 1)), body
    assert all(isinstance(c["url"], str) and c["url"].startswith("http") for c in creds), body
    return body


def _no_pending_s3_uploads(srv, directory):
    if srv.kind == "s3":
        assert srv.s3_pending_uploads(f"{srv.prefix}/{directory}/") == []


RAW_MPU = destinations(ferroflow_only=("local",))  # stock: no multipart for local destinations


@pytest.mark.parametrize("artifact_server", RAW_MPU, indirect=True)
def test_raw_multipart_create_upload_complete(artifact_server):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    data = os.urandom(2 * PART_SIZE + 1000)
    before = srv.store_snapshot()
    created = _created(srv, directory, "big.bin", 3)
    parts = mpu_put_parts(created, data)
    resp = mpu_complete(srv, directory, "big.bin", created["upload_id"], parts)
    assert resp.status_code == 200, resp.text[:500]
    assert resp.json() == {}
    # Nothing but the object itself is left in the store (no staged parts).
    key = f"{directory}/big.bin" if srv.kind == "local" else f"{srv.prefix}/{directory}/big.bin"
    assert srv.store_snapshot() == {**before, key: len(data)}

    got = get(srv, f"{directory}/big.bin")
    assert got.status_code == 200
    assert got.content == data
    assert list_raw(srv, directory).json() == {
        "files": [{"path": "big.bin", "is_dir": False, "file_size": len(data)}]}
    assert srv.stored_files(directory) == {"big.bin": len(data)}
    _no_pending_s3_uploads(srv, directory)


@pytest.mark.parametrize("artifact_server", RAW_MPU, indirect=True)
def test_raw_multipart_single_small_part(artifact_server):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    created = _created(srv, directory, "small.txt", 1)
    parts = mpu_put_parts(created, b"tiny")
    resp = mpu_complete(srv, directory, "small.txt", created["upload_id"], parts)
    assert resp.status_code == 200, resp.text[:500]
    assert get(srv, f"{directory}/small.txt").content == b"tiny"


@pytest.mark.parametrize("artifact_server", RAW_MPU, indirect=True)
def test_raw_multipart_in_progress_upload_is_invisible(artifact_server):
    """Staged parts never show up in listings (of the directory or of the root)."""
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    root_before = list_raw(srv, "").json()
    created = _created(srv, directory, "big.bin", 2)
    mpu_put_parts(created, os.urandom(PART_SIZE + 5), numbers={1})
    assert list_raw(srv, directory).json() == {}
    assert list_raw(srv, "").json() == root_before
    assert get(srv, f"{directory}/big.bin").status_code != 200
    mpu_abort(srv, directory, "big.bin", created["upload_id"])


@pytest.mark.parametrize("artifact_server", RAW_MPU, indirect=True)
def test_raw_multipart_abort_leaves_nothing(artifact_server):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    data = os.urandom(2 * PART_SIZE + 10)
    before = srv.store_snapshot()
    created = _created(srv, directory, "big.bin", 3)
    mpu_put_parts(created, data, numbers={1, 2})
    resp = mpu_abort(srv, directory, "big.bin", created["upload_id"])
    assert resp.status_code == 200, resp.text[:500]
    assert srv.store_snapshot() == before
    assert get(srv, f"{directory}/big.bin").status_code != 200
    assert list_raw(srv, directory).json() == {}
    assert srv.stored_files(directory) == {}
    _no_pending_s3_uploads(srv, directory)


@pytest.mark.ferroflow_only  # stock: no multipart for local destinations; moto completes anyway
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
# A complete list in another order is accepted (the parts are sorted), so it is not among these.
@pytest.mark.parametrize("order", [[1, 3], [1, 2], [1, 2, 3, 4], [1, 1, 2, 3]],
                         ids=["missing-middle", "missing-last", "extra", "duplicate"])
def test_raw_multipart_complete_with_bad_part_list_is_400(artifact_server, order):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    data = os.urandom(2 * PART_SIZE + 10)
    created = _created(srv, directory, "big.bin", 3)
    parts = {p["part_number"]: p for p in mpu_put_parts(created, data)}
    bad = [dict(parts[n]) if n in parts else {"part_number": n, "etag": "x", "url": parts[1]["url"]}
           for n in order]
    resp = mpu_complete(srv, directory, "big.bin", created["upload_id"], bad)
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert get(srv, f"{directory}/big.bin").status_code != 200
    assert "big.bin" not in srv.stored_files(directory)
    mpu_abort(srv, directory, "big.bin", created["upload_id"])


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_raw_multipart_credentials_point_at_the_server(artifact_server):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    created = _created(srv, directory, "x.bin", 2)
    for cred in created["credentials"]:
        assert cred["url"].startswith(srv.url + "/"), cred
    mpu_abort(srv, directory, "x.bin", created["upload_id"])


BAD_UPLOAD_IDS = ["..", "../..", "../../..", "../../../../../../../../tmp", "./.", "/tmp", "a/../..",
                  "..%2F..", "%2e%2e", "x\\..\\..", "0" * 32, ""]


def _tamper(url, **changes):
    """The credential url with query parameters replaced (values sent verbatim)."""
    base, _, query = url.partition("?")
    pairs = [kv.split("=", 1) for kv in query.split("&") if kv]
    seen = set()
    out = []
    for k, v in pairs:
        if k in changes:
            v = changes[k]
            seen.add(k)
        out.append(f"{k}={v}")
    out += [f"{k}={v}" for k, v in changes.items() if k not in seen]
    return f"{base}?{'&'.join(out)}"


@pytest.mark.ferroflow_only  # the part urls are ferroflow's own (stock hands out S3 presigned urls)
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_raw_multipart_tampered_part_urls_refused(artifact_server, tmp_path):
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    created = _created(srv, directory, "big.bin", 2)
    url = created["credentials"][0]["url"]
    tampered = [_tamper(url, upload_id=quote(bad, safe="%")) for bad in BAD_UPLOAD_IDS]
    tampered += [_tamper(url, part_number=n) for n in ("0", "-1", "3", "99999", "..%2F1", "1.5", "")]
    split = urlsplit(url)
    if f"/{directory}/" in split.path:
        for evil in ("..", "../..", "%2e%2e", "%2e%2e/%2e%2e"):
            tampered.append(url.replace(f"/{directory}/", f"/{directory}/{evil}/", 1))
            tampered.append(url.replace(f"/{directory}/", f"/{evil}/", 1))
    with _Guard(srv, tmp_path) as guard:
        accepted = []
        for bad_url in tampered:
            u = urlsplit(bad_url)
            resp = raw_request(f"{u.scheme}://{u.netloc}", "PUT", f"{u.path}?{u.query}", body=b"pwned")
            if resp.status not in (400, 403, 404):
                accepted.append(f"PUT {u.path}?{u.query} -> {resp}")
        guard.check()
        assert not accepted, "\n".join(accepted)
    mpu_abort(srv, directory, "big.bin", created["upload_id"])


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("route", ["complete", "abort"])
def test_raw_multipart_bad_upload_id_refused(artifact_server, tmp_path, route):
    """An upload id is an opaque token: never a path, never someone else's upload."""
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    data = os.urandom(PART_SIZE + 10)
    created = _created(srv, directory, "big.bin", 2)
    parts = mpu_put_parts(created, data)
    with _Guard(srv, tmp_path) as guard:
        accepted = []
        for bad in BAD_UPLOAD_IDS:
            if route == "complete":
                resp = mpu_complete(srv, directory, "big.bin", bad, parts)
            else:
                resp = mpu_abort(srv, directory, "big.bin", bad)
            if resp.status_code not in (400, 403, 404):
                accepted.append(f"upload_id={bad!r} -> {resp.status_code} {resp.text[:200]}")
        guard.check()
        assert not accepted, "\n".join(accepted)
    # The real upload is still intact and completes.
    resp = mpu_complete(srv, directory, "big.bin", created["upload_id"], parts)
    assert resp.status_code == 200, resp.text[:300]
    assert get(srv, f"{directory}/big.bin").content == data


@pytest.mark.ferroflow_only
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_raw_multipart_upload_id_bound_to_its_path(artifact_server):
    """Completing an upload under another directory or file name is refused."""
    srv = artifact_server
    directory = f"raw-mpu/{uid()}"
    data = os.urandom(100)
    created = _created(srv, directory, "a.bin", 1)
    parts = mpu_put_parts(created, data)
    elsewhere = f"raw-mpu/{uid()}"
    other = mpu_complete(srv, elsewhere, "a.bin", created["upload_id"], parts)
    renamed = mpu_complete(srv, directory, "b.bin", created["upload_id"], parts)
    assert (other.status_code, renamed.status_code) in itertools.product((400, 404), repeat=2), (
        f"other dir: {other.status_code} {other.text[:200]}; "
        f"other name: {renamed.status_code} {renamed.text[:200]}; "
        f"stored: {srv.stored_files(elsewhere)} {srv.stored_files(directory)}")
    assert srv.stored_files(directory) == {}
    resp = mpu_complete(srv, directory, "a.bin", created["upload_id"], parts)
    assert resp.status_code == 200, resp.text[:300]
    assert get(srv, f"{directory}/a.bin").content == data


# ================================================================ raw HTTP


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("prefix", ["/api/2.0", "/ajax-api/2.0"])
def test_raw_put_get_list_delete_round_trip(artifact_server, prefix):
    srv = artifact_server
    directory = f"raw/{uid()}"
    data = os.urandom(3 * MiB + 7)
    assert_put_ok(put(srv, f"{directory}/sub/data.bin", data, prefix))
    assert_put_ok(put(srv, f"{directory}/note.txt", b"note", prefix))

    got = get(srv, f"{directory}/sub/data.bin", prefix)
    assert got.status_code == 200
    assert got.content == data
    files = list_raw(srv, directory, prefix).json()["files"]
    assert [(f["path"], f["is_dir"]) for f in files] == [("note.txt", False), ("sub", True)]
    assert files[0]["file_size"] == 4
    assert srv.stored_files(directory) == {"sub/data.bin": len(data), "note.txt": 4}

    resp = requests.delete(f"{srv.url}{prefix}/mlflow-artifacts/artifacts/{directory}/sub/data.bin",
                           timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    assert get(srv, f"{directory}/sub/data.bin", prefix).status_code != 200
    assert srv.stored_files(directory) == {"note.txt": 4}

    resp = requests.delete(f"{srv.url}{prefix}/mlflow-artifacts/artifacts/{directory}", timeout=60)
    assert resp.status_code == 200, resp.text
    assert list_raw(srv, directory, prefix).json() == {}
    assert srv.stored_files(directory) == {}


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_raw_put_empty_body_and_unicode_name(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/empty.txt", b""))
    assert_put_ok(put(srv, f"{directory}/{UNICODE_NAME}", "ünï".encode()))
    assert get(srv, f"{directory}/empty.txt").content == b""
    assert get(srv, f"{directory}/{UNICODE_NAME}").content == "ünï".encode()
    files = {f["path"]: f for f in list_raw(srv, directory).json()["files"]}
    assert files["empty.txt"]["is_dir"] is False
    assert int(files["empty.txt"].get("file_size", 0)) == 0
    assert int(files[UNICODE_NAME]["file_size"]) == len("ünï".encode())
    assert srv.stored_files(directory) == {"empty.txt": 0, UNICODE_NAME: len("ünï".encode())}


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("name,media_type", [
    ("data.json", "text/plain"),
    ("notes.txt", "text/plain"),
    ("blob.bin", "application/octet-stream"),
    ("noext", "application/octet-stream"),
    ("MLmodel", "text/plain"),
    ("image.png", "image/png"),
    ("page.html", "text/html"),
])
def test_download_content_type_and_disposition(artifact_server, name, media_type):
    srv = artifact_server
    path = f"raw/{uid()}/{name}"
    assert_put_ok(put(srv, path, b"<b>content</b>"))
    resp = get(srv, path)
    assert resp.status_code == 200
    assert resp.content == b"<b>content</b>"
    assert resp.headers["Content-Type"].split(";")[0].strip() == media_type
    kind, filename, _ = content_disposition_filename(resp.headers["Content-Disposition"])
    assert kind == "attachment"
    assert filename == name


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_download_unicode_name_disposition(artifact_server):
    srv = artifact_server
    path = f"raw/{uid()}/{UNICODE_NAME}"
    assert_put_ok(put(srv, path, b"x"))
    resp = get(srv, path)
    assert resp.status_code == 200
    kind, filename, star = content_disposition_filename(resp.headers["Content-Disposition"])
    assert kind == "attachment"
    assert star == UNICODE_NAME
    assert filename and filename.isascii()


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_download_is_nosniff(artifact_server):
    srv = artifact_server
    path = f"raw/{uid()}/page.html"
    assert_put_ok(put(srv, path, b"<script>alert(1)</script>"))
    resp = get(srv, path)
    assert resp.status_code == 200
    assert resp.headers.get("X-Content-Type-Options", "").lower() == "nosniff"


# The stock server downloads S3 objects to a temporary file and ignores Range there.
@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
@pytest.mark.parametrize("range_header,start,stop", [
    ("bytes=10-19", 10, 20),
    ("bytes=1000-", 1000, None),
    ("bytes=-16", -16, None),
    ("bytes=0-0", 0, 1),
    ("bytes=2000-999999", 2000, None),
])
def test_download_range(artifact_server, range_header, start, stop):
    srv = artifact_server
    data = os.urandom(2048)
    path = f"raw/{uid()}/range.bin"
    assert_put_ok(put(srv, path, data))
    resp = get(srv, path, headers={"Range": range_header})
    assert resp.status_code == 206, (resp.status_code, resp.headers)
    want = data[start:stop]
    assert resp.content == want
    first = start if start >= 0 else len(data) + start
    assert resp.headers["Content-Range"] == f"bytes {first}-{first + len(want) - 1}/{len(data)}"
    assert int(resp.headers["Content-Length"]) == len(want)


@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
def test_download_unsatisfiable_range_is_416(artifact_server):
    srv = artifact_server
    path = f"raw/{uid()}/range.bin"
    assert_put_ok(put(srv, path, b"0123456789"))
    resp = get(srv, path, headers={"Range": "bytes=100-200"})
    assert resp.status_code == 416, (resp.status_code, resp.content[:200])


# Stock with an S3 destination answers 500 INTERNAL_ERROR for a missing object.
@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
def test_download_missing_is_404(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/present.txt", b"x"))
    for path in (f"{directory}/absent.txt", f"{uid()}/absent.txt"):
        resp = get(srv, path)
        assert_json_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


# Stock with an S3 destination answers 200 and an empty body for a "directory".
@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
def test_download_directory_is_400(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/sub/file.txt", b"x"))
    for path in (directory, f"{directory}/sub"):
        resp = get(srv, path)
        assert resp.status_code == 400, (path, resp.status_code, resp.content[:200])


@pytest.mark.ferroflow_only  # stock answers {"detail": ...} (no error_code) for a local directory
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_download_directory_error_body(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/sub/file.txt", b"x"))
    assert_json_error(get(srv, f"{directory}/sub"), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_list_file_or_missing_path_is_empty_object(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/file.txt", b"abc"))
    for path in (f"{directory}/file.txt", f"{directory}/missing", f"{uid()}"):
        resp = list_raw(srv, path)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {}, (path, resp.text)


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_paths_below_a_file_or_missing(artifact_server):
    """A path that continues below an existing file behaves like any missing path."""
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/file.txt", b"abc"))
    for path in (f"{directory}/file.txt/below", f"{directory}/file.txt/below/deeper.txt",
                 f"{directory}/missing/x.txt"):
        assert get(srv, path).status_code != 200, path
        resp = list_raw(srv, path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        assert resp.json() == {}, (path, resp.text)
        resp = delete(srv, path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
    assert srv.stored_files(directory) == {"file.txt": 3}


@pytest.mark.parametrize("artifact_server", destinations(ferroflow_only=("s3",)), indirect=True)
def test_get_below_a_file_is_404(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/file.txt", b"abc"))
    assert_json_error(get(srv, f"{directory}/file.txt/below"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.ferroflow_only  # stock answers 500: it cannot create the directory
def test_put_below_a_file_is_refused(server, artifacts_root):
    """Local destination only: in S3 `a` and `a/b` can both be objects."""
    srv = ArtifactServer("local", server, root=artifacts_root)
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/file.txt", b"abc"))
    resp = put(srv, f"{directory}/file.txt/below.txt", b"x")
    assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert srv.stored_files(directory) == {"file.txt": 3}


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_list_shape(artifact_server):
    srv = artifact_server
    directory = f"raw/{uid()}"
    assert_put_ok(put(srv, f"{directory}/b.txt", b"bb"))
    assert_put_ok(put(srv, f"{directory}/a/deep/x.txt", b"x"))
    assert_put_ok(put(srv, f"{directory}/c.bin", os.urandom(1234)))
    resp = list_raw(srv, directory)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    files = resp.json()["files"]
    assert sorted(f["path"] for f in files) == ["a", "b.txt", "c.bin"]
    by_name = {f["path"]: f for f in files}
    assert by_name["a"]["is_dir"] is True
    assert by_name["b.txt"] == {"path": "b.txt", "is_dir": False, "file_size": 2}
    assert by_name["c.bin"] == {"path": "c.bin", "is_dir": False, "file_size": 1234}
    # Only direct children, by base name.
    deep = list_raw(srv, f"{directory}/a").json()["files"]
    assert [(f["path"], f["is_dir"]) for f in deep] == [("deep", True)]


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_delete_does_not_touch_sibling_with_same_prefix(artifact_server):
    srv = artifact_server
    top = f"del/{uid()}"
    for path in ("1/abc/f.txt", "1/abc/sub/g.txt", "1/abcdef/f.txt", "1/abc.txt", "1/ab/f.txt"):
        assert_put_ok(put(srv, f"{top}/{path}", path.encode()))
    resp = delete(srv, f"{top}/1/abc")
    assert resp.status_code == 200, resp.text
    assert srv.stored_files(top) == {"1/abcdef/f.txt": 14, "1/abc.txt": 9, "1/ab/f.txt": 10}
    assert get(srv, f"{top}/1/abcdef/f.txt").content == b"1/abcdef/f.txt"
    assert sorted(f["path"] for f in list_raw(srv, f"{top}/1").json()["files"]) == [
        "ab", "abc.txt", "abcdef"]


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_delete_run_artifacts_keeps_run_with_prefixed_id(artifact_server):
    """Deleting run `abc`'s artifact directory leaves run `abcdef` (same experiment) alone."""
    srv = artifact_server
    exp = uid()
    for run_id in ("abc", "abcdef"):
        assert_put_ok(put(srv, f"{exp}/{run_id}/artifacts/model.txt", run_id.encode()))
    resp = delete(srv, f"{exp}/abc")
    assert resp.status_code == 200, resp.text
    assert srv.stored_files(exp) == {"abcdef/artifacts/model.txt": 6}


# ================================================================ path safety

CANARY = b"canary: must stay untouched\n"
ALL_METHODS = frozenset({"GET", "PUT", "DELETE"})

# (id, path after /artifacts/, methods the stock server refuses with 400).  {canary} is a
# file name in the directory above a local destination, {abs} its absolute path.
TRAVERSALS = [
    ("dotdot", "../{canary}", ALL_METHODS),
    ("nested-dotdot", "sub/../../{canary}", ALL_METHODS),
    ("deep-dotdot", "../../../../../../../../{abs_rel}", ALL_METHODS),
    ("encoded-dotdot", "%2e%2e/{canary}", ALL_METHODS),
    ("encoded-dotdot-upper", "%2E%2E/{canary}", ALL_METHODS),
    ("double-encoded-dotdot", "%252e%252e/{canary}", ALL_METHODS),
    ("double-encoded-slash", "..%252f{canary}", ALL_METHODS),
    ("encoded-slash", "..%2f{canary}", ALL_METHODS),
    ("all-encoded", "%2e%2e%2f{canary}", ALL_METHODS),
    ("encoded-absolute", "%2F{abs_enc}", {"GET", "PUT"}),  # stock: DELETE -> 308 redirect
    ("double-slash-absolute", "/{abs}", {"GET", "PUT"}),  # stock: DELETE -> 308 redirect
    ("backslash", "..\\{canary}", set()),  # stock (on Linux) stores a file named '..\<canary>'
    ("encoded-backslash", "..%5c{canary}", set()),
    ("backslash-nested", "sub\\..\\..\\{canary}", set()),
    ("nul", "nul%00.txt", set()),  # stock stores a file named 'nul%00.txt'
    ("nul-dotdot", "..%00/{canary}", set()),
    ("control-char", "ctl%01.txt", set()),
    ("drive-slash", "C:/{canary}", ALL_METHODS),
    ("drive-backslash", "C:%5C{canary}", ALL_METHODS),
    ("drive-relative", "C:{canary}", set()),
]


def _traversal_params():
    params = []
    for (case_id, template, stock_refuses), method in itertools.product(
            TRAVERSALS, ("GET", "PUT", "DELETE")):
        marks = [] if method in stock_refuses else [pytest.mark.ferroflow_only]
        params.append(pytest.param(method, template, marks=marks, id=f"{method}-{case_id}"))
    return params


class _Guard:
    """A canary outside the destination, plus snapshots of everything the server could touch."""

    def __init__(self, srv, tmp_path):
        self.srv = srv
        self.name = f"canary-{uid()}.txt"
        # For a local destination the canary sits right above the destination root, where
        # `../<name>` leads; for S3 any file outside will do (absolute-path payloads).
        outside_dir = srv.root.parent if srv.kind == "local" else tmp_path
        self.canary = outside_dir / self.name
        self.canary.write_bytes(CANARY)
        self.outside_dir = outside_dir

    def substitute(self, template):
        abs_path = str(self.canary)
        return template.format(canary=self.name, abs=abs_path.lstrip("/"),
                               abs_rel=abs_path.lstrip("/"),
                               abs_enc=quote(abs_path.lstrip("/"), safe=""))

    def _outside(self):
        found = {}
        root = self.srv.root
        for dirpath, dirs, files in os.walk(self.outside_dir):
            if root is not None and Path(dirpath) == root.parent:
                dirs[:] = [d for d in dirs if Path(dirpath, d) != root]
            for name in files:
                if name.startswith(("mlflow.db", "server.log")):
                    continue
                p = Path(dirpath, name)
                found[str(p)] = p.read_bytes() if p.stat().st_size < MiB else p.stat().st_size
        return found

    def __enter__(self):
        self.store_before = self.srv.store_snapshot()
        self.outside_before = self._outside()
        return self

    def check(self):
        assert self.canary.read_bytes() == CANARY, "the canary outside the destination changed"
        assert self._outside() == self.outside_before, "files outside the destination changed"
        assert self.srv.store_snapshot() == self.store_before, "the artifact store changed"

    def __exit__(self, *exc):
        if self.canary.exists():
            self.canary.unlink()
        return False


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("method,template", _traversal_params())
def test_traversal_refused(artifact_server, tmp_path, method, template):
    srv = artifact_server
    with _Guard(srv, tmp_path) as guard:
        path = guard.substitute(template)
        url = f"{ARTIFACTS_API}/artifacts/{path}"
        resp = srv.raw(method, url, body=b"pwned" if method == "PUT" else None)
        assert_refused(resp, f"{method} {url}")
        assert CANARY not in resp.body
        guard.check()


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("path", [
    "//etc/passwd",
    "/%2Fetc/passwd",
    "%2Fetc%2Fpasswd",
    "../../../../../../../../../../etc/passwd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
])
def test_get_etc_passwd_refused(artifact_server, path):
    url = f"{ARTIFACTS_API}/artifacts/{path}"
    resp = artifact_server.raw("GET", url)
    assert_refused(resp, f"GET {url}")
    assert b"root:" not in resp.body


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("query", [
    "..",
    "../..",
    "sub/../..",
    "..%2F..",
    "%2e%2e",
    "%252e%252e",
    "/etc",
    "%2Fetc",
    "//etc",
    "C:/x",
    "C:%5Cx",
    pytest.param("..%5C..", marks=pytest.mark.ferroflow_only),  # stock: 200 {}
    pytest.param("x%00", marks=pytest.mark.ferroflow_only),  # stock: 200 {}
    pytest.param("C:x", marks=pytest.mark.ferroflow_only),  # stock: 200 {}
])
def test_list_traversal_refused(artifact_server, query):
    url = f"{ARTIFACTS_API}/artifacts?path={query}"
    resp = artifact_server.raw("GET", url)
    assert_refused(resp, f"GET {url}")
    assert b"mlflow.db" not in resp.body and b"passwd" not in resp.body


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
@pytest.mark.parametrize("route", ["create", "complete", "abort"])
@pytest.mark.parametrize("path", [
    "../x",
    "sub/../../x",
    "%2e%2e/x",
    "%252e%252e/x",
    "..%2fx",
    "C:/x",
    pytest.param("%2Fetc", marks=pytest.mark.ferroflow_only),  # stock: 308 redirect
    pytest.param("/etc", marks=pytest.mark.ferroflow_only),  # stock: 308 redirect
    pytest.param("..%5cx", marks=pytest.mark.ferroflow_only),  # stock: accepted
    pytest.param("x%00", marks=pytest.mark.ferroflow_only),  # stock: accepted
    pytest.param("C:x", marks=pytest.mark.ferroflow_only),  # stock: accepted
])
def test_multipart_traversal_refused(artifact_server, tmp_path, route, path):
    srv = artifact_server
    body = {"path": "f.bin", "num_parts": 1}
    if route != "create":
        body = {"path": "f.bin", "upload_id": "bogus"}
    if route == "complete":
        body["parts"] = [{"part_number": 1, "etag": "x", "url": "http://x"}]
    with _Guard(srv, tmp_path) as guard:
        url = f"{ARTIFACTS_API}/mpu/{route}/{path}"
        resp = srv.raw("POST", url, body=json.dumps(body).encode(),
                       headers={"Content-Type": "application/json"})
        assert_refused(resp, f"POST {url}")
        guard.check()
        if srv.kind == "s3":
            pending = srv.s3_pending_uploads("")
            assert all(k.startswith(f"{srv.prefix}/") for k in pending), pending


# ---------------------------------------------------------------- symlinks (local destination)


@pytest.fixture
def escape_links(artifacts_root):
    """Inside the local destination: a directory symlink and a file symlink leading outside it."""
    tag = uid()
    outside = artifacts_root.parent / f"outside-{tag}"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_bytes(CANARY)
    dir_link = artifacts_root / f"dirlink-{tag}"
    file_link = artifacts_root / f"filelink-{tag}.txt"
    dir_link.symlink_to(outside, target_is_directory=True)
    file_link.symlink_to(secret)
    links = dict(outside=outside, secret=secret, dir=dir_link.name, file=file_link.name)
    yield links
    for link in (dir_link, file_link):
        if link.is_symlink():
            link.unlink()
    for p in sorted(outside.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() else p.rmdir()
    outside.rmdir()


def _assert_outside_untouched(links):
    assert links["secret"].read_bytes() == CANARY
    assert sorted(p.name for p in links["outside"].iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("method,target", [
    ("GET", "{dir}/secret.txt"),
    ("GET", "{file}"),
    ("PUT", "{dir}/new.txt"),
    ("PUT", "{dir}/secret.txt"),
    ("PUT", "{dir}/sub/new.txt"),
    ("PUT", "{file}"),
    ("LIST", "{dir}"),
    pytest.param("DELETE", "{dir}/secret.txt", marks=pytest.mark.ferroflow_only),  # stock deletes it
    pytest.param("MPU", "{dir}", marks=pytest.mark.ferroflow_only),  # stock: no local multipart
])
def test_symlink_escape_refused(server, escape_links, method, target):
    path = target.format(**escape_links)
    if method == "LIST":
        url = f"{ARTIFACTS_API}/artifacts?path={quote(path)}"
        resp = raw_request(server, "GET", url)
    elif method == "MPU":
        url = f"{ARTIFACTS_API}/mpu/create/{quote(path)}"
        resp = raw_request(server, "POST", url, body=b'{"path": "new.bin", "num_parts": 1}',
                           headers={"Content-Type": "application/json"})
    else:
        url = f"{ARTIFACTS_API}/artifacts/{quote(path)}"
        resp = raw_request(server, method, url, body=b"pwned" if method == "PUT" else None)
    assert_refused(resp, f"{method} {url}")
    assert CANARY not in resp.body
    if method == "LIST":
        assert b"secret.txt" not in resp.body
    _assert_outside_untouched(escape_links)


@pytest.mark.parametrize("target", ["{dir}", "{file}"])
def test_symlink_delete_never_reaches_outside(server, escape_links, target):
    """Deleting the link itself may be refused or remove the link, never what it points to."""
    path = target.format(**escape_links)
    raw_request(server, "DELETE", f"{ARTIFACTS_API}/artifacts/{quote(path)}")
    _assert_outside_untouched(escape_links)


# ================================================================ experiment artifact locations


def _create_experiment(srv, location):
    name = unique_name("loc")
    resp = requests.post(f"{srv.tracking_api}/experiments/create",
                         json={"name": name, "artifact_location": location}, timeout=60)
    return name, resp


def _outside_locations(srv):
    locations = ["/etc", "file:///tmp/x", "s3://other-bucket/x", "mlflow-artifacts://otherhost/x",
                 "gs://other-bucket/x"]
    if srv.kind == "local":
        root = str(srv.root)
        locations += [f"{root}-evil/x", f"file://{root}-evil/x", f"{root}/../x",
                      f"file://{srv.root.parent}"]
    else:
        locations += [f"s3://{srv.bucket}-evil/{srv.prefix}/x", f"s3://{srv.bucket}/{srv.prefix}-evil/x",
                      f"s3://{srv.bucket}/x", f"s3://{srv.bucket}/{srv.prefix}/../x"]
    return locations


@pytest.mark.ferroflow_only  # stock accepts any artifact_location
@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_experiment_artifact_location_outside_roots_rejected(artifact_server):
    srv = artifact_server
    for location in _outside_locations(srv):
        name, resp = _create_experiment(srv, location)
        assert resp.status_code == 400, (location, resp.status_code, resp.text[:300])
        assert_json_error(resp, 400, "INVALID_PARAMETER_VALUE")
        assert srv.client.get_experiment_by_name(name) is None, location


@pytest.mark.parametrize("artifact_server", destinations(), indirect=True)
def test_experiment_artifact_location_inside_roots_accepted(artifact_server, tmp_path):
    srv = artifact_server
    custom = f"custom-{uid()}"
    name, resp = _create_experiment(srv, f"mlflow-artifacts:/{custom}")
    assert resp.status_code == 200, resp.text
    exp_id = resp.json()["experiment_id"]
    assert srv.client.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/{custom}"
    run = srv.client.create_run(exp_id)
    assert run.info.artifact_uri == f"mlflow-artifacts:/{custom}/{run.info.run_id}/artifacts"
    f = tmp_path / "in-custom.txt"
    f.write_text("custom")
    srv.client.log_artifact(run.info.run_id, str(f))
    assert listing(srv.client, run.info.run_id) == [("in-custom.txt", False, 6)]
    assert srv.stored_files(custom) == {f"{run.info.run_id}/artifacts/in-custom.txt": 6}

    if srv.kind == "local":
        inside = [f"{srv.root}/sub-{uid()}", f"file://{srv.root}/sub-{uid()}"]
    else:
        inside = [f"s3://{srv.bucket}/{srv.prefix}/sub-{uid()}"]
    for location in inside:
        name, resp = _create_experiment(srv, location)
        assert resp.status_code == 200, (location, resp.text[:300])
        assert srv.client.get_experiment_by_name(name) is not None

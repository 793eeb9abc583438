"""Small helpers shared by the compatibility tests."""

import http.client
import json
import math
import os
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

# The largest finite double: the stock SQL store saves +/-inf as +/-this value.
DBL_MAX = 1.7976931348623157e308


def unique_name(prefix="exp"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def now_ms():
    return int(time.time() * 1000)


def is_pos_inf(v):
    return (math.isinf(v) and v > 0) or v >= 1.79e308


def is_neg_inf(v):
    return (math.isinf(v) and v < 0) or v <= -1.79e308


def expect_mlflow_error(code):
    """Context manager: the block must raise MlflowException with this error_code."""
    return _ErrorCode(code)


class _ErrorCode:
    def __init__(self, code):
        self.code = code
        self._ctx = pytest.raises(MlflowException)

    def __enter__(self):
        self.info = self._ctx.__enter__()
        return self.info

    def __exit__(self, *exc):
        suppressed = self._ctx.__exit__(*exc)
        if suppressed:
            actual = self.info.value.error_code
            assert actual == self.code, (
                f"expected error_code {self.code}, got {actual}: {self.info.value}"
            )
        return suppressed


def post(api_url, path, body=None, **kwargs):
    """POST a JSON body to <api_url>/<path> (path without leading slash)."""
    return requests.post(f"{api_url}/{path}", json=body if body is not None else {}, timeout=60, **kwargs)


def get(api_url, path, params=None, **kwargs):
    return requests.get(f"{api_url}/{path}", params=params, timeout=60, **kwargs)


def assert_json_error(resp, status, code=None):
    """The response is an MLflow JSON error with this HTTP status (and error_code)."""
    assert resp.status_code == status, (
        f"expected HTTP {status}, got {resp.status_code}: {resp.text[:500]}"
    )
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"error content type {ctype!r}: {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error_code"), str) and body["error_code"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    if code is not None:
        assert body["error_code"] == code, body
    return body


def tags_dict(run):
    return dict(run.data.tags)


def user_tags(run):
    """Run tags without the client/server-managed mlflow.* ones."""
    return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


# ---------------------------------------------------------------- artifacts

ARTIFACTS_API = "/api/2.0/mlflow-artifacts"


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = self.status_code = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive .get()
        self.body = self.content = body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def raw_request(base_url, method, path, body=None, headers=None, timeout=120):
    """Send `path` byte for byte (no normalisation of `..`, `//` or escapes, unlike requests)."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return RawResponse(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def quote_path(path):
    """Percent-encode an artifact path for a URL (keeps the slashes)."""
    return quote(path, safe="/")


class ArtifactServer:
    """A tracking server proxying artifacts to a local directory (kind "local") or to S3 ("s3")."""

    def __init__(self, kind, url, root=None, s3_endpoint=None, bucket=None, prefix=None):
        self.kind = kind
        self.url = url
        self.root = Path(root) if root is not None else None
        self.s3_endpoint = s3_endpoint
        self.bucket = bucket
        self.prefix = prefix
        self.client = MlflowClient(tracking_uri=url)

    def __repr__(self):
        return f"ArtifactServer({self.kind}, {self.url})"

    @property
    def api(self):
        """Base of the artifact routes: <url>/api/2.0/mlflow-artifacts."""
        return self.url + ARTIFACTS_API

    @property
    def tracking_api(self):
        return self.url + "/api/2.0/mlflow"

    def artifact_url(self, path):
        return f"{self.api}/artifacts/{quote_path(path)}"

    def raw(self, method, path, body=None, headers=None):
        """Raw request to <url><path>, path sent exactly as given."""
        return raw_request(self.url, method, path, body=body, headers=headers)

    # -- what is in the store, bypassing the server

    def stored_files(self, sub=""):
        """{relative path: size} of every stored object under the destination (or its `sub` dir)."""
        sub = sub.strip("/")
        if self.kind == "local":
            base = self.root / sub if sub else self.root
            found = {}
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    full = Path(dirpath) / name
                    found[full.relative_to(base).as_posix()] = full.lstat().st_size
            return found
        key_prefix = f"{self.prefix}/{sub}/" if sub else f"{self.prefix}/"
        return {key[len(key_prefix):]: size for key, size in self.s3_objects(key_prefix).items()}

    def s3_objects(self, key_prefix=""):
        """{key: size} of the bucket's objects under key_prefix (unsigned ListObjectsV2)."""
        found = {}
        token = None
        while True:
            params = {"list-type": "2", "prefix": key_prefix}
            if token:
                params["continuation-token"] = token
            resp = requests.get(f"{self.s3_endpoint}/{self.bucket}", params=params, timeout=60)
            assert resp.status_code == 200, resp.text[:500]
            root = ET.fromstring(resp.content)
            for item in root.iter():
                if item.tag.endswith("Contents"):
                    key = size = None
                    for child in item:
                        if child.tag.endswith("Key"):
                            key = child.text
                        elif child.tag.endswith("Size"):
                            size = int(child.text)
                    found[key] = size
            truncated = next((e.text for e in root.iter() if e.tag.endswith("IsTruncated")), "false")
            token = next((e.text for e in root.iter() if e.tag.endswith("NextContinuationToken")), None)
            if truncated != "true" or not token:
                return found

    def s3_pending_uploads(self, key_prefix=""):
        """Keys of the bucket's in-progress multipart uploads under key_prefix."""
        resp = requests.get(f"{self.s3_endpoint}/{self.bucket}",
                            params={"uploads": "", "prefix": key_prefix}, timeout=60)
        assert resp.status_code == 200, resp.text[:500]
        root = ET.fromstring(resp.content)
        keys = []
        for item in root.iter():
            if item.tag.endswith("Upload"):
                for child in item:
                    if child.tag.endswith("Key"):
                        keys.append(child.text)
        return [k for k in keys if k.startswith(key_prefix)]

    def store_snapshot(self):
        """Everything stored anywhere the server might write: files/keys -> size."""
        if self.kind == "local":
            return self.stored_files()
        return self.s3_objects()

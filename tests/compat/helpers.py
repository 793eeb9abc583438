"""Small helpers shared by the compatibility tests."""

import math
import time
import uuid

import pytest
import requests
from mlflow.exceptions import MlflowException

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

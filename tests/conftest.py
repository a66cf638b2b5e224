"""Shared fixtures: sandbox orgs on 127.0.0.1 and small HTTP helpers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from synthetic_org import SandboxOrg


@pytest.fixture(scope="session")
def big_org() -> Iterator[SandboxOrg]:
    """A shared, read-only org large enough for multi-page REST and Bulk results (~56k history rows)."""
    with SandboxOrg(seed=7, scale=6000) as org:
        yield org


@pytest.fixture
def small_org() -> Iterator[SandboxOrg]:
    """A fresh small org per test, so fault switches never leak between tests."""
    with SandboxOrg(seed=11, scale=60) as org:
        yield org


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_step(method: Callable[..., Any], lock: threading.Lock) -> Callable[..., Any]:
    def serialized(self: Any) -> Any:
        with lock:
            return method(self)

    serialized.one_step = True  # type: ignore[attr-defined]
    return serialized


def atomic_conditional_writes() -> None:
    """moto checks a conditional write's condition, then stores (or deletes), with nothing in
    between: two writers both pass ``If-None-Match: *`` for one key and the second silently
    overwrites the first (measured: 3 of 3,000 keys raced twice), where S3 refuses it (412).
    Each put and delete is made one step, as S3's are, so the lake's many-writers tests test
    the lake and not moto's race."""
    from moto.s3.responses import S3Response

    lock = threading.Lock()
    for name in ("put_object", "delete_object"):
        method = getattr(S3Response, name)
        if not getattr(method, "one_step", False):
            setattr(S3Response, name, _one_step(method, lock))


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, empty, while the block runs; its endpoint.

    moto keeps its buckets in this process, not in the server: a new server on a new port still
    serves what an earlier one held (a pytest-xdist worker runs many modules). The flow test once
    met test_delta's ``s3://lake/mirror`` tables, keyed by Id alone (issue #29)."""
    atomic_conditional_writes()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, spoken to over HTTP by boto3 and pyarrow (``moto_s3``)."""
    with moto_s3() as endpoint:
        yield endpoint


class Api:
    """A bare HTTP client for tests that assert Salesforce's exact wire answers."""

    def __init__(self, org: SandboxOrg, version: str = "62.0") -> None:
        self.org = org
        self.http = requests.Session()
        self.base = f"{org.base_url}/services/data/v{version}"
        self.token = self.login()

    def login(self) -> str:
        creds = self.org.credentials
        response = self.http.post(
            f"{self.org.base_url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "username": creds.username,
                "password": creds.password + creds.security_token,
            },
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.http.get(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def send(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(
            method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs
        )  # type: ignore[arg-type]

    def query(self, soql: str, resource: str = "query") -> requests.Response:
        return self.get(f"/{resource}", params={"q": soql})


@pytest.fixture
def api(small_org: SandboxOrg) -> Api:
    return Api(small_org)

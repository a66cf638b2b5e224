"""Credentials and the session token go only to the host the settings name, over https or loopback.

Every peer here is a listener on 127.0.0.1; a "decoy" stands for the host an attacker would
receive the secrets on, and each test asserts it was never contacted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tap_salesforce_temporal.connection.urls import insecure_reason
from tests.helpers import run_tap
from tests.stub_http import Answer, Seen, StubServer

PASSWORD = "pw-Zk3vQ9mT1xLr"


def _config(**overrides: object) -> dict:
    return {
        "auth_flow": "password",
        "client_id": "client-id",
        "client_secret": "client-secret-Hq2Lp8sW",
        "username": "user@example.com",
        "password": PASSWORD,
        "retry_backoff_seconds": 0.01,
        "max_retries": 2,
        **overrides,
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("tap-salesforce-temporal:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert PASSWORD not in stderr
    return lines[0]


def _login_answering(instance_url: str) -> StubServer:
    def respond(seen: Seen) -> Answer:
        if seen.path == "/services/oauth2/token":
            body = {"access_token": "00Dtoken", "instance_url": instance_url, "id": "x/00D/005"}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 404, {}, b""

    return StubServer(respond)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://192.0.2.2:18081\\@127.0.0.1", "backslash"),
        ("https://acme.my.salesforce.com\\@127.0.0.1", "backslash"),
        ("http://127.0.0.1:18081@192.0.2.2", "userinfo"),
        ("https://user:secret@acme.my.salesforce.com", "userinfo"),
        ("http://127.0.0.1\t.example.com", "whitespace"),
        ("http://127.0.0.1 .example.com", "whitespace"),
        ("http://127.0.0.1\n", "whitespace"),
        ("https://acme.my.salesforce.com#@192.0.2.2", "fragment"),
        ("https://acme.my.salesforce.com?x=@192.0.2.2", "query"),
        ("http://192.0.2.2", "plain http"),
        ("ftp://acme.my.salesforce.com", "not an http(s) URL"),
        ("http://127.0.0.1:99999", "port"),
    ],
)
def test_given_an_unclean_or_insecure_url_then_it_is_refused_without_quoting_it(
    url: str, reason: str
) -> None:
    problem = insecure_reason(url)
    assert problem is not None
    assert reason in problem
    assert "secret" not in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.my.salesforce.com",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost",
    ],
)
def test_given_a_clean_https_or_loopback_url_then_it_is_accepted(url: str) -> None:
    assert insecure_reason(url) is None


@pytest.mark.parametrize("setting", ["domain", "instance_url"])
def test_given_a_backslash_url_in_a_setting_when_running_then_the_decoy_host_is_never_contacted(
    tmp_path: Path, setting: str
) -> None:
    # urllib.parse sees the loopback host after '@'; urllib3 would connect to the decoy.
    with StubServer() as decoy, _login_answering("http://127.0.0.1:1") as login:
        sneaky = f"{decoy.url}\\@127.0.0.1:{login.server.server_address[1]}"
        config = _config(**{"domain": login.url, setting: sneaky})
        run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert _one_error_line(run.stderr) == (
        f"tap-salesforce-temporal: setting '{setting}': contains a backslash"
    )
    assert decoy.seen == []
    assert run.stdout == ""


def test_given_a_login_answering_a_backslash_instance_url_then_the_token_is_never_sent_there(
    tmp_path: Path,
) -> None:
    with StubServer() as decoy:
        sneaky = f"{decoy.url}\\@127.0.0.1"
        with _login_answering(sneaky) as login:
            run = run_tap(tmp_path, _config(domain=login.url))
    assert run.returncode != 0
    line = _one_error_line(run.stderr)
    assert "the instance_url the login returned" in line
    assert "backslash" in line
    assert decoy.seen == []


def test_given_a_login_host_that_redirects_then_credentials_are_not_posted_again(
    tmp_path: Path,
) -> None:
    with StubServer() as decoy:

        def redirect(seen: Seen) -> Answer:
            return 307, {"Location": f"{decoy.url}/services/oauth2/token"}, b""

        with StubServer(redirect) as login:
            run = run_tap(tmp_path, _config(domain=login.url))
    assert run.returncode != 0
    line = _one_error_line(run.stderr)
    assert "answered 307 with a redirect, which is not followed with credentials" in line
    assert [s.path for s in login.seen] == ["/services/oauth2/token"]
    assert decoy.seen == []


def test_given_an_api_call_that_redirects_then_the_bearer_token_does_not_follow(
    tmp_path: Path,
) -> None:
    with StubServer() as decoy:

        def api(seen: Seen) -> Answer:
            if seen.path == "/services/oauth2/token":
                body = {"access_token": "00Dtoken", "instance_url": api_host.url, "id": "x"}
                return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
            return 307, {"Location": f"{decoy.url}{seen.path}"}, b""

        with StubServer(api) as api_host:
            run = run_tap(tmp_path, _config(domain=api_host.url))
    assert run.returncode != 0
    line = _one_error_line(run.stderr)
    assert "307 HTTP_307: redirect not followed" in line
    assert decoy.seen == []

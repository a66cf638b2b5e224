"""The JWT bearer flow as Salesforce checks it: audience, expiry and a request with nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
import requests

from synthetic_org import SandboxOrg
from synthetic_org.oauth import JWT_GRANT
from tap_salesforce_temporal.connection.auth import jwt_audience
from tests.helpers import run_tap


def _assertion(org: SandboxOrg, **claims: object) -> str:
    creds = org.credentials
    base = {
        "iss": creds.client_id,
        "sub": creds.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
    }
    return jwt.encode({**base, **claims}, creds.private_key_pem, algorithm="RS256")


def _post(org: SandboxOrg, form: dict) -> requests.Response:
    return requests.post(f"{org.base_url}/services/oauth2/token", data=form, timeout=10)


@pytest.mark.parametrize(
    ("claims", "extra", "description"),
    [
        ({"aud": "__base_url__"}, {}, "audience is invalid"),
        ({"aud": "https://acme.my.salesforce.com"}, {}, "audience is invalid"),
        ({"exp": int(time.time()) - 3600}, {}, "expired authorization code"),
        (
            {"exp": int(time.time()) + 3600},
            {},
            "invalid assertion: exp more than 3 minutes ahead",
        ),
        ({}, {"client_id": "__client_id__"}, "unexpected parameter: client_id"),
    ],
)
def test_given_a_jwt_salesforce_would_refuse_when_posting_then_the_org_refuses_it(
    small_org: SandboxOrg, claims: dict, extra: dict, description: str
) -> None:
    claims = {k: small_org.base_url if v == "__base_url__" else v for k, v in claims.items()}
    extra = dict.fromkeys(extra, small_org.credentials.client_id)
    form = {"grant_type": JWT_GRANT, "assertion": _assertion(small_org, **claims), **extra}
    response = _post(small_org, form)
    assert response.status_code == 400
    assert response.json()["error_description"] == description


@pytest.mark.parametrize("aud", ["https://login.salesforce.com", "https://test.salesforce.com"])
def test_given_a_documented_audience_when_posting_then_a_session_is_issued(
    small_org: SandboxOrg, aud: str
) -> None:
    response = _post(
        small_org, {"grant_type": JWT_GRANT, "assertion": _assertion(small_org, aud=aud)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("domain", "audience"),
    [
        ("login", "https://login.salesforce.com"),
        ("test", "https://test.salesforce.com"),
        ("acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com/", "https://login.salesforce.com"),
        ("acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.site.com/customers", "https://acme.my.site.com/customers"),
        ("acme.force.com/partners", "https://acme.force.com/partners"),
        ("http://127.0.0.1:8765", "https://login.salesforce.com"),
    ],
)
def test_given_a_domain_when_signing_a_jwt_then_the_audience_is_salesforces_login_service(
    domain: str, audience: str
) -> None:
    assert jwt_audience(domain) == audience


def test_given_a_my_domain_style_login_url_when_the_tap_uses_jwt_then_it_logs_in(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    """The token request goes to the org's own URL, the audience stays login.salesforce.com."""
    creds = small_org.credentials
    config = {
        "auth_flow": "jwt",
        "domain": small_org.base_url,
        "client_id": creds.client_id,
        "username": creds.username,
        "private_key": creds.private_key_pem,
        "objects": ["User"],
        "retry_backoff_seconds": 0.01,
    }
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert len(run.records("User")) == small_org.count("User")

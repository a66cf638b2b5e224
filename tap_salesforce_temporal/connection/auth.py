"""OAuth 2.0 login for the four flows Salesforce offers to integrations.

Salesforce's token response has no ``expires_in``: a session ends when the org says so, with a 401
INVALID_SESSION_ID. The client therefore calls ``login()`` again on that error instead of tracking
an expiry time.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass

import requests

from ..config.settings import Settings
from ..errors import LoginError, parse_error_body
from .urls import insecure_reason

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce: the assertion's exp must be within 3 minutes of now.
JWT_LIFETIME_SECONDS = 170


def jwt_audience(domain: str) -> str:
    """The JWT bearer assertion's ``aud`` for a ``domain`` setting.

    Salesforce documents three audiences: https://login.salesforce.com for production orgs,
    https://test.salesforce.com for sandbox orgs, and an Experience Cloud site's URL when logging
    in through that site. A My Domain URL (``acme.my.salesforce.com``) is never an audience, even
    though it is where the token request goes.
    """
    if domain in ("login", "test"):
        return f"https://{domain}.salesforce.com"
    parts = urllib.parse.urlsplit(domain if "://" in domain else f"https://{domain}")
    host = (parts.hostname or "").lower()
    if host in ("login.salesforce.com", "test.salesforce.com"):
        return f"https://{host}"
    if host.endswith((".my.site.com", ".force.com")) or parts.path.strip("/"):
        # An Experience Cloud site: its URL, path prefix included, is the audience.
        return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    if host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    return "https://login.salesforce.com"


def _signed(claims: dict, private_key: str) -> str:
    """The RS256 assertion, or one line naming the setting (never the key: it is a secret).

    PyJWT loads a PEM *public* key as happily as a private one and then fails with
    ``AttributeError: ... 'sign'``: the key is loaded here first and its kind checked.
    """
    import jwt  # with cryptography ~40 ms of start-up; only the JWT flow needs it
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    problem = "not a valid PEM RSA private key for auth_flow=jwt"
    try:
        key = RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(private_key)
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        raise LoginError(f"setting 'private_key': {problem}") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise LoginError(
            f"setting 'private_key': {problem}: it is a public key; paste the connected app's "
            "private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
        )
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, AttributeError, jwt.PyJWTError) as error:
        raise LoginError(f"setting 'private_key': {problem}") from error


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str
    org_id: str = ""


class Authenticator:
    """Logs in with the configured flow; secrets go only into the token request body."""

    def __init__(self, settings: Settings, http: requests.Session) -> None:
        self.settings = settings
        self.http = http
        self.logins = 0

    def _form(self) -> dict[str, str]:
        s = self.settings
        if s.auth_flow == "password":
            return {
                "grant_type": "password",
                "client_id": s.client_id or "",
                "client_secret": s.client_secret or "",
                "username": s.username or "",
                "password": (s.password or "") + (s.security_token or ""),
            }
        if s.auth_flow == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": s.client_id or "",
                "client_secret": s.client_secret or "",
            }
        if s.auth_flow == "refresh_token":
            form = {
                "grant_type": "refresh_token",
                "client_id": s.client_id or "",
                "refresh_token": s.refresh_token or "",
            }
            if s.client_secret:
                form["client_secret"] = s.client_secret
            return form
        claims = {
            "iss": s.client_id,
            "sub": s.username,
            "aud": jwt_audience(s.domain),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        assertion = _signed(claims, s.private_key or "")
        return {"grant_type": JWT_GRANT, "assertion": assertion}

    def login(self) -> Session:
        url = f"{self.settings.login_url}/services/oauth2/token"
        try:
            # Never follow a redirect with credentials in the body: requests would re-POST them
            # to whatever host the Location names.
            response = self.http.post(
                url,
                data=self._form(),
                timeout=self.settings.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise LoginError(
                f"Salesforce login failed (auth_flow={self.settings.auth_flow}): cannot reach {self.settings.login_url}: {type(error).__name__}"
            ) from error
        if response.is_redirect:
            raise LoginError(
                f"Salesforce login failed (auth_flow={self.settings.auth_flow}): {self.settings.login_url} answered {response.status_code} with a redirect, which is not followed with credentials; set domain to the host it names"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code, description = parse_error_body(body)
            detail = f"{code}: {description}" if code else f"HTTP {response.status_code}"
            if response.status_code == 200 and not code:
                detail += " without an access_token (not Salesforce's JSON answer: a proxy?)"
            raise LoginError(
                f"Salesforce login failed (auth_flow={self.settings.auth_flow}): {detail}"
            )
        self.logins += 1
        instance = self.settings.instance_url or body.get("instance_url")
        if not isinstance(instance, str):
            raise LoginError("Salesforce login answered without an instance_url")
        # The session token goes to this URL on every call: the same rule as the settings.
        reason = insecure_reason(instance)
        if reason:
            where = (
                "setting 'instance_url'"
                if self.settings.instance_url
                else "the instance_url the login returned"
            )
            raise LoginError(f"refusing to send the session token to {where}: it {reason}")
        # The identity URL ends in /id/{organization id}/{user id}.
        identity = str(body.get("id", "")).rstrip("/").split("/")
        org_id = identity[-2] if len(identity) >= 2 else ""
        return Session(
            access_token=body["access_token"], instance_url=instance.rstrip("/"), org_id=org_id
        )

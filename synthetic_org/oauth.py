"""The org's OAuth 2.0 token endpoint: password, client_credentials, refresh_token and JWT bearer.

Answers with Salesforce's success JSON (no ``expires_in``: a session simply stops working) and its
error JSON (``{"error": "invalid_grant", "error_description": "authentication failure"}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .ids import make_id

# The org id of seed 1 (the default); every seed's org has its own (``org_id_for``).
ORG_ID = "00D8d0000000001EAA"


def org_id_for(seed: int) -> str:
    """The 18-character id of the seed's org: two orgs seeded differently are two orgs, as two
    Salesforce orgs have two ids (their record ids may coincide: a lake keys rows per org)."""
    return make_id("00D", seed % 62**9)


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The JWT bearer flow's audience is Salesforce's login service, never the org's own (My Domain)
# URL: production and sandbox orgs (an Experience Cloud site's URL is the third documented case,
# which this org has no site for).
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# Salesforce: "exp ... within 3 minutes"; a little clock skew is tolerated.
JWT_MAX_LIFETIME_SECONDS = 180
JWT_CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class Credentials:
    """What a user of the sandbox needs to log in with any flow (all of it synthetic)."""

    username: str = "admin@sandbox.example.com"
    password: str = "sandbox-password"  # noqa: S105 - synthetic credentials of a local test org
    security_token: str = "SANDBOXTOKEN0000"  # noqa: S105
    client_id: str = "3MVG9sandbox.client.id"
    client_secret: str = "sandbox-client-secret-0001"  # noqa: S105
    refresh_token: str = "5Aep861sandbox.refresh.token"  # noqa: S105
    private_key_pem: str = ""
    public_key_pem: str = ""


def generate_credentials() -> Credentials:
    """Fresh credentials with an RSA key pair for the JWT bearer flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Credentials(private_key_pem=private, public_key_pem=public)


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


@dataclass
class Sessions:
    """Live access tokens and how many API calls each has made."""

    credentials: Credentials
    admin_user_id: str
    org_id: str = ORG_ID
    calls: dict[str, int] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    logins: int = 0

    def issue(self, form: dict[str, str], base_url: str) -> dict:
        grant = form.get("grant_type", "")
        self._check_grant(grant, form, base_url)
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(40)}"
        self.calls[token] = 0
        self.logins += 1
        issued_at = str(int(time.time() * 1000))
        identity = f"{base_url}/id/{self.org_id}/{self.admin_user_id}"
        signature = hmac.new(
            self.credentials.client_secret.encode(),
            f"{identity}{issued_at}".encode(),
            hashlib.sha256,
        ).digest()
        body = {
            "access_token": token,
            "instance_url": base_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
        }
        if grant == "password":
            body["scope"] = "api refresh_token"
        return body

    def _check_grant(self, grant: str, form: dict[str, str], base_url: str) -> None:
        creds = self.credentials
        if grant == "password":
            self._check_client(form, secret_required=True)
            if form.get("username") != creds.username or form.get("password") != (
                creds.password + creds.security_token
            ):
                raise OAuthError("invalid_grant", "authentication failure")
        elif grant == "client_credentials":
            self._check_client(form, secret_required=True)
        elif grant == "refresh_token":
            self._check_client(form, secret_required=False)
            if form.get("refresh_token") != creds.refresh_token:
                raise OAuthError("invalid_grant", "expired access/refresh token")
        elif grant == JWT_GRANT:
            extra = sorted(set(form) - {"grant_type", "assertion"})
            if extra:
                # The JWT carries everything: a client secret or password next to it is a leak.
                raise OAuthError("invalid_request", f"unexpected parameter: {extra[0]}")
            self._check_assertion(form.get("assertion", ""))
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _check_client(self, form: dict[str, str], *, secret_required: bool) -> None:
        if form.get("client_id") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = form.get("client_secret")
        if (secret_required or secret is not None) and secret != self.credentials.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")

    def _check_assertion(self, assertion: str) -> None:
        try:
            claims = jwt.decode(
                assertion,
                self.credentials.public_key_pem,
                algorithms=["RS256"],
                audience=list(JWT_AUDIENCES),
                leeway=JWT_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise OAuthError("invalid_grant", "expired authorization code") from error
        except jwt.InvalidAudienceError as error:
            raise OAuthError("invalid_grant", "audience is invalid") from error
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", "invalid assertion") from error
        if int(claims["exp"]) > time.time() + JWT_MAX_LIFETIME_SECONDS + JWT_CLOCK_SKEW_SECONDS:
            raise OAuthError("invalid_grant", "invalid assertion: exp more than 3 minutes ahead")
        if claims["iss"] != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if claims["sub"] != self.credentials.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")

    def authorize(self, header: str | None) -> str | None:
        """The token of a live session, or None (the caller answers 401 INVALID_SESSION_ID)."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or token not in self.calls:
            return None
        if token in self.revoked:
            return None
        return token

    def count_call(self, token: str, expire_after: int | None) -> bool:
        """Count an API call on a session; False once the session has expired."""
        self.calls[token] += 1
        if expire_after and self.calls[token] > expire_after:
            self.revoked.add(token)
            return False
        return True

    def expire(self, token: str) -> None:
        self.revoked.add(token)

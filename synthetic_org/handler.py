"""The HTTP face of the org: routes requests to it and answers in Salesforce's wire format.

OAuth token endpoint, the SOAP login call, REST resources, Bulk API 2.0 jobs, and the org's own
``/__sandbox__/`` controls (not part of Salesforce's API).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Protocol

from . import hostile
from .errors import SalesforceError
from .oauth import JWT_GRANT, Credentials, OAuthError, Sessions
from .soql.json_values import ENCODER

if TYPE_CHECKING:
    import datetime as dt

    from .bulk import BulkJobs
    from .data.org import SyntheticOrg
    from .faults import Faults
    from .rest import RestApi

# One encoder for every answer, shared with the REST page renderer (whose bytes must match it).
_JSON = ENCODER

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")
DEFAULT_BATCH_SIZE = 2000
MAX_URL_LENGTH = 16_384
_VERSION = r"/services/data/v(?P<version>\d+\.\d)"


class ServedOrg(Protocol):
    """What a request needs of the org it is served by (``state.SandboxOrg``, which binds itself
    to the handler class when it starts): the handler sits below the org's state."""

    org: SyntheticOrg
    rest: RestApi
    bulk: BulkJobs
    sessions: Sessions
    credentials: Credentials
    faults: Faults
    latency_ms: float
    requests: list[tuple[str, str, int]]

    @property
    def base_url(self) -> str: ...

    @property
    def limit_info(self) -> str: ...

    def limits(self) -> dict: ...

    def advance(self, opportunities: int = 5, at: dt.datetime | None = None) -> int: ...

    def begin_api_call(
        self, authorization: str | None, *, result_page: bool = False, path: str = ""
    ) -> str: ...


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the org; everything it answers is in Salesforce's wire format."""

    org: ServedOrg
    protocol_version = "HTTP/1.1"
    server_version = "SFDC"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed ACK
    # stalls every small response by ~40 ms (seen: 44 ms per describe, 2 ms without).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the sandbox must not flood the test or demo output."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        self.org.requests.append(
            (method, urllib.parse.urlsplit(self.path).path.rstrip("/") or "/", len(self.path))
        )
        if len(self.path) > MAX_URL_LENGTH:
            # Salesforce's front end refuses request lines this long before the API sees them.
            self._json(
                414,
                [{"message": "The request URI is too long", "errorCode": "URI_TOO_LONG"}],
                limit_info=False,
            )
            return
        parsed = urllib.parse.urlsplit(self.path)
        path, params = parsed.path.rstrip("/") or "/", dict(urllib.parse.parse_qsl(parsed.query))
        body = self._read_body()
        if self.org.latency_ms and path.startswith("/services/data/"):
            time.sleep(self.org.latency_ms / 1000)
        try:
            if path == "/services/oauth2/token":
                self._token(method, body)
                return
            if re.fullmatch(r"/services/Soap/u/\d+\.\d", path) and method == "POST":
                self._soap_login(body)
                return
            if path.startswith("/__sandbox__/"):
                self._control(method, path, body)
                return
            if path == "/services/data":
                self._json(
                    200,
                    [
                        {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                        for v in API_VERSIONS
                    ],
                )
                return
            match = re.fullmatch(_VERSION + r"(?P<rest>/.*)?", path)
            if match is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            self._api(method, match["version"], match["rest"] or "", params, body)
        except SalesforceError as error:
            self._json(error.status, error.body)
        except BrokenPipeError:
            return

    def _control(self, method: str, path: str, body: bytes) -> None:
        """Sandbox controls (not part of Salesforce's API): let time pass, read the request log."""
        if method == "POST" and path == "/__sandbox__/advance":
            touched = self.org.advance(int(self._json_body(body).get("opportunities", 5)))
            self._json(200, {"opportunities": touched}, limit_info=False)
        elif method == "GET" and path == "/__sandbox__/requests":
            self._json(200, [list(entry) for entry in self.org.requests], limit_info=False)
        else:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token(self, method: str, body: bytes) -> None:
        if method != "POST":
            raise SalesforceError(
                405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST"
            )
        form = dict(urllib.parse.parse_qsl(body.decode()))
        basic = self.headers.get("Authorization") or ""
        if basic.lower().startswith("basic ") and form.get("grant_type") != JWT_GRANT:
            # client_secret_basic: the connected app's key and secret in the Authorization header.
            decoded = base64.b64decode(basic[6:]).decode()
            form.setdefault("client_id", decoded.partition(":")[0])
            form.setdefault("client_secret", decoded.partition(":")[2])
        try:
            self._json(200, self.org.sessions.issue(form, self.org.base_url), limit_info=False)
        except OAuthError as error:
            self._json(400, error.body, limit_info=False)

    def _soap_login(self, body: bytes) -> None:
        """The partner API's SOAP ``login`` call, which many clients still use for username/password."""
        text = body.decode(errors="replace")
        username = re.search(r"<(?:\w+:)?username>(.*?)</(?:\w+:)?username>", text, re.S)
        password = re.search(r"<(?:\w+:)?password>(.*?)</(?:\w+:)?password>", text, re.S)
        creds = self.org.credentials
        if not (
            username
            and password
            and html.unescape(username[1]) == creds.username
            and html.unescape(password[1]) == creds.password + creds.security_token
        ):
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
                "password, security token; or user locked out.</faultstring><detail>"
                "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
                "Invalid username, password, security token; or user locked out.</sf:exceptionMessage>"
                "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            self._send(500, fault.encode(), "text/xml; charset=utf-8", limit_info=False)
            return
        session = self.org.sessions.issue(
            {
                "grant_type": "password",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "username": creds.username,
                "password": creds.password + creds.security_token,
            },
            self.org.base_url,
        )
        base = self.org.base_url
        org15 = self.org.sessions.org_id[:15]
        response = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{base}/services/Soap/m/62.0/{org15}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/62.0/{org15}</serverUrl>"
            f"<sessionId>{session['access_token']}</sessionId>"
            f"<userId>{self.org.org.user_id(0)}</userId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        self._send(200, response.encode(), "text/xml; charset=utf-8", limit_info=False)

    def _api(self, method: str, version: str, rest: str, params: dict, body: bytes) -> None:
        org = self.org
        is_results = bool(re.fullmatch(r"/jobs/query/\w+/results", rest)) or bool(
            re.fullmatch(r"/query(All)?/[\w]+-\d+", rest)
        )
        org.begin_api_call(self.headers.get("Authorization"), path=rest)
        routes_get = {
            "": lambda: {
                "sobjects": f"/services/data/v{version}/sobjects",
                "query": f"/services/data/v{version}/query",
                "queryAll": f"/services/data/v{version}/queryAll",
                "limits": f"/services/data/v{version}/limits",
                "jobs": f"/services/data/v{version}/jobs",
            },
            "/sobjects": lambda: org.rest.describe_global(version),
            "/limits": org.limits,
        }
        if method == "GET" and rest in routes_get:
            self._json(200, routes_get[rest]())
            return
        if method == "GET" and (m := re.fullmatch(r"/sobjects/(\w+)/describe", rest)):
            self._json(200, org.rest.describe(m[1], version))
            return
        if method == "GET" and (m := re.fullmatch(r"/sobjects/(\w+)/deleted", rest)):
            self._json(200, org.rest.deleted(m[1], params.get("start"), params.get("end")))
            return
        if method == "GET" and rest in ("/query", "/queryAll"):
            self._query(rest[1:], version, params)
            return
        if method == "GET" and (m := re.fullmatch(r"/(query|queryAll)/(\w+)-(\d+)", rest)):
            self._json(
                200, org.rest.query_page(m[2], int(m[3]), version, m[1]), may_drop=is_results
            )
            return
        if rest == "/jobs/query" and method == "POST":
            self._json(200, org.bulk.create_job(self._json_body(body), version))
            return
        if method == "GET" and (m := re.fullmatch(r"/jobs/query/(\w+)", rest)):
            self._json(200, org.bulk.poll_job(m[1]))
            return
        if method == "GET" and (m := re.fullmatch(r"/jobs/query/(\w+)/results", rest)):
            payload, locator, count = org.bulk.job_results(
                m[1], params.get("locator"), params.get("maxRecords")
            )
            self._send(
                200,
                payload,
                "text/csv",
                {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)},
                may_drop=True,
            )
            return
        if method == "PATCH" and (m := re.fullmatch(r"/jobs/query/(\w+)", rest)):
            self._json(200, org.bulk.abort_job(m[1], self._json_body(body)))
            return
        if method == "DELETE" and (m := re.fullmatch(r"/jobs/query/(\w+)", rest)):
            org.bulk.delete_job(m[1])
            self._send(204, b"", "application/json")
            return
        if method != "GET":
            raise SalesforceError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD",
            )
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, resource: str, version: str, params: dict) -> None:
        soql = params.get("q")
        if soql is None:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = self.org.rest.run_query(soql, include_deleted=resource == "queryAll")
        if result.columns == []:
            self._json(200, {"totalSize": result.total_size, "done": True, "records": []})
            return
        batch_size = DEFAULT_BATCH_SIZE
        options = self.headers.get("Sforce-Query-Options") or ""
        if m := re.search(r"batchSize=(\d+)", options):
            batch_size = max(200, min(2000, int(m[1])))
        cursor = self.org.rest.open_cursor(result, batch_size)
        self._json(200, self.org.rest.query_page(cursor, 0, version, resource), may_drop=True)

    @staticmethod
    def _json_body(body: bytes) -> dict:
        try:
            parsed = json.loads(body or b"{}")
        except json.JSONDecodeError as error:
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", f"Unexpected character: {error.msg}"
            ) from error
        if not isinstance(parsed, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return parsed

    def _json(
        self, status: int, payload: object, *, limit_info: bool = True, may_drop: bool = False
    ) -> None:
        # Currency and percent values are Decimals: written as exact JSON numbers, as Salesforce does.
        body = _JSON.encode(payload)
        headers = {"Sforce-Limit-Info": self.org.limit_info} if limit_info else {}
        self._send(
            status,
            body,
            "application/json;charset=UTF-8",
            headers,
            may_drop=may_drop,
            limit_info=False,
        )

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        may_drop: bool = False,
        limit_info: bool = True,
    ) -> None:
        kind = self.org.faults.hostile_answer(self.path)
        if kind is not None:
            extra = {"Content-Type": content_type, **(headers or {})}
            if limit_info:
                extra["Sforce-Limit-Info"] = self.org.limit_info
            hostile.send(self, self.org.faults, kind, status, body, extra)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if limit_info:
            self.send_header("Sforce-Limit-Info", self.org.limit_info)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if may_drop and len(body) > 1 and self.org.faults.on_result_page():
            # A dropped connection mid-page: half the promised bytes, then the socket closes.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

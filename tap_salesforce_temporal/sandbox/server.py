"""The sandbox org over HTTP on 127.0.0.1: OAuth, REST (describe, query, limits, getDeleted) and
Bulk API 2.0 query jobs, answering in Salesforce's wire formats and error shapes.

Use it in-process::

    with SandboxOrg(seed=7, scale=500) as org:
        print(org.base_url, org.credentials.username)
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import itertools
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from .engine import (
    Engine,
    QueryResult,
    bulk_unsupported_reason,
    csv_page,
    invalid_type,
    rest_records,
)
from .faults import Faults
from .generator import SyntheticOrg
from .ids import make_id
from .metadata import OBJECTS, ObjectSpec, find_object
from .metadata import extra_objects as make_extra_objects
from .oauth import JWT_GRANT, Credentials, OAuthError, Sessions, generate_credentials
from .soql import BoolOp, Comparison, Query, SoqlError, parse

_JSON = msgspec.json.Encoder(decimal_format="number")

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")
DAILY_API_LIMIT = 15_000
DEFAULT_BATCH_SIZE = 2000
DEFAULT_MAX_RECORDS = 100_000
RECYCLE_BIN_DAYS = 15
CURSOR_IDLE_SECONDS = 15 * 60
QUERY_TIMEOUT_MIN_ROWS = 200
MAX_URL_LENGTH = 16_384
_VERSION = r"/services/data/v(?P<version>\d+\.\d)"


@dataclass
class Cursor:
    result: QueryResult
    batch_size: int
    last_used: float = field(default_factory=time.time)


@dataclass
class BulkJob:
    id: str
    operation: str
    query: str
    object_name: str
    created: str
    version: str
    result: QueryResult | None = None
    state: str = "UploadComplete"
    polls: int = 0
    fails: bool = False
    error_message: str | None = None
    started: float = field(default_factory=time.monotonic)


class SalesforceError(Exception):
    """An API error in Salesforce's JSON-list shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = [{"message": message, "errorCode": error_code}]


def _sf_datetime(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SandboxOrg:
    """A running sandbox org. Start with ``start()`` or as a context manager."""

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: int = 200,
        anchor: dt.datetime | None = None,
        faults: Faults | None = None,
        api_usage_start: int = 0,
        daily_api_limit: int = DAILY_API_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
        org: SyntheticOrg | None = None,
        extra_objects: int = 0,
        latency_ms: float = 0.0,
        bulk_job_seconds: float = 0.0,
    ) -> None:
        if anchor is None:
            anchor = dt.datetime.now(dt.timezone.utc).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
        self.anchor = anchor
        self.org = org or SyntheticOrg(seed, scale, int(anchor.timestamp()))
        # The org's object catalogue: the seeded objects plus, to emulate a large org, empty ones.
        self.extras = {spec.name.lower(): spec for spec in make_extra_objects(extra_objects)}
        for spec in self.extras.values():
            self.org.replace(spec.name, spec.arrow_schema().empty_table())
        self.objects = (*OBJECTS, *self.extras.values())
        # Realism knobs for measurements (the embedded org answers in ~1 ms, a real one does not):
        # a delay before every API answer, and the wall time a Bulk query job takes to complete.
        self.latency_ms = latency_ms
        self.bulk_job_seconds = bulk_job_seconds
        self.engine = Engine(self.org.table, self.find_object)
        self.faults = faults or Faults()
        self.credentials: Credentials = generate_credentials()
        self.sessions = Sessions(self.credentials, self.org.user_id(0))
        self.api_usage = api_usage_start
        self.daily_api_limit = daily_api_limit
        self.cursors: dict[str, Cursor] = {}
        self.jobs: dict[str, BulkJob] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, full request-target length
        self.purged: dict[str, list[tuple[str, dt.datetime]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> SandboxOrg:
        handler = type("BoundHandler", (_Handler,), {"org": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxOrg:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def login_settings(self) -> dict[str, str]:
        """Tap settings that log in to this org with the password flow."""
        creds = self.credentials
        return {
            "auth_flow": "password",
            "domain": self.base_url,
            "username": creds.username,
            "password": creds.password,
            "security_token": creds.security_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }

    def count(self, object_name: str, *, include_deleted: bool = False, where: str = "") -> int:
        """The org's own count, for tests to compare against what a client received."""
        soql = f"SELECT COUNT() FROM {object_name}" + (f" WHERE {where}" if where else "")  # noqa: S608 - test helper over the org itself
        return self.engine.execute(parse(soql), include_deleted=include_deleted).total_size

    def advance(self, opportunities: int = 5, at: dt.datetime | None = None) -> int:
        """Let time pass in the org: move open opportunities one stage forward, writing history.

        Used between incremental runs (tests, demo) to give the next run new and changed rows.
        """
        import random

        from .opportunities import advance_opportunities

        moment = at or dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
        rng = random.Random(f"{self.org.seed}:advance:{moment.isoformat()}")
        with self._lock:
            return advance_opportunities(self.org, rng, opportunities, int(moment.timestamp()))

    def hard_delete(self, object_name: str, ids: list[str], at: dt.datetime | None = None) -> None:
        """Delete rows for good (emptied recycle bin): only getDeleted still knows about them."""
        moment = (at or dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)).replace(
            microsecond=0
        )
        with self._lock:
            table = self.org.table(object_name)
            keep = pc.invert(pc.is_in(table["Id"], value_set=pa.array(ids, type=pa.string())))
            self.org.replace(object_name, table.filter(keep))
            self.purged.setdefault(object_name, []).extend((i, moment) for i in ids)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return make_id(prefix, next(self._ids))

    # -- request accounting --
    def begin_api_call(self, authorization: str | None, *, result_page: bool = False) -> str:
        """Authenticate and count an API call; raise the error a fault or the quota demands."""
        with self._lock:
            token = self.sessions.authorize(authorization)
            if token is None:
                raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if not self.sessions.count_call(token, self.faults.session_expiry_after):
                self.faults.record("INVALID_SESSION_ID")
                raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self.api_usage >= self.daily_api_limit:
                raise SalesforceError(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                )
            self.api_usage += 1
        fault = self.faults.on_api_call()
        if fault == "SERVER_UNAVAILABLE":
            raise SalesforceError(
                503, "SERVER_UNAVAILABLE", "Server unavailable, please try again later."
            )
        if fault == "REQUEST_LIMIT_EXCEEDED":
            raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if fault == "INVALID_SESSION_ID":
            self.sessions.expire(token)
            raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return token

    @property
    def limit_info(self) -> str:
        return f"api-usage={self.api_usage}/{self.daily_api_limit}"

    def find_object(self, name: str) -> ObjectSpec | None:
        return find_object(name) or self.extras.get(name.lower())

    # -- REST resources --
    def describe_global(self, version: str) -> dict:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._global_entry(spec, version) for spec in self.objects],
        }

    def _global_entry(self, spec: ObjectSpec, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{spec.name}"
        return {
            "activateable": False,
            "createable": spec.queryable and spec.history_of is None,
            "custom": spec.is_custom,
            "customSetting": False,
            "deletable": spec.queryable and spec.history_of is None,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "keyPrefix": spec.key_prefix,
            "label": spec.label or spec.name,
            "labelPlural": (spec.label or spec.name) + "s",
            "layoutable": spec.history_of is None,
            "mergeable": False,
            "name": spec.name,
            "queryable": spec.queryable,
            "replicateable": spec.replicateable,
            "retrieveable": spec.queryable,
            "searchable": spec.history_of is None,
            "triggerable": False,
            "undeletable": spec.replicateable,
            "updateable": spec.queryable and spec.history_of is None,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }

    def describe(self, name: str, version: str) -> dict:
        spec = self.find_object(name)
        if spec is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        entry = self._global_entry(spec, version)
        entry.update(
            {
                "fields": [f.describe() for f in spec.fields if f.visible],
                "childRelationships": [],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All", "name": "everything"}],
            }
        )
        return entry

    def run_query(self, soql: str, *, include_deleted: bool) -> QueryResult:
        try:
            query = parse(soql)
            self._check_query_timeout(query)
            return self.engine.execute(query, include_deleted=include_deleted, render="rest")
        except SoqlError as error:
            raise SalesforceError(400, error.error_code, error.message) from error

    def _check_query_timeout(self, query: Query) -> None:
        """QUERY_TIMEOUT when a query's datetime range is wider than the fault allows."""
        limit = self.faults.query_timeout_days
        if not limit:
            return
        lower, upper = None, dt.datetime.now(dt.timezone.utc)
        conditions = (
            query.where.operands
            if isinstance(query.where, BoolOp) and query.where.op == "AND"
            else [query.where]
        )
        for condition in conditions:
            if isinstance(condition, Comparison) and condition.literal.kind == "datetime":
                value = condition.literal.value
                if condition.op in (">", ">="):
                    lower = value if lower is None else max(lower, value)  # type: ignore[type-var]
                elif condition.op in ("<", "<="):
                    upper = min(upper, value)  # type: ignore[type-var]
        if query.is_count:
            return
        if lower is None:
            # An unbounded scan only times out on a large object, as in a real org.
            spec = self.find_object(query.object_name)
            if spec is None or self.org.table(spec.name).num_rows < QUERY_TIMEOUT_MIN_ROWS:
                return
        if lower is None or (upper - lower).total_seconds() > limit * 86_400:  # type: ignore[operator]
            self.faults.record("QUERY_TIMEOUT")
            raise SalesforceError(
                400, "QUERY_TIMEOUT", "Your query request was running for too long."
            )

    def open_cursor(self, result: QueryResult, batch_size: int) -> str:
        """Cursors live until 15 minutes without use, as Salesforce's query locators do."""
        with self._lock:
            idle_before = time.time() - CURSOR_IDLE_SECONDS
            for stale in [
                key for key, cursor in self.cursors.items() if cursor.last_used < idle_before
            ]:
                del self.cursors[stale]
            cursor_id = make_id("01g", next(self._ids))[:15]
            self.cursors[cursor_id] = Cursor(result, batch_size)
        return cursor_id

    def query_page(self, cursor_id: str, offset: int, version: str, resource: str) -> dict:
        cursor = self.cursors.get(cursor_id)
        if cursor is None or offset > cursor.result.total_size:
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = time.time()
        stop = min(offset + cursor.batch_size, cursor.result.total_size)
        body: dict = {
            "totalSize": cursor.result.total_size,
            "done": stop >= cursor.result.total_size,
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{cursor_id}-{stop}"
        body["records"] = rest_records(cursor.result, offset, stop, version)
        return body

    def deleted(self, name: str, start: str | None, end: str | None) -> dict:
        spec = self.find_object(name)
        if spec is None or not spec.queryable:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        if not spec.replicateable or spec.field("IsDeleted") is None:
            raise SalesforceError(
                400, "INVALID_TYPE", f"sObject type '{spec.name}' is not replicateable"
            )
        if not start or not end:
            raise SalesforceError(400, "MISSING_ARGUMENT", "start and end are required")
        try:
            start_at = _parse_param_datetime(start)
            end_at = _parse_param_datetime(end)
        except ValueError as error:
            raise SalesforceError(
                400, "INVALID_DATE_FORMAT", f"invalid date format: {error}"
            ) from error
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        earliest = now - dt.timedelta(days=RECYCLE_BIN_DAYS)
        if start_at < earliest:
            raise SalesforceError(
                400, "INVALID_REPLICATION_DATE", "startDate before org replication enabled date"
            )
        if end_at <= start_at:
            raise SalesforceError(400, "INVALID_REPLICATION_DATE", "endDate before startDate")
        table = self.org.table(spec.name)
        modstamp = table["SystemModstamp"]
        mask = pc.and_(
            pc.and_(table["IsDeleted"], pc.greater_equal(modstamp, start_at)),
            pc.less(modstamp, end_at),
        )
        hits = table.filter(mask)
        deleted = list(zip(hits["Id"].to_pylist(), hits["SystemModstamp"].to_pylist(), strict=True))
        deleted += [
            (i, when) for i, when in self.purged.get(spec.name, []) if start_at <= when < end_at
        ]
        return {
            "deletedRecords": [
                {"id": record_id, "deletedDate": _sf_datetime(when)} for record_id, when in deleted
            ],
            "earliestDateAvailable": _sf_datetime(earliest),
            "latestDateCovered": _sf_datetime(min(end_at, now)),
        }

    def limits(self) -> dict:
        return {
            "DailyApiRequests": {
                "Max": self.daily_api_limit,
                "Remaining": self.daily_api_limit - self.api_usage,
            },
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000 - len(self.jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        }

    # -- Bulk API 2.0 --
    def create_job(self, body: dict, version: str) -> dict:
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise SalesforceError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        if body.get("contentType", "CSV") != "CSV":
            raise SalesforceError(
                400, "INVALIDJOB", "InvalidJob : Only CSV content type is supported"
            )
        soql = body.get("query") or ""
        try:
            query = parse(soql)
            obj = self.find_object(query.object_name)
            if obj is None or not obj.queryable:
                raise invalid_type(query.object_name)
            if not obj.bulk_supported:
                raise SalesforceError(
                    400, "INVALIDENTITY", f"Entity '{obj.name}' is not supported by the Bulk API."
                )
            if query.is_count:
                raise SalesforceError(
                    400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0"
                )
            self._check_query_timeout(query)
            result = self.engine.execute(
                query, include_deleted=operation == "queryAll", render="csv"
            )
        except SoqlError as error:
            raise SalesforceError(400, error.error_code, error.message) from error
        reason = bulk_unsupported_reason(result)
        if reason:
            raise SalesforceError(400, "API_ERROR", reason)
        job = BulkJob(
            id=self.new_id("750"),
            operation=operation,
            query=soql,
            object_name=obj.name,
            created=_sf_datetime(dt.datetime.now(dt.timezone.utc)),
            version=version,
            result=result,
            fails=self.faults.take_failed_job(),
        )
        self.jobs[job.id] = job
        return self.job_info(job)

    def job_info(self, job: BulkJob) -> dict:
        info = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object_name,
            "createdById": self.org.user_id(0),
            "createdDate": job.created,
            "systemModstamp": job.created,
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if job.state in ("JobComplete", "Failed", "Aborted"):
            info["numberRecordsProcessed"] = (
                job.result.total_size if job.state == "JobComplete" and job.result else 0
            )
            info["retries"] = 0
            info["totalProcessingTime"] = 42
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info

    def poll_job(self, job_id: str) -> dict:
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            running = time.monotonic() - job.started < self.bulk_job_seconds
            if job.polls <= self.faults.slow_polls or job.state == "UploadComplete" or running:
                job.state = "InProgress"
            elif job.fails:
                job.state = "Failed"
                job.error_message = (
                    "InternalServerError : Internal error processing the query; retry the job"
                )
                job.result = None
            else:
                job.state = "JobComplete"
        return self.job_info(job)

    def _job(self, job_id: str) -> BulkJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def job_results(
        self, job_id: str, locator: str | None, max_records: str | None
    ) -> tuple[bytes, str, int]:
        job = self._job(job_id)
        if job.state != "JobComplete" or job.result is None:
            raise SalesforceError(
                400,
                "INVALIDJOBSTATE",
                f"InvalidJobState : Job {job_id} is in state {job.state}, results are available only for JobComplete jobs",
            )
        try:
            offset = (
                int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
                if locator
                else 0
            )
            page_size = int(max_records) if max_records else DEFAULT_MAX_RECORDS
        except ValueError as error:
            raise SalesforceError(400, "INVALIDLOCATOR", f"InvalidLocator : {locator}") from error
        if page_size <= 0 or offset < 0 or offset > job.result.total_size:
            raise SalesforceError(400, "INVALIDLOCATOR", f"InvalidLocator : {locator}")
        stop = min(offset + page_size, job.result.total_size)
        next_locator = (
            base64.b64encode(str(stop).encode()).decode().rstrip("=")
            if stop < job.result.total_size
            else "null"
        )
        return csv_page(job.result, offset, stop), next_locator, stop - offset

    def abort_job(self, job_id: str, body: dict) -> dict:
        job = self._job(job_id)
        if body.get("state") != "Aborted":
            raise SalesforceError(
                400, "INVALIDJOBSTATE", "InvalidJobState : only Aborted can be set on a query job"
            )
        if job.state in ("JobComplete", "Failed"):
            raise SalesforceError(
                400, "INVALIDJOBSTATE", f"InvalidJobState : Job {job_id} is already {job.state}"
            )
        job.state = "Aborted"
        job.result = None
        return self.job_info(job)

    def delete_job(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            raise SalesforceError(
                400, "INVALIDJOBSTATE", "InvalidJobState : abort the job before deleting it"
            )
        del self.jobs[job_id]


def _parse_param_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the org; everything it answers is in Salesforce's wire format."""

    org: SandboxOrg
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
        response = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{base}/services/Soap/m/62.0/00D8d0000000001</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/62.0/00D8d0000000001</serverUrl>"
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
        org.begin_api_call(self.headers.get("Authorization"))
        routes_get = {
            "": lambda: {
                "sobjects": f"/services/data/v{version}/sobjects",
                "query": f"/services/data/v{version}/query",
                "queryAll": f"/services/data/v{version}/queryAll",
                "limits": f"/services/data/v{version}/limits",
                "jobs": f"/services/data/v{version}/jobs",
            },
            "/sobjects": lambda: org.describe_global(version),
            "/limits": org.limits,
        }
        if method == "GET" and rest in routes_get:
            self._json(200, routes_get[rest]())
            return
        if method == "GET" and (m := re.fullmatch(r"/sobjects/(\w+)/describe", rest)):
            self._json(200, org.describe(m[1], version))
            return
        if method == "GET" and (m := re.fullmatch(r"/sobjects/(\w+)/deleted", rest)):
            self._json(200, org.deleted(m[1], params.get("start"), params.get("end")))
            return
        if method == "GET" and rest in ("/query", "/queryAll"):
            self._query(rest[1:], version, params)
            return
        if method == "GET" and (m := re.fullmatch(r"/(query|queryAll)/(\w+)-(\d+)", rest)):
            self._json(200, org.query_page(m[2], int(m[3]), version, m[1]), may_drop=is_results)
            return
        if rest == "/jobs/query" and method == "POST":
            self._json(200, org.create_job(self._json_body(body), version))
            return
        if method == "GET" and (m := re.fullmatch(r"/jobs/query/(\w+)", rest)):
            self._json(200, org.poll_job(m[1]))
            return
        if method == "GET" and (m := re.fullmatch(r"/jobs/query/(\w+)/results", rest)):
            payload, locator, count = org.job_results(
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
            self._json(200, org.abort_job(m[1], self._json_body(body)))
            return
        if method == "DELETE" and (m := re.fullmatch(r"/jobs/query/(\w+)", rest)):
            org.delete_job(m[1])
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
        result = self.org.run_query(soql, include_deleted=resource == "queryAll")
        if result.columns == []:
            self._json(200, {"totalSize": result.total_size, "done": True, "records": []})
            return
        batch_size = DEFAULT_BATCH_SIZE
        options = self.headers.get("Sforce-Query-Options") or ""
        if m := re.search(r"batchSize=(\d+)", options):
            batch_size = max(200, min(2000, int(m[1])))
        cursor = self.org.open_cursor(result, batch_size)
        self._json(200, self.org.query_page(cursor, 0, version, resource), may_drop=True)

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

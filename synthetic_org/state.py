"""The synthetic org as a running server: its state (data, sessions, API usage, faults) and
lifecycle. REST resources live in ``rest``, Bulk jobs in ``bulk``, the HTTP face in ``handler``.

Use it in-process::

    with SandboxOrg(seed=7, scale=500) as org:
        print(org.base_url, org.credentials.username)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
from http.server import ThreadingHTTPServer
from typing import TypedDict, cast

from .bulk import ORDER_BY_MAX_ROWS, BulkJobs
from .bulk_quota import DAILY_BULK_QUERY_JOBS, DailyJobQuota
from .changes import RecordChanges
from .data.activity_history import activity_field_history as activity_history_rows
from .data.archive import archived_history
from .data.org import SyntheticOrg
from .errors import SalesforceError
from .faults import Faults
from .handler import Handler, ServedOrg
from .ids import make_id
from .metadata import ACTIVITY_FIELD_HISTORY, OBJECTS, OBJECTS_BY_NAME, ObjectSpec, find_object
from .metadata import extra_objects as make_extra_objects
from .oauth import Credentials, Sessions, generate_credentials, org_id_for
from .rest import RestApi
from .soql.engine import Engine
from .soql.parser import parse

DAILY_API_LIMIT = 15_000


class LoginSettings(TypedDict):
    """Tap settings that log in to a sandbox org with the password flow."""

    auth_flow: str
    domain: str
    username: str
    password: str
    security_token: str
    client_id: str
    client_secret: str


class SandboxOrg:
    """A running synthetic org. Start with ``start()`` or as a context manager."""

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
        unreadable_objects: tuple[str, ...] = (),
        bulk_order_by_max_rows: int = ORDER_BY_MAX_ROWS,
        field_audit_trail: bool = False,
        activity_field_history: bool = False,
        bulk_job_limit: int = DAILY_BULK_QUERY_JOBS,
        bulk_jobs_used_start: int = 0,
        org_id: str | None = None,
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
        if field_audit_trail:
            # Field Audit Trail on: FieldHistoryArchive becomes readable (big-object rules apply,
            # Bulk API 2.0 refuses it) and holds the org's field history.
            archive = dataclasses.replace(
                OBJECTS_BY_NAME["fieldhistoryarchive"], queryable=True, bulk_supported=False
            )
            self.extras[archive.name.lower()] = archive
            self.org.replace(archive.name, archived_history(self.org))
        if activity_field_history:
            # Field History Tracking for Activities on: ActivityFieldHistory, whose SystemModstamp
            # cannot be filtered (``metadata.activity_history``).
            self.extras[ACTIVITY_FIELD_HISTORY.name.lower()] = ACTIVITY_FIELD_HISTORY
            self.org.replace(ACTIVITY_FIELD_HISTORY.name, activity_history_rows(self.org))
        self.objects = (
            *(o for o in OBJECTS if o.name.lower() not in self.extras),
            *self.extras.values(),
        )
        # Realism knobs for measurements (the embedded org answers in ~1 ms, a real one does not):
        # a delay before every API answer, and the wall time a Bulk query job takes to complete.
        self.latency_ms = latency_ms
        # Objects this user may not read (no permission): answered as INVALID_TYPE, as a real org does.
        self.unreadable = {name.lower() for name in unreadable_objects}
        self.engine = Engine(self.org.table, self.find_object)
        self.faults = faults or Faults()
        self.credentials: Credentials = generate_credentials()
        # The login's identity names the org (``.../id/<orgId>/<userId>``): one per seed unless
        # given, so two orgs with the same data (a many-org measurement) are still two orgs.
        self.org_id = org_id or org_id_for(self.org.seed)
        self.sessions = Sessions(self.credentials, self.org.user_id(0), self.org_id)
        self.api_usage = api_usage_start
        self.daily_api_limit = daily_api_limit
        self.requests: list[tuple[str, str, int]] = []  # method, path, full request-target length
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.rest = RestApi(
            self.org, self.engine, lambda: self.objects, self.find_object, self.faults
        )
        self.bulk = BulkJobs(
            self.org,
            self.engine,
            self.find_object,
            self.faults,
            self.rest.check_query_timeout,
            self.new_id,
            bulk_job_seconds,
            bulk_order_by_max_rows,
            DailyJobQuota(bulk_job_limit, bulk_jobs_used_start),
        )
        # Deletes, Recycle Bin, field updates and the org's TODAY(), for tests (``changes``).
        self.changes = RecordChanges(
            self.org, self.find_object, self.rest.delete_log, self._lock, self.anchor.date()
        )
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> SandboxOrg:
        served: ServedOrg = self  # checked statically: the org offers all the handler uses
        handler = type("BoundHandler", (Handler,), {"org": served})
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
        # typeshed types the address as bind() accepts it (a str or bytes host); once bound,
        # TCPServer stores socket.getsockname(), whose AF_INET host is a str.
        host, port = cast("tuple[str, int]", self._server.server_address[:2])
        return f"http://{host}:{port}"

    def login_settings(self) -> LoginSettings:
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

        from .data.advance import advance_opportunities

        moment = at or dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
        rng = random.Random(f"{self.org.seed}:advance:{moment.isoformat()}")
        with self._lock:
            return advance_opportunities(self.org, rng, opportunities, int(moment.timestamp()))

    def hard_delete(self, object_name: str, ids: list[str], at: dt.datetime | None = None) -> None:
        """Delete rows for good (emptied recycle bin): only getDeleted still knows about them."""
        self.changes.hard_delete(object_name, ids, at)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return make_id(prefix, next(self._ids))

    # -- request accounting --
    def begin_api_call(
        self, authorization: str | None, *, result_page: bool = False, path: str = ""
    ) -> str:
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
        fault = self.faults.on_api_call(path)
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
        if name.lower() in self.unreadable:
            return None
        return self.extras.get(name.lower()) or find_object(name)

    def limits(self) -> dict:
        return {
            "DailyApiRequests": {
                "Max": self.daily_api_limit,
                "Remaining": self.daily_api_limit - self.api_usage,
            },
            "DailyBulkV2QueryJobs": self.bulk.quota.limits_entry(),
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        }

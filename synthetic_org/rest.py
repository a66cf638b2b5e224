"""The REST resources: describeGlobal, describe, query/queryAll with cursors, getDeleted.

Everything answers in Salesforce's wire shapes; rules a real org enforces (query timeouts on wide
scans, cursor expiry, the recycle bin's reach: ``deletes``) are enforced here too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from .data.org import SyntheticOrg
from .deletes import DeleteLog, utc_now
from .errors import SalesforceError
from .faults import Faults
from .ids import make_id
from .metadata import ObjectSpec
from .rules import check_rest_query
from .soql.engine import Engine, QueryResult
from .soql.parser import BoolOp, Comparison, Query, SoqlError, parse
from .soql.render import rest_records
from .soql.rest_json import rest_records_json

CURSOR_IDLE_SECONDS = 15 * 60
QUERY_TIMEOUT_MIN_ROWS = 200


@dataclass
class Cursor:
    result: QueryResult
    batch_size: int
    last_used: float = field(default_factory=time.time)


class RestApi:
    """The org's REST query and metadata resources over its data and SOQL engine."""

    def __init__(
        self,
        data: SyntheticOrg,
        engine: Engine,
        objects: Callable[[], tuple[ObjectSpec, ...]],
        find_object: Callable[[str], ObjectSpec | None],
        faults: Faults,
    ) -> None:
        self.data = data
        self.engine = engine
        self.objects = objects
        self.find_object = find_object
        self.faults = faults
        self.cursors: dict[str, Cursor] = {}
        # getDeleted's source for rows gone for good (``deletes``).
        self.delete_log = DeleteLog()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def describe_global(self, version: str) -> dict:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [
                self._global_entry(spec, version) for spec in self.objects() if spec.listed
            ],
        }

    def _global_entry(self, spec: ObjectSpec, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{spec.name}"
        return {
            "activateable": False,
            "createable": spec.queryable and spec.history_of is None,
            "custom": spec.is_custom,
            "customSetting": False,
            "deletable": spec.can_delete,
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
            "undeletable": spec.has_recycle_bin,
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
        if spec.name in self.faults.unavailable_describes:
            self.faults.record("SERVER_UNAVAILABLE")
            raise SalesforceError(503, "SERVER_UNAVAILABLE", "Server unavailable, try again later")
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
            check_rest_query(self.engine.resolve_object(query.object_name), query)
            self.check_query_timeout(query)
            return self.engine.execute(query, include_deleted=include_deleted)
        except SoqlError as error:
            raise SalesforceError(400, error.error_code, error.message) from error

    def check_query_timeout(self, query: Query) -> None:
        """QUERY_TIMEOUT when a query's datetime range is wider than the fault allows."""
        limit = self.faults.query_timeout_days
        if not limit:
            return
        lower: dt.datetime | None = None
        upper = dt.datetime.now(dt.timezone.utc)
        conditions = (
            query.where.operands
            if isinstance(query.where, BoolOp) and query.where.op == "AND"
            else [query.where]
        )
        for condition in conditions:
            # A "datetime" literal's value is the parsed dt.datetime.
            if isinstance(condition, Comparison) and isinstance(
                value := condition.literal.value, dt.datetime
            ):
                if condition.op in (">", ">="):
                    lower = value if lower is None else max(lower, value)
                elif condition.op in ("<", "<="):
                    upper = min(upper, value)
        if query.is_count:
            return
        if lower is None:
            # An unbounded scan only times out on a large object, as in a real org.
            spec = self.find_object(query.object_name)
            if spec is None or self.data.table(spec.name).num_rows < QUERY_TIMEOUT_MIN_ROWS:
                return
        if lower is None or (upper - lower).total_seconds() > limit * 86_400:
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
        records = rest_records_json(cursor.result, offset, stop, version)
        body["records"] = (
            msgspec.Raw(records)
            if records is not None
            else rest_records(cursor.result, offset, stop, version)
        )
        if self.faults.repeats_locator(cursor.result.obj.name):
            # A broken cursor: this page names itself as the next one, for ever.
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{cursor_id}-{offset}"
        if self.faults.endless(cursor.result.obj.name):
            # No progress under fresh names: a new cursor that serves these rows again.
            again = self.open_cursor(cursor.result, cursor.batch_size)
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{again}-{offset}"
        if member := self.faults.spoils(cursor.result.obj.name):
            body = spoiled(body, member)
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
        if start_at < self.delete_log.earliest(spec.name, utc_now()):
            raise SalesforceError(
                400, "INVALID_REPLICATION_DATE", "startDate before org replication enabled date"
            )
        if end_at <= start_at:
            raise SalesforceError(400, "INVALID_REPLICATION_DATE", "endDate before startDate")
        return self.delete_log.answer(spec.name, self.data.table(spec.name), start_at, end_at)


def _parse_param_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def spoiled(body: dict, member: str) -> dict:
    """A query page with ``member`` (``faults.WRONG_TYPES``) of a type the API never sends."""
    body = dict(body)
    if member == "records":
        body["records"] = "notalist"
    elif member == "done":
        body["done"] = str(body["done"]).lower()
    elif member == "totalSize":
        body["totalSize"] = str(body["totalSize"])
    else:
        body["records"] = ["notarecord"]
    return body

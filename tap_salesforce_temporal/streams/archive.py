"""FieldHistoryArchive (Field Audit Trail): a big object, read within its query rules.

Salesforce stores it in index order (FieldHistoryType, ParentId, CreatedDate), and a SOQL query
must filter the index fields in that order without gaps, "=" on all but the last one filtered;
no !=, LIKE or NOT; no COUNT() or other aggregates ("SOQL with Big Objects"). Bulk API 2.0 is
not used (the org refuses the entity), so the ``api_type`` setting does not apply: REST only,
with queryMore paging, and never a COUNT().

A CreatedDate range alone would leave a gap at ParentId, so each run reads one query per
FieldHistoryType (``WHERE FieldHistoryType = 'Account'``) and keeps the rows inside the read
range ``[bookmark - lookback, run start)`` on the client. Rows come in index order, not
CreatedDate order: each type is its own state partition, and its bookmark moves to the largest
CreatedDate emitted only once the type is fully read (a run killed part-way re-reads the type,
never skips a row).

The types are the objects whose field history the org keeps: its live field history objects
(``AccountHistory`` -> ``Account``, ``OpportunityFieldHistory`` -> ``Opportunity``,
``Project__History`` -> ``Project__c``).

Archived rows do not feed ``micro_decision_events``: their Ids differ from the live rows they
were copied from, so the same change would get a second event_id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context

from ..discovery.schema import ObjectSchema
from ..query import rest
from ..query.soql import Select, string_literal
from ..query.values import RecordShaper, format_datetime
from ..run.runtime import Runtime
from .base import IncrementalStream

ARCHIVE = "FieldHistoryArchive"
KEY = "CreatedDate"
# *History objects that are not field history (snapshots, logs, subquery-only views).
NOT_FIELD_HISTORY = frozenset(
    {
        "ActivityHistory",
        "LoginHistory",
        "OpportunityHistory",
        "ProcessInstanceHistory",
        "RecordActionHistory",
    }
)


def history_types(object_names: Iterable[str]) -> list[str]:
    """The FieldHistoryType values of the org's field history objects, sorted."""
    types: set[str] = set()
    for name in object_names:
        if name in NOT_FIELD_HISTORY:
            continue
        if name.endswith("__History"):
            types.add(name.removesuffix("__History") + "__c")
        elif name.endswith("FieldHistory"):
            types.add(name.removesuffix("FieldHistory"))
        elif name.endswith("History") and name != "History":
            types.add(name.removesuffix("History"))
    return sorted(types)


class FieldHistoryArchiveStream(IncrementalStream):
    """FieldHistoryArchive, one state partition per FieldHistoryType, incremental by CreatedDate."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self, tap: Any, object_schema: ObjectSchema, runtime: Runtime, types: list[str]
    ) -> None:
        self.object_schema = object_schema
        self.runtime = runtime
        self.types = types
        super().__init__(tap=tap, schema=object_schema.json_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = KEY

    @property
    def partitions(self) -> list[dict]:
        return [{"FieldHistoryType": name} for name in self.types]

    def _fields(self) -> list[str]:
        """Selected columns plus the ones the read needs (Id, the type, the key)."""
        mask = self.mask
        required = {"Id", "FieldHistoryType", KEY}
        return [
            info.name
            for info in self.object_schema.queryable_fields
            if info.name in required or mask.get(("properties", info.name), True)
        ]

    def get_records(self, context: Context | None) -> Iterable[dict]:
        if context is None:
            return
        runtime = self.runtime
        history_type = context["FieldHistoryType"]
        stats = runtime.stats_for(f"{self.name}:{history_type}")
        if runtime.stopped_reason:
            return
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            return
        fields = self._fields()
        shaper = RecordShaper(self.object_schema, fields)
        select = Select(ARCHIVE, fields, [f"FieldHistoryType = {string_literal(history_type)}"])
        low = format_datetime(start) if start is not None else None
        high = format_datetime(end) if end is not None else None

        def rows() -> Iterator[dict]:
            for page in rest.pages(
                runtime.client, select.soql(), all_rows=False, context=f"{self.name} {history_type}"
            ):
                stats.path = "rest"
                yield from shaper.from_rest(page)
                runtime.client.check_quota()  # before the next page is requested

        largest: str | None = None
        self.hold_bookmark()  # index order is not CreatedDate order
        for record in self.accounted(rows(), stats):
            value = record.get(KEY)  # canonical ``...000Z`` text, comparable as strings
            if value is None or (low is not None and value < low):
                continue
            if high is not None and value >= high:
                continue
            largest = value if largest is None or value > largest else largest
            yield record
        if runtime.stopped_reason:
            self._holding = False  # stopped part-way: the type's bookmark stays where it was
            return
        self.release_bookmark({KEY: largest} if largest else None, context)

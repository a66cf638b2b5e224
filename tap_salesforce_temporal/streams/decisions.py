"""The derived stream ``micro_decision_events`` (``history_tracked_fields`` is in ``tracked_fields``).

micro_decision_events reads each source object (field history objects, OpportunityHistory,
ProcessInstanceStep, Task, Event, SetupAuditTrail) incrementally with its own bookmark (one state
partition per source), derives events with the pure rules of ``events.py``, and emits them in the
source's key order, which is also ``timestamp_recorded`` order: a killed run resumes per source.
A source whose own object stream is selected may have its events derived from that stream's
pages (``shared_events``): its partition waits for that stream and is then not read again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context

from ..events import (
    EVENT_SCHEMA,
    Derivation,
    StageTracker,
    activity_events,
    approval_events,
    field_history_events,
    setup_events,
)
from ..query.reader import ObjectReader
from ..query.soql import string_literal
from ..query.values import format_datetime
from ..runtime import Runtime, StreamStats
from ..schema import ObjectSchema
from .base import IncrementalStream
from .fast_records import FastRecords

CHUNK_ROWS = 2000
PRIOR_IDS_PER_QUERY = 150
_ID = re.compile(r"[A-Za-z0-9]{15,18}")

try:
    EXTRACTOR_VERSION = version("tap-salesforce-temporal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    EXTRACTOR_VERSION = "0.0.0"


@dataclass(frozen=True)
class Source:
    """One object that yields decisions: what to read and which rule turns rows into events."""

    object_name: str
    event_type: str
    key: str
    fields: tuple[str, ...]
    record_type: str | None  # known up front for history objects; None when it depends on the row


ACTIVITY_FIELDS = {
    "Task": (
        "Id",
        "WhoId",
        "WhatId",
        "Subject",
        "Status",
        "TaskSubtype",
        "ActivityDate",
        "CompletedDateTime",
        "IsClosed",
        "OwnerId",
        "CreatedDate",
        "SystemModstamp",
    ),
    "Event": (
        "Id",
        "WhoId",
        "WhatId",
        "Subject",
        "Type",
        "EventSubtype",
        "ActivityDate",
        "StartDateTime",
        "EndDateTime",
        "OwnerId",
        "CreatedDate",
        "SystemModstamp",
    ),
}
STEP_FIELDS = (
    "Id",
    "ProcessInstanceId",
    "StepStatus",
    "ActorId",
    "OriginalActorId",
    "Comments",
    "StepNodeId",
    "ElapsedTimeInDays",
    "CreatedDate",
    "ProcessInstance.TargetObjectId",
    "ProcessInstance.ProcessDefinitionId",
)
SNAPSHOT_FIELDS = (
    "Id",
    "OpportunityId",
    "StageName",
    "Amount",
    "Probability",
    "CloseDate",
    "ForecastCategory",
    "ExpectedRevenue",
    "CreatedById",
    "CreatedDate",
)
SETUP_FIELDS = (
    "Id",
    "Action",
    "Section",
    "Display",
    "DelegateUser",
    "CreatedById",
    "CreatedDate",
    "CreatedByContext",
    "ResponsibleNamespacePrefix",
)


def find_sources(
    schemas: dict[str, ObjectSchema], event_types: tuple[str, ...], record_types: tuple[str, ...]
) -> list[Source]:
    """The decision sources this org (and the selection settings) offers."""
    sources: list[Source] = []
    for name, schema in sorted(schemas.items()):
        parent_field = schema.history_parent_field
        if parent_field:
            fields: tuple[str, ...] = (
                "Id",
                parent_field,
                "Field",
                "DataType",
                "OldValue",
                "NewValue",
                "CreatedById",
                "CreatedDate",
            )
            sources.append(
                Source(name, "field_change", "CreatedDate", fields, schema.history_parent_object)
            )
    if "OpportunityHistory" in schemas:
        sources.append(
            Source(
                "OpportunityHistory", "stage_change", "CreatedDate", SNAPSHOT_FIELDS, "Opportunity"
            )
        )
    if "ProcessInstanceStep" in schemas and "ProcessInstance" in schemas:
        sources.append(
            Source("ProcessInstanceStep", "approval_decision", "CreatedDate", STEP_FIELDS, None)
        )
    for name, fields in ACTIVITY_FIELDS.items():
        if name in schemas:
            sources.append(Source(name, "activity", "SystemModstamp", fields, None))
    if "SetupAuditTrail" in schemas:
        sources.append(
            Source("SetupAuditTrail", "setup_change", "CreatedDate", SETUP_FIELDS, "Organization")
        )
    if event_types:
        sources = [s for s in sources if s.event_type in event_types]
    if record_types:
        sources = [s for s in sources if s.record_type is None or s.record_type in record_types]
    return sources


class MicroDecisionEventsStream(FastRecords, IncrementalStream):
    """One standardized record per decision, bookmarked per source object."""

    name = "micro_decision_events"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Events name their source in context.source_object; the partition key is not a column.
    records_carry_partition_keys = False
    schema_written = False

    def __init__(self, tap: Any, runtime: Runtime, schemas: dict[str, ObjectSchema]) -> None:
        self.runtime = runtime
        self.schemas = schemas
        settings = runtime.settings
        self.sources = {
            s.object_name: s
            for s in find_sources(schemas, settings.event_types, settings.record_types)
        }
        super().__init__(tap=tap, schema=EVENT_SCHEMA, name=self.name)
        self.primary_keys = ["event_id"]
        self.replication_key = "timestamp_recorded"
        # Sources whose own read this stream has begun: an object stream synced later (an
        # unusual order) must not derive their events from its pages too.
        self.sources_begun: set[str] = set()
        # Sources whose object stream may derive their events (queued after every object
        # stream, ``tap._sync_order``): only their partitions wait for it. One queued before
        # would hold a worker while waiting for a stream that may need that very worker.
        self.waits_for: set[str] = set()

    @property
    def partitions(self) -> list[dict]:
        return [{"source_object": name} for name in self.sources]

    def derivation(self) -> Derivation:
        """What every rule needs besides the rows (the org's users are read once per run)."""
        runtime = self.runtime
        return Derivation(
            user_types=runtime.user_types(),
            key_prefixes=runtime.key_prefixes,
            org_id=runtime.client.session.org_id,
            extracted_at=format_datetime(runtime.run_started),
            extractor_version=EXTRACTOR_VERSION,
        )

    def get_records(self, context: Context | None) -> Iterable[dict]:
        if context is None:
            return
        source = self.sources[context["source_object"]]
        runtime = self.runtime
        if source.object_name in self.waits_for:
            # Its object stream, running beside this one, may derive these events itself.
            runtime.wait_for_stream(source.object_name)
        self.sources_begun.add(source.object_name)
        stats = runtime.stats_for(f"{self.name}:{source.object_name}")
        if runtime.stopped_reason:
            return
        if source.object_name in runtime.shared_event_sources:
            self.logger.info(
                "%s: %s events came from the %s stream's pages; not read again",
                self.name,
                source.object_name,
                source.object_name,
            )
            return
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            return
        derivation = self.derivation()
        reader = ObjectReader(
            runtime,
            self.schemas[source.object_name],
            self.logger,
            name=f"{self.name}:{source.object_name}",
        )
        rows = reader.read(list(source.fields), start, end, stats, key=source.key, all_rows=False)
        record_types = set(runtime.settings.record_types)
        events = self._derive(source, rows, derivation, reader, start, stats)
        if record_types:
            events = (e for e in events if e["record_type"] in record_types)
        yield from self.accounted(events, stats)

    def _derive(
        self,
        source: Source,
        rows: Iterator[dict],
        d: Derivation,
        reader: ObjectReader,
        start: Any,
        stats: StreamStats,
    ) -> Iterator[dict]:
        if source.event_type == "stage_change":
            stages = StageChanges(reader, start, stats)
            for chunk in _chunks(rows, CHUNK_ROWS):
                stages.seed({r["OpportunityId"] for r in chunk})
                yield from stages.events(chunk, d)
        else:
            yield from self.row_events(source, rows, d)

    def row_events(self, source: Source, rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
        """Events of a source whose rule looks at one row at a time (all but stage changes)."""
        name = source.object_name
        if source.event_type == "approval_decision":
            yield from approval_events(rows, d)
        elif source.event_type == "field_change":
            schema = self.schemas[name]
            yield from field_history_events(
                name, schema.history_parent_object or "", schema.history_parent_field or "", rows, d
            )
        elif source.event_type == "activity":
            yield from activity_events(name, rows, d)
        else:
            yield from setup_events(rows, d)


class StageChanges:
    """Stage changes of OpportunityHistory snapshots read in (CreatedDate, Id) order, page by
    page: each opportunity's stage is carried from one snapshot to its next.

    In an incremental window an opportunity's first snapshot needs the one before the window
    (where it came from): those are read from Salesforce, a query per 150 opportunities not
    seen yet (``seed``), before the rows that need them.
    """

    def __init__(self, reader: ObjectReader, start: Any, stats: StreamStats) -> None:
        self.tracker = StageTracker()
        self.reader = reader
        self.start = start  # the window's start (None: the whole history, nothing before it)
        self.stats = stats

    def seed(self, opportunity_ids: Iterable[str]) -> None:
        """Replay the snapshots before the window of the opportunities not seen yet."""
        if self.start is None:
            return
        states = self.tracker.states
        unseen = sorted(i for i in set(opportunity_ids) if i not in states)
        if unseen:
            self.tracker.seed(self._prior_snapshots(unseen))

    def events(self, rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
        return self.tracker.events(rows, d)

    def _prior_snapshots(self, opportunity_ids: list[str]) -> Iterator[dict]:
        """Snapshots older than the window, so the first stage change in it knows where it came from."""
        fields = ["Id", "OpportunityId", "StageName", "CreatedDate"]
        for offset in range(0, len(opportunity_ids), PRIOR_IDS_PER_QUERY):
            batch = [
                i
                for i in opportunity_ids[offset : offset + PRIOR_IDS_PER_QUERY]
                if _ID.fullmatch(i)
            ]
            if not batch:
                continue
            where = [f"OpportunityId IN ({', '.join(string_literal(i) for i in batch)})"]
            yield from self.reader.read(
                fields, None, self.start, self.stats, key="CreatedDate", where=where, all_rows=False
            )


def _chunks(rows: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

"""Where micro_decision_events come from: the source objects and how each becomes events.

Each source object (field history objects, OpportunityHistory, ProcessInstanceStep, Task, Event,
SetupAuditTrail) has the columns its rule reads and the key it is read in. Rows become events
through the pure rules of ``events.py`` (``row_events``), the stage changes of OpportunityHistory
through ``StageChanges``, which carries each opportunity's stage from one snapshot to its next.
Whether the rows come from the events stream's own read (``decisions``) or from the pages of the
object's own stream (``page_events``), they become the same events: the own read derives dicts,
the pages one Arrow table of events each (``row_event_table``, ``StageChanges.event_table``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..discovery.schema import ObjectSchema
from ..event_tables import activity_table, approval_table, field_history_table, setup_table
from ..events import (
    Derivation,
    StageTracker,
    activity_events,
    approval_events,
    field_history_events,
    setup_events,
)
from ..query.reader import ObjectReader
from ..query.soql import string_literal
from ..run.runtime import StreamStats
from ..stage_tables import stage_change_table

# Snapshots whose prior stages are looked up together (the events' own read of OpportunityHistory).
CHUNK_ROWS = 2000
PRIOR_IDS_PER_QUERY = 150
_ID = re.compile(r"[A-Za-z0-9]{15,18}")


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


def row_events(
    source: Source, schema: ObjectSchema, rows: Iterable[dict], d: Derivation
) -> Iterator[dict]:
    """Events of a source whose rule looks at one row at a time (all but stage changes);
    ``schema``: the source object's (a field history object names its parent)."""
    name = source.object_name
    if source.event_type == "approval_decision":
        yield from approval_events(rows, d)
    elif source.event_type == "field_change":
        yield from field_history_events(
            name, schema.history_parent_object or "", schema.history_parent_field or "", rows, d
        )
    elif source.event_type == "activity":
        yield from activity_events(name, rows, d)
    else:
        yield from setup_events(rows, d)


def row_event_table(
    source: Source, schema: ObjectSchema, rows: pa.Table, d: Derivation
) -> pa.Table:
    """``row_events`` of a page at once: the events as one Arrow table of the stream's shape
    (``event_tables``), the same values."""
    name = source.object_name
    if source.event_type == "approval_decision":
        return approval_table(rows, d)
    if source.event_type == "field_change":
        return field_history_table(
            name, schema.history_parent_object or "", schema.history_parent_field or "", rows, d
        )
    if source.event_type == "activity":
        return activity_table(name, rows, d)
    return setup_table(rows, d)


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

    def event_table(self, rows: pa.Table, d: Derivation) -> tuple[pa.Table, pa.Array]:
        """``events`` of a page at once (``stage_tables``): the events and the positions of
        the rows they come from."""
        return stage_change_table(self.tracker, rows, d)

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


def chunks(rows: Iterator[dict], size: int) -> Iterator[list[dict]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

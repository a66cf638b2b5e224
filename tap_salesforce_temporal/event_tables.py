"""The row-at-a-time decision rules of ``events.py``, a whole Arrow page at once (issue #26).

Deriving an event dict per source row, then encoding each dict, was most of the tap's CPU in a
whole-org run (~200k events at scale 10000). Here a page's events are one Arrow table in the
stream's shape, built with Arrow kernels (filters, ``if_else``, take-based lookups of actor and
record types); only the sha256 ``event_id`` (no Arrow kernel) and ``str`` of floats are per row.
The table goes out through the same writers as the object streams' pages: RECORD lines
(``record_lines``: ``context`` a struct, ``metadata`` a struct of the row's typed values, in the
dict's key order) or Parquet (``batch_table``: ``metadata`` as the JSON text a batch file holds).

Every value equals what the dict rules produce (``tests/events/test_event_tables.py`` checks it
against them): the rules live in ``events.py``; this module only computes them differently.
Stage changes (a walk carrying each opportunity's stage) are in ``stage_tables``, on the same
``event_table``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .events import (
    AUTOMATION_USER_TYPES,
    INTEGRATION_USER_TYPES,
    UNDECIDED_STEP_STATUSES,
    Derivation,
)
from .output.open_object_text import struct_json_text

STRING = pa.string()
NULL_TEXT = pa.scalar(None, STRING)


class PageColumns:
    """A page's rule columns: a missing optional column reads as nulls (``row.get``)."""

    def __init__(self, rows: pa.Table) -> None:
        self.table = rows
        self.size = rows.num_rows

    def get(self, name: str) -> pa.Array:
        """A column the rule reads with ``row.get``."""
        if name in self.table.column_names:
            return self.table[name].combine_chunks()
        return pa.nulls(self.size, STRING)

    def required(self, name: str) -> pa.Array:
        """A column the rule indexes (``row[name]``): missing, it fails as the rule does."""
        if name not in self.table.column_names:
            if not self.size:
                return pa.nulls(0, STRING)  # the rule never looks at a row of an empty page
            raise KeyError(name)
        return self.table[name].combine_chunks()

    def constant(self, value: str | None) -> pa.Array:
        """The same text (or null) on every row."""
        return pa.repeat(pa.scalar(value, STRING), self.size)


def deciding_rows(source_object: str, event_type: str, rows: pa.Table) -> pa.Table:
    """The rows a rule yields an event for, one each, in order: all but OpportunityFieldHistory's
    StageName rows (a stage change tells that decision) and steps still undecided."""
    names = rows.column_names
    if event_type == "field_change" and source_object == "OpportunityFieldHistory":
        if "Field" in names:
            return rows.filter(pc.fill_null(pc.not_equal(rows["Field"], "StageName"), True))
    elif event_type == "approval_decision" and "StepStatus" in names:
        undecided = pa.array(sorted(UNDECIDED_STEP_STATUSES), STRING)
        status = rows["StepStatus"].cast(STRING)
        return rows.filter(pc.invert(pc.is_in(status, value_set=undecided)))
    return rows


def field_history_table(
    source_object: str, parent_object: str, parent_field: str, rows: pa.Table, d: Derivation
) -> pa.Table:
    """``events.field_history_events`` of a page."""
    r = PageColumns(deciding_rows(source_object, "field_change", rows))
    created = r.required("CreatedDate")
    return event_table(
        r,
        d,
        event_type="field_change",
        source_object=source_object,
        source_record_id=r.required("Id"),
        field_name=r.get("Field"),
        occurred=created,
        recorded=created,
        actor_id=r.get("CreatedById"),
        record_type=r.constant(parent_object),
        record_id=r.get(parent_field) if parent_field else r.constant(None),
        old_value=text_values(r.get("OldValue")),
        new_value=text_values(r.get("NewValue")),
        metadata={"data_type": r.get("DataType")},
    )


def approval_table(rows: pa.Table, d: Derivation) -> pa.Table:
    """``events.approval_events`` of a page."""
    r = PageColumns(deciding_rows("ProcessInstanceStep", "approval_decision", rows))
    created = r.required("CreatedDate")
    target = r.get("ProcessInstance.TargetObjectId")
    instance = r.get("ProcessInstanceId")
    return event_table(
        r,
        d,
        event_type="approval_decision",
        source_object="ProcessInstanceStep",
        source_record_id=r.required("Id"),
        field_name=r.constant("StepStatus"),
        occurred=created,
        recorded=created,
        actor_id=r.get("ActorId"),
        record_type=record_types(target, d.key_prefixes),
        record_id=target,
        new_value=text_values(r.get("StepStatus")),
        related=[instance],
        approval_comments=r.get("Comments"),
        metadata={
            "process_instance_id": instance,
            "process_definition_id": r.get("ProcessInstance.ProcessDefinitionId"),
            "original_actor_id": r.get("OriginalActorId"),
            "step_node_id": r.get("StepNodeId"),
            "elapsed_days": r.get("ElapsedTimeInDays"),
        },
    )


def activity_table(source_object: str, rows: pa.Table, d: Derivation) -> pa.Table:
    """``events.activity_events`` of a page: a Task when it was completed (else created), an
    Event when it starts."""
    r = PageColumns(rows)
    what, who = r.get("WhatId"), r.get("WhoId")
    record_id = _or(what, who)
    if source_object == "Task":
        occurred = _or(r.get("CompletedDateTime"), r.required("CreatedDate"))
        field_name, value, kind = "Status", r.get("Status"), r.get("TaskSubtype")
    else:
        occurred = _or(r.get("StartDateTime"), r.required("CreatedDate"))
        field_name, value, kind = "Type", r.get("Type"), r.get("EventSubtype")
    return event_table(
        r,
        d,
        event_type="activity",
        source_object=source_object,
        source_record_id=r.required("Id"),
        field_name=r.constant(field_name),
        occurred=occurred,
        recorded=r.required("SystemModstamp"),
        actor_id=r.get("OwnerId"),
        record_type=record_types(record_id, d.key_prefixes),
        record_id=record_id,
        new_value=text_values(value),
        related=[who, what],
        activity_subject=r.get("Subject"),
        activity_type=kind,
        metadata={
            "activity_date": r.get("ActivityDate"),
            "end": r.get("EndDateTime"),
            "closed": r.get("IsClosed"),
        },
    )


def setup_table(rows: pa.Table, d: Derivation) -> pa.Table:
    """``events.setup_events`` of a page."""
    r = PageColumns(rows)
    created = r.required("CreatedDate")
    action = r.get("Action")
    return event_table(
        r,
        d,
        event_type="setup_change",
        source_object="SetupAuditTrail",
        source_record_id=r.required("Id"),
        field_name=action,
        occurred=created,
        recorded=created,
        actor_id=r.get("CreatedById"),
        record_type=r.constant("Organization"),
        record_id=r.constant(d.org_id),
        new_value=text_values(r.get("Display")),
        metadata={
            "section": r.get("Section"),
            "action": action,
            "delegate_user": r.get("DelegateUser"),
            "created_by_context": r.get("CreatedByContext"),
            "responsible_namespace_prefix": r.get("ResponsibleNamespacePrefix"),
        },
    )


def event_table(
    r: PageColumns,
    d: Derivation,
    *,
    event_type: str,
    source_object: str,
    source_record_id: pa.Array,
    field_name: pa.Array,
    occurred: pa.Array,
    recorded: pa.Array,
    actor_id: pa.Array,
    record_type: pa.Array,
    record_id: pa.Array,
    new_value: pa.Array,
    metadata: Mapping[str, pa.Array],
    old_value: pa.Array | None = None,
    related: Sequence[pa.Array] = (),
    approval_comments: pa.Array | None = None,
    activity_subject: pa.Array | None = None,
    activity_type: pa.Array | None = None,
    previous_stage: pa.Array | None = None,
    stage_duration_days: pa.Array | None = None,
) -> pa.Table:
    """``Derivation.event`` for every row: the columns in the event dict's key order."""
    none = r.constant(None)
    context = pa.StructArray.from_arrays(
        [
            r.constant(source_object),
            source_record_id,
            related_records(related, r.size),
            none if previous_stage is None else previous_stage,
            (
                pa.nulls(r.size, pa.float64())
                if stage_duration_days is None
                else stage_duration_days
            ),
            none if approval_comments is None else approval_comments,
            none if activity_subject is None else activity_subject,
            none if activity_type is None else activity_type,
            pa.StructArray.from_arrays(list(metadata.values()), names=list(metadata)),
        ],
        names=[
            "source_object",
            "source_record_id",
            "related_records",
            "previous_stage",
            "stage_duration_days",
            "approval_comments",
            "activity_subject",
            "activity_type",
            "metadata",
        ],
    )
    return pa.table(
        {
            "event_id": event_ids(source_object, source_record_id, field_name),
            "event_type": r.constant(event_type),
            "timestamp_occurred": occurred,
            "timestamp_recorded": recorded,
            "actor_id": actor_id,
            "actor_type": actor_types(actor_id, d.user_types),
            "record_type": record_type,
            "record_id": record_id,
            "field_name": field_name,
            "old_value": none if old_value is None else old_value,
            "new_value": new_value,
            "context": context,
            "extracted_at": r.constant(d.extracted_at),
            "extractor_version": r.constant(d.extractor_version),
        }
    )


def event_ids(source_object: str, record_ids: pa.Array, field_names: pa.Array) -> pa.Array:
    """``events.event_id`` per row: hashlib, as Arrow has no sha256 kernel (~0.3 µs a row)."""
    head = f"{source_object}\x1f"
    sha256 = hashlib.sha256
    return pa.array(
        [
            sha256(f"{head}{record}\x1f{name or ''}".encode()).hexdigest()[:32]
            for record, name in zip(record_ids.to_pylist(), field_names.to_pylist(), strict=True)
        ],
        STRING,
    )


def _truthy(values: pa.Array) -> pa.Array:
    """Where Python's ``bool(value)`` holds for a text value: neither null nor empty."""
    if pa.types.is_null(values.type):
        return pa.repeat(pa.scalar(False), len(values))
    return pc.fill_null(pc.not_equal(values.cast(STRING), ""), False)


def _or(first: pa.Array, second: pa.Array) -> pa.Array:
    """``first or second`` per row (text values)."""
    if first.type != second.type:
        first, second = first.cast(STRING), second.cast(STRING)
    return pc.if_else(_truthy(first), first, second)


def actor_types(actor_ids: pa.Array, user_types: Mapping[str, str | None]) -> pa.Array:
    """``Derivation.actor_type`` per row: a lookup of the actor among the org's users."""
    automation = [u for u, kind in user_types.items() if kind in AUTOMATION_USER_TYPES]
    integration = [u for u, kind in user_types.items() if kind in INTEGRATION_USER_TYPES]
    actors = actor_ids.cast(STRING)
    kind = pc.if_else(
        pc.is_in(actors, value_set=pa.array(automation, STRING)),
        pa.scalar("automation"),
        pc.if_else(
            pc.is_in(actors, value_set=pa.array(integration, STRING)),
            pa.scalar("integration"),
            pa.scalar("user"),
        ),
    )
    return pc.if_else(_truthy(actors), kind, pa.scalar("system"))


def record_types(record_ids: pa.Array, key_prefixes: Mapping[str, str]) -> pa.Array:
    """``Derivation.record_type`` per row: the object of the id's three-character key prefix."""
    ids = record_ids.cast(STRING)
    prefixes = pa.array(list(key_prefixes), STRING)
    found = pc.index_in(pc.utf8_slice_codeunits(ids, 0, 3), value_set=prefixes)
    names = pa.array(list(key_prefixes.values()), STRING).take(found)
    return pc.if_else(_truthy(ids), names, NULL_TEXT)


def related_records(columns: Sequence[pa.Array], size: int) -> pa.Array:
    """``[r for r in related if r]`` per row: each row's truthy values of ``columns``, in order."""
    int32 = pa.int32()
    if not columns:
        return pa.ListArray.from_arrays(
            pa.repeat(pa.scalar(0, int32), size + 1), pa.nulls(0, STRING)
        )
    texts = [c.cast(STRING) for c in columns]
    keeps = [_truthy(c) for c in texts]
    values, keep = texts[0], keeps[0]
    width = len(texts)
    if width > 1:
        # Row i's candidates sit at i, size + i, 2 * size + i... of the columns concatenated:
        # taken row by row, column by column.
        position = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1), width * size)), 1)
        row = pc.divide(position, width)
        order = pc.add(pc.multiply(pc.subtract(position, pc.multiply(row, width)), size), row)
        values = pa.concat_arrays(texts).take(order)
        keep = pa.concat_arrays(keeps).take(order)
    counts = keeps[0].cast(int32)
    for more in keeps[1:]:
        counts = pc.add(counts, more.cast(int32))
    offsets = pa.concat_arrays([pa.array([0], int32), pc.cumulative_sum(counts).cast(int32)])
    return pa.ListArray.from_arrays(offsets, values.filter(keep))


def text_values(values: pa.Array) -> pa.Array:
    """``events._text`` per row: booleans as true/false, numbers as ``str`` writes them."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return values.cast(STRING)
    if pa.types.is_boolean(kind):
        return pc.if_else(values, pa.scalar("true"), pa.scalar("false"))
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        # A decimal's text is the Decimal the record dict holds (``RecordShaper.from_table``).
        return values.cast(STRING)
    # Floats (Arrow writes 1.0 as "1", str as "1.0") and anything else: Python's own ``str``.
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], STRING)


def batch_table(events: pa.Table) -> pa.Table:
    """``events`` as a Parquet batch file holds them: ``context.metadata``, an open object, as
    its JSON text (``batches.open_object_encoder``)."""
    index = events.column_names.index("context")
    context = events["context"].combine_chunks()
    kind = context.type
    children = [pc.struct_field(context, [i]) for i in range(kind.num_fields)]
    fields = list(kind)
    meta = kind.get_field_index("metadata")
    children[meta] = struct_json_text(children[meta])
    fields[meta] = pa.field("metadata", STRING)
    encoded = pa.StructArray.from_arrays(children, fields=fields, mask=context.is_null())
    return events.set_column(index, "context", encoded)


def of_record_types(events: pa.Table, record_types: frozenset[str]) -> pa.Table:
    """The events of the selected record types (none selected: every event), as the dict path
    keeps ``event["record_type"] in record_types``: an event of no record type is left out."""
    if not record_types:
        return events
    chosen = pa.array(sorted(record_types), STRING)
    return events.filter(pc.fill_null(pc.is_in(events["record_type"], value_set=chosen), False))

"""The ``history_tracked_fields`` stream: which fields have history tracking on, per object.

Source of truth: ``FieldDefinition.IsFieldHistoryTracked``, queried over REST one entity at a time
(``WHERE EntityDefinition.QualifiedApiName = 'X'``), as FieldDefinition requires: an unfiltered
query fails with EXTERNAL_OBJECT_UNSUPPORTED_EXCEPTION, and OR, NOT and COUNT() are refused.
When FieldDefinition cannot be read (no permission), the history object's ``Field`` picklist is
used instead, with a warning: it lists fields that *can* appear in history (tracking turned off
later stays in it), not the fields with tracking on. Each row says which source it came from.

The stream is a snapshot, keyed by (object_name, field_name), and emitted only when it changed:
its STATE keeps a digest of the last snapshot emitted (next to the bookmark, ``snapshot_at``), so an append-only target holds one copy
per change instead of a copy per run, and an upserting target converges on the key. A changed
snapshot is sent whole, stamped with ``snapshot_at``: a field whose tracking was turned off is
one whose latest row is older than the latest ``snapshot_at``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context

from ..discovery.schema import ObjectSchema
from ..errors import SalesforceApiError
from ..output.record_batches import RecordBatches
from ..query import rest
from ..query.soql import string_literal
from ..run.runtime import Runtime

FROM_FIELD_DEFINITION = "FieldDefinition.IsFieldHistoryTracked"
FROM_PICKLIST = "history Field picklist (fallback)"


class HistoryTrackedFieldsStream(RecordBatches):
    """One row per (object, field with history tracking on).

    ``RecordBatches`` for its BATCH sync: files hold what its RECORD messages would.
    """

    name = "history_tracked_fields"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # The snapshot's time is the bookmark: a run that finds the snapshot unchanged emits no rows
    # but keeps the bookmark, so targets see an incremental run with nothing new, not a lost stream.
    replication_key = "snapshot_at"
    is_sorted = True
    SCHEMA = {
        "type": "object",
        "properties": {
            "object_name": {"type": "string"},
            "history_object": {"type": "string"},
            "field_name": {"type": "string"},
            "field_label": {"type": ["string", "null"]},
            "source": {"type": "string"},
            "snapshot_at": {"type": "string", "format": "date-time"},
        },
    }

    def __init__(self, tap: Any, runtime: Runtime, schemas: dict[str, ObjectSchema]) -> None:
        self.runtime = runtime
        self.history = [s for s in schemas.values() if s.history_parent_object]
        super().__init__(tap=tap, schema=self.SCHEMA, name=self.name)
        self.primary_keys = ["object_name", "field_name"]

    def get_records(self, context: Context | None) -> Iterable[dict]:
        if self.runtime.stopped_reason:  # the quota guard stopped the run: no more API calls
            self.logger.info("history_tracked_fields: skipped, %s", self.runtime.stopped_reason)
            return
        rows = [
            row
            for schema in sorted(self.history, key=lambda s: s.name)
            for row in self._rows(schema)
        ]
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
        state = self.stream_state
        if state.get("snapshot_digest") == digest:
            self.logger.info(
                "history_tracked_fields: unchanged since the last run (%d fields); nothing emitted",
                len(rows),
            )
            return
        snapshot_at = self.runtime.run_started.isoformat().replace("+00:00", "Z")
        for row in rows:
            yield {**row, "snapshot_at": snapshot_at}
        state["snapshot_digest"] = digest

    def _rows(self, schema: ObjectSchema) -> list[dict]:
        parent = schema.history_parent_object
        assert parent is not None  # filtered in __init__
        tracked = self._field_definitions(parent)
        if tracked is None:
            return [
                self._row(schema, name, label, FROM_PICKLIST)
                for name, label in schema.tracked_fields
            ]
        return [self._row(schema, name, label, FROM_FIELD_DEFINITION) for name, label in tracked]

    @staticmethod
    def _row(schema: ObjectSchema, name: str, label: str | None, source: str) -> dict:
        return {
            "object_name": schema.history_parent_object,
            "history_object": schema.name,
            "field_name": name,
            "field_label": label,
            "source": source,
        }

    def _field_definitions(self, entity: str) -> list[tuple[str, str | None]] | None:
        """The fields of ``entity`` with tracking on, or None when FieldDefinition is unreadable."""
        soql = (
            "SELECT QualifiedApiName, Label FROM FieldDefinition "  # noqa: S608 - literal escaped
            f"WHERE EntityDefinition.QualifiedApiName = {string_literal(entity)} "
            "AND IsFieldHistoryTracked = true"
        )
        try:
            records = [
                record
                for page in rest.pages(
                    self.runtime.client, soql, all_rows=False, context=f"FieldDefinition {entity}"
                )
                for record in page
            ]
        except SalesforceApiError as error:
            self.logger.warning(
                "history_tracked_fields: FieldDefinition is not readable for %s (%s); falling back to the %s picklist, which lists fields that can appear in history, not the fields with tracking on",
                entity,
                error.error_code,
                "Field",
            )
            return None
        return sorted((r["QualifiedApiName"], r.get("Label")) for r in records)

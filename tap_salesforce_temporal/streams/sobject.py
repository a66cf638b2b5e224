"""The generic SObject stream: incremental by SystemModstamp > LastModifiedDate > CreatedDate.

Rows are read ordered by (replication key, Id) inside ``[start, end)`` where ``end`` is the run's
start (or ``end_date``), so the SDK can emit STATE while the stream runs and a killed run resumes
from its last STATE. Each incremental run re-reads ``lookback_window`` seconds before the bookmark:
Salesforce commits SystemModstamp late, and a row committed after the previous run read past its
timestamp would otherwise be lost. A QUERY_TIMEOUT halves the date window and tries again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping

from ..query.reader import ObjectReader
from ..query.values import canonical_datetime
from ..runtime import Runtime, StreamStats
from ..schema import ObjectSchema
from ..writer import FastRecordWriter, FastWriter
from .base import IncrementalStream


@dataclass(slots=True)
class FieldMetadata(Metadata):
    """Catalog metadata of one field: Salesforce's type and numeric shape survive in the catalog."""

    sf_type: str | None = None
    precision: int | None = None
    scale: int | None = None
    calculated: bool | None = None


# getDeleted only reaches back as far as the recycle bin keeps records (about 15 days).
GET_DELETED_DAYS = 14


class SObjectStream(IncrementalStream):
    """One Salesforce object as a Singer stream."""

    # Values are typed from the describe by RecordShaper; SDK conformance would turn "false" into True.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Any, object_schema: ObjectSchema, runtime: Runtime) -> None:
        self.object_schema = object_schema
        self.runtime = runtime
        super().__init__(tap=tap, schema=self.build_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = object_schema.replication_key
        self.reader = ObjectReader(runtime, object_schema, self.logger)

    def build_schema(self) -> dict:
        return self.object_schema.json_schema()

    def _tombstones(self, start: dt.datetime, end: dt.datetime, seen: set[str]) -> Iterator[dict]:
        """Hard-deleted rows, which queryAll no longer returns, from getDeleted (recycle-bin window)."""
        earliest = self.runtime.run_started - dt.timedelta(days=GET_DELETED_DAYS)
        window_start = max(start, earliest)
        if window_start >= end:
            return
        body = self.runtime.client.get_json(
            f"/sobjects/{self.name}/deleted/",
            params={"start": window_start.isoformat(), "end": end.isoformat()},
            context=f"{self.name} getDeleted",
        )
        key = self.replication_key or "SystemModstamp"
        for entry in body.get("deletedRecords", []):
            if entry["id"] in seen:
                continue
            when = canonical_datetime(entry["deletedDate"])
            yield {"Id": entry["id"], "IsDeleted": True, key: when, "_sdc_deleted_at": when}

    @property
    def metadata(self) -> MetadataMapping:
        """Standard metadata plus, per field, its Salesforce type, precision, scale and formula flag."""
        if self._metadata is not None:
            return self._metadata
        mapping = super().metadata
        required = {"Id", self.replication_key}
        for info in self.object_schema.fields:
            breadcrumb = ("properties", info.name)
            entry = mapping.get(breadcrumb) or Metadata()
            mapping[breadcrumb] = FieldMetadata(
                inclusion=Metadata.InclusionType.AUTOMATIC
                if info.name in required
                else entry.inclusion,
                selected=entry.selected,
                selected_by_default=entry.selected_by_default,
                sf_type=info.sf_type,
                precision=info.precision or None,
                scale=info.scale or None,
                calculated=info.calculated or None,
            )
        return mapping

    # -- writing --
    def _write_record_message(self, record: dict) -> None:
        """Fast path for identity stream maps; anything else goes through the SDK unchanged."""
        writer = self._fast_writer()
        if writer is None:
            super()._write_record_message(record)
            return
        writer.write(record)
        self.state_manager.is_flushed = False

    def _fast_writer(self) -> FastRecordWriter | None:
        if not hasattr(self, "_fast_record_writer"):
            maps = self.stream_maps
            identity = (
                len(maps) == 1
                and type(maps[0]).__name__ == "SameRecordTransform"
                and maps[0].stream_alias == self.name
                and not getattr(maps[0], "flattening_enabled", False)
                and self._tap.message_writer_class is FastWriter
            )
            mask = self.mask
            deselected = frozenset(
                p for p in self.schema["properties"] if not mask.get(("properties", p), True)
            )
            self._fast_record_writer = FastRecordWriter(self.name, deselected) if identity else None
        return self._fast_record_writer

    # -- reading --
    def selected_fields(self) -> list[str]:
        """Selected columns plus what the stream needs (Id, the key, compound components)."""
        mask = self.mask
        required = {"Id", self.replication_key}
        fields = []
        compounds = {f.name: parts for f, parts in self.object_schema.compound_fields()}
        wanted_components: set[str] = set()
        for name, parts in compounds.items():
            if mask.get(("properties", name), True):
                wanted_components.update(column for _, column in parts)
        for info in self.object_schema.queryable_fields:
            if (
                info.name in required
                or info.name in wanted_components
                or mask.get(("properties", info.name), True)
            ):
                fields.append(info.name)
        return fields

    def get_records(self, context: dict | None) -> Iterable[dict]:
        runtime = self.runtime
        stats = runtime.stats_for(self.name)
        if runtime.stopped_reason:
            self.logger.warning("%s: skipped, run stopped: %s", self.name, runtime.stopped_reason)
            return
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            self.logger.info("%s: nothing to read, bookmark is at the run start", self.name)
            return
        yield from self.accounted(self._rows(start, end, stats), stats)

    def _rows(
        self, start: dt.datetime | None, end: dt.datetime | None, stats: StreamStats
    ) -> Iterator[dict]:
        """The object's rows in the range, then tombstones of rows hard-deleted meanwhile."""
        deleted_seen: set[str] = set()
        for record in self.reader.read(
            self.selected_fields(), start, end, stats, key=self.replication_key
        ):
            if record.get("IsDeleted"):
                deleted_seen.add(record["Id"])
            yield record
        settings = self.runtime.settings
        if (
            settings.include_deleted
            and self.object_schema.supports_get_deleted
            and start is not None
            and end is not None
        ):
            for tombstone in self._tombstones(start, end, deleted_seen):
                stats.tombstones += 1
                yield tombstone

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
from pathlib import Path
from typing import Any

import pyarrow as pa
from singer_sdk.helpers._batch import BatchConfig, SDKBatchMessage
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping

from ..batches import BatchFile, ParquetBatchWriter, parquet_batch_directory
from ..query.reader import ObjectReader
from ..query.values import RecordShaper, canonical_datetime, format_datetime
from ..runtime import Runtime, StreamStats
from ..schema import ObjectSchema
from ..writer import FastRecordWriter, FastWriter
from .base import IncrementalStream


def _is_identity(stream_map: Any, name: str) -> bool:
    return (
        type(stream_map).__name__ == "SameRecordTransform"
        and stream_map.stream_alias == name
        and not getattr(stream_map, "flattening_enabled", False)
    )


def _bookmarked(batch: BatchFile, key: str | None) -> BatchFile:
    """The file's last row with its replication key as the canonical bookmark string."""
    if not key or batch.last_row.get(key) is None:
        return batch
    value = batch.last_row[key]
    if isinstance(value, dt.datetime):
        value = format_datetime(value)
    return BatchFile(batch.uri, batch.rows, {**batch.last_row, key: value})


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

    def _hard_deleted(
        self, start: dt.datetime | None, end: dt.datetime | None, seen: set[str], stats: StreamStats
    ) -> list[dict]:
        """Tombstones for the window when ``include_deleted`` asks and the object supports it.

        None once the run has stopped (the quota guard): the rows were read only part of the way,
        and a tombstone's date would carry the bookmark past the rows not read yet.
        """
        if self.runtime.stopped_reason or not (
            self.runtime.settings.include_deleted
            and self.object_schema.supports_get_deleted
            and start is not None
            and end is not None
        ):
            return []
        tombstones = list(self._tombstones(start, end, seen))
        stats.tombstones += len(tombstones)
        return tombstones

    def _read_window(
        self, context: dict | None
    ) -> tuple[dt.datetime | None, dt.datetime | None] | None:
        """The range to read, or None (logged) when the run stopped or there is nothing to read."""
        runtime = self.runtime
        if runtime.stopped_reason:
            self.logger.warning("%s: skipped, run stopped: %s", self.name, runtime.stopped_reason)
            return None
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            self.logger.info("%s: nothing to read, bookmark is at the run start", self.name)
            return None
        return start, end

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
                and _is_identity(maps[0], self.name)
                and self._tap.message_writer_class is FastWriter
            )
            mask = self.mask
            deselected = frozenset(
                p for p in self.schema["properties"] if not mask.get(("properties", p), True)
            )
            self._fast_record_writer = FastRecordWriter(self.name, deselected) if identity else None
        return self._fast_record_writer

    # -- RECORD mode, a page at a time --
    def _sync_records(
        self, context: dict | None = None, *, write_messages: bool = True
    ) -> Iterator[dict]:
        """Identity maps: RECORD lines written a page at a time, STATE after each page.

        The SDK's loop costs ~3 µs per record (child contexts, metrics, state bookkeeping) and
        encoding record dicts ~3 µs more; a page of Arrow values becomes its lines in one pass
        (``record_lines``). Anything the loop does that this path does not (partitions, child
        streams, a record limit, no selection, another writer) keeps the SDK's loop.
        """
        writer = self._fast_writer() if write_messages else None
        if (
            writer is None
            or context is not None
            or self.child_streams
            or self.ABORT_AT_RECORD_COUNT is not None
            or not self.selected
        ):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        with self.get_record_counter() as counter, self.get_sync_timer():
            self._write_starting_replication_value(None)
            for rows, last in self._write_pages(writer):
                counter.increment(rows)
                self.state_manager.is_flushed = False
                if last:
                    self._increment_stream_state(last)
                self._write_state_message()  # after its records: the same buffered stdout
            self._finalize_state(self.stream_state)
        self._write_state_message()

    def _write_pages(self, writer: FastRecordWriter) -> Iterator[tuple[int, dict]]:
        """Write each page's records; yield (rows written, the last row's bookmark columns)."""
        stats = self.runtime.stats_for(self.name)
        window = self._read_window(None)
        if window is None:
            return
        start, end = window
        fields = self.selected_fields()
        shaper = RecordShaper(self.object_schema, fields)
        marks = [c for c in (self.replication_key, "Id") if c]
        deleted_seen: set[str] = set()
        pages = self.reader.read(fields, start, end, stats, key=self.replication_key, as_pages=True)
        for page in self.accounted(pages, stats, tables=True):
            if not len(page):
                continue
            if isinstance(page, pa.Table):
                if "IsDeleted" in page.column_names:
                    deleted_seen.update(page.filter(page["IsDeleted"])["Id"].to_pylist())
                writer.write_table(page, shaper.compounds, shaper.from_table)
                yield len(page), {c: page[c][-1].as_py() for c in marks if c in page.column_names}
                continue
            deleted_seen.update(r["Id"] for r in page if r.get("IsDeleted"))
            last = {c: page[-1].get(c) for c in marks}
            for record in page:
                writer.write(record)
            yield len(page), last
        tombstones = self._hard_deleted(start, end, deleted_seen, stats)
        if tombstones:
            for record in tombstones:
                writer.write(dict(record))
            yield len(tombstones), {c: tombstones[-1].get(c) for c in marks}

    # -- BATCH mode --
    def _sync_batches(self, batch_config: BatchConfig, context: dict | None = None) -> None:
        """Parquet batches straight from typed pages; other encodings or remote roots: the SDK's."""
        directory = parquet_batch_directory(batch_config)
        if directory is None:
            super()._sync_batches(batch_config, context=context)
            return
        with self.get_batch_counter() as counter:
            for alias, batch in self._parquet_batches(directory, batch_config, context):
                counter.increment()
                self._tap.write_message(
                    SDKBatchMessage(
                        stream=alias, encoding=batch_config.encoding, manifest=[batch.uri]
                    )
                )
                self.state_manager.is_flushed = False
                if batch.last_row:
                    self._increment_stream_state(batch.last_row, context=context)
                self._write_state_message()

    def _parquet_batches(
        self, directory: Path, batch_config: BatchConfig, context: dict | None
    ) -> Iterator[tuple[str, BatchFile]]:
        """(stream alias, finished file) pairs; a file's ``last_row`` is set once all aliases have it."""
        runtime = self.runtime
        stats = runtime.stats_for(self.name)
        # What _sync_records does first: the bookmark becomes this run's starting value.
        self._write_starting_replication_value(context)
        window = self._read_window(context)
        if window is None:
            return
        start, end = window
        key = self.replication_key
        bookmark_columns = [c for c in (key, "Id") if c]
        mask = self.mask
        maps = self.stream_maps
        identity = len(maps) == 1 and _is_identity(maps[0], self.name)
        writers = {
            m.stream_alias: ParquetBatchWriter.for_config(
                directory,
                batch_config,
                m.stream_alias,
                batch_size=None if identity else 1 << 62,  # mapped: one file per page and alias
                last_row_columns=bookmark_columns if identity else [],
            )
            for m in maps
        }
        deleted_seen: set[str] = set()
        tables = self.reader.read(
            self.selected_fields(), start, end, stats, key=key, as_tables=True
        )
        for table in self.accounted(tables, stats, tables=True):
            if "IsDeleted" in table.column_names:
                deleted_seen.update(table.filter(table["IsDeleted"])["Id"].to_pylist())
            table = table.select(
                [
                    c
                    for c in table.column_names
                    if mask.get(("properties", c), True) or c in bookmark_columns
                ]
            )
            yield from self._announce(table, maps, writers, identity, key)
        tombstones = self._hard_deleted(start, end, deleted_seen, stats)
        if tombstones:
            yield from self._announce(
                pa.Table.from_pylist(tombstones), maps, writers, identity, key
            )
        for alias, writer in writers.items():
            for batch in writer.finish():
                yield alias, _bookmarked(batch, key)

    def _announce(
        self, table: pa.Table, maps: list, writers: dict, identity: bool, key: str | None
    ) -> Iterator[tuple[str, BatchFile]]:
        """Identity maps: the table as is. Other maps: each record through each map, then a file
        per alias for this page, so the bookmark moves only when every alias has its rows."""
        if identity:
            alias = maps[0].stream_alias
            for batch in writers[alias].add(table):
                yield alias, _bookmarked(batch, key)
            return
        records = table.to_pylist()
        last = {c: records[-1].get(c) for c in (key, "Id") if c} if records else {}
        finished = []
        for stream_map in maps:
            mapped = [m for r in records if (m := stream_map.transform(dict(r))) is not None]
            writer = writers[stream_map.stream_alias]
            finished += [
                (stream_map.stream_alias, b) for b in writer.add(pa.Table.from_pylist(mapped))
            ]
            finished += [(stream_map.stream_alias, b) for b in writer.finish()]
        for position, (alias, batch) in enumerate(finished):
            final = position == len(finished) - 1
            yield alias, _bookmarked(BatchFile(batch.uri, batch.rows, last if final else {}), key)

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
        stats = self.runtime.stats_for(self.name)
        window = self._read_window(context)
        if window is None:
            return
        yield from self.accounted(self._rows(*window, stats), stats)

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
        yield from self._hard_deleted(start, end, deleted_seen, stats)

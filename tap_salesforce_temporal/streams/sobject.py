"""The generic SObject stream: incremental by SystemModstamp > LastModifiedDate > CreatedDate.

Rows are read inside ``[start, end)`` where ``end`` is the run's start (or ``end_date``): REST
pages ordered by (replication key, Id), so STATE after each page resumes a killed run there;
Bulk jobs without ORDER BY (see ``query.page``), so the bookmark moves once the job is written. Each incremental run re-reads ``lookback_window`` seconds before the bookmark:
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
import pyarrow.compute as pc
from singer_sdk.helpers._batch import BatchConfig, SDKBatchMessage
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping
from typing_extensions import override

from ..batches import BatchFile, ParquetBatchWriter, parquet_batch_directory
from ..query.filters import object_filter
from ..query.page import BookmarkTracker, Page
from ..query.reader import ObjectReader, Plan, ReadSpec, Shape
from ..query.values import RecordShaper, canonical_datetime, format_datetime
from ..runtime import Runtime, StreamStats
from ..schema import ObjectSchema
from ..writer import FastRecordWriter, FastWriter, deselected_properties
from .base import IncrementalStream, is_identity_map
from .shared_events import SharedEventBatches, SharedEvents, Sharing
from .shared_events import plan as plan_sharing


def _prepared(pages: Iterator[Page], events: SharedEvents) -> Iterator[Page]:
    """Each page after what its shared events need from Salesforce (``SharedEvents.prepare``)."""
    for page in pages:
        events.prepare(page)
        yield page


def _bookmark_of(row: dict, key: str | None) -> dict | None:
    """A file's last row as a bookmark, its key as the canonical bookmark string."""
    if not key or row.get(key) is None:
        return None
    value = row[key]
    if isinstance(value, dt.datetime):
        value = format_datetime(value)
    return {**row, key: value}


def _deleted_ids(rows: Any) -> list[str]:
    """Ids of the page's soft-deleted rows (getDeleted tombstones skip them)."""
    if isinstance(rows, pa.Table):
        if "IsDeleted" not in rows.column_names:
            return []
        return rows.filter(pc.fill_null(rows["IsDeleted"], False))["Id"].to_pylist()
    return [r["Id"] for r in rows if r.get("IsDeleted")]


def _null_components(table: pa.Table, components: dict) -> pa.Table:
    """Deselected components of compound fields (``BillingAddress.street``) as nulls: a batch
    file keeps the column's type, and a target lands the component as missing, as in RECORD
    mode, where the key is left out."""
    for name, inner in components.items():
        if name not in table.column_names or not pa.types.is_struct(table[name].type):
            continue
        column = table[name]
        chunks = []
        for chunk in column.chunks:
            children = [
                pa.nulls(len(chunk), child.type)
                if child.name in inner and inner[child.name] is None
                else values
                for child, values in zip(chunk.type, chunk.flatten(), strict=True)
            ]
            chunks.append(
                pa.StructArray.from_arrays(children, fields=list(chunk.type), mask=chunk.is_null())
            )
        table = table.set_column(
            table.column_names.index(name), name, pa.chunked_array(chunks, column.type)
        )
    return table


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
    # The events shared by the read in progress, in BATCH mode: their bookmark moves with the
    # files this stream announces (``sync_own_batches``), not with its pages.
    shared_batches: SharedEventBatches | None = None

    def __init__(self, tap: Any, object_schema: ObjectSchema, runtime: Runtime) -> None:
        self.object_schema = object_schema
        self.runtime = runtime
        super().__init__(tap=tap, schema=self.build_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = object_schema.replication_key
        self.reader = ObjectReader(
            runtime,
            object_schema,
            self.logger,
            where=object_filter(runtime.settings, object_schema),
        )

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
        self, context: Context | None
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

    # -- the page pipeline: window -> read pages -> tombstones; three ways to emit them --
    def pages(self, context: Context | None, shape: Shape) -> Iterator[tuple[Page, dict | None]]:
        """Every page of this run with the bookmark it allows once written (None: not yet).

        The one place that decides what is read: the window (bookmark - lookback .. run start),
        the selected fields, the rows a page at a time, then tombstones of hard deletes; the
        object's micro_decision_events come from the same pages when they can
        (``shared_events``). Rows, seconds and API calls are counted and the quota guard is
        handled (``accounted``).
        """
        stats = self.runtime.stats_for(self.name)
        window = self._read_window(context)
        if window is None:
            return
        start, end = window
        tracker = BookmarkTracker(self.replication_key)
        deleted_seen: set[str] = set()
        # micro_decision_events of this object from these same pages, when it is selected too
        events = SharedEvents.attach(self, start, shape)
        self.shared_batches = events if isinstance(events, SharedEventBatches) else None
        sharing = None if events is None else events.sharing
        read = self.reader.read_spec(self._read_spec(start, end, sharing), stats, shape)
        if events is not None:  # what its events read goes inside ``accounted`` (a quota stop)
            read = _prepared(read, events)
        own: Page | None = None
        for page in self.accounted(read, stats, tables=True):
            deleted_seen.update(_deleted_ids(page.rows))
            own = page if sharing is None else sharing.stream_page(page, end)
            stats.rows -= len(page) - len(own)  # rows read for the events only
            bookmark = tracker.after(own)
            if events is not None:
                events.write(page, bookmark)  # before the page: STATE after it covers both
            yield own, bookmark
        if events is not None:
            closing = events.sharing.closing_page(own, bool(self.runtime.stopped_reason))
            if closing is not None:
                yield closing, tracker.after(closing)
            events.finish()
        tombstones = self._hard_deleted(start, end, deleted_seen, stats)
        if tombstones:
            rows = pa.Table.from_pylist(tombstones) if shape == "tables" else tombstones
            page = Page(rows, ordered=False, last=True)
            yield page, tracker.after(page)

    def _read_spec(
        self, start: dt.datetime | None, end: dt.datetime | None, sharing: Sharing | None
    ) -> ReadSpec:
        """What this stream's read asks for: its own window of its selected fields (Bulk jobs
        without ORDER BY), or the one read that also gives its events (``Sharing``)."""
        if sharing is not None:
            return sharing.read_spec(self.selected_fields(), end)
        return ReadSpec(self.selected_fields(), start, end, key=self.replication_key, ordered=False)

    def plan_read(self) -> Plan | None:
        """The first query this stream's sync will send (None: no query), for ``counts``.

        Computed before any stream syncs, from the same inputs the sync uses: the bookmark
        (``starting_range``: the state is left untouched), the selected fields and the run's
        end.
        """
        if self.runtime.stopped_reason or not self.selected:
            return None
        start, end = self.starting_range(None, keep=False)
        if start is not None and end is not None and start >= end:
            return None
        sharing = plan_sharing(self, start, self.sync_shape(), planning=True)
        return self.reader.plan_for(self._read_spec(start, end, sharing))

    def sync_shape(self) -> Shape:
        """The pages this stream's sync reads: typed tables for its own Parquet batch files, or
        record-form pages (RECORD mode, and the SDK's batcher)."""
        batch_config = self.get_batch_config(self.config)
        if batch_config is not None and parquet_batch_directory(batch_config) is not None:
            return "tables"
        return "pages"

    # -- emitting: RECORD lines a page at a time --
    @override
    def write_record(self, record: dict) -> bool:
        """Fast path for identity stream maps; anything else goes through the SDK unchanged."""
        writer = self._fast_writer()
        if writer is None:
            return False
        writer.write(record)
        return True

    def _fast_writer(self) -> FastRecordWriter | None:
        """The RECORD line writer for identity maps; it leaves out what the SDK's walk would,
        a deselected component of a compound field (``BillingAddress.street``) included."""
        if not hasattr(self, "_fast_record_writer"):
            identity = is_identity_map(self) and self._tap.message_writer_class is FastWriter
            tree = deselected_properties(self.mask) if identity else None
            writer = None
            if tree is not None:
                drop = frozenset(name for name, inner in tree.items() if inner is None)
                nested = {name: inner for name, inner in tree.items() if inner is not None}
                writer = FastRecordWriter(self.name, drop, nested)
            self._fast_record_writer = writer
        return self._fast_record_writer

    @override
    def sync_own_records(self, context: Context | None, write_messages: bool) -> bool:
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
            return False
        fields = self.selected_fields()
        shaper = RecordShaper(self.object_schema, fields)
        with self.get_record_counter() as counter, self.get_sync_timer():
            self.sdk_start_replication_value(None)
            for page, bookmark in self.pages(None, "pages"):
                if isinstance(page.rows, pa.Table):
                    writer.write_table(page.rows, shaper.compounds, shaper.from_table)
                else:
                    for record in page.rows:
                        writer.write(dict(record))
                counter.increment(len(page))
                self.sdk_mark_unflushed()
                if bookmark:
                    self.remember_bookmark(bookmark, None)
                self.sdk_write_state()  # after its records: the same buffered stdout
            self._finalize_state(self.stream_state)
        self.sdk_write_state()
        return True

    # -- emitting: records through the SDK's loop (stream maps, partitions, other writers) --
    def get_records(self, context: Context | None) -> Iterable[dict]:
        shaper = RecordShaper(self.object_schema, self.selected_fields())
        for page, bookmark in self.pages(context, "pages"):
            if not page.ordered:
                self.hold_bookmark()  # the SDK's loop advances it per record
            if isinstance(page.rows, pa.Table):
                yield from shaper.from_table(page.rows)
            else:
                yield from page.rows
            # Resumed: the SDK has written every record of the page.
            if not page.ordered:
                self.release_bookmark(bookmark, context)

    # -- emitting: Parquet BATCH files straight from typed pages --
    @override
    def sync_own_batches(self, batch_config: BatchConfig, context: Context | None) -> bool:
        """Parquet batches on a local root, stream maps applied here; other encodings or remote
        roots: the SDK's batcher, given what RECORD mode would write (``IncrementalStream``)."""
        directory = parquet_batch_directory(batch_config)
        if directory is None:
            return super().sync_own_batches(batch_config, context)
        # What the record loop does first: the bookmark becomes this run's starting value.
        self.sdk_start_replication_value(context)
        with self.get_batch_counter() as counter:
            for alias, batch, bookmark in self._parquet_batches(directory, batch_config, context):
                counter.increment()
                self.sdk_write_message(
                    SDKBatchMessage(
                        stream=alias, encoding=batch_config.encoding, manifest=[batch.uri]
                    )
                )
                self.sdk_mark_unflushed()
                if bookmark:
                    self._move_batch_bookmark(bookmark, context)
                self.sdk_write_state()
        if self.shared_batches is not None:
            self.shared_batches.close()  # events after the last bookmark (none, normally)
            self.shared_batches = None
        return True

    def _move_batch_bookmark(self, bookmark: dict, context: Context | None) -> None:
        """The files announced so far allow ``bookmark``: the shared events' files go out and
        their bookmark moves too, before the STATE that carries both."""
        if self.shared_batches is not None:
            self.shared_batches.settle(bookmark)
        self.remember_bookmark(bookmark, context)

    def _parquet_batches(
        self, directory: Path, batch_config: BatchConfig, context: Context | None
    ) -> Iterator[tuple[str, BatchFile, dict | None]]:
        """(stream alias, finished file, bookmark once it is announced) triples.

        Ordered pages: a file's bookmark is its last row once every alias has it. Unordered
        pages (a Bulk job): no bookmark until the job's last page, whose files are all finished
        first, so the job's largest key goes out only with its last file.
        """
        key = self.replication_key
        bookmark_columns = [c for c in (key, "Id") if c]
        mask = self.mask
        components = {
            name: inner for name, inner in (deselected_properties(mask) or {}).items() if inner
        }
        maps = self.stream_maps
        identity = is_identity_map(self)
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
        job_unfinished = False  # an unordered job read part of the way (a quota stop)
        for page, bookmark in self.pages(context, "tables"):
            job_unfinished = not page.ordered and not bookmark
            table = page.rows.select(
                [
                    c
                    for c in page.rows.column_names
                    if mask.get(("properties", c), True) or c in bookmark_columns
                ]
            )
            if components:
                table = _null_components(table, components)
            files = list(self._announce(table, maps, writers, identity, key))
            if not page.ordered:
                files = [(alias, batch, None) for alias, batch, _ in files]
                if bookmark:
                    files += [(a, b, None) for a, w in writers.items() for b in w.finish()]
                    if files:
                        alias, batch, _ = files[-1]
                        files[-1] = (alias, batch, bookmark)
                    else:  # every row of the job is in files already announced
                        self._move_batch_bookmark(bookmark, context)
            yield from files
        for alias, writer in writers.items():
            for batch in writer.finish():
                # An unordered job's last row read is not its largest key, nor is any row
                # before the rows not read: only a whole job moves the bookmark.
                last = None if job_unfinished else _bookmark_of(batch.last_row, key)
                yield alias, batch, last

    def _announce(
        self, table: pa.Table, maps: list, writers: dict, identity: bool, key: str | None
    ) -> Iterator[tuple[str, BatchFile, dict | None]]:
        """Identity maps: the table as is. Other maps: each record through each map, then a file
        per alias for this page, so the bookmark moves only when every alias has its rows."""
        if identity:
            alias = maps[0].stream_alias
            for batch in writers[alias].add(table):
                yield alias, batch, _bookmark_of(batch.last_row, key)
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
            yield alias, batch, _bookmark_of(last, key) if final else None

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

"""The generic SObject stream: incremental by SystemModstamp > LastModifiedDate > CreatedDate.

Rows are read inside ``[start, end)`` where ``end`` is the run's start (or ``end_date``): REST
pages ordered by (replication key, Id), so STATE after each page resumes a killed run there;
Bulk jobs without ORDER BY (see ``query.page``), so the bookmark moves once the job is written. Each incremental run re-reads ``lookback_window`` seconds before the bookmark:
Salesforce commits SystemModstamp late, and a row committed after the previous run read past its
timestamp would otherwise be lost. A QUERY_TIMEOUT halves the date window and tries again.
What no window can see is read on a cadence (``completeness``): a key snapshot after the sync
(hard deletes past the Recycle Bin, ``key_snapshot``) and a re-read of rows whose formula fields
changed without SystemModstamp moving.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping
from typing_extensions import override

from ..discovery.schema import ObjectSchema
from ..output.batches import parquet_batch_directory
from ..query.deleted import deleted_records
from ..query.filters import object_filter
from ..query.page import BookmarkTracker, Page
from ..query.reader import ObjectReader, Plan, ReadSpec
from ..query.values import RecordShaper, canonical_datetime
from ..run.runtime import Runtime, StreamStats
from ..sdk_hooks import BatchConfig
from .base import IncrementalStream
from .completeness import (
    DELETED_AT,
    DELETED_AT_SCHEMA,
    RECONCILED_AT,
    REFRESHED_AT,
    Completeness,
)
from .emitters import ParquetFiles, RecordLines, SdkLoop
from .fast_records import FastRecords
from .key_snapshot import send_snapshot
from .page_pipeline import (
    Output,
    PageObserver,
    PageObservers,
    StreamPages,
    observed,
    prepared,
)


def _noting_deleted(pages: Iterable[Page], seen: set[str]) -> Iterator[Page]:
    """Each page, the Ids of its soft-deleted rows noted (getDeleted tombstones skip them)."""
    for page in pages:
        rows = page.rows
        if "IsDeleted" in rows.column_names:
            seen.update(rows.filter(pc.fill_null(rows["IsDeleted"], False))["Id"].to_pylist())
        yield page


@dataclass(slots=True)
class FieldMetadata(Metadata):
    """Catalog metadata of one field: Salesforce's type and numeric shape survive in the catalog."""

    sf_type: str | None = None
    precision: int | None = None
    scale: int | None = None
    calculated: bool | None = None


# getDeleted only reaches back as far as the recycle bin keeps records (about 15 days).
GET_DELETED_DAYS = 14


class SObjectStream(FastRecords, IncrementalStream):
    """One Salesforce object as a Singer stream."""

    # Values are typed from the describe by RecordShaper; SDK conformance would turn "false" into True.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Any, object_schema: ObjectSchema, runtime: Runtime) -> None:
        self.completeness = Completeness(runtime.settings, object_schema.name)
        self.object_schema = self.completeness.shaped(object_schema)
        self.runtime = runtime
        super().__init__(tap=tap, schema=self.build_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = object_schema.replication_key
        if object_schema.unfilterable_key:
            self.logger.info(
                "%s: its replication key %s is not filterable (describe); read whole each run "
                "(full table, no bookmark)",
                self.name,
                object_schema.unfilterable_key,
            )
        self.reader = ObjectReader(
            runtime,
            object_schema,
            self.logger,
            where=object_filter(runtime.settings, object_schema),
        )

    def build_schema(self) -> dict:
        schema = self.object_schema.json_schema()
        if self.completeness.reconciles:  # the target's tombstones of keys gone carry it
            schema["properties"].setdefault(DELETED_AT, DELETED_AT_SCHEMA)
        return schema

    @override
    def after_sync(self) -> None:
        """The key snapshot when ``reconcile_deletes`` says it is due (``key_snapshot``): after
        the stream's own rows, so the target has them first."""
        if not self.selected or self.runtime.stopped_reason:
            return
        state = self.get_context_state(None)
        if not self.completeness.reconcile_due(state, self.runtime.run_started):
            return
        if send_snapshot(self, self.runtime.stats_for(self.name)):
            self.completeness.mark(state, RECONCILED_AT, self.runtime.run_started)
            self.sdk_mark_unflushed()
            self.sdk_write_state()

    def _tombstones(self, start: dt.datetime, end: dt.datetime, seen: set[str]) -> Iterator[dict]:
        """Hard-deleted rows, which queryAll no longer returns, from getDeleted (recycle-bin window)."""
        earliest = self.runtime.run_started - dt.timedelta(days=GET_DELETED_DAYS)
        window_start = max(start, earliest)
        if window_start >= end:
            return
        entries = deleted_records(self.runtime.client, self.name, window_start, end, self.logger)
        key = self.replication_key or "SystemModstamp"
        for entry in entries:
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
        cached = self.sdk_cached_metadata()
        if cached is not None:
            return cached
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

    # -- the page pipeline: window -> one read -> pages -> tombstones -> formula refresh --
    def pages(self, context: Context | None, output: Output) -> StreamPages:
        """Every page of this sync with the bookmark it allows once written (None: not yet).

        The one place that decides what is read: the window (bookmark - lookback .. run start),
        the selected fields, the rows a page at a time, then tombstones of hard deletes, then
        the formula refresh when due (pages that never move the bookmark). A
        stream of the tap may observe the pages (``page_pipeline``: micro_decision_events of
        this object from the same read). Rows, seconds and API calls are counted and the quota
        guard is handled (``accounted``). ``output``: what the sync makes of the pages.
        """
        stats = self.runtime.stats_for(self.name)
        window = self._read_window(context)
        if window is None:  # no window to read; a formula refresh due is read all the same
            return StreamPages(self._refreshed(stats))
        start, end = window
        own = self._own_read(start, end)
        observer = self._page_observer(own, output)
        read = own if observer is None else observer.read
        return StreamPages(self._pages(read, observer, stats, start, end), observer)

    def _pages(
        self,
        spec: ReadSpec,
        observer: PageObserver | None,
        stats: StreamStats,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> Iterator[tuple[Page, dict | None]]:
        tracker = BookmarkTracker(self.replication_key)
        deleted: set[str] = set()
        # What the observer reads before a page goes inside ``accounted`` (a quota stop).
        read = self.accounted(
            prepared(self.reader.read_spec(spec, stats), observer), stats, tables=True
        )
        yield from observed(
            _noting_deleted(read, deleted),
            observer,
            tracker,
            stats,
            lambda: bool(self.runtime.stopped_reason),
        )
        tombstones = self._hard_deleted(start, end, deleted, stats)
        if tombstones:
            page = Page(pa.Table.from_pylist(tombstones), ordered=False, last=True, tombstones=True)
            yield page, tracker.after(page)
        yield from self._refreshed(stats)

    def _refreshed(self, stats: StreamStats) -> Iterator[tuple[Page, dict | None]]:
        """With ``formula_fields: refresh`` and its cadence due: every row again (all selected
        fields, no window), as pages that never move the bookmark (``Page.refresh``); the
        refresh's time goes into STATE once its last page is written."""
        runtime, fields = self.runtime, self.selected_fields()
        state = self.get_context_state(None)
        if runtime.stopped_reason or not self.completeness.refresh_due(
            state, runtime.run_started, self.object_schema, fields
        ):
            return
        spec = ReadSpec(fields, None, None, key=None, ordered=False)
        read = self.accounted(self.reader.read_spec(spec, stats), stats, tables=True)
        count = 0
        for page in read:
            count += len(page)
            yield Page(page.rows, ordered=False, refresh=True), None
        stats.refreshed = (stats.refreshed or 0) + count
        if not runtime.stopped_reason:
            self.completeness.mark(state, REFRESHED_AT, runtime.run_started)
            self.sdk_mark_unflushed()

    def _own_read(self, start: dt.datetime | None, end: dt.datetime | None) -> ReadSpec:
        """This stream's own window of its selected fields (Bulk jobs without ORDER BY)."""
        return ReadSpec(self.selected_fields(), start, end, key=self.replication_key, ordered=False)

    def _observer_streams(self) -> Iterator[PageObservers]:
        """The streams of the tap whose rows may come from this stream's pages."""
        for stream in self.sdk_tap_streams():
            if stream is not self and isinstance(stream, PageObservers):
                yield stream

    def _page_observer(self, own: ReadSpec, output: Output) -> PageObserver | None:
        """The first stream of the tap that takes this sync's pages, as their observer."""
        for stream in self._observer_streams():
            observer = stream.page_observer(self, own, output)
            if observer is not None:
                return observer
        return None

    def plan_read(self) -> Plan | None:
        """The first query this stream's sync will send (None: no query), for ``counts``.

        Computed before any stream syncs, from the same inputs the sync uses: the bookmark
        (``starting_range``: the state is left untouched), the selected fields, the run's end
        and the observer that would take the pages (``PageObservers.planned_read``).
        """
        if self.runtime.stopped_reason or not self.selected:
            return None
        start, end = self.starting_range(None, keep=False)
        if start is not None and end is not None and start >= end:
            return None
        own = self._own_read(start, end)
        output = self.sync_shape()
        for stream in self._observer_streams():
            spec = stream.planned_read(self, own, output)
            if spec is not own:
                return self.reader.plan_for(spec)
        return self.reader.plan_for(own)

    # -- emitting: one emitter per sync --
    def emitter(
        self,
        context: Context | None,
        batch_config: BatchConfig | None,
        *,
        write_messages: bool = True,
    ) -> RecordLines | ParquetFiles | SdkLoop:
        """The one way this sync writes its pages, chosen when it starts: its own Parquet files
        (BATCH on a local root), RECORD lines a page at a time (identity maps and the tap's
        writer), else the SDK's own loop: partitions, child streams, a record limit, no
        selection, another writer, stream maps in RECORD mode, the SDK's batcher."""
        shaper = RecordShaper(self.object_schema, self.selected_fields())
        if batch_config is not None:
            directory = parquet_batch_directory(batch_config)
            if directory is None:
                return SdkLoop(self, shaper)
            return ParquetFiles(self, shaper, directory, batch_config, context)
        writer = self.fast_writer() if write_messages else None
        if (
            writer is None
            or context is not None
            or self.child_streams
            or self.ABORT_AT_RECORD_COUNT is not None
            or not self.selected
        ):
            return SdkLoop(self, shaper)
        return RecordLines(self, shaper, writer)

    def sync_shape(self) -> Output:
        """What this stream's sync makes of its pages (``shared_events.could_share`` asks
        before the streams sync): RECORD messages, or Parquet files of its own."""
        return self.emitter(None, self.get_batch_config(self.config)).output

    @override
    def sync_own_records(self, context: Context | None, write_messages: bool) -> bool:
        """RECORD lines a page at a time, STATE after each page (``RecordLines``); False:
        the SDK's loop, over ``get_records``."""
        emitter = self.emitter(context, None, write_messages=write_messages)
        if not isinstance(emitter, RecordLines):
            return False
        emitter.sync(lambda: self.pages(None, emitter.output))
        return True

    def get_records(self, context: Context | None) -> Iterable[dict]:
        """The pages as records, for the SDK's loop (``SdkLoop``)."""
        shaper = RecordShaper(self.object_schema, self.selected_fields())
        yield from SdkLoop(self, shaper).records(self.pages(context, "records"), context)

    @override
    def sync_own_batches(self, batch_config: BatchConfig, context: Context | None) -> bool:
        """Parquet files of its own on a local root (``ParquetFiles``); other encodings or
        remote roots: the SDK's batcher, given what RECORD mode would write."""
        emitter = self.emitter(context, batch_config)
        if not isinstance(emitter, ParquetFiles):
            return super().sync_own_batches(batch_config, context)
        emitter.sync(lambda: self.pages(context, emitter.output))
        return True

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

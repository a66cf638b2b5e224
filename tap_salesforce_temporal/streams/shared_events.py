"""One read per source object: micro_decision_events derived from an object stream's own pages.

When an object's stream and ``micro_decision_events`` are both selected, the events of that
object used to cost a second query of the same rows. While object X's stream reads its pages,
X's events are derived from the same pages, and X's partition of the events stream is then
skipped: that partition waits for X's stream to finish (streams run side by side, the events
stream first: ``scheduler``), and in a sequential run the object streams come first anyway.

Message order, per page of X: the page's events (RECORDs of micro_decision_events), then X's
RECORDs, then STATE. The STATE line is the whole tap state, so it carries X's bookmark and the
events bookmark for X together; the events bookmark moves only after the page's events are
written: it never passes a row whose events were not written.

- Same key (field history, Task, Event, SetupAuditTrail): the events bookmark moves when X's
  own does (an unordered Bulk job: at its last page), to the same key value. A kill leaves it
  at or behind X's.
- Keyed apart (OpportunityHistory, ProcessInstanceStep: X on SystemModstamp, the events on
  CreatedDate): one query holds both windows, ``SystemModstamp >= X's start AND CreatedDate <
  end`` ordered by (CreatedDate, Id) (``Sharing.read_arguments``); Salesforce never stamps
  SystemModstamp before CreatedDate, so every row the events' window holds is in it. The
  events bookmark moves page by page (the rows come in its order); X drops the rows past its
  own window and, its rows in no order of its key, moves its bookmark once the read is whole.
  Stage changes carry each opportunity's stage from page to page and look up the snapshot
  before the events' window before a page is written (``prepare``), as the events' own read.

A run whose events bookmark is behind X's window reads the events separately, as before:
nothing is lost and nothing is shared wrongly. Shared only when the reads can be one read
(else X's events are read separately):
- the same rows: no ``include_deleted`` (the events never read deleted or archived rows), no
  ``object_filters`` entry for X (it narrows X's stream only, never its events), and X's window
  starts at or before the events' (rows before the events' start are skipped);
- keys apart only as above (X's key never before the events' CreatedDate);
- the columns the rule reads that X does not select are read too, then dropped from X's rows;
- in BATCH mode, both go out as the tap's own Parquet files (a local root, identity maps):
  otherwise the events stream's files come from the SDK's batcher, which the shared events
  could not match.

BATCH mode (``SharedEventBatches``): the events go into micro_decision_events' own Parquet
files, written as its own BATCH sync writes them (same naming, open objects as JSON text), so a
target reads shared and unshared files alike. A file goes out at ``batch_size`` events, and
whenever X's bookmark is about to move: X's BATCH, then every event buffered so far in an
announced file (the events of all pages read, so of every row up to X's new key), then the
events bookmark moves (``events_bookmark``), then STATE. A kill leaves the events bookmark at or behind
the last announced events file.

Memory stays bounded: the events of one page are written as they are derived (RECORD mode), or
at most one batch of them is buffered (BATCH mode).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from singer_sdk import Stream
from singer_sdk.helpers._batch import BatchConfig, SDKBatchMessage

from ..batches import BatchFile, ParquetBatchWriter, parquet_batch_directory
from ..events import Derivation
from ..query.page import Page
from ..query.reader import ObjectReader, Shape
from ..query.soql import datetime_literal
from ..query.values import RecordShaper, format_datetime
from ..runtime import Runtime, StreamStats
from .base import is_identity_map
from .decisions import MicroDecisionEventsStream, Source, StageChanges

if TYPE_CHECKING:
    from .sobject import SObjectStream

EVENTS_STREAM = MicroDecisionEventsStream.name


def read_users_first(streams: Iterable[Stream], runtime: Runtime) -> None:
    """Read the org's users (events' actor types) before any stream opens its query.

    A shared source derives its events from its first page on; reading the users then would
    put a call between the object's pages, so a quota stop would cross at another call than a
    sequential read's page. Streams side by side would each start the same read. The events
    stream reads them anyway.
    """
    streams = list(streams)
    events = next((s for s in streams if isinstance(s, MicroDecisionEventsStream)), None)
    if events is None or not events.selected or runtime.client.quota_reached():
        return
    if runtime.settings.max_concurrency > 1:
        runtime.user_types()
        return
    if any(s.selected and s.name in events.sources for s in streams if s is not events):
        runtime.user_types()


# Stream keys Salesforce never sets before a row's CreatedDate (both are stamped on insert, and
# only these move on an update): a window from ``s`` on them holds every row created from ``s`` on.
NOT_BEFORE_CREATED = frozenset({"SystemModstamp", "LastModifiedDate"})


@dataclass(frozen=True)
class Sharing:
    """How one object stream's read also gives its source's events (``plan``)."""

    source: Source
    stream_key: str
    # The events' own key when the stream's differs (None: the same key). The read is then
    # ``stream_key >= start AND events_key < end`` ordered by (events_key, Id): the rows of
    # both windows, in the order the events need (``read_arguments``).
    events_key: str | None
    # Columns the rule reads that the stream does not select: read, then dropped before the
    # stream's rows go out (ProcessInstanceStep's ProcessInstance.TargetObjectId).
    extra_fields: tuple[str, ...]
    events_start: dt.datetime | None
    floor: str | None  # rows keyed before it (events' key) are before the events' window
    batch_config: BatchConfig | None
    directory: Path | None

    def read_arguments(
        self, fields: list[str], start: dt.datetime | None, end: dt.datetime | None
    ) -> dict:
        """``ObjectReader.read_pages``/``plan`` arguments of the one read both streams take."""
        fields = [*fields, *self.extra_fields]
        if self.events_key is None:
            return {"fields": fields, "start": start, "end": end, "key": self.stream_key}
        where = [] if start is None else [f"{self.stream_key} >= {datetime_literal(start)}"]
        return {
            "fields": fields,
            "start": None,
            "end": end,
            "key": self.events_key,
            "where": where,
            "ordered": True,
        }

    def stream_page(self, page: Page, end: dt.datetime | None) -> Page:
        """The page as the object stream writes it: without the extra columns, and (events'
        key) without rows past its own window; in no order of its key, so its bookmark waits
        for the read's end (``pages`` adds an empty last page once every page is out)."""
        rows = page.rows
        if self.extra_fields:
            rows = _without_columns(rows, self.extra_fields)
        if self.events_key is None:
            return page if rows is page.rows else Page(rows, page.ordered, page.last)
        if end is not None:
            rows = _keyed_before(rows, self.stream_key, end)
        return Page(rows, ordered=False, last=False)


def _without_columns(rows: Any, names: tuple[str, ...]) -> Any:
    if isinstance(rows, pa.Table):
        return rows.drop_columns([n for n in names if n in rows.column_names])
    drop = frozenset(names)
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def _keyed_before(rows: Any, key: str, end: dt.datetime) -> Any:
    """The rows whose ``key`` is before ``end`` (a datetime column: typed, or canonical text)."""
    if isinstance(rows, pa.Table):
        column = rows[key]
        bound = (
            pa.scalar(end, column.type)
            if pa.types.is_timestamp(column.type)
            else pa.scalar(format_datetime(end), column.type)
        )
        return rows.filter(pc.less(column, bound))
    limit = format_datetime(end)
    return [row for row in rows if row.get(key) is not None and row[key] < limit]


def _keyed_from(rows: Any, key: str, floor: str) -> Any:
    """The rows whose ``key`` is at or after ``floor`` (canonical text)."""
    if isinstance(rows, pa.Table):
        column = rows[key]
        if pa.types.is_timestamp(column.type):
            bound = pa.scalar(dt.datetime.fromisoformat(floor.replace("Z", "+00:00")), column.type)
        else:
            bound = pa.scalar(floor, column.type)
        return rows.filter(pc.greater_equal(column, bound))
    return [row for row in rows if row.get(key) is not None and row[key] >= floor]


def _events_window(
    events: MicroDecisionEventsStream, context: dict, *, keep: bool
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The events' window of a source, as its own sync computes it. ``keep``: leave its
    starting value set, as that sync does first; else the state is as before (planning)."""
    state = events.tap_state
    had_bookmarks = "bookmarks" in state
    saved = None if keep else copy.deepcopy(state.get("bookmarks", {}).get(EVENTS_STREAM))
    try:
        events.sdk_start_replication_value(context)
        return events.query_range(context)
    finally:
        if not keep:
            bookmarks = state.setdefault("bookmarks", {})
            if saved is None:
                bookmarks.pop(EVENTS_STREAM, None)
            else:
                bookmarks[EVENTS_STREAM] = saved
            if not had_bookmarks and not bookmarks:
                state.pop("bookmarks", None)


def plan(
    stream: SObjectStream, start: dt.datetime | None, shape: Shape, *, planning: bool = False
) -> Sharing | None:
    """Whether ``stream``'s read starting at ``start`` gives its events too, and how; None:
    they are read separately. ``planning``: the decision before the sync (``counts``), with
    no state touched and nothing logged; the sync's own decision is the same.

    ``shape`` "pages": RECORD mode (RECORDs of both streams); "tables": the stream writes its
    own Parquet files, and so may the events (``SharedEventBatches``).
    """
    events = stream.sdk_tap_stream(EVENTS_STREAM)
    runtime = stream.runtime
    if (
        not isinstance(events, MicroDecisionEventsStream)
        or not events.selected
        or runtime.settings.include_deleted
        or stream.reader.where  # object_filters narrow the stream, never the events
    ):
        return None
    batch_config = events.get_batch_config(events.config)
    directory = None if batch_config is None else parquet_batch_directory(batch_config)
    if batch_config is None:
        if shape != "pages":
            return None
    elif shape != "tables" or directory is None or not is_identity_map(events):
        return None  # the events' files come from the SDK's batcher: read separately
    source = events.sources.get(stream.name)
    stream_key = stream.replication_key
    if source is None or source.object_name in events.sources_begun or not stream_key:
        return None
    events_key = None if source.key == stream_key else source.key
    if events_key is not None and (
        events_key != "CreatedDate" or stream_key not in NOT_BEFORE_CREATED
    ):
        return None
    context = {"source_object": source.object_name}
    events_start, events_end = _events_window(events, context, keep=not planning)
    if events_start is not None and events_end is not None and events_start >= events_end:
        return None  # nothing for the events to read: their own turn finds that too
    if start is not None and (events_start is None or start > events_start):
        if not planning:
            stream.logger.info(
                "%s: the %s bookmark is behind this stream's; its events are read separately",
                stream.name,
                EVENTS_STREAM,
            )
        return None
    floor = None
    if events_start is not None and (
        events_key is not None or start is None or start < events_start
    ):
        floor = format_datetime(events_start)
    selected = set(stream.selected_fields())
    return Sharing(
        source=source,
        stream_key=stream_key,
        events_key=events_key,
        extra_fields=tuple(f for f in source.fields if f not in selected),
        events_start=events_start,
        floor=floor,
        batch_config=batch_config,
        directory=directory,
    )


class SharedEvents:
    """Writes the events of one source object from the pages its object stream reads."""

    def __init__(
        self,
        events: MicroDecisionEventsStream,
        sharing: Sharing,
        shaper: RecordShaper,
        logger: logging.Logger,
    ) -> None:
        self.events = events
        self.sharing = sharing
        self.source = source = sharing.source
        self.context = {"source_object": source.object_name}
        self.shaper = shaper
        self.floor = sharing.floor
        self.logger = logger
        self.derivation: Derivation = events.derivation()
        self.record_types = frozenset(events.runtime.settings.record_types)
        self.stats: StreamStats = events.runtime.stats_for(f"{EVENTS_STREAM}:{source.object_name}")
        self.stats.path = "shared"  # the run summary: no read of its own
        # The events' key of the last row whose events were derived (the rows come in its order).
        self.high: str | None = None
        self.stages: StageChanges | None = None
        if source.event_type == "stage_change":
            reader = ObjectReader(
                events.runtime, events.schemas[source.object_name], logger, name=self.stats.name
            )
            self.stages = StageChanges(reader, sharing.events_start, self.stats)

    @classmethod
    def attach(
        cls, stream: SObjectStream, start: dt.datetime | None, shape: Shape
    ) -> SharedEvents | None:
        """The sharing for ``stream``'s read starting at ``start`` (``plan``), or None."""
        sharing = plan(stream, start, shape)
        if sharing is None:
            return None
        events = stream.sdk_tap_stream(EVENTS_STREAM)
        assert isinstance(events, MicroDecisionEventsStream)
        if not events.schema_written:
            events.sdk_write_schema()  # its RECORDs go out before its own sync writes it again
            events.schema_written = True
        shaper = RecordShaper(stream.object_schema, list(sharing.source.fields))
        if sharing.batch_config is not None and sharing.directory is not None:
            return SharedEventBatches(events, sharing, shaper, stream.logger)
        return cls(events, sharing, shaper, stream.logger)

    def prepare(self, page: Page) -> None:
        """What the page's events need from Salesforce, read before the page is written (a
        quota stop here leaves the page unwritten): the stage before the window of the
        opportunities the page moves first."""
        if self.stages is None or not len(page):
            return
        rows = page.rows
        if self.floor is not None:
            rows = _keyed_from(rows, self.source.key, self.floor)
        if isinstance(rows, pa.Table):
            ids = rows["OpportunityId"].drop_null().to_pylist()
        else:
            ids = [r["OpportunityId"] for r in rows if r.get("OpportunityId") is not None]
        self.stages.seed(ids)

    def page_events(self, page: Page) -> Iterator[dict]:
        """The events of the page's rows in the events' window, of the selected record types."""
        key = self.source.key
        if isinstance(page.rows, pa.Table):
            rows = self.table_records(page.rows.select(list(self.source.fields)))
        else:
            rows = iter(page.rows)
        if self.floor is not None:
            floor = self.floor
            rows = (r for r in rows if r.get(key) is not None and r[key] >= floor)
        if self.sharing.events_key is not None:
            rows = self._noting_key(rows)
        if self.stages is not None:
            derived = self.stages.events(rows, self.derivation)
        else:
            derived = self.events.row_events(self.source, rows, self.derivation)
        for event in derived:
            if self.record_types and event["record_type"] not in self.record_types:
                continue
            yield event

    def _noting_key(self, rows: Iterator[dict]) -> Iterator[dict]:
        key = self.source.key
        for row in rows:
            self.high = row[key]
            yield row

    def table_records(self, table: pa.Table) -> Iterator[dict]:
        """A page's table in record form (RECORD mode: values as a read in record form)."""
        return self.shaper.from_table(table)

    def events_bookmark(self, bookmark: dict | None) -> str | None:
        """Where the events bookmark may move once the events derived so far are out: the
        object stream's bookmark (same key), or the last row's events key (the rows come in
        its order)."""
        if self.sharing.events_key is not None:
            return self.high
        return None if not bookmark else bookmark.get(self.source.key)

    def write(self, page: Page, bookmark: dict | None) -> None:
        """Write the page's events, then move the events bookmark (``events_bookmark``)."""
        events = self.events
        written = 0
        for event in self.page_events(page):
            events.sdk_write_record(event)
            written += 1
        self.stats.rows += written
        value = self.events_bookmark(bookmark)
        if value is not None:
            events.remember_bookmark({events.replication_key: value}, self.context)
            events.settle_bookmark()

    def finish(self) -> None:
        """Every page was read and its events written: the events stream skips this source."""
        runtime = self.events.runtime
        if runtime.stopped_reason:
            return  # read part of the way: the bookmark says how far, the next run goes on
        runtime.shared_event_sources.add(self.source.object_name)
        self.logger.info(
            "%s: %d %s events derived from this stream's pages (no second read)",
            self.source.object_name,
            self.stats.rows,
            EVENTS_STREAM,
        )


class SharedEventBatches(SharedEvents):
    """BATCH mode: the events of the object stream's pages go into the events' own Parquet files.

    The object stream calls ``write`` for each page before writing the page's rows, ``settle``
    before each STATE that moves its bookmark, and ``close`` once its files are all announced.
    """

    def __init__(
        self,
        events: MicroDecisionEventsStream,
        sharing: Sharing,
        shaper: RecordShaper,
        logger: logging.Logger,
    ) -> None:
        super().__init__(events, sharing, shaper, logger)
        assert sharing.batch_config is not None
        assert sharing.directory is not None
        self.batch_config = batch_config = sharing.batch_config
        # As the events stream's own BATCH sync writes them (``IncrementalStream.get_batches``).
        self.writer = ParquetBatchWriter.for_config(sharing.directory, batch_config, EVENTS_STREAM)
        self.encode = events.parquet_encoder()
        self.chunk: list[dict] = []

    def table_records(self, table: pa.Table) -> Iterator[dict]:
        """A typed batch table (timestamps, dates) in the record form the events are read in."""
        return self.shaper.from_arrow(table)

    def write(self, page: Page, bookmark: dict | None) -> None:
        """Buffer the page's events, a file out at every ``batch_size``; the events bookmark
        waits for the object stream's own (``settle``): its files are not announced yet."""
        size = self.batch_config.batch_size
        for event in self.page_events(page):
            self.chunk.append(self.encode(event))
            self.stats.rows += 1
            if len(self.chunk) >= size:
                self._announce(self.writer.add(self._take_chunk()))

    def settle(self, bookmark: dict) -> None:
        """The object stream's bookmark moves to ``bookmark`` (STATE follows): every event
        derived so far goes out in an announced file, then the events bookmark moves with it.

        The events of every page read are buffered before the page's rows reach the object
        stream's files, so they cover every row up to ``bookmark``.
        """
        self.close()
        value = self.events_bookmark(bookmark)
        if value is not None:
            # This partition only: another source's bookmark read into a file not announced
            # yet must not be settled by this STATE.
            self.events.advance_bookmark({self.events.replication_key: value}, self.context)

    def close(self) -> None:
        """Announce every event still buffered (the object stream's last files are out)."""
        if self.chunk:
            self._announce(self.writer.add(self._take_chunk()))
        self._announce(self.writer.finish())

    def _take_chunk(self) -> pa.Table:
        table = pa.Table.from_pylist(self.chunk)
        self.chunk = []
        return table

    def _announce(self, files: Iterable[BatchFile]) -> None:
        events = self.events
        for batch in files:
            events.sdk_write_message(
                SDKBatchMessage(
                    stream=EVENTS_STREAM, encoding=self.batch_config.encoding, manifest=[batch.uri]
                )
            )

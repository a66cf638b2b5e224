"""One read per source object: micro_decision_events derived from an object stream's own pages.

The events stream observes the object stream's pages (``page_pipeline.PageObserver``): it
decides whether to (``MicroDecisionEventsStream.sharing``) and writes the events
(``SharedEvents``); the object stream's pipeline only shows it the pages.

When an object's stream and ``micro_decision_events`` are both selected, the events of that
object used to cost a second query of the same rows. While object X's stream reads its pages,
X's events are derived from the same pages, and X's partition of the events stream is then
skipped: that partition waits for X's stream to finish (streams run side by side:
``scheduler``), and in a sequential run the object streams come first anyway.

Message order, per page of X: the page's events (RECORDs of micro_decision_events), then X's
RECORDs, then STATE. The STATE line is the whole tap state, so it carries X's bookmark and the
events bookmark for X together; the events bookmark moves only after the page's events are
written: it never passes a row whose events were not written.

- Same key (field history, Task, Event, SetupAuditTrail): the events bookmark moves when X's
  own does (an unordered Bulk job: at its last page), to the same key value.
- Keyed apart (OpportunityHistory, ProcessInstanceStep: X on SystemModstamp, the events on
  CreatedDate): one query holds both windows, ``SystemModstamp >= start AND CreatedDate < end``
  ordered by (CreatedDate, Id) (``Sharing.read_spec``); Salesforce never stamps SystemModstamp
  before CreatedDate, so every row the events' window holds is in it. The events bookmark
  moves page by page (the rows come in its order); X drops the rows past its own window and,
  its rows in no order of its key, moves its bookmark once the read is whole. Stage changes
  carry each opportunity's stage from page to page and look up the snapshot before the
  events' window before a page is written (``prepare``), as the events' own read does.

The read starts at the earlier of the two bookmarks; each side keeps the rows of its own
window (whole seconds, as SOQL bounds them), so a kill at any point, or a stream synced alone
before, never costs a second read nor a row. Shared only when the reads can be one read
(``could_share``; else X's events are read separately):
- the same rows: no ``include_deleted`` (the events never read deleted or archived rows), no
  ``object_filters`` entry for X (it narrows X's stream only, never its events);
- keys apart only as above (X's key never before the events' CreatedDate);
- the columns the rule reads that X does not select are read too, then dropped from X's rows;
- in BATCH mode, both go out as the tap's own Parquet files (a local root, identity maps):
  otherwise the events stream's files come from the SDK's batcher, which the shared events
  could not match.

BATCH mode (``page_event_batches.SharedEventBatches``): the events go into micro_decision_events'
own Parquet files, written as its own BATCH sync writes them (same naming, open objects as JSON text), so a
target reads shared and unshared files alike. A file goes out at ``batch_size`` events, and
whenever X's bookmark is about to move: X's BATCH, then every event buffered so far in an
announced file (the events of all pages read, so of every row up to X's new key), then the
events bookmark moves (``events_bookmark``), then STATE. A kill leaves the events bookmark at or behind
the last announced events file.

Events of the row rules are derived a page at once, as one Arrow table (``event_tables``), and
written from it as the object streams write their pages (RECORD lines, Parquet files): no dict
per event. Stage changes, carried from row to row, are derived as dicts.

Memory stays bounded: the events of one page are written as they are derived (RECORD mode), or
at most one batch of them is buffered (BATCH mode).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..discovery.schema import ObjectSchema
from ..event_tables import deciding_rows, of_record_types
from ..events import Derivation
from ..query.page import Page
from ..query.reader import ObjectReader, ReadSpec
from ..query.soql import datetime_literal
from ..query.values import RecordShaper, format_datetime
from ..run.runtime import StreamStats
from ..sdk_hooks import BatchConfig
from .base import IncrementalStream
from .fast_records import FastRecords
from .sources import Source, StageChanges, row_event_table, row_events

# The events' key of the row each event comes from, carried beside a page's event table in
# BATCH mode (a file's bookmark is the key of its last event's row), never written.
SOURCE_KEY = "__source_key"


def _whole_second(value: dt.datetime | None) -> dt.datetime | None:
    """A window bound as SOQL sends it (``datetime_literal``: whole seconds)."""
    return None if value is None else value.replace(microsecond=0)


@dataclass(frozen=True)
class Sharing:
    """How one object stream's read also gives its source's events (``plan``).

    The read holds both windows: from the earlier of the two starts, the stream's rows and the
    events' rows each keep what their own read would have read (``stream_page``, ``floor``).
    """

    source: Source
    stream_key: str
    # The events' own key when the stream's differs (None: the same key). The read is then
    # ``stream_key >= start AND events_key < end`` ordered by (events_key, Id): the rows of
    # both windows, in the order the events need (``read_spec``).
    events_key: str | None
    # Columns the rule reads that the stream does not select: read, then dropped before the
    # stream's rows go out (ProcessInstanceStep's ProcessInstance.TargetObjectId).
    extra_fields: tuple[str, ...]
    stream_start: dt.datetime | None
    events_start: dt.datetime | None
    batch_config: BatchConfig | None
    directory: Path | None

    @property
    def keyed_apart(self) -> bool:
        return self.events_key is not None

    @property
    def read_start(self) -> dt.datetime | None:
        """The earlier start (None: either reads from the beginning)."""
        if self.stream_start is None or self.events_start is None:
            return None
        return min(self.stream_start, self.events_start)

    @property
    def floor(self) -> str | None:
        """Rows keyed (events' key) before it are before the events' window: skipped."""
        start = _whole_second(self.events_start)
        if start is None or (not self.keyed_apart and start == _whole_second(self.read_start)):
            return None
        return format_datetime(start)

    @property
    def stream_floor(self) -> str | None:
        """Rows keyed (stream's key) before it are before the stream's window: dropped."""
        start = _whole_second(self.stream_start)
        if start is None or start == _whole_second(self.read_start):
            return None
        return format_datetime(start)

    def read_spec(self, fields: list[str], end: dt.datetime | None) -> ReadSpec:
        """The one read both streams take."""
        fields = [*fields, *self.extra_fields]
        start = self.read_start
        if not self.keyed_apart:
            # As the stream's own read: a Bulk job without ORDER BY (see ``query.page``).
            return ReadSpec(fields, start, end, key=self.stream_key, ordered=False)
        where = () if start is None else (f"{self.stream_key} >= {datetime_literal(start)}",)
        return ReadSpec(fields, None, end, key=self.source.key, where=where, ordered=True)

    def stream_page(self, page: Page, end: dt.datetime | None) -> Page:
        """The page as the object stream writes it: without the extra columns nor the rows
        outside its own window; keyed apart, in no order of its key, so its bookmark waits for
        the read's end (``closing_page``)."""
        rows = page.rows
        if self.extra_fields:
            rows = _without_columns(rows, self.extra_fields)
        high = format_datetime(end) if self.keyed_apart and end is not None else None
        rows = _in_range(rows, self.stream_key, self.stream_floor, high)
        if not self.keyed_apart:
            return page if rows is page.rows else Page(rows, page.ordered, page.last)
        return Page(rows, ordered=False, last=False)

    def closing_page(self, last: Page | None, stopped: bool) -> Page | None:
        """Keyed apart, once the read is whole: an empty last page, which moves the stream's
        bookmark to the largest key of its rows. None: nothing to close, or a read stopped
        part-way (rows not read yet may have any key of the stream)."""
        if not self.keyed_apart or last is None or stopped:
            return None
        return Page(last.rows.schema.empty_table(), ordered=False, last=True)


def _without_columns(rows: pa.Table, names: tuple[str, ...]) -> pa.Table:
    return rows.drop_columns([n for n in names if n in rows.column_names])


def _in_range(rows: pa.Table, key: str, low: str | None, high: str | None) -> pa.Table:
    """The rows with ``low <= key < high`` (canonical datetime text, which sorts; None: no
    bound), the table itself when both bounds are None."""
    if low is None and high is None:
        return rows
    column = rows[key]
    keep = None
    for bound, compare in ((low, pc.greater_equal), (high, pc.less)):
        if bound is None:
            continue
        test = compare(column, pa.scalar(bound, column.type))
        keep = test if keep is None else pc.and_(keep, test)
    return rows.filter(keep)


class SharedEvents:
    """Writes the events of one source object from the pages its object stream reads, as the
    observer of those pages (``page_pipeline.PageObserver``), in RECORD mode."""

    def __init__(
        self,
        events: IncrementalStream,
        sharing: Sharing,
        own: ReadSpec,
        shaper: RecordShaper,
        source_schema: ObjectSchema,
        derivation: Derivation,
        logger: logging.Logger,
    ) -> None:
        """``events``: the events stream; ``own``: the object stream's own read, which
        ``read`` widens; ``shaper``: of the rule's columns; ``source_schema``: the source
        object's."""
        self.events = events
        self.sharing = sharing
        self.read = sharing.read_spec(own.fields, own.end)
        self.end = own.end
        self.source = source = sharing.source
        self.source_schema = source_schema
        self.context = {"source_object": source.object_name}
        self.shaper = shaper
        self.logger = logger
        self.derivation = derivation
        self.record_types = frozenset(events.runtime.settings.record_types)
        self.stats: StreamStats = events.runtime.stats_for(f"{events.name}:{source.object_name}")
        self.stats.path = "shared"  # the run summary: no read of its own
        # The events' key of the last row whose events were derived (the rows come in its order).
        self.high: str | None = None
        self._window: tuple[Page, pa.Table] | None = None  # (page, its rows in the events' window)
        self.stages: StageChanges | None = None
        if source.event_type == "stage_change":
            reader = ObjectReader(events.runtime, source_schema, logger, name=self.stats.name)
            self.stages = StageChanges(reader, sharing.events_start, self.stats)
        self.begin()

    def begin(self) -> None:
        """What the events' output needs before the first page (RECORD mode: nothing)."""

    def prepare(self, page: Page) -> None:
        """What the page's events need from Salesforce, read before the page is written (a
        quota stop here leaves the page unwritten): the stage before the window of the
        opportunities the page moves first."""
        if self.stages is None or not len(page):
            return
        ids = self._window_rows(page)["OpportunityId"].drop_null().to_pylist()
        self.stages.seed(ids)
        self.stats.path = "shared"  # the lookups' reads set it: still no read of its own

    def _window_rows(self, page: Page) -> pa.Table:
        """The page's rows in the events' window (a table of the rule's columns), computed
        once for ``prepare`` and ``page_events``."""
        if self._window is None or self._window[0] is not page:
            rows = page.rows.select(list(self.source.fields))
            self._window = (page, _in_range(rows, self.source.key, self.sharing.floor, None))
        return self._window[1]

    def page_events(self, page: Page) -> Iterator[dict]:
        """The events of the page's rows in the events' window, of the selected record types."""
        rows = self._window_rows(page)
        self._window = None
        records = self.shaper.from_table(rows)
        if self.sharing.keyed_apart:
            records = self._noting_key(records)
        if self.stages is not None:
            derived = self.stages.events(records, self.derivation)
        else:
            derived = row_events(self.source, self.source_schema, records, self.derivation)
        for event in derived:
            if self.record_types and event["record_type"] not in self.record_types:
                continue
            yield event

    def page_table(self, page: Page, *, keys: bool = False) -> pa.Table:
        """The events of ``page_events`` as one Arrow table (``event_tables``,
        ``stage_tables``: no dict per event), ``keys``: with each event's row key
        (``SOURCE_KEY``) last."""
        rows = self._window_rows(page)
        self._window = None
        key = self.source.key
        if self.sharing.keyed_apart and rows.num_rows:
            self.high = rows[key][-1].as_py()
        source = self.source
        if self.stages is not None:
            table, positions = self.stages.event_table(rows, self.derivation)
            rows = rows.take(positions)  # the snapshots that change a stage, an event each
        else:
            rows = deciding_rows(source.object_name, source.event_type, rows)  # an event each
            table = row_event_table(source, self.source_schema, rows, self.derivation)
        if keys:
            table = table.append_column(SOURCE_KEY, rows[key])
        return of_record_types(table, self.record_types)

    def _noting_key(self, rows: Iterator[dict]) -> Iterator[dict]:
        key = self.source.key
        for row in rows:
            self.high = row[key]
            yield row

    def events_bookmark(self, bookmark: dict | None) -> str | None:
        """Where the events bookmark may move once the events derived so far are out: the
        object stream's bookmark (same key), or the last row's events key (the rows come in
        its order)."""
        if self.sharing.keyed_apart:
            return self.high
        return None if not bookmark else bookmark.get(self.source.key)

    def own_page(self, page: Page) -> Page:
        """The object stream's part of a page (``Sharing.stream_page``)."""
        return self.sharing.stream_page(page, self.end)

    def closing_page(self, last: Page | None, stopped: bool) -> Page | None:
        return self.sharing.closing_page(last, stopped)

    def observe(self, page: Page, bookmark: dict | None) -> None:
        """Write the page's events, then move the events bookmark (``events_bookmark``)."""
        events = self.events
        table = self.page_table(page)
        self.write_table(table)
        self.stats.rows += table.num_rows
        value = self.events_bookmark(bookmark)
        if value is not None:
            events.remember_bookmark({events.replication_key: value}, self.context)
            events.settle_bookmark()

    def write_table(self, table: pa.Table) -> None:
        """A page's events as RECORD lines built from the table (``FastRecordWriter``, as an
        object stream writes its pages); with stream maps or another writer, each event through
        the SDK's path as its dict."""
        events = self.events
        if not table.num_rows:
            return
        writer = events.fast_writer() if isinstance(events, FastRecords) else None
        if writer is None:
            for event in table.to_pylist():
                events.sdk_write_record(event)
            return
        stamp = events.org_stamp
        rows = table if stamp is None else stamp.table(table)
        writer.write_table(rows, (), pa.Table.to_pylist)
        events.sdk_mark_unflushed()

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
            self.events.name,
        )

    def settle(self, bookmark: dict) -> None:
        """Nothing waits: the events of every page went out before the page (``observe``)."""

    def close(self) -> None:
        """Nothing buffered (``observe``)."""

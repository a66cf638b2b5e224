"""One read per source object: micro_decision_events derived from an object stream's own pages.

When an object's stream and ``micro_decision_events`` are both selected, the events of that
object used to cost a second query of the same rows. While object X's stream reads its pages,
X's events are derived from the same pages, and X's partition of the events stream is then
skipped: that partition waits for X's stream to finish (streams run side by side, the events
stream first: ``scheduler``), and in a sequential run the object streams come first anyway.

Message order, per page of X: the page's events (RECORDs of micro_decision_events), then X's
RECORDs, then STATE. The STATE line is the whole tap state, so it carries X's bookmark and the
events bookmark for X together; the events bookmark moves only after the page's events are
written, and only when X's own bookmark moves (an unordered Bulk job: at its last page), to
the same key value: it never passes a row whose events were not written. A kill at any point
leaves the events bookmark at or behind X's, and a run whose events bookmark is behind X's
window reads the events separately, as before: nothing is lost and nothing is shared wrongly.

Shared only when the two reads are the same read (else X's events are read separately):
- the rule looks at one row at a time (field history, Task/Event, SetupAuditTrail), so pages in
  any order give the same events; OpportunityHistory's stage changes need the previous snapshot
  per opportunity in order, and ProcessInstanceStep needs relationship fields;
- the same key (the events' ``timestamp_recorded`` is X's replication key);
- the same rows: no ``include_deleted`` (the events never read deleted or archived rows), no
  ``object_filters`` entry for X (it narrows X's stream only, never its events), and X's window
  starts at or before the events' (rows before the events' start are skipped);
- X selects every field the rule reads;
- in BATCH mode, both go out as the tap's own Parquet files (a local root, identity maps):
  otherwise the events stream's files come from the SDK's batcher, which the shared events
  could not match.

BATCH mode (``SharedEventBatches``): the events go into micro_decision_events' own Parquet
files, written as its own BATCH sync writes them (same naming, open objects as JSON text), so a
target reads shared and unshared files alike. A file goes out at ``batch_size`` events, and
whenever X's bookmark is about to move: X's BATCH, then every event buffered so far in an
announced file (the events of all pages read, so of every row up to X's new key), then the
events bookmark moves to X's key, then STATE. A kill leaves the events bookmark at or behind
the last announced events file.

Memory stays bounded: the events of one page are written as they are derived (RECORD mode), or
at most one batch of them is buffered (BATCH mode).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from singer_sdk import Stream
from singer_sdk.helpers._batch import BatchConfig, SDKBatchMessage

from ..batches import BatchFile, ParquetBatchWriter, parquet_batch_directory
from ..events import Derivation
from ..query.page import Page
from ..query.reader import Shape
from ..query.values import RecordShaper, format_datetime
from ..runtime import Runtime, StreamStats
from .base import is_identity_map
from .decisions import PER_ROW_EVENT_TYPES, MicroDecisionEventsStream, Source

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
    shared_kinds = {
        name for name, source in events.sources.items() if source.event_type in PER_ROW_EVENT_TYPES
    }
    if any(s.selected and s.name in shared_kinds for s in streams if s is not events):
        runtime.user_types()


class SharedEvents:
    """Writes the events of one source object from the pages its object stream reads."""

    def __init__(
        self,
        events: MicroDecisionEventsStream,
        source: Source,
        shaper: RecordShaper,
        floor: str | None,
        logger: logging.Logger,
    ) -> None:
        self.events = events
        self.source = source
        self.context = {"source_object": source.object_name}
        self.shaper = shaper
        self.floor = floor  # rows keyed before it are before the events' window
        self.logger = logger
        self.derivation: Derivation = events.derivation()
        self.record_types = frozenset(events.runtime.settings.record_types)
        self.stats: StreamStats = events.runtime.stats_for(f"{EVENTS_STREAM}:{source.object_name}")
        self.stats.path = "shared"  # the run summary: no read of its own

    @classmethod
    def attach(
        cls, stream: SObjectStream, start: dt.datetime | None, shape: Shape
    ) -> SharedEvents | None:
        """The sharing for ``stream``'s read starting at ``start``, or None: read separately.

        ``shape`` "pages": RECORD mode (RECORDs of both streams); "tables": the stream writes
        its own Parquet files, and so may the events (``SharedEventBatches``).
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
        if (
            source is None
            or source.object_name in events.sources_begun
            or source.event_type not in PER_ROW_EVENT_TYPES
            or source.key != stream.replication_key
            or not set(source.fields) <= set(stream.selected_fields())
        ):
            return None
        context = {"source_object": source.object_name}
        events.sdk_start_replication_value(context)  # what the events' own sync does first
        events_start, events_end = events.query_range(context)
        if events_start is not None and events_end is not None and events_start >= events_end:
            return None  # nothing for the events to read: their own turn finds that too
        if start is not None and (events_start is None or start > events_start):
            stream.logger.info(
                "%s: the %s bookmark is behind this stream's; its events are read separately",
                stream.name,
                EVENTS_STREAM,
            )
            return None
        floor = None
        if events_start is not None and (start is None or start < events_start):
            floor = format_datetime(events_start)
        if not events.schema_written:
            events.sdk_write_schema()  # its RECORDs go out before its own sync writes it again
            events.schema_written = True
        shaper = RecordShaper(stream.object_schema, list(source.fields))
        if batch_config is not None and directory is not None:
            return SharedEventBatches(
                events, source, shaper, floor, stream.logger, batch_config, directory
            )
        return cls(events, source, shaper, floor, stream.logger)

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
        for event in self.events.row_events(self.source, rows, self.derivation):
            if self.record_types and event["record_type"] not in self.record_types:
                continue
            yield event

    def table_records(self, table: pa.Table) -> Iterator[dict]:
        """A page's table in record form (RECORD mode: values as a read in record form)."""
        return self.shaper.from_table(table)

    def write(self, page: Page, bookmark: dict | None) -> None:
        """Write the page's events, then move the events bookmark with the page's bookmark."""
        key = self.source.key
        events = self.events
        written = 0
        for event in self.page_events(page):
            events.sdk_write_record(event)
            written += 1
        self.stats.rows += written
        if bookmark and bookmark.get(key) is not None:
            events.remember_bookmark({events.replication_key: bookmark[key]}, self.context)
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
        source: Source,
        shaper: RecordShaper,
        floor: str | None,
        logger: logging.Logger,
        batch_config: BatchConfig,
        directory: Path,
    ) -> None:
        super().__init__(events, source, shaper, floor, logger)
        self.batch_config = batch_config
        # As the events stream's own BATCH sync writes them (``IncrementalStream.get_batches``).
        self.writer = ParquetBatchWriter.for_config(directory, batch_config, EVENTS_STREAM)
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
        value = bookmark.get(self.source.key)
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

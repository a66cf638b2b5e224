"""The derived stream ``micro_decision_events`` (``history_tracked_fields`` is in ``tracked_fields``).

micro_decision_events reads each source object (``sources``: field history objects,
OpportunityHistory, ProcessInstanceStep, Task, Event, SetupAuditTrail) incrementally with its own
bookmark (one state partition per source), derives events with the pure rules of ``events.py``,
and emits them in the source's key order, which is also ``timestamp_recorded`` order: a killed
run resumes per source. A source whose own object stream is selected may have its events derived
from that stream's pages instead (``page_events``): this stream observes them
(``PageObservers``), and the source's partition waits for that stream and is then not read again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from typing_extensions import override

from ..discovery.schema import ObjectSchema
from ..events import EVENT_SCHEMA, Derivation
from ..output.batches import parquet_batch_directory
from ..query.reader import ObjectReader, ReadSpec
from ..query.values import RecordShaper, format_datetime
from ..run.runtime import Runtime, StreamStats
from .base import IncrementalStream, is_identity_map
from .fast_records import FastRecords
from .page_event_batches import SharedEventBatches
from .page_events import SharedEvents, Sharing
from .page_pipeline import ObservedStream, Output, PageObserver, PageObservers
from .sources import CHUNK_ROWS, Source, StageChanges, chunks, find_sources, row_events

try:
    EXTRACTOR_VERSION = version("tap-salesforce-temporal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    EXTRACTOR_VERSION = "0.0.0"

# The stream key Salesforce never sets before a row's CreatedDate (both are stamped on insert,
# and only it moves on an update, even for audit fields a migration sets): a window from ``s``
# on it holds every row created from ``s`` on.
NOT_BEFORE_CREATED = "SystemModstamp"


class MicroDecisionEventsStream(FastRecords, IncrementalStream, PageObservers):
    """One standardized record per decision, bookmarked per source object."""

    name = "micro_decision_events"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Events name their source in context.source_object; the partition key is not a column.
    records_carry_partition_keys = False
    schema_written = False

    def __init__(self, tap: Any, runtime: Runtime, schemas: dict[str, ObjectSchema]) -> None:
        self.runtime = runtime
        self.schemas = schemas
        settings = runtime.settings
        self.sources = {
            s.object_name: s
            for s in find_sources(schemas, settings.event_types, settings.record_types)
        }
        super().__init__(tap=tap, schema=EVENT_SCHEMA, name=self.name)
        self.primary_keys = ["event_id"]
        self.replication_key = "timestamp_recorded"
        # Sources whose own read this stream has begun: an object stream synced later (an
        # unusual order) must not derive their events from its pages too.
        self.sources_begun: set[str] = set()
        # Sources whose object stream may derive their events (queued after every object
        # stream, ``tap._sync_order``): only their partitions wait for it. One queued before
        # would hold a worker while waiting for a stream that may need that very worker.
        self.waits_for: set[str] = set()

    @property
    def partitions(self) -> list[dict]:
        return [{"source_object": name} for name in self.sources]

    def derivation(self) -> Derivation:
        """What every rule needs besides the rows (the org's users are read once per run)."""
        runtime = self.runtime
        return Derivation(
            user_types=runtime.user_types(),
            key_prefixes=runtime.key_prefixes,
            org_id=runtime.client.session.org_id,
            extracted_at=format_datetime(runtime.run_started),
            extractor_version=EXTRACTOR_VERSION,
        )

    def get_records(self, context: Context | None) -> Iterable[dict]:
        if context is None:
            return
        source = self.sources[context["source_object"]]
        runtime = self.runtime
        if source.object_name in self.waits_for:
            # Its object stream, running beside this one, may derive these events itself.
            runtime.wait_for_stream(source.object_name)
        self.sources_begun.add(source.object_name)
        stats = runtime.stats_for(f"{self.name}:{source.object_name}")
        if runtime.stopped_reason:
            return
        if source.object_name in runtime.shared_event_sources:
            self.logger.info(
                "%s: %s events came from the %s stream's pages; not read again",
                self.name,
                source.object_name,
                source.object_name,
            )
            return
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            return
        derivation = self.derivation()
        reader = ObjectReader(
            runtime,
            self.schemas[source.object_name],
            self.logger,
            name=f"{self.name}:{source.object_name}",
        )
        rows = reader.read(list(source.fields), start, end, stats, key=source.key, all_rows=False)
        record_types = set(runtime.settings.record_types)
        events = self._derive(source, rows, derivation, reader, start, stats)
        if record_types:
            events = (e for e in events if e["record_type"] in record_types)
        yield from self.accounted(events, stats)

    def _derive(
        self,
        source: Source,
        rows: Iterator[dict],
        d: Derivation,
        reader: ObjectReader,
        start: Any,
        stats: StreamStats,
    ) -> Iterator[dict]:
        if source.event_type == "stage_change":
            stages = StageChanges(reader, start, stats)
            for chunk in chunks(rows, CHUNK_ROWS):
                stages.seed({r["OpportunityId"] for r in chunk})
                yield from stages.events(chunk, d)
        else:
            yield from row_events(source, self.schemas[source.object_name], rows, d)

    # -- events from an object stream's own pages (``page_events``) --
    def could_share(self, stream: ObservedStream, output: Output) -> bool:
        """Whether ``stream``'s reads may give its source's events at all (``sharing`` decides
        for a given window): this stream selected, the same rows (no ``include_deleted``, no
        ``object_filters``), keys that allow one read, files of the tap's own in BATCH mode."""
        if (
            not self.selected
            or stream.runtime.settings.include_deleted
            or stream.reader.where  # object_filters narrow the stream, never the events
        ):
            return False
        batch_config = self.get_batch_config(self.config)
        if batch_config is None:
            if output != "records":
                return False
        elif (
            output != "files"
            or parquet_batch_directory(batch_config) is None
            or not is_identity_map(self)
        ):
            return False  # the events' files come from the SDK's batcher: read separately
        source = self.sources.get(stream.name)
        key = stream.replication_key
        if source is None or source.object_name in self.sources_begun or not key:
            return False
        return source.key == key or (source.key == "CreatedDate" and key == NOT_BEFORE_CREATED)

    def sharing(
        self, stream: ObservedStream, start: dt.datetime | None, output: Output, *, planning: bool
    ) -> Sharing | None:
        """Whether ``stream``'s read starting at ``start`` gives its events too, and how; None:
        they are read separately. ``planning``: the decision before the sync (``counts``), with
        no state touched; the sync's own decision is the same.

        ``output`` "records": RECORD mode (RECORDs of both streams); "files": the stream writes
        its own Parquet files, and so do the events (``SharedEventBatches``).
        """
        if not self.could_share(stream, output):
            return None
        source = self.sources[stream.name]
        # As this stream's own sync of the source computes it (planning: state left untouched).
        events_start, events_end = self.starting_range(
            {"source_object": source.object_name}, keep=not planning
        )
        if events_start is not None and events_end is not None and events_start >= events_end:
            return None  # nothing for the events to read: their own turn finds that too
        stream_key = stream.replication_key
        assert stream_key is not None
        batch_config = self.get_batch_config(self.config)
        selected = set(stream.selected_fields())
        return Sharing(
            source=source,
            stream_key=stream_key,
            events_key=None if source.key == stream_key else source.key,
            extra_fields=tuple(f for f in source.fields if f not in selected),
            stream_start=start,
            events_start=events_start,
            batch_config=batch_config,
            directory=None if batch_config is None else parquet_batch_directory(batch_config),
        )

    @override
    def planned_read(self, stream: ObservedStream, own: ReadSpec, output: Output) -> ReadSpec:
        sharing = self.sharing(stream, own.start, output, planning=True)
        return own if sharing is None else sharing.read_spec(own.fields, own.end)

    @override
    def page_observer(
        self, stream: ObservedStream, own: ReadSpec, output: Output
    ) -> PageObserver | None:
        sharing = self.sharing(stream, own.start, output, planning=False)
        if sharing is None:
            return None
        if not self.schema_written:
            self.sdk_write_schema()  # its RECORDs go out before its own sync writes it again
            self.schema_written = True
        source = sharing.source
        shaper = RecordShaper(stream.object_schema, list(source.fields))
        observer = SharedEventBatches if sharing.directory is not None else SharedEvents
        return observer(
            self,
            sharing,
            own,
            shaper,
            self.schemas[source.object_name],
            self.derivation(),
            stream.logger,
        )

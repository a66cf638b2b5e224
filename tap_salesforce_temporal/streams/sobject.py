"""The generic SObject stream: incremental by SystemModstamp > LastModifiedDate > CreatedDate.

Rows are read ordered by (replication key, Id) inside ``[start, end)`` where ``end`` is the run's
start (or ``end_date``), so the SDK can emit STATE while the stream runs and a killed run resumes
from its last STATE. Each incremental run re-reads ``lookback_window`` seconds before the bookmark:
Salesforce commits SystemModstamp late, and a row committed after the previous run read past its
timestamp would otherwise be lost. A QUERY_TIMEOUT halves the date window and tries again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from ..errors import BulkJobFailed, BulkNotSupported, QueryTimeout, QuotaReached, TapError
from ..query import rest
from ..query.bulk import BulkQuery
from ..query.soql import Select
from ..query.values import RecordShaper, canonical_datetime
from ..runtime import Runtime
from ..schema import ObjectSchema

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MIN_WINDOW = dt.timedelta(minutes=1)
PROGRESS_EVERY_SECONDS = 15.0
BULK_JOB_ATTEMPTS = 3


class SObjectStream(Stream):
    """One Salesforce object as a Singer stream."""

    # Values are typed from the describe by RecordShaper; SDK conformance would turn "false" into True.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Any, object_schema: ObjectSchema, runtime: Runtime) -> None:
        self.object_schema = object_schema
        self.runtime = runtime
        super().__init__(tap=tap, schema=self.build_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = object_schema.replication_key
        self._bulk_refused = False

    def build_schema(self) -> dict:
        return self.object_schema.json_schema()

    @property
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    # -- state --
    def _increment_stream_state(self, latest_record: dict, *, context: dict | None = None) -> None:
        """Never move a bookmark backwards while the lookback window is re-read."""
        if self.replication_key:
            current = self.get_context_state(context).get("replication_key_value")
            value = latest_record.get(self.replication_key)
            if current is not None and value is not None and value < current:
                return
        super()._increment_stream_state(latest_record, context=context)

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

    def query_range(self, context: dict | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        if not self.replication_key:
            return None, None
        settings = self.runtime.settings
        start = self.get_starting_timestamp(context)
        has_bookmark = self.get_context_state(context).get("replication_key_value") is not None
        if start is not None and has_bookmark and settings.lookback_window:
            start -= dt.timedelta(seconds=settings.lookback_window)
        end = self.runtime.run_started
        if settings.end_date is not None:
            end = min(end, settings.end_date)
        return start, end

    def base_select(self, fields: list[str]) -> Select:
        order = [self.replication_key, "Id"] if self.replication_key else ["Id"]
        return Select(self.object_schema.name, fields, order_by=order)

    def get_records(self, context: dict | None) -> Iterable[dict]:
        runtime = self.runtime
        stats = runtime.stats_for(self.name)
        if runtime.stopped_reason:
            self.logger.warning("%s: skipped, run stopped: %s", self.name, runtime.stopped_reason)
            return
        started, calls_before = time.monotonic(), runtime.client.usage.calls
        fields = self.selected_fields()
        shaper = RecordShaper(self.object_schema, fields)
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            self.logger.info("%s: nothing to read, bookmark is at the run start", self.name)
            return
        try:
            for record in self._read_range(self.base_select(fields), shaper, start, end, stats):
                stats.rows += 1
                yield record
        except QuotaReached as stop:
            runtime.stopped_reason = str(stop)
            stats.errors.append("stopped: API quota guard")
            self.logger.warning("%s", stop)
        except TapError as error:
            stats.errors.append(str(error))
            raise
        finally:
            stats.seconds += time.monotonic() - started
            stats.api_calls += runtime.client.usage.calls - calls_before

    def _read_range(
        self,
        select: Select,
        shaper: RecordShaper,
        start: dt.datetime | None,
        end: dt.datetime | None,
        stats: Any,
    ) -> Iterator[dict]:
        """Read ``[start, end)``; on QUERY_TIMEOUT before any row, split the window in two."""
        stats.windows += 1
        windowed = (
            select.with_range(self.replication_key, start, end) if self.replication_key else select
        )
        emitted = 0
        try:
            for record in self._fetch(windowed, shaper, stats):
                emitted += 1
                yield record
        except QueryTimeout:
            if emitted or not self.replication_key or end is None:
                raise
            lower = start or EARLIEST
            if end - lower <= MIN_WINDOW:
                raise
            middle = lower + (end - lower) / 2
            middle = middle.replace(microsecond=0)
            self.logger.warning(
                "%s: QUERY_TIMEOUT on %s..%s; splitting the window at %s",
                self.name,
                lower,
                end,
                middle,
            )
            yield from self._read_range(select, shaper, lower, middle, stats)
            yield from self._read_range(select, shaper, middle, end, stats)

    def _fetch(self, select: Select, shaper: RecordShaper, stats: Any) -> Iterator[dict]:
        settings, client = self.runtime.settings, self.runtime.client
        all_rows = settings.include_deleted
        path = settings.api_type
        if path == "auto":
            rows = rest.count(client, select, all_rows=all_rows, context=self.name)
            path = "bulk" if rows >= settings.bulk_threshold and rows > 0 else "rest"
            self.logger.info("%s: %d rows to read; using %s", self.name, rows, path.upper())
        if path == "bulk" and self._bulk_refused:
            path = "rest"
        if path == "bulk":
            try:
                yield from self._fetch_bulk(select, shaper, stats)
                return
            except BulkNotSupported as refused:
                if stats.rows:
                    raise
                self._bulk_refused = True
                self.logger.warning(
                    "%s: Bulk API refused (%s); falling back to REST", self.name, refused.sf_message
                )
        stats.path = "rest"
        progress = _Progress(self, client)
        for page in rest.pages(client, select.soql(), all_rows=all_rows, context=self.name):
            yield from shaper.from_rest(page)
            progress.tick(len(page))
            client.check_quota()  # before the next page is requested

    def _fetch_bulk(self, select: Select, shaper: RecordShaper, stats: Any) -> Iterator[dict]:
        settings, client = self.runtime.settings, self.runtime.client
        stats.path = "bulk"
        progress = _Progress(self, client)
        bulk = BulkQuery(
            client, self.logger, page_records=settings.bulk_page_records, context=self.name
        )
        for attempt in range(1, BULK_JOB_ATTEMPTS + 1):
            try:
                for table in bulk.pages(
                    select.soql(), shaper.csv_table, all_rows=settings.include_deleted
                ):
                    yield from shaper.from_table(table)
                    progress.tick(table.num_rows)
                    client.check_quota()  # before the next page is requested
                return
            except BulkJobFailed as failure:
                if progress.rows or attempt == BULK_JOB_ATTEMPTS:
                    raise
                self.logger.warning(
                    "%s: %s; starting a new job (attempt %d/%d)",
                    self.name,
                    failure,
                    attempt + 1,
                    BULK_JOB_ATTEMPTS,
                )


class _Progress:
    """Logs rows so far, rate and API usage every few seconds of a long read."""

    def __init__(self, stream: SObjectStream, client: Any) -> None:
        self.stream, self.client = stream, client
        self.rows = 0
        self.started = self.last = time.monotonic()

    def tick(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            rate = self.rows / max(now - self.started, 1e-9)
            self.stream.logger.info(
                "%s: %d rows so far, %.0f rows/s, API usage %s",
                self.stream.name,
                self.rows,
                rate,
                self.client.usage.describe(),
            )


__all__ = ["SObjectStream", "canonical_datetime"]

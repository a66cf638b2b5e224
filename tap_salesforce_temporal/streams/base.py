"""What every incremental stream of this tap shares: the read range and a bookmark that never regresses."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from singer_sdk import Stream
from singer_sdk.helpers.types import Context
from typing_extensions import override

from ..connection.client import owner
from ..errors import QuotaReached, TapError
from ..output.batches import ParquetBatchWriter, open_object_encoder, parquet_batch_directory
from ..output.record_batches import RecordBatches
from ..output.writer import deselected_properties, drop_nested
from ..run.runtime import Runtime, StreamStats
from ..sdk_hooks import BaseBatchFileEncoding, BatchConfig


def is_identity_map(stream: Stream) -> bool:
    """No stream maps and no flattening: the stream's records go out exactly as read.

    The one test every fast path (RECORD lines a page at a time, the tap's own Parquet batches)
    makes before it bypasses the SDK's per-record mapping.
    """
    maps = stream.stream_maps
    if len(maps) != 1:
        return False
    only = maps[0]
    return (
        type(only).__name__ == "SameRecordTransform"
        and only.stream_alias == stream.name
        and not getattr(only, "flattening_enabled", False)
    )


class IncrementalStream(RecordBatches):
    runtime: Runtime

    @property
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    _holding = False
    _threads_deferred: threading.local | None = None

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK logs "An unhandled error occurred while syncing" before re-raising any error;
        for a ``TapError`` the CLI prints the one line that says what is wrong, so skip it."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], TapError):
            return
        super().log(message, *args, level=level, **kwargs)

    @override
    def remember_bookmark(self, record: dict, context: Context | None) -> None:
        """Remember the latest record; the bookmark is computed only when STATE is written.

        Rows arrive sorted by (key, Id), so the bookmark after N records is the last record's
        key: the SDK's per-record bookkeeping (a third of the tap's time) is needed only when a
        STATE message goes out or a partition is finalized. While an unordered Bulk job is
        written (``hold_bookmark``) records do not move it at all.

        The latest record is kept per thread: partitions synced side by side (``scheduler``)
        each settle their own, when their own STATE goes out. Another partition's record may
        sit in a batch file not announced yet; a STATE of this one must not move it.
        """
        if self._holding:
            return
        if self.replication_key and self.is_sorted:
            deferred = self._deferred()
            if deferred.record is not None and deferred.record[1] != context:
                self.settle_bookmark()
            deferred.record = (record, context)
            return
        self._increment_now(record, context)

    def _deferred(self) -> threading.local:
        """This thread's latest record not settled yet (``record``: (record, context) or None)."""
        if self._threads_deferred is None:
            self._threads_deferred = threading.local()
        deferred = self._threads_deferred
        if not hasattr(deferred, "record"):
            deferred.record = None
        return deferred

    def hold_bookmark(self) -> None:
        """Rows from now on come in no particular order: they do not move the bookmark."""
        self._holding = True

    def release_bookmark(self, bookmark: dict | None, context: Context | None) -> None:
        """The unordered rows are all written: the bookmark may move to ``bookmark``."""
        self._holding = False
        if bookmark:
            self.remember_bookmark(bookmark, context)

    @override
    def settle_bookmark(self) -> None:
        deferred = self._deferred()
        if deferred.record is not None:
            record, context = deferred.record
            deferred.record = None
            self._increment_now(record, context)

    def advance_bookmark(self, record: dict, context: Context | None) -> None:
        """Move the bookmark of ``context`` to ``record`` now, leaving alone the deferred one of
        another partition (its rows may sit in a batch file not announced yet)."""
        self._increment_now(record, context)

    def _increment_now(self, latest_record: dict, context: Context | None) -> None:
        """Never move a bookmark backwards while the lookback window is re-read."""
        if self.replication_key:
            current = self.get_context_state(context).get("replication_key_value")
            value = latest_record.get(self.replication_key)
            if current is not None and value is not None and value < current:
                return
        self.sdk_increment_stream_state(latest_record, context)

    @override
    def sync_own_batches(self, batch_config: BatchConfig, context: Context | None) -> bool:
        """A local root with identity maps: the SDK's loop over ``get_batches`` (the tap's own
        Parquet files); anything else: the SDK's batcher, given what RECORD mode would write."""
        if parquet_batch_directory(batch_config) is not None and is_identity_map(self):
            return False
        return super().sync_own_batches(batch_config, context)

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Parquet batches of ``batch_size`` records with open objects as JSON text.

        Records still flow through the SDK's record loop (bookmarks, partitions, finalization), so the
        STATE the SDK writes after each BATCH covers exactly the records in the files announced.
        Only for a local root and identity maps (``sync_own_batches`` sends the rest elsewhere).
        """
        directory = parquet_batch_directory(batch_config)
        if directory is None or not is_identity_map(self):
            msg = f"{self.name}: the tap's own Parquet batches need a local root and no stream maps"
            raise RuntimeError(msg)
        writer = ParquetBatchWriter.for_config(directory, batch_config, self.name)
        encode = self.parquet_encoder()
        chunk: list[dict] = []
        for record in self.sdk_sync_records(context, write_messages=False):
            chunk.append(encode(dict(record)))
            if len(chunk) >= batch_config.batch_size:
                for batch in writer.add(pa.Table.from_pylist(chunk)):
                    yield batch_config.encoding, [batch.uri]
                chunk = []
        if chunk:
            yield from (
                (batch_config.encoding, [b.uri]) for b in writer.add(pa.Table.from_pylist(chunk))
            )
        yield from ((batch_config.encoding, [b.uri]) for b in writer.finish())

    def parquet_encoder(self) -> Callable[[dict], dict]:
        """A record as the tap's own Parquet batch files hold it: deselected properties left out,
        as the SDK's RECORD path leaves them out (``actor_id``, ``context.source_record_id``),
        and open objects as JSON text (``open_object_encoder``)."""
        encode = open_object_encoder(self.schema)
        tree = deselected_properties(self.mask)
        if not tree:
            return encode

        def drop_then_encode(record: dict) -> dict:
            drop_nested(record, tree)
            return encode(record)

        return drop_then_encode

    def starting_range(
        self, context: Context | None, *, keep: bool
    ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The range this stream's sync of ``context`` reads, computed as that sync does: the
        bookmark becomes the SDK's starting value first. ``keep``: leave it set (the sync's own
        first step); else the state is exactly as before (planning ahead). Only this stream's
        entry is saved and put back (the starting value touches nothing else): a copy of the
        whole state per stream grew with the square of a 1,000-object org's streams."""
        state = self.tap_state
        had_bookmarks = "bookmarks" in state
        saved = None if keep else copy.deepcopy(state.get("bookmarks", {}).get(self.name))
        try:
            self.sdk_start_replication_value(context)
            return self.query_range(context)
        finally:
            if not keep:
                bookmarks = state.setdefault("bookmarks", {})
                if saved is None:
                    bookmarks.pop(self.name, None)
                else:
                    bookmarks[self.name] = saved
                if not had_bookmarks and not bookmarks:
                    state.pop("bookmarks", None)

    def query_range(self, context: Context | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[bookmark - lookback_window, min(run start, end_date))``; a bookmark never passes the run start."""
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

    def accounted(
        self, records: Iterator[Any], stats: StreamStats, *, tables: bool = False
    ) -> Iterator[Any]:
        """Count rows (records, or rows of pages: Arrow tables or record lists), seconds and API
        calls for the run summary.

        The quota guard ends the stream cleanly (the SDK still finalizes and emits STATE) and stops
        the streams after it; other user-facing errors are recorded and re-raised.
        """
        runtime = self.runtime
        started = time.monotonic()
        owner.set(stats.name)  # API calls made from here on are this stream's
        cancel = runtime.cancel
        try:
            for record in records:
                if cancel.is_set():  # another stream failed: stop at this page
                    runtime.check_cancelled()
                stats.rows += len(record) if tables else 1
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

"""BATCH mode of ``page_events``: the events of an object stream's pages in the events' own files.

The rules of the shared read and of the bookmarks are ``page_events``'; this is only how the
events reach Parquet batch files (as the events stream's own BATCH sync writes them) and when a
file goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa

from ..event_tables import batch_table
from ..output.batches import BatchFile, ParquetBatchWriter
from ..output.writer import deselected_properties
from ..query.page import Page
from ..sdk_hooks import BatchConfig, SDKBatchMessage
from .page_events import SOURCE_KEY, SharedEvents


class SharedEventBatches(SharedEvents):
    """BATCH mode: the events of the object stream's pages go into the events' own Parquet files.

    The object stream's pipeline calls ``observe`` for each page before the stream writes the
    page's rows; its emitter calls ``settle`` before each STATE that moves its bookmark, and
    ``close`` once its files are all announced.
    """

    batch_config: BatchConfig
    writer: ParquetBatchWriter
    encode: Callable[[dict], dict]
    chunk: list[dict]
    # Events derived as tables (``page_table``), not written yet, and their number; None when
    # the events go as dicts (a property deselected inside ``context``: ``parquet_encoder``).
    tables: list[pa.Table] | None
    table_rows: int
    # Top-level properties deselected (the SDK's RECORD path leaves them out; so do the files).
    dropped: list[str]

    def begin(self) -> None:
        sharing = self.sharing
        assert sharing.batch_config is not None
        assert sharing.directory is not None
        self.batch_config = batch_config = sharing.batch_config
        # As the events stream's own BATCH sync writes them (``IncrementalStream.get_batches``).
        self.writer = ParquetBatchWriter.for_config(
            sharing.directory, batch_config, self.events.name
        )
        self.encode = self.events.parquet_encoder()
        self.chunk = []
        tree = deselected_properties(self.events.mask) or {}
        self.dropped = [name for name, inner in tree.items() if inner is None]
        as_tables = len(self.dropped) == len(tree)
        self.tables, self.table_rows = ([] if as_tables else None), 0

    def observe(self, page: Page, bookmark: dict | None) -> None:
        """Buffer the page's events, a file out at every ``batch_size``. Same key: the events
        bookmark waits for the object stream's own (``settle``). Keyed apart (rows in the
        events' key order), each full file moves it to the key of the row whose events end it:
        every row before is in announced files (the stream's own bookmark waits for the read's
        end, and a kill would otherwise derive the whole read again)."""
        size = self.batch_config.batch_size
        events = self.events
        if self.tables is not None:
            self._observe_table(page, size)
            return
        for event in self.page_events(page):
            self.chunk.append(self.encode(event))
            self.stats.rows += 1
            if len(self.chunk) >= size:
                self._announce(self.writer.add(self._take_chunk()))  # a whole file, no rest
                if self.sharing.keyed_apart and self.high is not None:
                    events.advance_bookmark({events.replication_key: self.high}, self.context)

    def _observe_table(self, page: Page, size: int) -> None:
        """``observe`` with the page's events as one table (``page_table``): a file out at
        every ``batch_size`` events, keyed apart the bookmark to its last event's row key."""
        table = self.page_table(page, keys=True)
        assert self.tables is not None
        self.stats.rows += table.num_rows
        if not table.num_rows:
            return
        self.tables.append(table)
        self.table_rows += table.num_rows
        events = self.events
        while self.table_rows >= size:
            whole = pa.concat_tables(self.tables)
            file, rest = whole.slice(0, size), whole.slice(size)
            self.tables, self.table_rows = ([rest] if rest.num_rows else []), rest.num_rows
            self._announce(self.writer.add(self._file_table(file)))  # a whole file, no rest
            if self.sharing.keyed_apart:
                high = file[SOURCE_KEY][-1].as_py()
                events.advance_bookmark({events.replication_key: high}, self.context)

    def _file_table(self, events: pa.Table) -> pa.Table:
        """Events of ``page_table`` as the events' batch files hold them (``batch_table``),
        deselected properties and the row keys left out, the org id on every row."""
        table = batch_table(events.drop_columns([SOURCE_KEY, *self.dropped]))
        stamp = self.events.org_stamp
        return table if stamp is None else stamp.table(table)

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
        if self.tables:
            self._announce(self.writer.add(self._file_table(pa.concat_tables(self.tables))))
            self.tables, self.table_rows = [], 0
        self._announce(self.writer.finish())

    def _take_chunk(self) -> pa.Table:
        table = pa.Table.from_pylist(self.chunk)
        self.chunk = []
        stamp = self.events.org_stamp
        return table if stamp is None else stamp.table(table)

    def _announce(self, files: Iterable[BatchFile]) -> None:
        events = self.events
        for batch in files:
            events.sdk_write_message(
                SDKBatchMessage(
                    stream=events.name, encoding=self.batch_config.encoding, manifest=[batch.uri]
                )
            )

"""The ways an object stream writes its pages; each sync chooses one when it starts.

- ``RecordLines``: a page's RECORD lines in one pass of Arrow kernels (``record_lines``), for
  identity maps and the tap's own writer. The SDK's loop costs ~3 µs a record (child
  contexts, metrics, state bookkeeping) and encoding record dicts ~3 µs more.
- ``ParquetFiles``: the pages as the tap's own Parquet BATCH files (a local root), stream maps
  and field selection applied here.
- ``SdkLoop``: the pages as records for the SDK's own loop (``get_records``), which applies
  stream maps, partitions, another message writer, or feeds the SDK's batcher.

The STATE rules are the same for all three: a STATE goes out only after the messages of every
row it covers; an ordered page allows its last row as the bookmark, an unordered Bulk job only
its largest key, once the whole job is written (``BookmarkTracker``). Before a STATE that moves
the bookmark, the pages' observer settles (``StreamPages.settle``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
from singer_sdk.helpers.types import Context

from ..output.batches import BatchFile, ParquetBatchWriter
from ..output.writer import FastRecordWriter, deselected_properties
from ..query.values import RecordShaper, format_datetime
from ..sdk_hooks import BatchConfig, SDKBatchMessage
from .base import IncrementalStream, is_identity_map
from .page_pipeline import StreamPages

OpenPages = Callable[[], StreamPages]


class RecordLines:
    """RECORD lines a page at a time, STATE after each page."""

    output: Literal["records"] = "records"

    def __init__(
        self, stream: IncrementalStream, shaper: RecordShaper, writer: FastRecordWriter
    ) -> None:
        self.stream = stream
        self.shaper = shaper
        self.writer = writer

    def sync(self, open_pages: OpenPages) -> None:
        stream, shaper = self.stream, self.shaper
        with stream.get_record_counter() as counter, stream.get_sync_timer():
            stream.sdk_start_replication_value(None)
            pages = open_pages()
            stamp = stream.org_stamp
            for page, bookmark in pages:
                rows = page.rows if stamp is None else stamp.table(page.rows)
                self.writer.write_table(rows, shaper.compounds_of(rows), shaper.from_table)
                counter.increment(len(page))
                stream.sdk_mark_unflushed()
                if bookmark:
                    pages.settle(bookmark)
                    stream.remember_bookmark(bookmark, None)
                stream.sdk_write_state()  # after its records: the same buffered stdout
            pages.close()
            stream.sdk_finalize_state()
        stream.sdk_write_state()


class SdkLoop:
    """Records for the SDK's loop; an unordered page holds the bookmark until it is written
    (the loop would move it per record)."""

    output: Literal["records"] = "records"

    def __init__(self, stream: IncrementalStream, shaper: RecordShaper) -> None:
        self.stream = stream
        self.shaper = shaper

    def records(self, pages: StreamPages, context: Context | None) -> Iterator[dict]:
        stream = self.stream
        for page, bookmark in pages:
            if not page.ordered:
                stream.hold_bookmark()
            yield from self.shaper.from_table(page.rows)
            # Resumed: the SDK has written every record of the page.
            if not page.ordered:
                stream.release_bookmark(bookmark, context)
        pages.close()


class ParquetFiles:
    """Parquet BATCH files on a local root, stream maps applied here: a BATCH message per
    finished file, then STATE once the files announced hold every row it covers."""

    output: Literal["files"] = "files"

    def __init__(
        self,
        stream: IncrementalStream,
        shaper: RecordShaper,
        directory: Path,
        batch_config: BatchConfig,
        context: Context | None,
    ) -> None:
        self.stream = stream
        self.shaper = shaper
        self.directory = directory
        self.batch_config = batch_config
        self.context = context

    def sync(self, open_pages: OpenPages) -> None:
        stream, batch_config = self.stream, self.batch_config
        # What the record loop does first: the bookmark becomes this run's starting value.
        stream.sdk_start_replication_value(self.context)
        with stream.get_batch_counter() as counter:
            pages = open_pages()
            for alias, batch, bookmark in self._files(pages):
                counter.increment()
                stream.sdk_write_message(
                    SDKBatchMessage(
                        stream=alias, encoding=batch_config.encoding, manifest=[batch.uri]
                    )
                )
                stream.sdk_mark_unflushed()
                if bookmark:
                    self._move_bookmark(bookmark, pages)
                stream.sdk_write_state()
        pages.close()  # the observer's files after the last bookmark (none, normally)

    def _move_bookmark(self, bookmark: dict, pages: StreamPages) -> None:
        """The files announced so far allow ``bookmark``: the observer's files go out and its
        bookmark moves too, before the STATE that carries both."""
        pages.settle(bookmark)
        self.stream.remember_bookmark(bookmark, self.context)

    def _files(self, pages: StreamPages) -> Iterator[tuple[str, BatchFile, dict | None]]:
        """(stream alias, finished file, bookmark once it is announced) triples.

        Ordered pages: a file's bookmark is its last row once every alias has it. Unordered
        pages (a Bulk job): no bookmark until the job's last page, whose files are all finished
        first, so the job's largest key goes out only with its last file.
        """
        stream = self.stream
        key = stream.replication_key
        bookmark_columns = [c for c in (key, "Id") if c]
        mask = stream.mask
        components = {
            name: inner for name, inner in (deselected_properties(mask) or {}).items() if inner
        }
        maps = stream.stream_maps
        identity = is_identity_map(stream)
        writers = {
            m.stream_alias: ParquetBatchWriter.for_config(
                self.directory,
                self.batch_config,
                m.stream_alias,
                batch_size=None if identity else 1 << 62,  # mapped: one file per page and alias
                last_row_columns=bookmark_columns if identity else [],
            )
            for m in maps
        }
        job_unfinished = False  # an unordered job read part of the way (a quota stop)
        refreshing = False  # rows re-read outside the window (``Page.refresh``) from here on
        for page, bookmark in pages:
            if page.refresh and not refreshing:
                # The window's rows first, in files of their own with the bookmark they allow:
                # a file holding re-read rows never moves it.
                refreshing = True
                yield from _finished(writers, None if job_unfinished else key)
            if not page.refresh:
                job_unfinished = not page.ordered and not bookmark
            # The typed batch table (timestamps, dates, compounds as structs); tombstones as
            # they are.
            typed = page.rows if page.tombstones else self.shaper.to_arrow(page.rows)
            table = typed.select(
                [
                    c
                    for c in typed.column_names
                    if mask.get(("properties", c), True) or c in bookmark_columns
                ]
            )
            if components:
                table = _null_components(table, components)
            if stream.org_stamp is not None:
                table = stream.org_stamp.table(table)
            files = list(_announce(table, maps, writers, identity, key))
            if not page.ordered:
                files = [(alias, batch, None) for alias, batch, _ in files]
                if bookmark:
                    files += [(a, b, None) for a, w in writers.items() for b in w.finish()]
                    if files:
                        alias, batch, _ = files[-1]
                        files[-1] = (alias, batch, bookmark)
                    else:  # every row of the job is in files already announced
                        self._move_bookmark(bookmark, pages)
            yield from files
        # An unordered job's last row read is not its largest key, nor is any row before the
        # rows not read: only a whole job moves the bookmark.
        yield from _finished(writers, None if job_unfinished or refreshing else key)


def _finished(writers: dict, key: str | None) -> Iterator[tuple[str, BatchFile, dict | None]]:
    """Every writer's pending rows as files, each with its last row as the bookmark (none
    without a ``key``)."""
    for alias, writer in writers.items():
        for batch in writer.finish():
            yield alias, batch, _bookmark_of(batch.last_row, key)


def _announce(
    table: pa.Table, maps: list, writers: dict, identity: bool, key: str | None
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
        finished += [(stream_map.stream_alias, b) for b in writer.add(pa.Table.from_pylist(mapped))]
        finished += [(stream_map.stream_alias, b) for b in writer.finish()]
    for position, (alias, batch) in enumerate(finished):
        final = position == len(finished) - 1
        yield alias, batch, _bookmark_of(last, key) if final else None


def _bookmark_of(row: dict, key: str | None) -> dict | None:
    """A file's last row as a bookmark, its key as the canonical bookmark string."""
    if not key or row.get(key) is None:
        return None
    value = row[key]
    if isinstance(value, dt.datetime):
        value = format_datetime(value)
    return {**row, key: value}


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

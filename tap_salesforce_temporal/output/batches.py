"""BATCH mode without a per-record loop: typed Arrow pages become Parquet batch files.

The SDK's own batcher turns every record into a dict, through the stream maps' Python code, into
its encoder. Here a Bulk 2.0 CSV page, typed once from the describe, is written as it is: a Parquet
file per ``batch_size`` rows, under ``batch_config.storage.root`` (a local ``file://`` root), made
visible by rename only once complete. Each finished file is reported with the bookmark of its
last row, so STATE after the BATCH message covers exactly the rows in the files already announced.
"""

from __future__ import annotations

import decimal
import json
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..sdk_hooks import BatchConfig


@dataclass(frozen=True)
class BatchFile:
    uri: str
    rows: int
    last_row: dict


def safe_file_part(name: str) -> str:
    """A stream alias (user-configurable through stream maps) as one safe file-name part."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name)[:100] or "stream"


def local_root(root: str) -> Path | None:
    """The directory of a ``file://`` (or plain path) storage root; None for remote stores."""
    parsed = urllib.parse.urlsplit(root)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(urllib.parse.unquote(parsed.path)).expanduser()


def parquet_batch_directory(batch_config: BatchConfig) -> Path | None:
    """Where this tap writes its own Parquet batches; None when the SDK's batcher must serve
    (another encoding, or a storage root that is not local)."""
    if batch_config.encoding.format != "parquet":
        return None
    return local_root(batch_config.storage.root)


class ParquetBatchWriter:
    """Buffers typed tables and writes them as Parquet files of ``batch_size`` rows each."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        stream: str,
        batch_size: int,
        compression: str | None,
        last_row_columns: list[str],
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.stream = stream
        self.batch_size = max(1, batch_size)
        self.compression = None if compression in (None, "none") else compression
        self.last_row_columns = last_row_columns
        self._pending: list[pa.Table] = []
        self._rows = 0
        directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_config(
        cls,
        directory: Path,
        batch_config: BatchConfig,
        stream_alias: str,
        *,
        batch_size: int | None = None,
        last_row_columns: list[str] | None = None,
    ) -> ParquetBatchWriter:
        """A writer with the prefix, file size and compression of ``batch_config``."""
        return cls(
            directory,
            prefix=batch_config.storage.prefix or "",
            stream=safe_file_part(stream_alias),
            batch_size=batch_config.batch_size if batch_size is None else batch_size,
            compression=batch_config.encoding.compression,
            last_row_columns=last_row_columns or [],
        )

    def add(self, table: pa.Table) -> Iterator[BatchFile]:
        """Buffer ``table``; yield every file that is now full.

        A table of another shape (tombstones after the rows) first closes the current file.
        """
        if self._pending and table.num_rows and table.schema != self._pending[0].schema:
            yield from self.finish()
        if table.num_rows:
            self._pending.append(table)
            self._rows += table.num_rows
        while self._rows >= self.batch_size:
            buffered = pa.concat_tables(self._pending)
            yield self._write(buffered.slice(0, self.batch_size))
            rest = buffered.slice(self.batch_size)
            self._pending, self._rows = ([rest] if rest.num_rows else []), rest.num_rows

    def finish(self) -> Iterator[BatchFile]:
        if self._rows:
            yield self._write(pa.concat_tables(self._pending))
            self._pending, self._rows = [], 0

    def _write(self, table: pa.Table) -> BatchFile:
        name = f"{self.prefix}{self.stream}-{uuid.uuid4().hex}.parquet"
        final = self.directory / name
        temp = self.directory / f".{name}.tmp"
        # A batch file is read once, whole, by the target: statistics are never used, and
        # without compression dictionary encoding only costs time (3x the write time of plain
        # encoding for unique ids) for a smaller file nobody keeps.
        try:
            pq.write_table(
                table,
                temp,
                compression=self.compression,
                use_dictionary=self.compression is not None,
                write_statistics=False,
            )
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)  # nobody would ever clean up a file never announced
            raise
        last = {
            column: table[column][-1].as_py()
            for column in self.last_row_columns
            if column in table.column_names
        }
        return BatchFile(final.as_uri(), table.num_rows, last)


def open_object_encoder(schema: dict) -> Callable[[dict], dict]:
    """A function that turns the record's open objects (no declared properties) into JSON text.

    Parquet cannot hold a free-form object; inferring a struct from each batch would invent keys
    (a union over the batch, null where a record lacked one). JSON text with sorted keys is what
    a RECORD-mode target stores for the same value, so both modes land the same bytes.
    """
    paths: list[tuple[str, ...]] = []

    def walk(node: dict, path: tuple[str, ...]) -> None:
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else types
        if "object" in types and path and not node.get("properties"):
            paths.append(path)
            return
        for name, child in (node.get("properties") or {}).items():
            walk(child, (*path, name))

    walk(schema, ())

    def encode(record: dict) -> dict:
        for path in paths:
            holder: object = record
            for part in path[:-1]:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and isinstance(holder.get(path[-1]), (dict, list)):
                holder[path[-1]] = open_object_text(holder[path[-1]])
        return record

    return encode


def open_object_text(value: object) -> str:
    """One open object's JSON text as a batch file holds it (``open_object_encoder``): sorted
    keys, ``json.dumps``' separators and ASCII escapes, exact decimals as JSON numbers."""
    return json.dumps(_numbers_as_floats(value), sort_keys=True, default=str)


def _numbers_as_floats(value: object) -> object:
    """Exact decimals (currency fields copied into an open object) are JSON numbers there, as a
    RECORD-mode target-events writes them (``target_events.ingest.arrow.json_text``), not strings: a
    Decimal the writer prints without a point (exponent 0) reads back as an integer there."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    return value

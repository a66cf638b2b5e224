"""BATCH messages' files read a bounded piece at a time: Parquet by record batch, JSONL by line.

A missing, unreadable or corrupt file is bad input named in one line (stream, file, line); the
errors of writing what it held (a full disk) are not caught here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .arrow import StreamSchema, column_from_values
from .errors import InputError


def local_path(uri: str) -> str:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("", "file"):
        return urllib.parse.unquote(parsed.path)
    raise InputError(f"BATCH file {uri!r}: only local (file://) batch storage is supported")


class BatchFileReader:
    """One stream's view of its BATCH files: tables in the stream's Arrow schema, or records."""

    def __init__(
        self, stream: str, schema: StreamSchema | None, keys: Sequence[str], rows: int
    ) -> None:
        self.stream = stream
        self.schema = schema
        self.keys = tuple(keys)
        self.rows_per_batch = rows

    def parquet_tables(self, uri: str) -> Iterator[pa.Table]:
        """The file's rows, conformed to the stream's schema, ``rows_per_batch`` at a time."""
        assert self.schema is not None, "tables need the stream's schema"
        try:
            batches = pq.ParquetFile(local_path(uri)).iter_batches(batch_size=self.rows_per_batch)
            for batch in batches:
                table = pa.Table.from_batches([batch])
                self._check_keys(uri, table)
                yield self._conform(table)
        except (OSError, pa.ArrowInvalid) as error:
            raise self._unreadable(uri, error) from error

    def records(self, uri: str, encoding_format: str, compression: str | None) -> Iterator[dict]:
        """The file's records as a RECORD message holds them (datetimes and dates as ISO text),
        for a stream whose maps must see each record: as read, not conformed to its schema."""
        if encoding_format == "jsonl":
            yield from self.jsonl_records(uri, compression)
            return
        try:
            batches = pq.ParquetFile(local_path(uri)).iter_batches(batch_size=self.rows_per_batch)
            for batch in batches:
                for record in batch.to_pylist():
                    yield {name: _json_value(value) for name, value in record.items()}
        except (OSError, pa.ArrowInvalid) as error:
            raise self._unreadable(uri, error) from error

    def jsonl_records(self, uri: str, compression: str | None) -> Iterator[dict]:
        """The file's records, numbers exact (Decimal) as the RECORD path reads them."""
        opener = gzip.open if compression == "gzip" else open
        line_number = 1  # the line being read or parsed when an error comes
        try:
            with opener(local_path(uri), "rt", encoding="utf-8") as handle:  # type: ignore[operator]
                for line in handle:
                    if line.strip():
                        record = json.loads(line, parse_float=decimal.Decimal)
                        if not isinstance(record, dict):
                            raise ValueError("a record must be a JSON object")
                        yield record
                    line_number += 1
        except ValueError as error:  # not JSON, not UTF-8
            raise self._unreadable(f"{uri} line {line_number}", error) from error
        except (OSError, EOFError) as error:  # missing, not gzip, cut short
            raise self._unreadable(uri, error) from error

    def _check_keys(self, uri: str, table: pa.Table) -> None:
        """A Parquet column cannot tell a missing key from a null one: both are refused, as
        RECORD mode refuses a record without its key (the rows could never be told apart)."""
        for key in self.keys:
            if key not in table.column_names:
                raise InputError(
                    f"stream '{self.stream}': BATCH file {uri} has no column for key property '{key}'"
                )
            nulls = table[key].null_count
            if nulls:
                raise InputError(
                    f"stream '{self.stream}': BATCH file {uri}: key property '{key}' is null in {nulls} row(s)"
                )

    def _unreadable(self, where: str, error: Exception) -> InputError:
        return InputError(
            f"stream '{self.stream}': BATCH file {where} cannot be read: "
            f"{type(error).__name__}: {error}"
        )

    def _conform(self, table: pa.Table) -> pa.Table:
        """Columns of the stream's Arrow schema, cast from whatever the batch file holds."""
        columns = []
        for target in self.schema.arrow:
            if target.name not in table.column_names:
                columns.append(pa.nulls(table.num_rows, type=target.type))
                continue
            column = table[target.name]
            if column.type != target.type:
                try:
                    column = _cast(column, target.type)
                except (ValueError, TypeError, pa.ArrowNotImplementedError) as error:
                    # ArrowInvalid and ArrowTypeError are ValueError and TypeError; the RECORD
                    # conversion of the fallback raises the plain ones.
                    raise InputError(
                        f"stream '{self.stream}': BATCH column '{target.name}' of type {column.type} cannot become {target.type}: {error}"
                    ) from error
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=self.schema.arrow)


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Arrow's cast; where it cannot (an open object written as a struct by another tap's
    batcher must become JSON text), the column goes through the RECORD-mode conversion."""
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.chunked_array(
            [column_from_values(chunk.to_pylist(), target) for chunk in column.chunks],
            type=target,
        )


def _json_value(value: Any) -> Any:
    """A Parquet value as JSON would carry it in a RECORD (what stream maps and validation see)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value

"""One writer per output format; each writes a complete file at a temporary path."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..ingest.arrow import TIMESTAMP

ROW_GROUP_ROWS = 128 * 1024


def write_file(
    table: pa.Table, path: Path, *, fmt: str, compression: str, unique: str | None = None
) -> int:
    """Write ``table`` to ``path`` and return its size in bytes (``Storage.put`` fsyncs it).

    ``unique`` names a column whose values are (nearly) all different, a stream's one key: no
    Parquet dictionary for it. A dictionary of unique values only grows until Arrow gives up on
    it; skipping that is ~5% of a history batch's write, and its file ends up smaller.
    """
    if fmt == "parquet":
        codec = None if compression == "none" else compression
        dictionary: bool | list[str] = (
            [name for name in table.column_names if name != unique]
            if unique in table.column_names
            else True
        )
        pq.write_table(
            table,
            path,
            compression=codec,
            row_group_size=ROW_GROUP_ROWS,
            coerce_timestamps="us",
            use_dictionary=dictionary,
        )
    elif fmt == "jsonl":
        _write_text(path, _jsonl(table), compression)
    else:
        _write_text(path, _csv(table), compression)
    return path.stat().st_size


def _write_text(path: Path, payload: bytes, compression: str) -> None:
    if compression == "gzip":
        with gzip.open(path, "wb", compresslevel=6) as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _json_ready(table: pa.Table) -> pa.Table:
    """Timestamps as ISO-8601 with milliseconds and Z, decimals as exact strings."""
    columns = []
    for column in table.columns:
        if column.type == TIMESTAMP:
            column = (
                pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
                if len(column)
                else column.cast(pa.string())
            )
        elif pa.types.is_decimal(column.type) or pa.types.is_date32(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _jsonl(table: pa.Table) -> bytes:
    out = io.StringIO()
    for row in _json_ready(table).to_pylist():
        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str))
        out.write("\n")
    return out.getvalue().encode()


def _csv(table: pa.Table) -> bytes:
    """CSV cannot nest: structs and lists become JSON text."""
    ready = _json_ready(table)
    columns = []
    for column in ready.columns:
        if pa.types.is_struct(column.type) or pa.types.is_list(column.type):
            column = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                type=pa.string(),
            )
        columns.append(column)
    buffer = io.BytesIO()
    pa_csv.write_csv(pa.table(columns, names=ready.column_names), buffer)
    return buffer.getvalue()

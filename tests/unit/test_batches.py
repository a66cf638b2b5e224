"""The Parquet batch writer: files of batch_size rows, bookmark of each file's last row."""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tap_salesforce_temporal.output import batches
from tap_salesforce_temporal.output.batches import ParquetBatchWriter, open_object_encoder


def _rows(start: int, count: int) -> pa.Table:
    return pa.table(
        {
            "Id": [f"a{n:04d}" for n in range(start, start + count)],
            "n": list(range(start, start + count)),
        }
    )


def test_given_pages_then_files_hold_batch_size_rows_and_report_their_last_row(
    tmp_path: Path,
) -> None:
    writer = ParquetBatchWriter(
        tmp_path, prefix="b-", stream="S", batch_size=4, compression=None, last_row_columns=["Id"]
    )
    files = [*writer.add(_rows(0, 3)), *writer.add(_rows(3, 6)), *writer.finish()]
    assert [f.rows for f in files] == [4, 4, 1]
    assert [f.last_row for f in files] == [{"Id": "a0003"}, {"Id": "a0007"}, {"Id": "a0008"}]
    assert pq.read_table(files[1].uri.removeprefix("file://"))["n"].to_pylist() == [4, 5, 6, 7]
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left visible"


def test_given_a_table_of_another_shape_then_the_current_file_is_closed_first(
    tmp_path: Path,
) -> None:
    writer = ParquetBatchWriter(
        tmp_path, prefix="", stream="S", batch_size=100, compression=None, last_row_columns=["Id"]
    )
    tombstones = pa.table({"Id": ["z1"], "_sdc_deleted_at": ["2025-01-01T00:00:00.000Z"]})
    files = [*writer.add(_rows(0, 3)), *writer.add(tombstones), *writer.finish()]
    assert [(f.rows, f.last_row) for f in files] == [(3, {"Id": "a0002"}), (1, {"Id": "z1"})]


def test_given_open_objects_then_they_become_sorted_json_text_wherever_they_nest() -> None:
    schema = {
        "properties": {
            "meta": {"type": ["object", "null"]},
            "ctx": {
                "type": "object",
                "properties": {
                    "metadata": {"type": ["object", "null"]},
                    "name": {"type": "string"},
                },
            },
        }
    }
    encode = open_object_encoder(schema)
    record = encode(
        {"meta": {"b": 1, "a": [1, 2]}, "ctx": {"metadata": {"z": None, "y": "x"}, "name": "n"}}
    )
    assert record == {
        "meta": '{"a": [1, 2], "b": 1}',
        "ctx": {"metadata": '{"y": "x", "z": null}', "name": "n"},
    }


def test_given_a_write_that_fails_then_no_temporary_file_is_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    writer = ParquetBatchWriter(
        tmp_path, prefix="", stream="S", batch_size=2, compression=None, last_row_columns=["Id"]
    )
    monkeypatch.setattr(batches.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        list(writer.add(_rows(0, 2)))
    assert list(tmp_path.iterdir()) == []

"""BATCH messages: Parquet and gzipped JSONL batch files are streamed into the same typed output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import run_target, singer_lines

SCHEMA = {
    "type": "SCHEMA",
    "stream": "hist",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "CreatedDate": {"type": ["string", "null"], "format": "date-time"},
            "n": {"type": ["integer", "null"]},
        }
    },
    "key_properties": ["Id"],
}


def test_given_parquet_and_jsonl_batch_files_when_received_then_rows_land_typed_and_state_follows(
    tmp_path: Path,
) -> None:
    parquet = tmp_path / "batch-1.parquet"
    pq.write_table(
        pa.table(
            {
                "Id": [f"p{i}" for i in range(25_000)],
                "CreatedDate": ["2025-01-01T00:00:00.000Z"] * 25_000,
                "n": list(range(25_000)),
            }
        ),
        parquet,
    )
    jsonl = tmp_path / "batch-2.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        for i in range(300):
            handle.write(
                json.dumps({"Id": f"j{i}", "CreatedDate": "2025-01-02T00:00:00Z", "n": i}) + "\n"
            )
    lines = singer_lines(
        SCHEMA,
        {
            "type": "BATCH",
            "stream": "hist",
            "encoding": {"format": "parquet", "compression": "none"},
            "manifest": [parquet.as_uri()],
        },
        {
            "type": "BATCH",
            "stream": "hist",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [jsonl.as_uri()],
        },
        {"type": "STATE", "value": {"batches": 2}},
    )
    run = run_target(
        tmp_path, {"destination": str(tmp_path / "out"), "max_batch_rows": 10_000}, lines
    )
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"batches": 2}
    files = sorted((tmp_path / "out" / "hist").glob("*.parquet"))
    assert len(files) >= 3, (
        "the 25,000-row batch file was split by max_batch_rows, not written whole"
    )
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert table.num_rows == 25_300
    assert table.schema.field("CreatedDate").type == pa.timestamp("us", tz="UTC")
    assert sorted(table["Id"].to_pylist()) == sorted(
        [f"p{i}" for i in range(25_000)] + [f"j{i}" for i in range(300)]
    )


def test_given_a_batch_column_that_cannot_take_the_schema_type_then_one_line_names_it(
    tmp_path: Path,
) -> None:
    parquet = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"Id": ["a"], "n": ["not a number"]}), parquet)
    batch = {
        "type": "BATCH",
        "stream": "hist",
        "encoding": {"format": "parquet", "compression": "none"},
        "manifest": [parquet.as_uri()],
    }
    run = run_target(tmp_path, {"destination": str(tmp_path / "out")}, singer_lines(SCHEMA, batch))
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "target-events: stream 'hist', input line 2: BATCH column 'n' of type string cannot become"
        " int64: a value does not convert (ArrowInvalid)"
    ), last
    assert "not a number" not in run.stderr, "the value is data of the file: not quoted"
    assert "Traceback" not in run.stderr


def _write_bad_batch_file(tmp_path: Path, kind: str) -> tuple[Path, dict]:
    if kind == "missing parquet":
        return tmp_path / "gone.parquet", {"format": "parquet", "compression": "none"}
    if kind == "corrupt parquet":
        path = tmp_path / "corrupt.parquet"
        path.write_bytes(b"PAR1 this is not a parquet file")
        return path, {"format": "parquet", "compression": "none"}
    if kind == "jsonl line 2 not json":
        path = tmp_path / "bad.jsonl"
        path.write_text('{"Id": "a", "n": 1}\n{"Id": "b", "n": \n')
        return path, {"format": "jsonl", "compression": "none"}
    path = tmp_path / "plain.jsonl"  # "gzip" said, plain text given
    path.write_text('{"Id": "a", "n": 1}\n')
    return path, {"format": "jsonl", "compression": "gzip"}


@pytest.mark.parametrize(
    ("kind", "names", "problem"),
    [
        ("missing parquet", "gone.parquet", "No such file or directory"),
        ("corrupt parquet", "corrupt.parquet", "not a readable Parquet file (ArrowInvalid)"),
        (
            "jsonl line 2 not json",
            "bad.jsonl line 2",
            "not a JSON object (Expecting value at character 19)",
        ),
        ("gzip that is not", "plain.jsonl", "not a gzip file"),
    ],
)
def test_given_an_unreadable_batch_file_then_one_line_names_the_file_and_no_later_state(
    tmp_path: Path, kind: str, names: str, problem: str
) -> None:
    path, encoding = _write_bad_batch_file(tmp_path, kind)
    lines = singer_lines(
        SCHEMA,
        {"type": "RECORD", "stream": "hist", "record": {"Id": "before", "n": 1}},
        {"type": "STATE", "value": {"at": "before"}},
        {"type": "BATCH", "stream": "hist", "encoding": encoding, "manifest": [path.as_uri()]},
        {"type": "STATE", "value": {"at": "after"}},
    )
    run = run_target(tmp_path, {"destination": str(tmp_path / "out")}, lines)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"target-events: stream 'hist', input line 4: BATCH file {tmp_path.as_uri()}/{names}"
        f" cannot be read: {problem}"
    ), last
    assert last.endswith(problem), last
    assert {"at": "after"} not in run.states
    written = pa.concat_tables(
        [pq.read_table(f) for f in (tmp_path / "out" / "hist").glob("*.parquet")]
    )
    # What arrived before the bad line is written (at least once: no STATE covers it yet).
    assert "before" in written["Id"].to_pylist()

"""BATCH messages: Parquet and gzipped JSONL batch files are streamed into the same typed output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
        "target-events: stream 'hist': BATCH column 'n' of type string cannot become int64: "
    ), last
    assert "Traceback" not in run.stderr

"""target-events writes typed, partitioned files that pyarrow and DuckDB read back exactly."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import run_target, singer_lines

SCHEMA = {
    "type": "object",
    "properties": {
        "Id": {"type": "string"},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "count": {"type": ["integer", "null"]},
        "ratio": {"type": ["number", "null"]},
        "amount": {"type": ["number", "null"], "x-sf-precision": 18, "x-sf-scale": 2},
        "flag": {"type": ["boolean", "null"]},
        "address": {
            "type": ["object", "null"],
            "properties": {
                "city": {"type": ["string", "null"]},
                "latitude": {"type": ["number", "null"]},
            },
            "additionalProperties": False,
        },
        "extra": {"type": ["object", "null"]},
        "ctx": {
            "type": ["object", "null"],
            "properties": {
                "meta": {"type": ["object", "null"]},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "ids": {"type": ["array", "null"], "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
    },
}
RECORDS = [
    {
        "Id": "a1",
        "at": "2025-05-19T10:30:00.123Z",
        "day": "2025-05-19",
        "count": 3,
        "ratio": 0.25,
        "amount": 15000.55,
        "flag": True,
        "address": {"city": "Berlin", "latitude": 52.52},
        "extra": {"k": [1, 2]},
        "tags": ["x", "y"],
        "note": "nul\u0000byte ünïcode",
        "ctx": {"meta": {"a": 1}, "when": "2025-01-01T00:00:00Z", "ids": ["i1"]},
    },
    {
        "Id": "a2",
        "at": "2025-05-20T23:59:59.999+00:00",
        "day": None,
        "count": None,
        "ratio": None,
        "amount": 0.1,
        "flag": False,
        "address": None,
        "extra": None,
        "tags": [],
        "note": None,
    },
    {
        "Id": "a3",
        "at": None,
        "day": "2024-02-29",
        "count": -(2**53),
        "ratio": 1e300,
        "amount": 123456789012.34,
        "flag": None,
        "address": {"city": None, "latitude": None},
        "extra": {},
        "tags": None,
        "note": "",
    },
]


def _input(stream: str = "things") -> str:
    return singer_lines(
        {"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["Id"]},
        *({"type": "RECORD", "stream": stream, "record": r} for r in RECORDS),
        {"type": "STATE", "value": {"bookmarks": {stream: {"n": 3}}}},
    )


def test_given_typed_records_when_written_as_parquet_then_pyarrow_reads_back_every_type_exactly(
    tmp_path: Path,
) -> None:
    run = run_target(tmp_path, {"destination": str(tmp_path / "out")}, _input())
    assert run.returncode == 0, run.stderr
    assert run.states == [{"bookmarks": {"things": {"n": 3}}}]
    files = list((tmp_path / "out" / "things").glob("*.parquet"))
    assert len(files) == 1
    table = pq.read_table(files[0])
    schema = table.schema
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("day").type == pa.date32()
    assert schema.field("count").type == pa.int64()
    assert schema.field("ratio").type == pa.float64()
    assert schema.field("amount").type == pa.decimal128(18, 2)
    assert schema.field("flag").type == pa.bool_()
    assert pa.types.is_struct(schema.field("address").type)
    assert schema.field("extra").type == pa.string()
    assert schema.field("tags").type == pa.list_(pa.string())
    rows = table.to_pylist()
    assert rows[0]["at"] == dt.datetime(2025, 5, 19, 10, 30, 0, 123000, tzinfo=dt.timezone.utc)
    assert rows[1]["at"] == dt.datetime(2025, 5, 20, 23, 59, 59, 999000, tzinfo=dt.timezone.utc)
    assert rows[0]["day"] == dt.date(2025, 5, 19)
    assert rows[2]["count"] == -(2**53)
    assert [r["amount"] for r in rows] == [
        decimal.Decimal("15000.55"),
        decimal.Decimal("0.10"),
        decimal.Decimal("123456789012.34"),
    ]
    assert [r["flag"] for r in rows] == [True, False, None]
    assert rows[0]["address"] == {"city": "Berlin", "latitude": 52.52}
    assert rows[1]["address"] is None
    assert json.loads(rows[0]["extra"]) == {"k": [1, 2]}
    assert rows[0]["tags"] == ["x", "y"]
    assert rows[0]["note"] == "nul\u0000byte ünïcode"
    assert rows[2]["note"] == ""
    assert json.loads(rows[0]["ctx"]["meta"]) == {"a": 1}, (
        "an open object inside a struct is JSON text"
    )
    assert rows[0]["ctx"]["when"] == dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert rows[0]["ctx"]["ids"] == ["i1"]
    assert rows[1]["ctx"] is None


def test_given_parquet_output_when_read_by_duckdb_then_values_and_types_match(
    tmp_path: Path,
) -> None:
    run_target(tmp_path, {"destination": str(tmp_path / "out")}, _input())
    con = duckdb.connect()
    result = con.execute(
        f'SELECT Id, "at", "day", "count", amount, flag, address.city AS city FROM read_parquet(\'{tmp_path}/out/things/*.parquet\') ORDER BY Id'
    ).fetchall()
    description = con.execute(
        f'DESCRIBE SELECT "at", amount, "day" FROM read_parquet(\'{tmp_path}/out/things/*.parquet\')'
    ).fetchall()
    described = {row[0]: row[1] for row in description}
    assert described == {"at": "TIMESTAMP WITH TIME ZONE", "amount": "DECIMAL(18,2)", "day": "DATE"}
    assert result[0][0] == "a1"
    assert result[0][4] == decimal.Decimal("15000.55")
    assert result[0][5] is True
    assert result[0][6] == "Berlin"
    assert result[2][1] is None


@pytest.mark.parametrize(
    ("fmt", "compression", "suffix"),
    [
        ("jsonl", "none", ".jsonl"),
        ("jsonl", "gzip", ".jsonl.gz"),
        ("csv", "none", ".csv"),
        ("parquet", "snappy", ".parquet"),
    ],
)
def test_given_each_format_when_written_then_duckdb_reads_the_same_rows(
    tmp_path: Path, fmt: str, compression: str, suffix: str
) -> None:
    run = run_target(
        tmp_path,
        {"destination": str(tmp_path / "out"), "format": fmt, "compression": compression},
        _input(),
    )
    assert run.returncode == 0, run.stderr
    files = list((tmp_path / "out" / "things").glob(f"*{suffix}"))
    assert len(files) == 1
    reader = {"jsonl": "read_json_auto", "csv": "read_csv_auto", "parquet": "read_parquet"}[fmt]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"SELECT Id, CAST(\"at\" AS TIMESTAMPTZ) FROM {reader}('{files[0]}') ORDER BY Id"
    ).fetchall()
    assert [r[0] for r in rows] == ["a1", "a2", "a3"]
    assert rows[0][1] == dt.datetime(2025, 5, 19, 10, 30, 0, 123000, tzinfo=dt.timezone.utc)


def test_given_partition_by_when_records_span_days_then_hive_partitions_hold_them(
    tmp_path: Path,
) -> None:
    config = {
        "destination": str(tmp_path / "out"),
        "partition_by": {"things": {"field": "at", "granularity": "day"}},
    }
    run = run_target(tmp_path, config, _input())
    assert run.returncode == 0, run.stderr
    partitions = sorted(p.name for p in (tmp_path / "out" / "things").iterdir())
    assert partitions == ["date=2025-05-19", "date=2025-05-20", "date=__HIVE_DEFAULT_PARTITION__"]
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT Id, date FROM read_parquet('{tmp_path}/out/things/*/*.parquet', hive_partitioning=true) ORDER BY Id"
        )
        .fetchall()
    )
    assert [r[0] for r in rows] == ["a1", "a2", "a3"]
    manifest = json.loads(next((tmp_path / "out" / "_manifests").glob("*.json")).read_text())
    assert manifest["streams"]["things"]["rows"] == 3
    assert manifest["streams"]["things"]["files"] == 3
    assert manifest["streams"]["things"]["partition_min"].startswith("2025-05-19 10:30:00.123")


def test_given_a_dedup_key_when_a_batch_repeats_a_key_then_the_last_version_wins(
    tmp_path: Path,
) -> None:
    lines = singer_lines(
        {
            "type": "SCHEMA",
            "stream": "s",
            "schema": {"properties": {"Id": {"type": "string"}, "v": {"type": "integer"}}},
            "key_properties": ["Id"],
        },
        {"type": "RECORD", "stream": "s", "record": {"Id": "x", "v": 1}},
        {"type": "RECORD", "stream": "s", "record": {"Id": "y", "v": 1}},
        {"type": "RECORD", "stream": "s", "record": {"Id": "x", "v": 2}},
    )
    run_target(tmp_path, {"destination": str(tmp_path / "out"), "dedup_key": {"s": ["Id"]}}, lines)
    rows = pq.read_table(tmp_path / "out" / "s").to_pylist()
    assert sorted((r["Id"], r["v"]) for r in rows) == [("x", 2), ("y", 1)]


def test_given_a_schema_change_mid_stream_then_a_new_file_with_the_new_schema_starts(
    tmp_path: Path,
) -> None:
    first = {"properties": {"Id": {"type": "string"}}}
    second = {"properties": {"Id": {"type": "string"}, "n": {"type": ["integer", "null"]}}}
    lines = singer_lines(
        {"type": "SCHEMA", "stream": "s", "schema": first, "key_properties": ["Id"]},
        {"type": "RECORD", "stream": "s", "record": {"Id": "a"}},
        {"type": "SCHEMA", "stream": "s", "schema": second, "key_properties": ["Id"]},
        {"type": "RECORD", "stream": "s", "record": {"Id": "b", "n": 5}},
    )
    run = run_target(tmp_path, {"destination": str(tmp_path / "out")}, lines)
    assert run.returncode == 0, run.stderr
    schemas = sorted(
        tuple(pq.read_schema(f).names) for f in (tmp_path / "out" / "s").glob("*.parquet")
    )
    assert schemas == [("Id",), ("Id", "n")]


@pytest.mark.parametrize(
    "name", ["../escape", "/abs/path", "with space", "ünï/cödé", "..", "a/../../b"]
)
def test_given_hostile_stream_names_when_written_then_files_stay_inside_the_destination(
    tmp_path: Path, name: str
) -> None:
    out = tmp_path / "dest" / "out"
    lines = singer_lines(
        {
            "type": "SCHEMA",
            "stream": name,
            "schema": {"properties": {"Id": {"type": "string"}}},
            "key_properties": ["Id"],
        },
        {"type": "RECORD", "stream": name, "record": {"Id": "a"}},
    )
    run = run_target(tmp_path, {"destination": str(out)}, lines)
    assert run.returncode == 0, run.stderr
    written = list(tmp_path.rglob("*.parquet"))
    assert len(written) == 1
    assert out.resolve() in written[0].resolve().parents
    assert written[0].parent.parent == out.resolve()
    assert (written[0].stat().st_mode & 0o077) == 0, "files are private to their owner"


def test_given_max_batch_rows_when_a_long_stream_arrives_then_files_hold_full_batches_and_state_follows_each(
    tmp_path: Path,
) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "schema": {"properties": {"Id": {"type": "string"}}},
        "key_properties": ["Id"],
    }
    messages: list[dict] = [schema]
    for i in range(2_500):
        messages.append({"type": "RECORD", "stream": "s", "record": {"Id": str(i)}})
        if i % 100 == 99:
            messages.append({"type": "STATE", "value": {"n": i + 1}})
    run = run_target(
        tmp_path,
        {"destination": str(tmp_path / "out"), "max_batch_rows": 1000},
        singer_lines(*messages),
    )
    assert run.returncode == 0, run.stderr
    sizes = sorted(pq.read_metadata(f).num_rows for f in (tmp_path / "out" / "s").glob("*.parquet"))
    assert sizes == [500, 1000, 1000], "a flush never cascades into one-row files"
    # The STATE passed on after each flush is the latest one received, which the flush covers;
    # a STATE arriving when nothing is pending (right after a flush) is passed on at once.
    assert [s["n"] for s in run.states] == [900, 1000, 1900, 2000, 2500]


@pytest.mark.parametrize("mode", ["dead_letter", "fail"])
def test_given_a_long_run_of_records_over_several_read_blocks_then_batches_lines_and_errors_are_exact(
    tmp_path: Path, mode: str
) -> None:
    """Runs of RECORD lines are read in blocks of up to 1 MB and converted whole: a run spans
    block boundaries (a line split between two reads), batches are cut inside a run at exactly
    max_batch_rows, and a bad record deep inside a run is named by its own input line."""
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "schema": {"properties": {"Id": {"type": "string"}, "n": {"type": ["integer", "null"]}}},
        "key_properties": ["Id"],
    }
    messages: list[dict] = [schema]
    for i in range(40_000):
        value: object = "oops" if i == 23_456 else i
        messages.append(
            {"type": "RECORD", "stream": "s", "record": {"Id": f"id-{i:06d}", "n": value}}
        )
    messages.append({"type": "STATE", "value": {"done": True}})
    lines = singer_lines(*messages)
    assert len(lines) > 2 * (1 << 20), "the run must span several read blocks"
    config = {
        "destination": str(tmp_path / "out"),
        "max_batch_rows": 777,
        "on_invalid_record": mode,
    }
    run = run_target(tmp_path, config, lines)
    message = "stream 's', input line 23458: field 'n' expects an integer, got \"oops\""
    files = sorted((tmp_path / "out" / "s").glob("*.parquet"))
    ids = [r["Id"] for f in files for r in pq.read_table(f, columns=["Id"]).to_pylist()]
    if mode == "fail":
        assert run.returncode == 1
        assert run.stderr.strip().splitlines()[-1] == f"target-events: {message}"
        assert ids[:23_456] == [f"id-{i:06d}" for i in range(23_456)][: len(ids)]
        assert f"id-{23_456:06d}" not in ids
        assert run.states == []
        return
    assert run.returncode == 0, run.stderr
    assert sorted(ids) == [f"id-{i:06d}" for i in range(40_000) if i != 23_456]
    sizes = sorted(pq.read_metadata(f).num_rows for f in files)
    # Full batches but two: the last one, and the one whose 777th record was the dead letter.
    assert sizes[2:] == [777] * (len(sizes) - 2), sizes
    assert sizes[:2] == sorted([39_999 % 777 + 1, 776]), sizes
    [dead] = list((tmp_path / "out" / "_dead_letter").rglob("*.jsonl"))
    [entry] = [json.loads(line) for line in dead.read_text().splitlines()]
    assert (entry["line"], entry["record"]) == (23_458, {"Id": "id-023456", "n": "oops"})
    assert run.states == [{"done": True}]


def test_given_one_key_property_then_its_column_has_no_dictionary_and_the_others_keep_theirs(
    tmp_path: Path,
) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "hist",
        "schema": {"properties": {"Id": {"type": "string"}, "Field": {"type": "string"}}},
        "key_properties": ["Id"],
    }
    records = [
        {"type": "RECORD", "stream": "hist", "record": {"Id": f"0{n:017d}", "Field": f"F{n % 3}"}}
        for n in range(5000)
    ]
    run = run_target(
        tmp_path, {"destination": str(tmp_path / "out")}, singer_lines(schema, *records)
    )
    assert run.returncode == 0, run.stderr
    [path] = (tmp_path / "out" / "hist").glob("*.parquet")
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(2)}
    assert not encodings["Id"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}, encodings
    assert encodings["Field"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}, encodings
    assert pq.read_table(path)["Id"].to_pylist() == [f"0{n:017d}" for n in range(5000)]

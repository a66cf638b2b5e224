"""What a SCHEMA (and the per-stream settings applied to it) may say, and what records may carry.

A shape the target cannot honour stops the run with one line naming the stream, the setting and
the field, before anything of that stream is buffered; the records and STATE before it are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import run_target, singer_lines

PROPERTIES = {
    "Id": {"type": "string"},
    "ext": {"type": ["string", "null"]},
    "name": {"type": ["string", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
}


def _schema(stream: str = "s", properties: object = PROPERTIES, keys: object = ("Id",)) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"properties": properties},
        "key_properties": list(keys) if isinstance(keys, tuple) else keys,
    }


def _record(stream: str = "s", **values: object) -> dict:
    return {"type": "RECORD", "stream": stream, "record": values}


def _rows(out: Path, stream: str) -> list[dict]:
    return [
        r for f in sorted((out / stream).rglob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]


def _kept_before(tmp_path: Path, bad: list[dict], config: dict | None = None) -> tuple[str, Path]:
    """Run: a good stream with a STATE, then ``bad``; return the last stderr line."""
    out = tmp_path / "out"
    lines = singer_lines(
        _schema("good"),
        _record("good", Id="g1"),
        _record("good", Id="g2"),
        {"type": "STATE", "value": {"at": 2}},
        *bad,
    )
    run = run_target(tmp_path, {"destination": str(out), **(config or {})}, lines)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert [r["Id"] for r in _rows(out, "good")] == ["g1", "g2"]
    assert run.states[-1] == {"at": 2}
    return run.stderr.strip().splitlines()[-1], out


@pytest.mark.parametrize(
    ("bad", "config", "expected"),
    [
        (
            [_schema(properties=[{"Id": {"type": "string"}}])],
            {},
            "stream 's', input line 5: SCHEMA's schema.properties must be a JSON object, got list",
        ),
        (
            [_schema(keys=("Id", "Missing"))],
            {},
            "stream 's', input line 5: key property 'Missing' not in the schema's properties",
        ),
        (
            [{"type": "ACTIVATE_VERSION", "stream": "nope", "version": 1}],
            {},
            "stream 'nope', input line 5: ACTIVATE_VERSION before any SCHEMA message for this stream",
        ),
        (
            [
                {
                    "type": "BATCH",
                    "stream": "nope",
                    "encoding": {"format": "jsonl"},
                    "manifest": ["file:///nonexistent.jsonl"],
                }
            ],
            {},
            "stream 'nope', input line 5: BATCH before any SCHEMA message for this stream",
        ),
        (
            [_schema()],
            {"dedup_key": {"s": ["Id", "nope"]}},
            "stream 's', input line 5: setting 'dedup_key': field 'nope' is not in the stream's schema",
        ),
        (
            [_schema(), _record(Id="a", name="x")],
            {"partition_by": {"s": {"field": "name"}}},
            "stream 's', input line 5: setting 'partition_by': field 'name' is string, not a"
            ' date-time or date (a string needs "format": "date-time" in the schema)',
        ),
        (
            [_schema()],
            {"partition_by": {"s": {"field": "nope"}}},
            "stream 's', input line 5: setting 'partition_by': field 'nope' is not in the stream's schema",
        ),
    ],
    ids=[
        "properties-list",
        "key-not-in-schema",
        "activate-unknown",
        "batch-unknown",
        "dedup-unknown-field",
        "partition-on-string",
        "partition-unknown-field",
    ],
)
def test_given_a_schema_the_target_cannot_honour_then_one_line_and_what_came_before_is_kept(
    tmp_path: Path, bad: list[dict], config: dict, expected: str
) -> None:
    last, _ = _kept_before(tmp_path, bad, config)
    assert last == f"target-events: {expected}"


def test_given_micro_decision_events_from_another_tap_then_the_default_partitioning_says_how_to_choose(
    tmp_path: Path,
) -> None:
    """The default partition field of micro_decision_events as a plain string: one line naming
    the stream, the field and the two ways out, exit 1; with granularity none the rows land."""
    schema = _schema(
        "micro_decision_events",
        {"Id": {"type": "string"}, "timestamp_occurred": {"type": "string"}},
    )
    lines = singer_lines(
        schema, _record("micro_decision_events", Id="e1", timestamp_occurred="yesterday")
    )
    run = run_target(tmp_path, {"destination": str(tmp_path / "out")}, lines)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("target-events:")]
    assert len(errors) == 1, run.stderr
    assert "stream 'micro_decision_events'" in errors[0]
    assert "field 'timestamp_occurred' is string, not a date-time or date" in errors[0]
    assert '{"granularity": "none"}' in errors[0]
    assert "Traceback" not in run.stderr
    config = {
        "destination": str(tmp_path / "out"),
        "partition_by": {"micro_decision_events": {"granularity": "none"}},
    }
    run = run_target(tmp_path, config, lines)
    assert run.returncode == 0, run.stderr
    assert [r["Id"] for r in _rows(tmp_path / "out", "micro_decision_events")] == ["e1"]


def test_given_a_dedup_key_with_nulls_then_null_keys_never_collapse(tmp_path: Path) -> None:
    records = [
        _record(Id="1", ext=None, name="first null"),
        _record(Id="2", ext="k", name="old k"),
        _record(Id="3", ext=None, name="second null"),
        _record(Id="4", ext="k", name="new k"),
    ]
    out = tmp_path / "out"
    run = run_target(
        tmp_path,
        {"destination": str(out), "dedup_key": {"s": ["ext"]}},
        singer_lines(_schema(), *records),
    )
    assert run.returncode == 0, run.stderr
    assert [(r["Id"], r["name"]) for r in _rows(out, "s")] == [
        ("1", "first null"),
        ("3", "second null"),
        ("4", "new k"),
    ]


@pytest.mark.parametrize("per_record", [False, True], ids=["chunk", "per-record"])
def test_given_record_keys_not_in_the_schema_then_each_is_named_once_per_stream(
    tmp_path: Path, per_record: bool
) -> None:
    properties = {
        **PROPERTIES,
        **(
            {"tags": {"type": ["array", "null"], "items": {"type": "object"}}} if per_record else {}
        ),
    }
    records = [_record(Id=str(n), name="x", Extra1=n, Extra2={"a": n}) for n in range(30)]
    out = tmp_path / "out"
    run = run_target(
        tmp_path,
        {"destination": str(out)},
        singer_lines(_schema(properties=properties), *records),
    )
    assert run.returncode == 0, run.stderr
    for name in ("Extra1", "Extra2"):
        said = [line for line in run.stderr.splitlines() if f"record field '{name}'" in line]
        assert len(said) == 1, run.stderr
        assert "Stream s: record field" in said[0]
        assert "is not in the schema; its values are dropped" in said[0]
    assert len(_rows(out, "s")) == 30


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["a", None, "c"], "key property 'Id' is null in 1 row(s)"),
        (None, "has no column for key property 'Id'"),
    ],
    ids=["null-key", "no-key-column"],
)
def test_given_a_batch_parquet_file_without_keys_then_it_is_refused_in_one_line(
    tmp_path: Path, ids: list | None, expected: str
) -> None:
    batch = tmp_path / "batch.parquet"
    columns = {"name": ["x", "y", "z"]} if ids is None else {"Id": ids, "name": ["x", "y", "z"]}
    pq.write_table(pa.table(columns), batch)
    message = {
        "type": "BATCH",
        "stream": "s",
        "encoding": {"format": "parquet", "compression": "none"},
        "manifest": [batch.as_uri()],
    }
    last, out = _kept_before(tmp_path, [_schema(), message])
    assert (
        last
        == f"target-events: stream 's', input line 6: BATCH file {batch.as_uri()} {expected}".replace(
            f"{batch.as_uri()} key", f"{batch.as_uri()}: key"
        )
    )
    assert not (out / "s").exists()
    assert json.dumps(last).count("\\n") == 0

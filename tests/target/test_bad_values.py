"""Values of the right JSON type that no column can hold are invalid records like any other.

An integer past 64 bits, a day or time that does not exist, a decimal wider than its precision:
the error names the stream, the field and the exact input line; ``skip`` and ``dead_letter`` keep
the run going; in ``fail`` mode the records before are written and their STATE passed on. Both
ingest paths are driven: the chunk path (Arrow's JSON reader, flat schemas) and the per-record
path (a schema with a list of open objects, which the chunk path declines).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from target_events.ingest.checks import decimal_problem, is_datetime
from tests.helpers import run_target, singer_lines

PROPERTIES = {
    "Id": {"type": "string"},
    "qty": {"type": ["integer", "null"]},
    "when": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "x-sf-precision": 5},
}
# JSON text inside a list is the one shape the chunk path leaves to the per-record path.
PER_RECORD_COLUMN = {"tags": {"type": ["array", "null"], "items": {"type": "object"}}}

BAD_VALUES = [
    ("qty", 2**63, "expects a 64-bit integer"),
    ("qty", -(2**63) - 1, "expects a 64-bit integer"),
    ("when", "2024-13-45T00:00:00Z", "expects an ISO-8601 date-time"),
    ("when", "2024-02-30T00:00:00Z", "expects an ISO-8601 date-time"),
    ("when", "2024-01-01T24:00:00Z", "expects an ISO-8601 date-time"),
    ("when", "2024-01-01T10:00:60Z", "expects an ISO-8601 date-time"),
    ("when", "2024-01-01T10:00:00+99:99", "expects an ISO-8601 date-time"),
    ("when", "0000-01-01T00:00:00Z", "expects an ISO-8601 date-time"),
    ("day", "2023-02-29", "expects a date YYYY-MM-DD"),
]
DECIMALS = [
    ("amount", 12345.5, "expects a decimal of at most 3 digits before the point and 2 after"),
    ("amount", 1.234, "expects a decimal of at most 3 digits before the point and 2 after"),
]


def _messages(field: str, value: object, *, per_record: bool) -> list[dict]:
    properties = {**PROPERTIES, **(PER_RECORD_COLUMN if per_record else {})}
    schema = {"type": "SCHEMA", "stream": "orders", "schema": {"properties": properties}}
    schema["key_properties"] = ["Id"]

    def record(n: int, **extra: object) -> dict:
        values = {
            "Id": f"o{n}",
            "qty": n,
            "when": "2024-02-29T23:59:59Z",
            "day": "2024-02-29",
            "amount": 999.99,
        }
        return {"type": "RECORD", "stream": "orders", "record": {**values, **extra}}

    return [
        schema,
        *[record(n) for n in range(3)],
        {"type": "STATE", "value": {"at": 3}},
        *[record(n) for n in range(3, 6)],
        record(6, **{field: value}),  # input line 9
        record(7),
        {"type": "STATE", "value": {"at": 8}},
    ]


def _ids(out: Path) -> list[str]:
    return sorted(r["Id"] for f in out.rglob("*.parquet") for r in pq.read_table(f).to_pylist())


@pytest.mark.parametrize("per_record", [False, True], ids=["chunk", "per-record"])
@pytest.mark.parametrize(("field", "value", "problem"), BAD_VALUES)
def test_given_a_value_no_column_holds_when_failing_then_stream_field_and_line_are_named(
    tmp_path: Path, field: str, value: object, problem: str, per_record: bool
) -> None:
    out = tmp_path / "out"
    lines = singer_lines(*_messages(field, value, per_record=per_record))
    run = run_target(tmp_path, {"destination": str(out), "max_batch_rows": 100}, lines)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"target-events: stream 'orders', input line 9: field '{field}' {problem},"
        f" got {json.dumps(value)}"
    )
    assert _ids(out) == [f"o{n}" for n in range(6)], "the valid records before it are written"
    assert run.states[-1] == {"at": 3}


@pytest.mark.parametrize(("field", "value", "problem"), BAD_VALUES[:3:2] + DECIMALS)
@pytest.mark.parametrize("per_record", [False, True], ids=["chunk", "per-record"])
def test_given_a_value_no_column_holds_when_skipping_or_dead_lettering_then_the_run_goes_on(
    tmp_path: Path, field: str, value: object, problem: str, per_record: bool
) -> None:
    lines = singer_lines(*_messages(field, value, per_record=per_record))
    for mode in ("skip", "dead_letter"):
        out = tmp_path / mode
        config = {"destination": str(out), "max_batch_rows": 100, "on_invalid_record": mode}
        run = run_target(tmp_path, config, lines)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        assert _ids(out) == sorted(f"o{n}" for n in range(8) if n != 6)
        assert run.states[-1] == {"at": 8}
        dead = [json.loads(x) for f in out.rglob("_dead_letter/*/*.jsonl") for x in f.open()]
        if mode == "dead_letter":
            assert [(d["line"], d["error"]) for d in dead] == [
                (9, f"field '{field}' {problem}, got {json.dumps(value)}")
            ]
        else:
            assert dead == []


@pytest.mark.parametrize(("field", "value", "problem"), DECIMALS)
def test_given_a_decimal_wider_than_its_column_when_failing_then_one_line(
    tmp_path: Path, field: str, value: object, problem: str
) -> None:
    out = tmp_path / "out"
    lines = singer_lines(*_messages(field, value, per_record=False))
    run = run_target(tmp_path, {"destination": str(out), "max_batch_rows": 100}, lines)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"target-events: stream 'orders', input line 9: field '{field}' {problem},"
        f" got {json.dumps(value)}"
    )
    assert _ids(out) == [f"o{n}" for n in range(6)]
    assert run.states[-1] == {"at": 3}


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2024-02-29T23:59:59Z", True),
        ("2024-02-29 23:59:59.123456789+23:59", True),
        ("2024-01-01T10:00", True),
        ("2024-01-01", True),
        ("2023-02-29T00:00:00Z", False),
        ("2024-04-31T00:00:00Z", False),
        ("2024-00-10T00:00:00Z", False),
        ("2024-01-01T23:60:00Z", False),
        ("2024-01-01T10:00:00-24:00", False),
        ("2024-01-01T10:00:00+05:60", False),
        (20240101, False),
    ],
)
def test_given_date_times_then_only_real_days_and_times_pass(value: object, valid: bool) -> None:
    assert is_datetime(value) is valid


@pytest.mark.parametrize(
    ("value", "fits"),
    [(999.99, True), (-999.99, True), (1.5, True), (0.0, True), (1000, False), (0.001, False)],
)
def test_given_decimals_then_precision_and_scale_decide(value: float, fits: bool) -> None:
    assert (decimal_problem(value, 5, 2) is None) is fits

"""Refused records inside large raw chunks: the chunk is halved around them (``intake.py``), and
what lands, in what order, and what each policy does is what the per-record path would do."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import TargetRun, run_target, singer_lines

SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "qty": {"type": ["integer", "null"]},
            "price": {"type": ["number", "null"], "multipleOf": 0.01},
            "day": {"type": ["string", "null"], "format": "date"},
        }
    },
    "key_properties": ["Id"],
}
COUNT = 3_000


def _record(i: int, bad: bool) -> dict:
    record = {"Id": f"o{i:05d}", "qty": i, "price": i / 100, "day": "2024-02-29"}
    if bad:
        record["qty" if i % 3 == 0 else "day" if i % 3 == 1 else "price"] = (
            "three" if i % 3 == 0 else "2023-02-29" if i % 3 == 1 else 1.001
        )
    return {"type": "RECORD", "stream": "orders", "record": record}


def _run(tmp_path: Path, bad: set[int], mode: str) -> tuple[TargetRun, list[dict], list[dict]]:
    lines = singer_lines(
        SCHEMA,
        *(_record(i, i in bad) for i in range(COUNT)),
        {"type": "STATE", "value": {"done": True}},
    )
    config = {"destination": str(tmp_path / "out"), "on_invalid_record": mode}
    run = run_target(tmp_path, config, lines)
    files = sorted((tmp_path / "out").rglob("*.parquet"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    dead = [
        json.loads(line)
        for f in sorted((tmp_path / "out").rglob("_dead_letter/**/*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    return run, rows, dead


@pytest.mark.parametrize(
    "bad",
    [{1_500}, {10, 2_990}, set(range(7, COUNT, 97))],
    ids=["one", "two-far-apart", "spread-everywhere"],
)
def test_given_refused_records_in_a_large_chunk_when_dead_lettering_then_the_rest_lands_in_order(
    tmp_path: Path, bad: set[int]
) -> None:
    run, rows, dead = _run(tmp_path, bad, "dead_letter")
    assert run.returncode == 0, run.stderr
    kept = [i for i in range(COUNT) if i not in bad]
    assert [row["Id"] for row in rows] == [f"o{i:05d}" for i in kept], "input order, none lost"
    assert [row["qty"] for row in rows] == kept
    assert [str(row["price"]) for row in rows] == [f"{i / 100:.2f}" for i in kept]
    assert [entry["line"] for entry in dead] == [i + 2 for i in sorted(bad)]  # SCHEMA is line 1
    assert all(entry["record"]["Id"] == f"o{entry['line'] - 2:05d}" for entry in dead)


def test_given_refused_records_in_a_large_chunk_when_failing_then_only_rows_before_the_first_land(
    tmp_path: Path,
) -> None:
    run, rows, dead = _run(tmp_path, {1_234, 2_000}, "fail")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last == (
        "target-events: stream 'orders', input line 1236: field 'day' expects a date"
        ' YYYY-MM-DD, got "2023-02-29"'
    )
    assert [row["Id"] for row in rows] == [f"o{i:05d}" for i in range(1_234)]
    assert dead == []
    assert run.states == []

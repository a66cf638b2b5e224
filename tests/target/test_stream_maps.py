"""Stream maps in the target's config change what lands, RECORD or BATCH: a map that hashes or
drops a PII property or filters records must never be skipped by a fast path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import run_target, singer_lines

SCHEMA = {
    "type": "SCHEMA",
    "stream": "people",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "Email": {"type": ["string", "null"]},
            "Phone": {"type": ["string", "null"]},
            "n": {"type": ["integer", "null"]},
        }
    },
    "key_properties": ["Id"],
}
ROWS = [
    {"Id": f"p{i}", "Email": f"person{i}@example.com", "Phone": f"555-{i:04d}", "n": i}
    for i in range(6)
]
MAPS = {
    "people": {
        "Email": "md5(Email)",  # hashed
        "Phone": None,  # dropped
        "__filter__": "n != 3",  # one record left out
    }
}


def _landed(out: Path) -> list[dict]:
    files = sorted((out / "people").glob("*.parquet"))
    assert files, f"nothing landed under {out}"
    rows = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()
    return sorted(rows, key=lambda r: r["Id"])


def _batch_input(tmp_path: Path) -> str:
    path = tmp_path / "people-batch.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    message = {
        "type": "BATCH",
        "stream": "people",
        "encoding": {"format": "parquet", "compression": "none"},
        "manifest": [path.as_uri()],
    }
    return singer_lines(SCHEMA, message, {"type": "STATE", "value": {"done": True}})


@pytest.mark.parametrize("kind", ["record", "batch"])
def test_given_a_map_that_hashes_drops_and_filters_then_only_mapped_records_land(
    tmp_path: Path, kind: str
) -> None:
    if kind == "record":
        lines = singer_lines(
            SCHEMA,
            *({"type": "RECORD", "stream": "people", "record": r} for r in ROWS),
            {"type": "STATE", "value": {"done": True}},
        )
    else:
        lines = _batch_input(tmp_path)
    out = tmp_path / "out"
    run = run_target(tmp_path, {"destination": str(out), "stream_maps": MAPS}, lines)
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"done": True}
    landed = _landed(out)
    assert [r["Id"] for r in landed] == ["p0", "p1", "p2", "p4", "p5"]
    for row in landed:
        source = ROWS[int(row["Id"][1:])]
        assert row["Email"] == hashlib.md5(source["Email"].encode()).hexdigest()
        assert "Phone" not in row
    raw = b"".join(f.read_bytes() for f in (out / "people").glob("*.parquet"))
    assert b"example.com" not in raw
    assert b"555-" not in raw
    assert json.dumps(ROWS[3]["Email"]).encode() not in raw

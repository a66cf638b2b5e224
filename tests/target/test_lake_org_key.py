"""A Delta lake on S3 written without ``org_id_column`` (rows and remembered deletions keyed by
``Id``), then by two orgs' runs at once with it on (key ``_sdc_org_id, Id``): the runs merge,
delete and remember their deletions under the new key (issue #29: the flow's shards once failed
``ArrowInvalid: No match for FieldRef.Name(_sdc_org_id)`` reading a side table keyed by ``Id``).

Real parts: target-events processes, moto's S3 server over HTTP; the tables are read in a child
process (delta-rs holds the GIL while it waits on S3, and moto answers from a thread of this one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.helpers import TARGET, run_target, singer_lines, write_json

BUCKET = "org-key-lake"
KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
    "aws_region": "us-east-1",
}
ORGS = ("00D000000000001AAA", "00D000000000002AAA")
PROPERTIES = {
    "Id": {"type": "string"},
    "Name": {"type": ["string", "null"]},
    "SystemModstamp": {"type": "string", "format": "date-time"},
    "IsDeleted": {"type": ["boolean", "null"]},
}
BY_ID = {
    "type": "SCHEMA",
    "stream": "Account",
    "schema": {"properties": PROPERTIES},
    "key_properties": ["Id"],
}
BY_ORG = {  # what the tap sends with org_id_column on: the column last, the key first
    "type": "SCHEMA",
    "stream": "Account",
    "schema": {"properties": {**PROPERTIES, "_sdc_org_id": {"type": ["string"]}}},
    "key_properties": ["_sdc_org_id", "Id"],
}

# Through Arrow's own S3 filesystem, as the report reads (see ``table_dataset``).
READ = """
import json, sys
from target_events.store.filesystems import S3Options, open_filesystem
from target_events.report.source import stream_dataset
endpoint, key_id, secret, destination, path = sys.argv[1:6]
s3 = S3Options(endpoint, "us-east-1", key_id, secret)
filesystem, base = open_filesystem(destination, s3)
print(json.dumps(stream_dataset(filesystem, base, path, s3).to_table().to_pylist(), default=str))
"""


def _stamp(minute: int) -> str:
    return f"2024-01-01T00:{minute:02d}:00Z"


def _row(org: str | None, key: str, name: str, minute: int, deleted: bool = False) -> dict:
    record = {"Id": key, "Name": name, "SystemModstamp": _stamp(minute), "IsDeleted": deleted}
    if org is not None:
        record["_sdc_org_id"] = org
    return {"type": "RECORD", "stream": "Account", "record": record}


def _read(endpoint: str, path: str) -> list[dict]:
    args = [sys.executable, "-c", READ, endpoint, KEYS["aws_access_key_id"]]
    args += [KEYS["aws_secret_access_key"], f"s3://{BUCKET}/mirror", path]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows: list[dict] = json.loads(done.stdout)
    return rows


def _run_orgs_at_once(tmp_path: Path, config: dict, rows: dict[str, list[dict]]) -> None:
    """One target process per org, started together, on ``rows`` of that org; all succeed."""
    path = write_json(tmp_path / "target-config.json", config)
    runs = []
    for n, messages in enumerate(rows.values()):
        source = tmp_path / f"input-{n}.jsonl"
        source.write_text(singer_lines(BY_ORG, *messages))
        log = tmp_path / f"target-{n}.log"
        with source.open("rb") as stdin, log.open("wb") as stderr:
            command = [TARGET, "--config", str(path)]
            process = subprocess.Popen(
                command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr
            )
            runs.append((process, log))
    for run, log in runs:
        assert run.wait(timeout=180) == 0, log.read_text(errors="replace")[-3000:]


@pytest.mark.timeout(300)
def test_given_a_lake_keyed_by_id_then_two_orgs_at_once_merge_delete_and_remember_by_org_key(
    s3_endpoint: str, tmp_path: Path
) -> None:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=KEYS["aws_region"],
        aws_access_key_id=KEYS["aws_access_key_id"],
        aws_secret_access_key=KEYS["aws_secret_access_key"],
    ).create_bucket(Bucket=BUCKET)
    config = {
        "destination": f"s3://{BUCKET}/mirror",
        "format": "delta",
        "s3_endpoint_url": s3_endpoint,
        **KEYS,
    }
    # Before org_id_column: rows and a remembered deletion keyed by Id alone.
    before = [_row(None, "a1", "old", 1), _row(None, "a2", "old", 2), _row(None, "a3", "", 3, True)]
    run = run_target(tmp_path, config, singer_lines(BY_ID, *before))
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r["Id"] for r in _read(s3_endpoint, "_tombstones/Account")} == {"a3"}

    # Two orgs at once with the org key: each updates a1 and deletes a5 of its own.
    _run_orgs_at_once(
        tmp_path,
        config,
        {
            org: [_row(org, "a1", f"new-{n}", 10), _row(org, "a5", "", 12, True)]
            for n, org in enumerate(ORGS)
        },
    )
    # Older copies re-delivered: neither brings a deleted row back nor overwrites a newer one.
    _run_orgs_at_once(
        tmp_path,
        config,
        {org: [_row(org, "a5", "stale", 5), _row(org, "a1", "stale", 4)] for org in ORGS},
    )

    rows = {(r["_sdc_org_id"], r["Id"]): r["Name"] for r in _read(s3_endpoint, "Account")}
    assert rows == {
        (None, "a1"): "old",  # stored before the key had the org: a null org id
        (None, "a2"): "old",
        (ORGS[0], "a1"): "new-0",
        (ORGS[1], "a1"): "new-1",
    }
    memory = {(r["_sdc_org_id"], r["Id"]) for r in _read(s3_endpoint, "_tombstones/Account")}
    assert memory == {(None, "a3"), (ORGS[0], "a5"), (ORGS[1], "a5")}


def test_given_two_writers_adding_the_org_key_column_at_once_then_the_loser_is_told_to_retry(
    tmp_path: Path,
) -> None:
    """Both read the table before the column was added; the second add must fail as a conflict
    (``Merger.commit`` retries those on a fresh snapshot, which then has the column)."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError

    from target_events.lake.delta_merge import Merger

    uri = str(tmp_path / "Account")
    write_deltalake(uri, pa.table({"Id": ["a1"]}))
    schema = pa.schema([("_sdc_org_id", pa.string()), ("Id", pa.string())])
    first, second = DeltaTable(uri), DeltaTable(uri)
    Merger.widen(first, schema, ["_sdc_org_id", "Id"])
    with pytest.raises(CommitFailedError):
        Merger.widen(second, schema, ["_sdc_org_id", "Id"])
    fresh = DeltaTable(uri)
    Merger.widen(fresh, schema, ["_sdc_org_id", "Id"])  # the retry: nothing left to add
    assert [f.name for f in fresh.schema().fields] == ["Id", "_sdc_org_id"]
    assert fresh.version() == 1

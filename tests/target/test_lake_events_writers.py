"""Many writers appending ``micro_decision_events`` to one Delta table at once (issue #29: shards
and orgs into one lake): real ``target-events`` processes race, and no commit is lost.

The stream's key is ``event_id`` and it has no replication key: the target inserts new keys only
(``delta_plan``), so concurrent writers' merges conflict and are retried on a fresh snapshot.
Two orgs send disjoint events; two shards of one org may send the same events twice (delivery is
at-least-once). Either way the table must hold every event acknowledged by a STATE, once.

The writers are fed in lock step: each round hands both the next batch at the same moment and
waits until both acknowledged it, so their merges of that round overlap whatever the machine's
load (fed freely, a loaded CI machine once let one writer finish before the other had started).
The table's commit history must show their commits interleaved, and some commit must have met a
conflict, or the test proves nothing about racing.

Each race runs on a local folder and on S3 (moto's server over HTTP, ``s3://bucket/...``), where
delta-rs 1.x commits a version by a conditional put (``If-None-Match: *``): the store itself must
refuse the second writer's put of a version, or one commit silently overwrites the other. The
table is read back in a child process (delta-rs holds the GIL while it waits on S3, and moto's
server answers from a thread of the test's process).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from target_events.lake.delta_merge import storage_options

ROOT = Path(__file__).resolve().parents[2]
TARGET = [sys.executable, "-c", "from target_events.console import main; main()"]
STREAM = "micro_decision_events"
BATCH = 40  # rows per flush, so per commit
EVENTS = 3000  # per writer: about 75 commits each, long enough to overlap
# On S3 fewer (30 commits each): every merge reads the table's files back from moto's server
# (a Python process), so the time grows with the square of the rounds.
S3_EVENTS = 1200
S3_KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
    "aws_region": "us-east-1",
}
# The table read back: each commit's run id (oldest first, the create commit left out) and
# every row's event_id; argv: the table's URI and its storage options (JSON).
READ_TABLE = """
import json, sys
import pyarrow.fs as pafs
from deltalake import DeltaTable
from target_events.lake.delta_merge import table_dataset
uri, options = sys.argv[1], json.loads(sys.argv[2])
table = DeltaTable(uri, storage_options=options)
runs = [entry.get("targetEvents.runId") for entry in reversed(table.history())]
# Rows through Arrow's own filesystem: delta-rs' Python one can abort the process at exit.
if uri.startswith("s3://"):
    scheme, _, host = options["AWS_ENDPOINT_URL"].partition("://")
    s3 = pafs.S3FileSystem(access_key=options["AWS_ACCESS_KEY_ID"],
                           secret_key=options["AWS_SECRET_ACCESS_KEY"],
                           region=options["AWS_REGION"], endpoint_override=host, scheme=scheme)
    rooted = pafs.SubTreeFileSystem(uri.removeprefix("s3://"), s3)
else:
    rooted = pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())
events = table_dataset(uri, options, rooted).to_table(columns=["event_id"])["event_id"].to_pylist()
print(json.dumps({"runs": [run for run in runs if run], "events": events}))
"""


@dataclass(frozen=True)
class Lake:
    """Where the writers race: the target's destination settings, and events per writer."""

    settings: dict
    events: int


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """A local folder, or a prefix of a bucket on moto's S3 server."""
    if request.param == "local":
        return Lake({"destination": str(tmp_path / "lake")}, EVENTS)
    endpoint = request.getfixturevalue("s3_endpoint")
    # moto's server logs a line per request: thousands, into the test's captured log.
    request.getfixturevalue("caplog").set_level(logging.WARNING, logger="werkzeug")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_KEYS["aws_region"],
        aws_access_key_id=S3_KEYS["aws_access_key_id"],
        aws_secret_access_key=S3_KEYS["aws_secret_access_key"],
    )
    client.create_bucket(Bucket="bucket")  # again for each test: S3 answers OK to its owner
    prefix = f"s3://bucket/{tmp_path.name}/lake"  # one table per test on the shared server
    return Lake({"destination": prefix, "s3_endpoint_url": endpoint, **S3_KEYS}, S3_EVENTS)


def _schema_line() -> bytes:
    schema = {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": {
            "type": "object",
            "properties": {
                "event_id": {"type": "string"},
                "event_type": {"type": ["string", "null"]},
                "timestamp_occurred": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "key_properties": ["event_id"],
    }
    return (json.dumps(schema) + "\n").encode()


def _round(events: list[str], sent_before: int) -> bytes:
    """One batch of RECORDs and the STATE that acknowledges it (``sent``: events so far)."""
    messages: list[dict] = [
        {
            "type": "RECORD",
            "stream": STREAM,
            "record": {
                "event_id": event,
                "event_type": "field_change",
                "timestamp_occurred": "2024-01-01T00:00:00Z",
            },
        }
        for event in events
    ]
    messages.append({"type": "STATE", "value": {"sent": sent_before + len(events)}})
    return "".join(json.dumps(m) + "\n" for m in messages).encode()


def _read_states(process: subprocess.Popen, states: queue.Queue) -> None:
    """Forward each STATE the writer emits (``sent``), then ``None`` when its stdout closes."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            states.put(json.loads(line)["sent"])
    states.put(None)


def _race(
    tmp_path: Path, lake: Lake, inputs: dict[str, list[str]]
) -> tuple[dict[str, list[str]], int]:
    """Feed one writer per input in lock step: each writer's acknowledged events (up to its last
    STATE), and how many commits were retried after a conflict with the other writer."""
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({**lake.settings, "format": "delta", "qa_mode": "off", "max_batch_rows": BATCH})
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = {
        name: subprocess.Popen(
            [*TARGET, "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        for name in inputs
    }
    states: dict[str, queue.Queue] = {name: queue.Queue() for name in processes}
    errors: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=_read_states, args=(process, states[name]), daemon=True)
        for name, process in processes.items()
    ] + [
        threading.Thread(
            target=lambda n, p: errors.__setitem__(n, p.stderr.read()),
            args=(name, process),
            daemon=True,
        )
        for name, process in processes.items()
    ]
    for reader in readers:
        reader.start()
    try:
        for process in processes.values():
            process.stdin.write(_schema_line())
        for sent in range(0, lake.events, BATCH):
            for name, process in processes.items():
                process.stdin.write(_round(inputs[name][sent : sent + BATCH], sent))
                process.stdin.flush()
            for name in processes:
                acknowledged = states[name].get(timeout=120)
                assert acknowledged == min(sent + BATCH, lake.events), (name, acknowledged)
        for process in processes.values():
            process.stdin.close()
            process.wait(timeout=120)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    for reader in readers:
        reader.join(timeout=30)
    acknowledged_events, retries = {}, 0
    for name, process in processes.items():
        stderr = errors.get(name, b"")
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
        assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
        last = lake.events
        while (extra := states[name].get(timeout=30)) is not None:
            last = extra
        acknowledged_events[name] = inputs[name][:last]
        retries += stderr.count(b"conflicted with another writer")
    return acknowledged_events, retries


def _read_table(lake: Lake) -> tuple[list[str], list[str]]:
    """The writers' run ids in commit order, and the table's event ids (``READ_TABLE``)."""
    settings, options = lake.settings, {}
    if "s3_endpoint_url" in settings:
        options = storage_options(
            settings["s3_endpoint_url"],
            settings["aws_region"],
            settings["aws_access_key_id"],
            settings["aws_secret_access_key"],
        )
    uri = f"{settings['destination']}/{STREAM}"
    args = [sys.executable, "-c", READ_TABLE, uri, json.dumps(options)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True, env=env)
    read = json.loads(done.stdout)
    return read["runs"], read["events"]


def _interleaved(runs: list[str]) -> bool:
    """True when some writer committed between two commits of another."""
    changes = sum(1 for before, after in itertools.pairwise(runs) if before != after)
    return changes >= 2


def test_two_orgs_appending_events_at_once_lose_no_commit(tmp_path: Path, lake: Lake) -> None:
    inputs = {org: [f"{org}-{i:05d}" for i in range(lake.events)] for org in ("org-a", "org-b")}
    acknowledged, retries = _race(tmp_path, lake, inputs)
    assert acknowledged == inputs, "each writer committed all it sent"
    runs, table = _read_table(lake)
    assert len(set(runs)) == 2, runs
    assert _interleaved(runs), f"the writers did not race: {runs}"
    assert retries > 0, "no commit met a conflict: the retry path was not exercised"
    assert len(table) == len(set(table)), "an event twice"
    assert sorted(table) == sorted(inputs["org-a"] + inputs["org-b"])


def test_two_writers_sending_the_same_events_at_once_keep_each_once(
    tmp_path: Path, lake: Lake
) -> None:
    events = [f"e-{i:05d}" for i in range(lake.events)]
    acknowledged, retries = _race(tmp_path, lake, {"first": events, "again": events[::-1]})
    assert acknowledged["first"] == events
    runs, table = _read_table(lake)
    assert _interleaved(runs), f"the writers did not race: {runs}"
    assert retries > 0, "no commit met a conflict: the retry path was not exercised"
    assert len(table) == len(set(table)), "an event twice: concurrent inserts of one key both kept"
    assert sorted(table) == events

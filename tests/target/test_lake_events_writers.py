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
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[2]
TARGET = [sys.executable, "-c", "from target_events.console import main; main()"]
STREAM = "micro_decision_events"
BATCH = 40  # rows per flush, so per commit
EVENTS = 3000  # per writer: about 75 commits each, long enough to overlap


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


def _race(tmp_path: Path, inputs: dict[str, list[str]]) -> tuple[dict[str, list[str]], int]:
    """Feed one writer per input in lock step: each writer's acknowledged events (up to its last
    STATE), and how many commits were retried after a conflict with the other writer."""
    out = tmp_path / "lake"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"destination": str(out), "format": "delta", "qa_mode": "off", "max_batch_rows": BATCH}
        )
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
        for sent in range(0, EVENTS, BATCH):
            for name, process in processes.items():
                process.stdin.write(_round(inputs[name][sent : sent + BATCH], sent))
                process.stdin.flush()
            for name in processes:
                acknowledged = states[name].get(timeout=120)
                assert acknowledged == min(sent + BATCH, EVENTS), (name, acknowledged)
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
        last = EVENTS
        while (extra := states[name].get(timeout=30)) is not None:
            last = extra
        acknowledged_events[name] = inputs[name][:last]
        retries += stderr.count(b"conflicted with another writer")
    return acknowledged_events, retries


def _writers_in_commit_order(tmp_path: Path) -> list[str]:
    """The run id of each commit of the table, oldest first (the create commit left out)."""
    history = DeltaTable(str(tmp_path / "lake" / STREAM)).history()
    runs = [entry.get("targetEvents.runId") for entry in reversed(history)]
    return [run for run in runs if run]


def _interleaved(runs: list[str]) -> bool:
    """True when some writer committed between two commits of another."""
    changes = sum(1 for before, after in itertools.pairwise(runs) if before != after)
    return changes >= 2


def _table(tmp_path: Path) -> list[str]:
    return [
        row["event_id"]
        for row in DeltaTable(str(tmp_path / "lake" / STREAM)).to_pyarrow_table().to_pylist()
    ]


def test_two_orgs_appending_events_at_once_lose_no_commit(tmp_path: Path) -> None:
    inputs = {org: [f"{org}-{i:05d}" for i in range(EVENTS)] for org in ("org-a", "org-b")}
    acknowledged, retries = _race(tmp_path, inputs)
    assert acknowledged == inputs, "each writer committed all it sent"
    runs = _writers_in_commit_order(tmp_path)
    assert len(set(runs)) == 2, runs
    assert _interleaved(runs), f"the writers did not race: {runs}"
    assert retries > 0, "no commit met a conflict: the retry path was not exercised"
    table = _table(tmp_path)
    assert len(table) == len(set(table)), "an event twice"
    assert sorted(table) == sorted(inputs["org-a"] + inputs["org-b"])


def test_two_writers_sending_the_same_events_at_once_keep_each_once(tmp_path: Path) -> None:
    events = [f"e-{i:05d}" for i in range(EVENTS)]
    acknowledged, retries = _race(tmp_path, {"first": events, "again": list(reversed(events))})
    assert acknowledged["first"] == events
    runs = _writers_in_commit_order(tmp_path)
    assert _interleaved(runs), f"the writers did not race: {runs}"
    assert retries > 0, "no commit met a conflict: the retry path was not exercised"
    table = _table(tmp_path)
    assert len(table) == len(set(table)), "an event twice: concurrent inserts of one key both kept"
    assert sorted(table) == events

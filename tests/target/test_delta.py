"""format delta: a current-state mirror that stays exact and compact over many incremental runs,
survives a kill, replaces a table on a full refresh, and works on S3 (moto's server over HTTP)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from deltalake import DeltaTable

from target_events.lake.delta_plan import merge_clauses, plan_for
from target_events.target import TargetEvents
from tests.helpers import TARGET, run_target, singer_lines, write_json

STAMP = "2024-01-01T00:{:02d}:{:02d}Z"
ACCOUNT = {
    "type": "SCHEMA",
    "stream": "Account",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "Name": {"type": ["string", "null"]},
            "SystemModstamp": {"type": "string", "format": "date-time"},
            "IsDeleted": {"type": ["boolean", "null"]},
            "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
        }
    },
    "key_properties": ["Id"],
    "bookmark_properties": ["SystemModstamp"],
}
HISTORY = {
    "type": "SCHEMA",
    "stream": "AccountHistory",
    "schema": {
        "properties": {
            "Id": {"type": "string"},
            "AccountId": {"type": "string"},
            "CreatedDate": {"type": "string", "format": "date-time"},
        }
    },
    "key_properties": ["Id"],
    "bookmark_properties": ["CreatedDate"],
}


def _stamp(tick: int) -> str:
    return STAMP.format(tick // 60, tick % 60)


def _record(stream: str, record: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": record}


def _rows(table_path: Path | str, **options: str) -> list[dict]:
    return (
        DeltaTable(str(table_path), storage_options=options or None).to_pyarrow_table().to_pylist()
    )


def _run_in_process(config: dict, lines: str) -> list[str]:
    """One target run on ``lines``; returns the STATE lines it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TargetEvents(config=config).listen(file_input=io.TextIOWrapper(io.BytesIO(lines.encode())))
    return out.getvalue().splitlines()


class Org:
    """Recorded incremental streams: every run creates, updates and deletes Accounts (each
    change a newer SystemModstamp) and adds history rows; the tap's lookback re-sends the
    previous run's rows, and a stale copy of a record turns up now and then."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tick = 0
        self.live: dict[str, dict] = {}
        self.history: set[str] = set()
        self.sent: list[dict] = []  # every Account row ever sent, for stale copies
        self.previous: list[dict] = []
        self.next_id = 0

    def run(self) -> str:
        rng, messages = self.rng, [ACCOUNT, HISTORY]
        changes: list[dict] = []
        for _ in range(rng.randint(3, 8)):
            self.tick += 1
            action = rng.random()
            if action < 0.4 or not self.live:
                self.next_id += 1
                row = {"Id": f"001{self.next_id:05d}", "Name": f"new {self.tick}"}
            elif action < 0.8:
                row = {"Id": rng.choice(sorted(self.live)), "Name": f"changed {self.tick}"}
            else:
                key = rng.choice(sorted(self.live))
                stamp = _stamp(self.tick)
                changes.append(
                    {
                        "Id": key,
                        "IsDeleted": True,
                        "SystemModstamp": stamp,
                        "_sdc_deleted_at": stamp,
                    }
                )
                del self.live[key]
                continue
            row.update(SystemModstamp=_stamp(self.tick), IsDeleted=False)
            self.live[row["Id"]] = row
            changes.append(row)
        stale = [rng.choice(self.sent)] if self.sent and rng.random() < 0.5 else []
        history = []
        for account in changes[:2]:
            self.tick += 1
            entry = {
                "Id": f"017{self.tick:06d}",
                "AccountId": account["Id"],
                "CreatedDate": _stamp(self.tick),
            }
            self.history.add(entry["Id"])
            history.append(entry)
        for row in [*self.previous, *stale, *changes]:
            messages.append(_record("Account", row))
        messages += [_record("AccountHistory", h) for h in history * 2]  # re-delivered twice
        messages.append({"type": "STATE", "value": {"tick": self.tick}})
        self.sent += [r for r in changes if not r.get("_sdc_deleted_at")]
        self.previous = changes[-2:]
        return singer_lines(*messages)


def test_given_dozens_of_incremental_runs_with_updates_and_deletes_then_each_table_holds_one_row_per_live_record_and_few_files(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    config = {
        "destination": str(out),
        "format": "delta",
        "max_batch_rows": 4,  # several commits per run
        "lake_compact_after_files": 6,
        "lake_vacuum_retention_hours": 1,
        "qa_mode": "strict",  # fails the run if a table holds a duplicate key
        "qa_max_row_drift": 100,  # runs differ in size on purpose
    }
    org = Org(seed=20)
    for run in range(30):
        states = _run_in_process(config, org.run())
        assert json.loads(states[-1]) == {"tick": org.tick}, run
        accounts = _rows(out / "Account")
        assert {r["Id"]: r["Name"] for r in accounts} == {
            k: v["Name"] for k, v in org.live.items()
        }, f"run {run}"
        assert len(accounts) == len(org.live)
        assert sorted(r["Id"] for r in _rows(out / "AccountHistory")) == sorted(org.history)
        for stream in ("Account", "AccountHistory"):
            live_files = DeltaTable(str(out / stream)).file_uris()
            assert len(live_files) < 6, (run, stream, len(live_files))


def test_given_an_older_copy_and_a_tombstone_in_one_batch_then_the_newest_version_decides() -> None:
    plan = plan_for(["Id", "SystemModstamp", "IsDeleted"], ["Id"], ["SystemModstamp"])
    assert (plan.mode, plan.version) == ("upsert", "SystemModstamp")
    # Equal stamps: the later delivery wins, as inside one batch (flush boundaries never matter).
    assert "s.`SystemModstamp` >= t.`SystemModstamp`" in str(merge_clauses(plan)["update"])
    assert (
        plan_for(["event_id", "timestamp_recorded"], ["event_id"], ["timestamp_recorded"]).mode
        == "insert_new"
    )
    per_org = ["_sdc_org_id", "event_id"]  # the tap's org_id_column
    assert plan_for([*per_org, "timestamp_recorded"], per_org, ["timestamp_recorded"]).mode == (
        "insert_new"
    )
    assert plan_for(["Id", "Name"], ["Id"], None) == plan_for(["Id", "Name"], ["Id"], None)
    assert plan_for(["Id", "Name"], ["Id"], None).version is None
    assert plan_for(["x"], [], None).mode == "append"


def test_given_a_column_that_changes_type_then_the_run_fails_in_one_line_naming_stream_and_column(
    tmp_path: Path,
) -> None:
    config = {"destination": str(tmp_path / "lake"), "format": "delta"}
    first = singer_lines(
        {
            **ACCOUNT,
            "schema": {"properties": {"Id": {"type": "string"}, "Name": {"type": "string"}}},
        },
        _record("Account", {"Id": "a", "Name": "x"}),
        {"type": "STATE", "value": {"n": 1}},
    )
    assert run_target(tmp_path, config, first).returncode == 0
    added = singer_lines(
        {
            **ACCOUNT,
            "schema": {
                "properties": {
                    "Id": {"type": "string"},
                    "Name": {"type": "string"},
                    "Extra": {"type": "integer"},
                }
            },
        },
        _record("Account", {"Id": "b", "Name": "y", "Extra": 3}),
        {"type": "STATE", "value": {"n": 2}},
    )
    assert run_target(tmp_path, config, added).returncode == 0
    assert {r["Id"]: r["Extra"] for r in _rows(tmp_path / "lake" / "Account")} == {
        "a": None,
        "b": 3,
    }
    retyped = singer_lines(
        {
            **ACCOUNT,
            "schema": {"properties": {"Id": {"type": "string"}, "Name": {"type": "integer"}}},
        },
        _record("Account", {"Id": "c", "Name": 5}),
        {"type": "STATE", "value": {"n": 3}},
    )
    run = run_target(tmp_path, config, retyped)
    assert run.returncode == 1
    assert run.states == []
    error = run.stderr.strip().splitlines()[-1]
    assert "stream 'Account': column 'Name' changed type from string to long" in error


def test_given_a_full_refresh_then_the_table_is_replaced_in_one_commit_and_state_waits_for_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    config = {"destination": str(out), "format": "delta", "max_batch_rows": 2}
    rows = [
        _record("Account", {"Id": f"a{i}", "Name": "old", "SystemModstamp": _stamp(i)})
        for i in range(6)
    ]
    assert (
        run_target(
            tmp_path, config, singer_lines(ACCOUNT, *rows, {"type": "STATE", "value": {"n": 1}})
        ).returncode
        == 0
    )
    before = DeltaTable(str(out / "Account")).version()
    fresh = [
        _record("Account", {"Id": f"a{i}", "Name": "new", "SystemModstamp": _stamp(i)})
        for i in (1, 2, 3)
    ]
    lines = singer_lines(
        ACCOUNT,
        {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 1},
        *fresh[:2],
        {"type": "STATE", "value": {"n": 2}},
        *fresh[2:],
        {"type": "STATE", "value": {"n": 3}},
    )
    run = run_target(tmp_path, config, lines)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"n": 3}], "no STATE before the table is replaced"
    assert sorted((r["Id"], r["Name"]) for r in _rows(out / "Account")) == [
        ("a1", "new"),
        ("a2", "new"),
        ("a3", "new"),
    ]
    assert DeltaTable(str(out / "Account")).version() == before + 1, "one overwrite commit"
    assert not (out / "_full_refresh" / "Account").exists()


def test_given_a_delta_target_killed_mid_run_when_rerun_from_its_last_state_then_nothing_is_lost_or_duplicated(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    config = write_json(
        tmp_path / "config.json",
        {"destination": str(out), "format": "delta", "max_batch_rows": 300, "qa_mode": "off"},
    )

    def record(i: int) -> str:
        # Later rows are newer versions of the 700 records.
        row = {
            "Id": f"r{i % 700}",
            "Name": f"v{i}",
            "SystemModstamp": f"2024-01-01T00:00:00.{i:06d}Z",
        }
        return json.dumps(_record("Account", row)) + "\n"

    target = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert target.stdin is not None
    assert target.stdout is not None
    target.stdin.write((json.dumps(ACCOUNT) + "\n").encode())
    os.set_blocking(target.stdout.fileno(), False)
    states: list[dict] = []
    buffer, sent = b"", 0
    while len(states) < 3 and sent < 200_000:
        chunk = "".join(record(i) for i in range(sent, sent + 100))
        sent += 100
        target.stdin.write(
            (chunk + json.dumps({"type": "STATE", "value": {"sent": sent}}) + "\n").encode()
        )
        target.stdin.flush()
        with contextlib.suppress(BlockingIOError):
            buffer += target.stdout.read() or b""
        *complete, buffer = buffer.split(b"\n")
        states += [json.loads(line) for line in complete if line.strip()]
        time.sleep(0.002)
    target.send_signal(signal.SIGKILL)
    target.wait(timeout=10)
    covered = states[-1]["sent"]
    # The killed table is at its last commit: every row the last STATE covers is in it.
    landed = {r["Id"]: r["Name"] for r in _rows(out / "Account")}
    expected = {f"r{i % 700}": f"v{i}" for i in range(covered)}
    assert all(int(landed[k][1:]) >= int(v[1:]) for k, v in expected.items())
    # The tap restarts from the last STATE and sends the rest (and, with lookback, some again).
    total = sent + 500
    rerun = singer_lines(ACCOUNT) + "".join(record(i) for i in range(covered - 150, total))
    rerun += json.dumps({"type": "STATE", "value": {"sent": total}}) + "\n"
    done = run_target(tmp_path, {"destination": str(out), "format": "delta"}, rerun)
    assert done.returncode == 0, done.stderr
    final = _rows(out / "Account")
    assert len(final) == 700 == len({r["Id"] for r in final}), "one row per record"
    assert {r["Id"]: r["Name"] for r in final} == {f"r{i % 700}": f"v{i}" for i in range(total)}


KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
    "aws_region": "us-east-1",
}


READ_S3 = """
import json, sys
from target_events.store.filesystems import S3Options, open_filesystem
from target_events.report.source import stream_dataset
s3 = S3Options(sys.argv[1], "us-east-1", sys.argv[2], sys.argv[3])
filesystem, base = open_filesystem("s3://lake/mirror", s3)
dataset = stream_dataset(filesystem, base, "Account", s3)
rows = dataset.to_table().to_pylist()
print(json.dumps([{r["Id"]: r["Name"] for r in rows}, dataset.count_rows()]))
"""


def _s3_read(endpoint: str) -> tuple[dict, int]:
    """The table as the report reads it, in a child process: delta-rs holds the GIL while it
    waits on S3, and moto's server answers from a thread of this process."""
    args = [
        sys.executable,
        "-c",
        READ_S3,
        endpoint,
        KEYS["aws_access_key_id"],
        KEYS["aws_secret_access_key"],
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    rows, count = json.loads(done.stdout)
    return rows, count


@pytest.mark.timeout(120)
def test_given_an_s3_destination_then_merges_deletes_full_refresh_and_the_report_reader_work(
    s3_endpoint: str, tmp_path: Path
) -> None:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        **{k.replace("aws_region", "region_name"): v for k, v in KEYS.items()},
    ).create_bucket(Bucket="lake")
    config = {
        "destination": "s3://lake/mirror",
        "format": "delta",
        "s3_endpoint_url": s3_endpoint,
        **KEYS,
    }
    first = [
        _record("Account", {"Id": f"a{i}", "Name": "v1", "SystemModstamp": _stamp(i)})
        for i in range(4)
    ]
    run = run_target(
        tmp_path, config, singer_lines(ACCOUNT, *first, {"type": "STATE", "value": {"n": 1}})
    )
    assert run.returncode == 0, run.stderr
    second = [
        _record("Account", {"Id": "a1", "Name": "v2", "SystemModstamp": _stamp(10)}),
        _record(
            "Account",
            {
                "Id": "a2",
                "IsDeleted": True,
                "SystemModstamp": _stamp(11),
                "_sdc_deleted_at": _stamp(11),
            },
        ),
        _record("Account", {"Id": "a3", "Name": "stale", "SystemModstamp": _stamp(0)}),
    ]
    assert (
        run_target(
            tmp_path, config, singer_lines(ACCOUNT, *second, {"type": "STATE", "value": {"n": 2}})
        ).returncode
        == 0
    )
    assert _s3_read(s3_endpoint) == ({"a0": "v1", "a1": "v2", "a3": "v1"}, 3)
    refresh = {**config, "full_refresh_streams": ["Account"]}
    only = _record("Account", {"Id": "z", "Name": "only", "SystemModstamp": _stamp(1)})
    run = run_target(
        tmp_path, refresh, singer_lines(ACCOUNT, only, {"type": "STATE", "value": {"n": 3}})
    )
    assert run.returncode == 0, run.stderr
    assert run.states == [{"n": 3}]
    assert _s3_read(s3_endpoint) == ({"z": "only"}, 1)
    assert KEYS["aws_secret_access_key"] not in run.stderr


def test_given_runs_maintaining_one_table_at_once_then_one_compacts_and_no_row_doubles(
    tmp_path: Path,
) -> None:
    """delta-rs commits two compactions made from one snapshot (each re-adds the same rows):
    runs finishing together must compact one at a time, each from the latest snapshot."""
    import threading

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from target_events.config.settings import Settings
    from target_events.lake.delta_maintenance import maintain_table

    uri = str(tmp_path / "Account")
    for i in range(20):  # 20 small files
        write_deltalake(uri, pa.table({"Id": [f"a{i:02d}"]}), mode="append")
    settings = Settings.from_config(
        {"destination": str(tmp_path), "format": "delta", "lake_compact_after_files": 4}
    )
    start, results = threading.Barrier(4), []

    def maintain() -> None:
        start.wait()
        results.append(maintain_table(uri, {}, None, settings))

    threads = [threading.Thread(target=maintain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = DeltaTable(uri).to_pyarrow_table()["Id"].to_pylist()
    assert sorted(ids) == [f"a{i:02d}" for i in range(20)], "a row doubled or lost"
    assert sum(1 for done in results if done.get("compacted")) == 1, results

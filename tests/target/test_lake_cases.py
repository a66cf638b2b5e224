"""format delta loses nothing: each case a hostile but legal Singer input once got wrong.

Tables are read back with ``deltalake`` itself (never through this project's reader) and compared
with what the input says the table must hold.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from tests.helpers import TARGET, run_target, singer_lines, write_json

STAMP = "2024-01-01T00:00:{:02d}Z"


def _schema(stream: str, properties: dict, keys: list[str], bookmark: str | None) -> dict:
    message = {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys,
    }
    if bookmark:
        message["bookmark_properties"] = [bookmark]
    return message


ACCOUNT = _schema(
    "Account",
    {
        "Id": {"type": "string"},
        "Name": {"type": ["string", "null"]},
        "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
    },
    ["Id"],
    "SystemModstamp",
)


def _record(stream: str, record: dict, version: int | None = None) -> dict:
    message: dict = {"type": "RECORD", "stream": stream, "record": record}
    if version is not None:
        message["version"] = version
    return message


def _account(i: int, name: str, tick: int = 1) -> dict:
    return {"Id": f"a{i:02d}", "Name": name, "SystemModstamp": STAMP.format(tick)}


def _table(path: Path) -> list[dict]:
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def _by_key(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def _delta(out: Path, **extra: object) -> dict:
    return {"destination": str(out), "format": "delta", "qa_mode": "off", **extra}


def _one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


# 1. ACTIVATE_VERSION last (Stitch / pipelinewise order), and in the middle.
@pytest.mark.parametrize("where", ["last", "middle", "first"])
def test_given_activate_version_anywhere_then_the_table_holds_every_record_of_that_version(
    tmp_path: Path, where: str
) -> None:
    out = tmp_path / "lake"
    old = [_record("Account", _account(i, "old")) for i in range(20, 25)]
    assert run_target(tmp_path, _delta(out), singer_lines(ACCOUNT, *old)).returncode == 0
    fresh = [_record("Account", _account(i, "fresh", 2), version=7) for i in range(10)]
    activate = {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 7}
    state = {"type": "STATE", "value": {"done": True}}
    messages = {
        "last": [*fresh, state, activate],
        "middle": [*fresh[:5], activate, *fresh[5:], state],
        "first": [activate, *fresh, state],
    }[where]
    run = run_target(tmp_path, _delta(out, max_batch_rows=3), singer_lines(ACCOUNT, *messages))
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"done": True}
    rows = _table(out / "Account")
    assert sorted((r["Id"], r["Name"]) for r in rows) == [(f"a{i:02d}", "fresh") for i in range(10)]


def test_given_versioned_records_killed_before_their_activate_version_then_a_later_run_activates_them_all(
    tmp_path: Path,
) -> None:
    """The Stitch order across runs: a run ends (STATE passed on) mid-version; the tap resumes
    the same version in the next run and activates it at the end: every record of the version
    is in the table, those of the first run too."""
    out = tmp_path / "lake"
    first = [_record("Account", _account(i, "v9"), version=9) for i in range(6)]
    run = run_target(
        tmp_path,
        _delta(out, max_batch_rows=4),
        singer_lines(ACCOUNT, *first, {"type": "STATE", "value": {"at": 6}}),
    )
    assert run.returncode == 0, run.stderr
    assert run.states == [{"at": 6}]
    rest = [_record("Account", _account(i, "v9"), version=9) for i in range(6, 10)]
    activate = {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 9}
    run = run_target(
        tmp_path, _delta(out, max_batch_rows=4), singer_lines(ACCOUNT, *rest, activate)
    )
    assert run.returncode == 0, run.stderr
    assert sorted(r["Id"] for r in _table(out / "Account")) == [f"a{i:02d}" for i in range(10)]


# 3. A keyed stream with a replication key that is not a modstamp still upserts.
def test_given_history_tracked_fields_when_a_snapshot_changes_then_the_table_holds_the_new_values(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    schema = _schema(
        "history_tracked_fields",
        {
            "object_name": {"type": "string"},
            "field_name": {"type": "string"},
            "tracked": {"type": "boolean"},
            "snapshot_at": {"type": "string", "format": "date-time"},
        },
        ["object_name", "field_name"],
        "snapshot_at",
    )

    def snapshot(tick: int, tracked: bool) -> dict:
        row = {"object_name": "Account", "field_name": "Name", "tracked": tracked}
        return _record("history_tracked_fields", {**row, "snapshot_at": STAMP.format(tick)})

    assert (
        run_target(tmp_path, _delta(out), singer_lines(schema, snapshot(1, True))).returncode == 0
    )
    run = run_target(tmp_path, _delta(out), singer_lines(schema, snapshot(2, False)))
    assert run.returncode == 0, run.stderr
    rows = _table(out / "history_tracked_fields")
    assert [(r["tracked"], r["snapshot_at"].isoformat()) for r in rows] == [
        (False, "2024-01-01T00:00:02+00:00")
    ]


# 4. Tombstones carrying only _sdc_deleted_at (add_record_metadata off, no IsDeleted column).
def test_given_tombstones_with_only_sdc_deleted_at_then_delta_deletes_and_parquet_keeps_the_column(
    tmp_path: Path,
) -> None:
    schema = _schema(
        "Contact",
        {
            "Id": {"type": "string"},
            "Name": {"type": ["string", "null"]},
            "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
            "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
        },
        ["Id"],
        "SystemModstamp",
    )
    live = [
        _record("Contact", {"Id": f"c{i}", "Name": "x", "SystemModstamp": STAMP.format(1)})
        for i in range(3)
    ]
    tombstone = _record("Contact", {"Id": "c1", "_sdc_deleted_at": STAMP.format(5)})
    lake = tmp_path / "lake"
    assert run_target(tmp_path, _delta(lake), singer_lines(schema, *live)).returncode == 0
    run = run_target(tmp_path, _delta(lake), singer_lines(schema, tombstone))
    assert run.returncode == 0, run.stderr
    assert sorted(r["Id"] for r in _table(lake / "Contact")) == ["c0", "c2"]
    files = tmp_path / "files"
    run = run_target(
        tmp_path,
        {"destination": str(files), "qa_mode": "off"},
        singer_lines(schema, *live, tombstone),
    )
    assert run.returncode == 0, run.stderr
    rows = [
        row for path in sorted(files.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()
    ]
    assert [r["Id"] for r in rows if r["_sdc_deleted_at"] is not None] == ["c1"]


# 5. Composite keys: a re-sent older copy of a deleted record stays deleted.
def test_given_a_composite_key_deleted_then_a_resent_older_copy_does_not_bring_it_back(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    schema = _schema(
        "Line",
        {
            "A": {"type": "string"},
            "B": {"type": "integer"},
            "Name": {"type": ["string", "null"]},
            "IsDeleted": {"type": ["boolean", "null"]},
            "SystemModstamp": {"type": "string", "format": "date-time"},
        },
        ["A", "B"],
        "SystemModstamp",
    )
    row = {"A": "x", "B": 1, "Name": "n", "IsDeleted": False, "SystemModstamp": STAMP.format(1)}
    other = {**row, "B": 2}
    deleted = {**row, "IsDeleted": True, "SystemModstamp": STAMP.format(2)}
    for messages in ([row, other], [deleted], [row]):
        lines = singer_lines(schema, *(_record("Line", m) for m in messages))
        run = run_target(tmp_path, _delta(out), lines)
        assert run.returncode == 0, run.stderr
    assert [(r["A"], r["B"]) for r in _table(out / "Line")] == [("x", 2)]


# 6. A null or missing key property is an invalid record, never a row.
@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_given_a_null_key_then_the_record_is_invalid_in_every_mode(
    tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out"
    nulls = singer_lines(
        ACCOUNT,
        _record("Account", _account(1, "ok")),
        _record("Account", {"Id": None, "Name": "no key"}),
        {"type": "STATE", "value": {"n": 1}},
    )
    config = {"destination": str(out), "format": fmt, "qa_mode": "off"}
    run = run_target(tmp_path, config, nulls)
    assert run.returncode != 0
    assert run.states == []
    error = _one_line_error(run.stderr)
    assert "stream 'Account', input line 3" in error, error
    assert "'Id'" in error, error
    for _ in range(3):
        skipped = run_target(tmp_path, {**config, "on_invalid_record": "dead_letter"}, nulls)
        assert skipped.returncode == 0, skipped.stderr
        assert skipped.states == [{"n": 1}]
    if fmt == "delta":
        rows = _table(out / "Account")
    else:
        rows = [
            r
            for p in sorted((out / "Account").rglob("*.parquet"))
            for r in pq.read_table(p).to_pylist()
        ]
    assert {r["Id"] for r in rows} == {"a01"}
    letters = [
        json.loads(line)
        for path in (out / "_dead_letter").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(letters) == 3
    assert all(letter["line"] == 3 for letter in letters)


# 7. STATE passes through exactly as received, whatever its numbers.
@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_given_a_decimal_number_in_state_then_it_is_passed_on_exactly(
    tmp_path: Path, fmt: str
) -> None:
    lines = singer_lines(ACCOUNT, _record("Account", _account(1, "x")))
    raw_state = '{"type": "STATE", "value": {"bookmarks": {"Account": {"replication_key_value": 1701234567.25, "big": 123456789012345678901234567890, "tiny": 1e-7}}}}\n'
    config = {"destination": str(tmp_path / "out"), "format": fmt, "qa_mode": "off"}
    run = run_target(tmp_path, config, lines + raw_state)
    assert run.returncode == 0, run.stderr
    out = run.stdout.strip().splitlines()
    assert len(out) == 1
    assert "1701234567.25" in out[0], out[0]
    assert "123456789012345678901234567890" in out[0], out[0]
    value = json.loads(out[0])["bookmarks"]["Account"]
    assert value["replication_key_value"] == 1701234567.25
    assert value["tiny"] == 1e-7


# 8. A symlink where a stream's table or folder goes is refused in one line, in every format.
@pytest.mark.parametrize("fmt", ["delta", "parquet", "jsonl", "csv"])
def test_given_a_symlink_at_the_stream_folder_then_the_run_is_refused_in_one_line(
    tmp_path: Path, fmt: str
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "Account").symlink_to(outside, target_is_directory=True)
    config = {"destination": str(out), "format": fmt, "qa_mode": "off"}
    run = run_target(tmp_path, config, singer_lines(ACCOUNT, _record("Account", _account(1, "x"))))
    assert run.returncode != 0
    error = _one_line_error(run.stderr)
    assert "Account" in error, error
    assert "symlink" in error.lower(), error
    assert list(outside.iterdir()) == []


# 9. Delta tables are private like every other output.
def test_given_a_delta_table_then_its_folders_are_0700_and_files_0600(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    lines = singer_lines(
        ACCOUNT,
        *(_record("Account", _account(i, "x")) for i in range(5)),
        {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 3},
        *(_record("Account", _account(i, "y"), version=3) for i in range(2)),
    )
    run = run_target(tmp_path, _delta(out, max_batch_rows=2), lines)
    assert run.returncode == 0, run.stderr
    seen = 0
    for root, folders, files in os.walk(out):
        for name in folders:
            assert stat.S_IMODE(os.stat(Path(root, name)).st_mode) == 0o700, Path(root, name)
        for name in files:
            assert stat.S_IMODE(os.stat(Path(root, name)).st_mode) == 0o600, Path(root, name)
            seen += 1
    assert seen > 3


# 10. A vacuum retention shorter than a concurrent reader needs is refused, not truncated.
@pytest.mark.parametrize("hours", [0, 0.5])
def test_given_a_vacuum_retention_under_an_hour_then_the_setting_is_refused_in_one_line(
    tmp_path: Path, hours: float
) -> None:
    config = _delta(tmp_path / "lake", lake_vacuum_retention_hours=hours)
    run = run_target(tmp_path, config, singer_lines(ACCOUNT, _record("Account", _account(1, "x"))))
    assert run.returncode != 0
    error = _one_line_error(run.stderr)
    assert "lake_vacuum_retention_hours" in error, error
    assert not (tmp_path / "lake" / "Account").exists()


# 11. A singer-sdk refresh killed midway and re-sent never shows the killed run's part of it.
def _wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until ``path`` exists (the target's progress, not the clock, decides the test)."""
    deadline = time.monotonic() + 120  # a safety net only: the file comes in well under a second
    while not path.exists():
        assert process.poll() is None, "the target ended before the commit"
        assert time.monotonic() < deadline, f"no {path.name} after 120 s"
        time.sleep(0.01)


def test_given_an_activate_version_first_refresh_killed_midway_when_re_sent_then_the_table_waits_for_all_of_it(
    tmp_path: Path,
) -> None:
    """The singer-sdk order holds STATE until its replacement, so a kill before it makes the
    upstream re-send the ACTIVATE_VERSION with the version's rows. The rows the killed run
    staged are part of the refresh only: the table keeps the old version until the end of the
    re-sent run (it was replaced at once by them: half a refresh, visible until that end)."""
    out = tmp_path / "lake"
    old = [_record("Account", _account(i, "v5"), version=5) for i in range(6)]
    activate5 = {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 5}
    run = run_target(tmp_path, _delta(out), singer_lines(ACCOUNT, activate5, *old))
    assert run.returncode == 0, run.stderr
    config = write_json(tmp_path / "kill.json", _delta(out, max_batch_rows=1))
    activate = {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 7}
    fresh = [_record("Account", _account(i, "v7", 2), version=7) for i in range(4)]
    staging = out / "_versions" / "Account" / "v7" / "_delta_log"
    for attempt in ("killed", "re-sent"):
        commits = len(list(staging.glob("*.json"))) if staging.exists() else 0
        target = subprocess.Popen(
            [TARGET, "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert target.stdin is not None
        target.stdin.write(singer_lines(ACCOUNT, activate, *fresh[:2]).encode())
        target.stdin.flush()
        # A row after the ACTIVATE_VERSION staged: the ACTIVATE_VERSION was handled.
        _wait_for(staging / f"{max(commits, 1):020d}.json", target)
        names = sorted(r["Name"] for r in _table(out / "Account"))
        assert names == ["v5"] * 6, f"{attempt}: {names}"  # still all of the old version
        if attempt == "killed":
            target.send_signal(signal.SIGKILL)  # its rows stay staged; no STATE passed them
            target.wait()
            continue
        target.stdin.write(singer_lines(*fresh[2:]).encode())
        target.stdin.close()
        assert target.wait(timeout=120) == 0
    rows = _table(out / "Account")
    assert sorted((r["Id"], r["Name"]) for r in rows) == [(f"a{i:02d}", "v7") for i in range(4)]


# Issue #27 item 10: a symlink at the destination's own folders (Parquet mode) is one line too.
@pytest.mark.parametrize("folder", ["_manifests", "_dead_letter"])
def test_given_a_symlink_at_a_bookkeeping_folder_then_one_line_and_nothing_outside(
    tmp_path: Path, folder: str
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / folder).symlink_to(outside, target_is_directory=True)
    config = {"destination": str(out), "qa_mode": "off", "on_invalid_record": "dead_letter"}
    lines = singer_lines(
        ACCOUNT, _record("Account", {"Id": None}), _record("Account", _account(1, "x"))
    )
    run = run_target(tmp_path, config, lines)
    assert run.returncode != 0
    error = _one_line_error(run.stderr)
    assert "symlink" in error.lower(), error
    assert list(outside.iterdir()) == []

"""format delta with many writers at once (issue #25, "lake loses nothing"): real ``target-events``
processes race on one local destination.

Every case checks the same invariants, against an expectation computed here from the input alone:

- a writer exits 0, or fails with one line on stderr (no traceback) that names the stream;
- nothing a STATE line on a writer's stdout acknowledged is lost: each acknowledged row is in the
  table (or superseded there by a newer stamp of its key), whatever the other writers did; the
  rows of a full-table version a failed writer acknowledged stay in the version's staging table;
- a keyed table holds one row per key, the newest by ``SystemModstamp`` over what was committed;
- two full refreshes of one stream leave exactly one of the two versions, never a mix or a part.

Tables are read back with ``deltalake`` itself. Nothing here asserts on time: starts are staggered
with sleeps or ordered by waiting for a staging table to appear, and every interleaving that the
writers can legally produce is accepted.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[2]
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
# This worktree's target, whatever console script the venv has (it may import another checkout).
TARGET = [sys.executable, "-c", "from target_events.console import main; main()"]


def _schema(stream: str) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {
            "type": "object",
            "properties": {
                "Id": {"type": "string"},
                "Name": {"type": ["string", "null"]},
                "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "key_properties": ["Id"],
        "bookmark_properties": ["SystemModstamp"],
    }


@dataclass(frozen=True)
class Row:
    key: str
    name: str  # who sent it: unique per sent row, so a table row names its origin
    tick: int  # SystemModstamp, in seconds after EPOCH

    def record(self) -> dict:
        stamp = (EPOCH + timedelta(seconds=self.tick)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"Id": self.key, "Name": self.name, "SystemModstamp": stamp}


def _key(i: int) -> str:
    return f"k{i:06d}"


def _upserts(writer: str, keys: range, count: int, offset: int, spread: int = 3) -> list[Row]:
    """``count`` updates of ``keys`` in a shuffled-looking order, stamps rising: writer
    ``offset`` (0..spread-1) never shares a stamp with another writer, so the newest is one row."""
    step = 7 if len(keys) % 7 else 11
    return [
        Row(_key(keys[(j * step) % len(keys)]), f"{writer}-{j}", (j + 1) * spread + offset)
        for j in range(count)
    ]


def _lines(
    stream: str,
    rows: list[Row],
    *,
    state_every: int,
    version: int | None = None,
    activate: str | None = None,
) -> list[str]:
    """Singer input: SCHEMA, RECORDs with a STATE every ``state_every`` rows and at the end (its
    value names how many rows precede it), the ACTIVATE_VERSION ``first`` or ``last`` (Stitch)."""
    messages: list[dict] = [_schema(stream)]
    activation = {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}
    if activate == "first":
        messages.append(activation)
    for j, row in enumerate(rows, 1):
        record: dict = {"type": "RECORD", "stream": stream, "record": row.record()}
        if version is not None:
            record["version"] = version
        messages.append(record)
        if j % state_every == 0 or j == len(rows):
            messages.append({"type": "STATE", "value": {"sent": j}})
    if activate == "last":
        messages.append(activation)
    return [json.dumps(m) + "\n" for m in messages]


@dataclass
class Writer:
    """One ``target-events`` process; its stdin a pipe, so the test decides when input ends."""

    name: str
    stream: str
    rows: list[Row]
    process: subprocess.Popen
    folder: Path
    held: list[str]
    feeder: threading.Thread
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""

    def release(self) -> None:
        """The held-back rest of the input, then end of input."""
        self.feeder.join()
        _feed(self.process, self.held, close=True)
        self.held = []

    def printed_state(self) -> bool:
        return (self.folder / "stdout").stat().st_size > 0

    @property
    def acknowledged(self) -> list[Row]:
        """The rows before the last STATE the writer passed on."""
        states = [json.loads(line) for line in self.stdout.splitlines() if line.strip()]
        return self.rows[: states[-1]["sent"]] if states else []

    def wait(self) -> Writer:
        self.release()
        self.returncode = self.process.wait(timeout=600)  # a hang, not a timing: never reached
        self.stdout = (self.folder / "stdout").read_text()
        self.stderr = (self.folder / "stderr").read_text(errors="replace")
        return self

    def check_exit(self) -> None:
        """0, or one line naming the stream (the last on stderr; no traceback anywhere)."""
        assert "Traceback" not in self.stderr, f"{self.name}: {self.stderr}"
        if self.returncode != 0:
            last = self.stderr.strip().splitlines()[-1]
            assert last.startswith("target-events: "), f"{self.name}: {self.stderr}"
            assert f"'{self.stream}'" in last, f"{self.name}: {last}"


def _start(
    tmp_path: Path,
    name: str,
    stream: str,
    rows: list[Row],
    config: dict,
    *,
    hold: float = 0.0,
    **kw: object,
) -> Writer:
    """Start a writer and give it its input, but for the last ``hold`` share (see ``release``)."""
    folder = tmp_path / f"writer-{name}"
    folder.mkdir()
    lines = _lines(stream, rows, **kw)  # type: ignore[arg-type]
    cut = len(lines) - int(len(lines) * hold)
    (folder / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (folder / "stdout").open("wb") as stdout, (folder / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [*TARGET, "--config", str(folder / "config.json")],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env=env,
        )
    # A thread feeds it: the pipe takes what the writer reads, and the writers run side by side.
    feeder = threading.Thread(target=_feed, args=(process, lines[:cut]), kwargs={"close": not hold})
    feeder.start()
    return Writer(name, stream, rows, process, folder, lines[cut:], feeder)


def _feed(process: subprocess.Popen, lines: list[str], *, close: bool = False) -> None:
    stdin = process.stdin
    assert stdin is not None
    if stdin.closed:
        return
    try:
        stdin.write("".join(lines).encode())
        stdin.flush()
    except BrokenPipeError:
        pass  # the writer failed before reading on: its exit is checked
    finally:
        if close:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()


def _config(out: Path, **extra: object) -> dict:
    return {"destination": str(out), "format": "delta", "qa_mode": "off", **extra}


def _read(path: Path) -> list[Row]:
    rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return [
        Row(r["Id"], r["Name"], int((r["SystemModstamp"] - EPOCH).total_seconds())) for r in rows
    ]


def _newest(rows: list[Row]) -> dict[str, Row]:
    """Per key the newest row by stamp (stamps never tie across writers; within one the later)."""
    newest: dict[str, Row] = {}
    for row in rows:
        if row.key not in newest or row.tick >= newest[row.key].tick:
            newest[row.key] = row
    return newest


def _assert_upserted(table: list[Row], base: list[Row], writers: list[Writer]) -> None:
    """The table is ``base`` with each writer's committed rows merged in, newest stamp winning.

    A writer that exited 0 committed every row (its input ends with a STATE); one that failed
    committed at least what it acknowledged and at most what it sent: for every key the table
    must hold a row sent for it that is not older than anything it must hold."""
    keys = [row.key for row in table]
    assert len(keys) == len(set(keys)), "a key is in the table twice"
    required = list(base)
    possible = list(base)
    for writer in writers:
        if writer.returncode == 0:
            assert len(writer.acknowledged) == len(writer.rows), writer.name
        required += writer.acknowledged
        possible += writer.rows
    must, may = _newest(required), {(r.key, r.name) for r in possible}
    got = {row.key: row for row in table}
    lost = sorted(set(must) - set(got))
    assert not lost, f"{len(lost)} acknowledged keys missing, e.g. {lost[:5]}"
    for key, row in got.items():
        assert (key, row.name) in may, f"{row} was never sent for its key"
        assert key not in must or row.tick >= must[key].tick, (
            f"{key}: the table holds {row.name} (stamp {row.tick}), older than the acknowledged"
            f" {must[key].name} (stamp {must[key].tick})"
        )
    if all(writer.returncode == 0 for writer in writers):
        assert got == _newest(possible)


def _seed(tmp_path: Path, out: Path, rows: list[Row]) -> None:
    writer = _start(tmp_path, "seed", "Account", rows, _config(out), state_every=len(rows)).wait()
    assert writer.returncode == 0, writer.stderr


def _wait_until(done: Callable[[], bool], *writers: Writer) -> None:
    """Until ``done`` or one of ``writers`` ended: an ordering of events, not a timing."""
    while not done() and all(w.process.poll() is None for w in writers):
        time.sleep(0.02)


def _staged(out: Path, count: int = 1) -> Callable[[], bool]:
    """True once ``count`` staging tables of Account exist (a full refresh staged rows)."""
    return lambda: len(list((out / "_versions" / "Account").glob("*/_delta_log"))) >= count


# 1. Different streams at once: each its own table.
def test_writers_of_different_streams_at_once_each_land_their_own_table(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    config = _config(out, max_batch_rows=50)
    streams = ["Account", "Contact", "Lead"]
    writers = [
        _start(tmp_path, s, s, _upserts(s, range(300), 600, 0), config, state_every=25)
        for s in streams
    ]
    for writer in writers:
        writer.wait().check_exit()
        assert writer.returncode == 0, writer.stderr  # nothing shared: no reason to fail
    for writer in writers:
        _assert_upserted(_read(out / writer.stream), [], [writer])


# 2. One keyed stream at once: incremental upserts of disjoint and overlapping keys.
def test_writers_of_one_keyed_stream_at_once_keep_the_newest_row_of_every_key(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"  # no table yet: the writers race to create it too
    config = _config(out, max_batch_rows=50)
    ranges = {"A": range(400), "B": range(200, 600), "C": range(300, 360)}
    writers = [
        _start(tmp_path, name, "Account", _upserts(name, keys, 800, offset), config, state_every=25)
        for offset, (name, keys) in enumerate(ranges.items())
    ]
    for writer in writers:
        writer.wait().check_exit()
    _assert_upserted(_read(out / "Account"), [], writers)


# 3a. A full refresh while another writer upserts the same stream.
@pytest.mark.parametrize("activate", ["first", "last"])
def test_full_refresh_while_another_writer_upserts_loses_nothing_acknowledged(
    tmp_path: Path, activate: str
) -> None:
    """The refresh has staged rows (its refresh began) and is held there until the upserting
    writer has acknowledged a commit: the refresh must then refuse, or keep that commit."""
    out = tmp_path / "lake"
    old = [Row(_key(i), f"old-{i}", 1) for i in range(300)]
    _seed(tmp_path, out, old)
    version = 1_700_000_000_000
    refresh_rows = _upserts("F", range(3000), 4000, 0, spread=2)
    refresh = _start(
        tmp_path,
        "F",
        "Account",
        refresh_rows,
        _config(out, max_batch_rows=500),
        hold=0.5,
        state_every=500,
        version=version,
        activate=activate,
    )
    _wait_until(_staged(out), refresh)
    upsert = _start(
        tmp_path,
        "I",
        "Account",
        _upserts("I", range(200, 3200), 600, 1, spread=2),
        _config(out, max_batch_rows=50),
        state_every=25,
    )
    _wait_until(upsert.printed_state, upsert, refresh)
    refresh.wait().check_exit()
    upsert.wait().check_exit()
    table = _read(out / "Account")
    if refresh.returncode == 0:
        _assert_upserted(table, list(_newest(refresh_rows).values()), [upsert])
    else:
        _assert_upserted(table, old, [upsert])  # the refresh left the table as it was
        _assert_kept_staged(out, refresh, version, activate)


def _assert_kept_staged(out: Path, writer: Writer, version: int | None, activate: str) -> None:
    """A failed refresh acknowledged nothing (STATE held while the replacement is owed), or,
    in the Stitch order, only rows its version's staging table keeps for the rerun."""
    if activate != "last":
        assert writer.stdout == "", f"{writer.name} passed STATE on and failed"
        return
    must = _newest(writer.acknowledged)
    if must:
        staged = {row.key: row for row in _read(out / "_versions" / "Account" / f"v{version}")}
        stale = [k for k, row in must.items() if k not in staged or staged[k].tick < row.tick]
        assert not stale, f"{writer.name}: acknowledged rows not staged, e.g. {stale[:5]}"


# 3b. Two full refreshes of one stream at once, the second started a little later.
@pytest.mark.parametrize(("activate", "delay"), [("first", 0.3), ("last", 0.6), ("config", 0.9)])
def test_two_full_refreshes_at_once_leave_exactly_one_version(
    tmp_path: Path, activate: str, delay: float
) -> None:
    """The issue's case: 20k rows each in flushes of 2000, B started ``delay`` s after A; A's
    last quarter is held until B has staged rows, so the two refreshes surely overlap.
    ``config``: ``full_refresh_streams`` instead of ACTIVATE_VERSION."""
    out = tmp_path / "lake"
    old = [Row(_key(i), f"old-{i}", 1) for i in range(0, 30_000, 7)]
    _seed(tmp_path, out, old)
    versions = {"A": 1_700_000_000_001, "B": 1_700_000_000_002}
    rows = {
        "A": [Row(_key(i), f"A-{i}", 10 + i) for i in range(20_000)],
        "B": [Row(_key(i), f"B-{i}", 5 + i) for i in range(5_000, 25_000)],
    }
    writers: list[Writer] = []
    for name, hold in (("A", 0.25), ("B", 0.0)):
        if writers:
            time.sleep(delay)
        if activate == "config":
            config = _config(out, max_batch_rows=2000, full_refresh_streams=["Account"])
            kw: dict = {}
        else:
            config = _config(out, max_batch_rows=2000)
            kw = {"version": versions[name], "activate": activate}
        writers.append(
            _start(tmp_path, name, "Account", rows[name], config, hold=hold, state_every=1000, **kw)
        )
    _wait_until(_staged(out, 2), *writers)
    for writer in writers:
        writer.wait().check_exit()
    table = sorted((r.key, r.name) for r in _read(out / "Account"))
    kept = [w for w in writers if table == sorted((r.key, r.name) for r in rows[w.name])]
    assert kept, f"the table is neither version: {len(table)} rows, e.g. {table[:3]}"
    assert kept[0].returncode == 0, "the version in the table is of a run that failed"
    for writer in writers:
        if writer.returncode == 0:
            assert len(writer.acknowledged) == len(writer.rows), writer.name
        else:
            _assert_kept_staged(out, writer, versions[writer.name], activate)

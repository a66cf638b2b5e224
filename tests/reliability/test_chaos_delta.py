"""Chaos on Delta (issue #25, "lake loses nothing"): the TARGET alone is SIGKILLed at random
points of a generated Singer stream and restarted the way a scheduler does, until a run completes
after the last kill; the tables are then read with ``deltalake`` itself and compared with what the
stream says they must hold, computed here independently of the target.

The upstream is a model of a Singer tap resuming from STATE: the stream is cut in segments, each
ending in a STATE naming it, and grouped in syncs (tap runs, each ending in EOF). A run delivers
the SCHEMAs, then every segment after the last STATE the target printed, to the end of its sync.

The mix: a keyed incremental stream with a COMPOSITE key and a non-modstamp replication key
(``history_tracked_fields``: newer snapshots, re-sent older copies, equal-stamp re-deliveries,
tombstones by ``IsDeleted: true`` and by ``_sdc_deleted_at`` alone); a full-table stream in the
Stitch order (RECORDs with ``version``, STATE, ..., ACTIVATE_VERSION last, a version spanning
segments and syncs, so kills fall inside it and it is resumed by the next run); and one in the
singer-sdk order (ACTIVATE_VERSION first, then its RECORDs, within one sync). Kills are triggered
by the target's own progress (new Delta commits), never by the clock, so a busy CPU moves them but
cannot make the test fail.

At every kill point each table (streams, staging versions, remembered deletions) must read, the
composite-key table must hold each key once, and a full-table stream's table must be exactly one
whole activated version (readers never see half a refresh).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[2]
TARGET = [sys.executable, "-c", "from target_events.console import main; main()"]
KILLS = 5
KILLS_PER_SYNC = 2  # kills spread over syncs: the stream stops after the sync of the last kill
SYNCS, SEGMENTS_PER_SYNC = 6, 5  # syncs at most
HISTORY, STITCH, SDK = "history_tracked_fields", "Account", "User"
KEY = ("object_name", "field_name")
BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _stamp(tick: int) -> str:
    return (BASE + dt.timedelta(seconds=tick)).strftime("%Y-%m-%dT%H:%M:%SZ")


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


NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS = [
    _schema(
        HISTORY,
        {
            "object_name": {"type": "string"},
            "field_name": {"type": "string"},
            "tracked": {"type": ["boolean", "null"]},
            "note": {"type": ["string", "null"]},
            "snapshot_at": NULLABLE_TIME,
            "IsDeleted": {"type": ["boolean", "null"]},
            "_sdc_deleted_at": NULLABLE_TIME,
        },
        list(KEY),
        "snapshot_at",
    ),
    *(
        _schema(s, {"Id": {"type": "string"}, "Name": {"type": ["string", "null"]}}, ["Id"], None)
        for s in (STITCH, SDK)
    ),
]


@dataclass
class Stream:
    """The generated upstream: segments (each ending in its STATE) grouped in syncs."""

    segments: list[list[dict]] = field(default_factory=list)
    syncs: list[range] = field(default_factory=list)

    def messages(self) -> list[dict]:
        return [m for segment in self.segments for m in segment]

    def sync_end(self, segment: int) -> int:
        return next(s.stop for s in self.syncs if segment in s)


def _record(stream: str, record: dict, version: int | None = None) -> dict:
    message: dict = {"type": "RECORD", "stream": stream, "record": record}
    if version is not None:
        message["version"] = version
    return message


def _activate(stream: str, version: int) -> dict:
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


class History:
    """Composite-key events: new snapshots, re-sent older copies, ties and both tombstones."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.keys = [
            (o, f) for o in ("Account", "Case", "Lead") for f in ("Name", "Stage", "Owner")
        ]
        self.sent: dict[tuple[str, str], list[dict]] = {}
        self.tick = 0

    def event(self) -> dict:
        rng, key = self.rng, self.rng.choice(self.keys)
        earlier = self.sent.setdefault(key, [])
        names = dict(zip(KEY, key, strict=True))
        kind = rng.choices(["new", "resend", "tie", "is_deleted", "sdc_deleted"], [5, 3, 1, 1, 1])[
            0
        ]
        self.tick += rng.randint(0, 2)  # 0: a stamp another key (or this one) already has
        if kind == "resend" and earlier:
            record = dict(rng.choice(earlier))
        elif kind == "tie" and earlier:
            last = earlier[-1]
            stamp = last.get("snapshot_at") or last["_sdc_deleted_at"]
            record = {**names, "tracked": rng.random() < 0.5, "note": "tie", "snapshot_at": stamp}
        elif kind == "is_deleted":
            record = {**names, "IsDeleted": True, "snapshot_at": _stamp(self.tick), "note": "rip"}
        elif kind == "sdc_deleted":
            record = {**names, "_sdc_deleted_at": _stamp(self.tick)}
        else:
            record = {
                **names,
                "tracked": rng.random() < 0.5,
                "note": f"n{self.tick}",
                "snapshot_at": _stamp(self.tick),
            }
            if rng.random() < 0.5:
                record["IsDeleted"] = False
        earlier.append(record)
        return _record(HISTORY, record)


def generate(seed: int) -> Stream:
    """The stream of one seed (see the module doc)."""
    rng = random.Random(seed)
    history, stream, version = History(rng), Stream(), 1000
    ids = [f"{i:03d}" for i in range(30)]
    stitch_version, stitch_left = 0, 0  # the open version: its rows to send, those sent
    stitch_rows: list[str] = []
    stitch_sent: list[str] = []
    for _ in range(SYNCS):
        first = len(stream.segments)
        stream.syncs.append(range(first, first + SEGMENTS_PER_SYNC))
        sdk_starts = set(rng.sample(range(SEGMENTS_PER_SYNC - 2), rng.randint(1, 2)))
        sdk_version, sdk_rows = 0, []
        for n in range(SEGMENTS_PER_SYNC):
            head, body = [], [history.event() for _ in range(rng.randint(3, 7))]
            if stitch_left == 0:  # Stitch order: ACTIVATE_VERSION after the version's STATE
                if stitch_version:
                    head.append(_activate(STITCH, stitch_version))
                version += 1
                stitch_version, stitch_left = version, rng.randint(2, 6)
                stitch_rows, stitch_sent = rng.sample(ids, rng.randint(4, 18)), []
            take = len(stitch_rows) if stitch_left == 1 else rng.randint(0, len(stitch_rows))
            if stitch_sent and rng.random() < 0.4:  # a row of the version sent again
                body.append(_full(STITCH, rng.choice(stitch_sent), stitch_version))
            body += [_full(STITCH, i, stitch_version) for i in stitch_rows[:take]]
            stitch_sent += stitch_rows[:take]
            stitch_rows, stitch_left = stitch_rows[take:], stitch_left - 1
            if n in sdk_starts:  # singer-sdk order: ACTIVATE_VERSION first, then its records
                version += 1
                sdk_version, sdk_rows = version, rng.sample(ids, rng.choice([0, *range(6, 20)]))
                head.append(_activate(SDK, sdk_version))
            if sdk_version:
                whole = n == SEGMENTS_PER_SYNC - 1 or n + 1 in sdk_starts
                take = len(sdk_rows) if whole else rng.randint(0, len(sdk_rows))
                body += [_full(SDK, i, sdk_version) for i in sdk_rows[:take]]
                sdk_rows = sdk_rows[take:]
            rng.shuffle(body)  # streams interleave (the expectation reads the order sent)
            state = {"type": "STATE", "value": {"segment": first + n}}
            stream.segments.append([*head, *body, state])
    return stream


def _full(stream: str, key: str, version: int) -> dict:
    return _record(stream, {"Id": key, "Name": f"{key}@v{version}"}, version)


# -- what the tables must hold, computed from the stream alone --
def _history_stamp(record: dict) -> str:
    """A row's stamp: ``snapshot_at``, or for a tombstone without one its ``_sdc_deleted_at``."""
    return record.get("snapshot_at") or record["_sdc_deleted_at"]


def _dead(record: dict) -> bool:
    return bool(record.get("IsDeleted")) or record.get("_sdc_deleted_at") is not None


def expected_history(messages: list[dict]) -> dict[tuple, dict]:
    """Per key the newest row by stamp, on a tie the later one sent; gone when it is a tombstone
    (an older copy sent after a delete loses to the delete like to any newer row)."""
    newest: dict[tuple, tuple[str, int, dict]] = {}
    for position, message in enumerate(messages):
        if message["type"] != "RECORD" or message["stream"] != HISTORY:
            continue
        record = message["record"]
        key = tuple(record[k] for k in KEY)
        candidate = (_history_stamp(record), position, record)
        if key not in newest or candidate[:2] > newest[key][:2]:
            newest[key] = candidate
    return {key: _history_row(r) for key, (_, _, r) in newest.items() if not _dead(r)}


def _history_row(record: dict) -> dict:
    columns = ("tracked", "note", "snapshot_at", "IsDeleted", "_sdc_deleted_at")
    return {**{k: record[k] for k in KEY}, **{c: record.get(c) for c in columns}}


def versions(messages: list[dict], stream: str) -> dict[int, dict[str, str]]:
    """Every version's rows (Id -> Name, the last one sent winning)."""
    rows: dict[int, dict[str, str]] = {}
    for message in messages:
        if message.get("stream") != stream:
            continue
        names = rows.setdefault(message["version"], {})
        if message["type"] == "RECORD":
            names[message["record"]["Id"]] = message["record"]["Name"]
    return rows


def last_activated(messages: list[dict], stream: str) -> int | None:
    activated = [
        m["version"] for m in messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
    ]
    return activated[-1] if activated else None


# -- reading the lake with deltalake itself --
def _tables(out: Path) -> list[Path]:
    """Every Delta table under the destination: streams, staging versions, deletion memory."""
    if not out.exists():
        return []
    found = [p.parent for p in out.glob("*/_delta_log")]
    found += [p.parent for p in out.glob("_versions/*/*/_delta_log")]
    found += [p.parent for p in out.glob("_tombstones/*/_delta_log")]
    return found


def _read(table: Path) -> list[dict]:
    return DeltaTable(str(table)).to_pyarrow_table().to_pylist()


def _commits(out: Path) -> set[Path]:
    """Every commit file of every table (a listing per table: cheap enough to poll)."""
    return {
        table / "_delta_log" / name
        for table in _tables(out)
        for name in _listing(table / "_delta_log")
        if name.endswith(".json") and name[:1].isdigit()
    }


def _listing(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:  # a staging table removed meanwhile
        return []


def _iso(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def history_table(out: Path) -> list[dict]:
    path = out / HISTORY
    rows = _read(path) if (path / "_delta_log").exists() else []
    return [{k: _iso(v) for k, v in row.items()} for row in rows]


def full_table(out: Path, stream: str) -> dict[str, str] | None:
    """Id -> Name of a full-table stream's table (None: no table yet); an Id twice fails."""
    path = out / stream
    if not (path / "_delta_log").exists():
        return None
    rows = _read(path)
    names = {r["Id"]: r["Name"] for r in rows}
    assert len(names) == len(rows), f"{stream}: a key twice in {sorted(r['Id'] for r in rows)}"
    return names


def check_full_tables(out: Path, stream: Stream, delivered: list[dict]) -> None:
    """A full-table stream's table is one whole version that was activated (never half)."""
    for name in (STITCH, SDK):
        table = full_table(out, name)
        if table is None:
            continue
        activated = {
            m["version"]
            for m in delivered
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == name
        }
        whole = {v for v, rows in versions(stream.messages(), name).items() if rows == table}
        assert whole & activated, (
            f"{name}: the table is no whole activated version: {sorted(table.items())}"
        )


def check_kill_point(out: Path, stream: Stream, delivered: list[dict]) -> None:
    """What a killed run leaves: every table reads (no broken commit), each key once, and the
    full-table streams' tables whole activated versions."""
    for table in _tables(out):
        _read(table)
    rows = history_table(out)
    keys = [tuple(r[k] for k in KEY) for r in rows]
    assert len(keys) == len(set(keys)), f"{HISTORY}: a composite key twice"
    sent = [
        _history_row(m["record"])
        for m in delivered
        if m["type"] == "RECORD" and m["stream"] == HISTORY
    ]
    assert all(row in sent for row in rows), f"{HISTORY}: a row never sent"
    check_full_tables(out, stream, delivered)


# -- the scheduler: run the target, kill it, restart from its last STATE --
@dataclass
class Attempt:
    states: list[dict]
    killed: bool
    returncode: int
    stderr: str


@dataclass
class Watch:
    """Polls the lake while the target runs, as a reader would: counts new commits (the kill
    trigger) and checks each new commit of a full-table stream's table as it appears."""

    out: Path
    stream: Stream
    delivered: list[dict]
    seen: set[Path] = field(default_factory=set)
    views: int = 0

    def new_commits(self) -> int:
        now = _commits(self.out)
        fresh = now - self.seen
        if any(
            p.parent.parent.name in (STITCH, SDK) and p.parent.parent.parent == self.out
            for p in fresh
        ):
            check_full_tables(self.out, self.stream, self.delivered)
            self.views += 1
        self.seen |= fresh
        return len(fresh)


def run_target(config: Path, lines: bytes, watch: Watch, kill_after: int | None) -> Attempt:
    """One target run fed ``lines``; SIGKILLed once ``kill_after`` new Delta commits appeared
    (None: never). Only whole STATE lines count as printed."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    stderr = config.with_suffix(".stderr")
    watch.new_commits()
    with stderr.open("wb") as errors:
        target = subprocess.Popen(
            [*TARGET, "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        printed: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(target.stdout, printed))
        feeder = threading.Thread(target=_feed, args=(target.stdin, lines))
        reader.start()
        feeder.start()
        killed, commits = False, 0
        while target.poll() is None:
            commits += watch.new_commits()
            if kill_after is not None and commits >= kill_after:
                target.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.01)
        target.wait(timeout=120)
        feeder.join()
        reader.join()
    watch.new_commits()
    text = b"".join(printed).decode()
    whole = text[: text.rfind("\n") + 1]  # a line cut by the kill was never printed
    states = [json.loads(line) for line in whole.splitlines() if line.strip()]
    return Attempt(states, killed, target.returncode, stderr.read_text(errors="replace"))


def _drain(pipe: IO[bytes], into: list[bytes]) -> None:
    with pipe:
        into.append(pipe.read())


def _feed(pipe: IO[bytes], lines: bytes) -> None:
    """Send the run's lines; a killed target's broken pipe ends it (the next run re-sends)."""
    with contextlib.suppress(OSError), pipe:
        pipe.write(lines)


def _lines(messages: list[dict]) -> bytes:
    return "".join(json.dumps(m) + "\n" for m in messages).encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_given_random_target_kills_when_restarting_from_its_state_then_the_lake_holds_exactly_the_stream(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed * 7919)
    stream = generate(seed)
    out = tmp_path / "lake"
    config = tmp_path / "target.json"
    config.write_text(
        json.dumps(
            {
                "destination": str(out),
                "format": "delta",
                "max_batch_rows": 6,
                "qa_mode": "off",
                "write_manifest": False,
            }
        )
    )
    resume, runs, kills = 0, 0, [0] * SYNCS
    delivered: list[dict] = []
    rates: list[float] = []  # commits per segment of the completed runs
    mid_version_resumes, refreshes_redone, completed = 0, 0, False
    watch = Watch(out, stream, delivered)
    while sum(kills) < KILLS or not completed:  # until a run completes after the last kill
        assert resume < len(stream.segments), f"the stream ended before {KILLS} kills: {kills}"
        end = stream.sync_end(resume)
        sync = resume // SEGMENTS_PER_SYNC
        messages = [*SCHEMAS, *(m for seg in stream.segments[resume:end] for m in seg)]
        delivered += messages
        # The kill point: a number of the run's commits, drawn under what a run makes (a run
        # that completes first is simply a completed run).
        budget = max(1, int(0.8 * min(rates, default=2.0) * (end - resume)))
        owed = sum(kills) < KILLS and kills[sync] < KILLS_PER_SYNC
        before = len(watch.seen)
        attempt = run_target(
            config, _lines(messages), watch, rng.randint(1, budget) if owed else None
        )
        runs += 1
        completed = not attempt.killed
        if attempt.killed:
            kills[sync] += 1
        else:
            assert attempt.returncode == 0, attempt.stderr[-3000:]
            rates.append((len(watch.seen) - before) / (end - resume))
        check_kill_point(out, stream, delivered)
        printed = [s["segment"] for s in attempt.states]
        assert printed == sorted(printed), f"STATE went backwards: {printed}"
        if printed:
            assert printed[0] >= resume, f"a STATE before the run's first segment: {printed}"
            resume = printed[-1] + 1
        if not attempt.killed:
            assert resume == end, f"a completed run held back its last STATE: {printed}"
        else:
            mid_version_resumes += resume < end and _open_stitch_version(stream, resume)
            refreshes_redone += _sdk_refresh_redone(out, stream, resume, end)

    messages = [m for seg in stream.segments[:resume] for m in seg]  # what was sent, whole
    got = {tuple(r[k] for k in KEY): r for r in history_table(out)}
    want = expected_history(messages)
    assert sorted(got) == sorted(want), f"{HISTORY}: keys differ"
    for key, row in want.items():
        assert got[key] == row, f"{HISTORY} {key}: {got[key]} != {row}"
    for name in (STITCH, SDK):
        version = last_activated(messages, name)
        table = full_table(out, name)
        want_rows = versions(messages, name)[version] if version is not None else {}
        assert (table or {}) == want_rows, f"{name}: not exactly version {version}"
    print(
        f"\ndelta chaos seed {seed}: kills {kills}, runs {runs}, resumed inside a Stitch"
        f" version {mid_version_resumes}, singer-sdk refreshes redone {refreshes_redone},"
        f" full-table views checked {watch.views}, history keys {len(want)} ({_mix(messages)})"
    )
    assert sum(kills) == KILLS


def _open_stitch_version(stream: Stream, segment: int) -> bool:
    """True when rows of a not yet activated Stitch version were sent before ``segment``."""
    before = [m for seg in stream.segments[:segment] for m in seg if m.get("stream") == STITCH]
    return bool(before) and before[-1]["type"] == "RECORD"


def _sdk_refresh_redone(out: Path, stream: Stream, resume: int, end: int) -> bool:
    """True when the kill left rows of a singer-sdk version staged that the next run re-sends
    with their ACTIVATE_VERSION (a refresh killed midway, redone)."""
    for segment in stream.segments[resume:end]:
        for message in segment:
            if message["type"] == "ACTIVATE_VERSION" and message["stream"] == SDK:
                staged = out / "_versions" / SDK / f"v{message['version']}" / "_delta_log"
                if staged.exists():
                    return True
    return False


def _mix(messages: list[dict]) -> str:
    """What the composite-key stream held: tombstones of each kind, older copies after one."""
    by_flag = older_after = by_stamp_only = 0
    deleted: dict[tuple, str] = {}
    for m in messages:
        if m["type"] != "RECORD" or m["stream"] != HISTORY:
            continue
        record, key = m["record"], tuple(m["record"][k] for k in KEY)
        if _dead(record):
            by_flag += bool(record.get("IsDeleted"))
            by_stamp_only += not record.get("IsDeleted")
            deleted[key] = max(deleted.get(key, ""), _history_stamp(record))
        elif key in deleted and _history_stamp(record) < deleted[key]:
            older_after += 1
    return (
        f"tombstones IsDeleted {by_flag}, _sdc_deleted_at only {by_stamp_only};"
        f" older live copies after a delete {older_after}"
    )

"""History mode (``lake_mode: history``) end to end: ``tap | target`` over simulated days.

Each day the synthetic org changes (updates, deletes), the tap runs incrementally with its
STATE carried over, and the previous day's output is delivered again; the history table, read
with ``deltalake``, must answer "as of" each past day with the org's state that day, and its
current rows must equal the org's current rows.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from target_events.lake.delta_history import as_of
from tests.helpers import TARGET, run_tap, run_target, singer_lines, tap_config, write_json

UTC = dt.timezone.utc


def _truth(org: SandboxOrg) -> dict[str, str]:
    table = org.org.table("Account")
    live = table.filter(pc.invert(pc.fill_null(table["IsDeleted"], False)))
    return dict(zip(live["Id"].to_pylist(), live["Name"].to_pylist(), strict=True))


def _mirror(rows: list[dict]) -> dict[str, str]:
    ids = [r["Id"] for r in rows]
    assert len(ids) == len(set(ids)), "one version per key at any time"
    return {r["Id"]: r["Name"] for r in rows}


def test_given_a_week_of_changes_then_the_history_table_answers_as_of_each_day(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    target["lake_mode_streams"] = {"Account": "history"}
    truths: list[tuple[dt.datetime, dict[str, str]]] = []
    state: dict | None = None
    previous = ""
    with SandboxOrg(seed=5, scale=20) as org:
        config = tap_config(org, objects=["Account"], include_deleted=True)
        for day in range(5):
            if day:
                time.sleep(
                    3.5
                )  # changes are stamped 2 s back, in whole seconds: after the last day
                names = sorted(_truth(org))
                org.changes.update(
                    "Account", {i: {"Name": f"day {day} {i}"} for i in names[day : day + 3]}
                )
                org.changes.delete("Account", [names[-day]])
            run = run_tap(tmp_path, config, state=state)
            assert run.returncode == 0, run.stderr[-2000:]
            state = run.last_state or state
            # Today's output, then yesterday's again: a re-delivered copy changes nothing.
            for stdin in (run.stdout, previous):
                landed = run_target(tmp_path, target, stdin)
                assert landed.returncode == 0, landed.stderr[-2000:]
            previous = run.stdout
            truths.append((dt.datetime.now(UTC), _truth(org)))
        current = _truth(org)
        accounts = org.org.table("Account")
        deleted = set(accounts.filter(pc.fill_null(accounts["IsDeleted"], False))["Id"].to_pylist())
    uri = str(out / "Account")
    for moment, truth in truths:
        assert _mirror(as_of(uri, moment).to_pylist()) == truth, moment
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    assert _mirror([r for r in rows if r["_is_current"]]) == current
    assert all(r["_valid_to"] is None for r in rows if r["_is_current"])
    assert {r["Id"] for r in rows if r["_is_deleted"]} == deleted
    assert sum(r["_is_deleted"] for r in rows) == len(deleted), "each delete is one event"
    before = _mirror(as_of(uri, truths[0][0] - dt.timedelta(days=3650)).to_pylist())
    assert before == {}, "nothing is valid before the records' stamps"
    # The same answers from the command line: JSON lines on stdout, or a Parquet file.
    config = write_json(tmp_path / "as-of.json", target)
    moment, truth = truths[2]
    at = moment.isoformat()
    shown = _as_of_cli(config, "Account", at)
    assert shown.returncode == 0, shown.stderr
    assert _mirror([json.loads(line) for line in shown.stdout.splitlines()]) == truth
    written = _as_of_cli(config, "Account", at, "--output", str(tmp_path / "day2.parquet"))
    assert written.returncode == 0, written.stderr
    assert _mirror(pq.read_table(tmp_path / "day2.parquet").to_pylist()) == truth


def _as_of_cli(config: Path, stream: str, at: str, *extra: str) -> subprocess.CompletedProcess:
    command = [TARGET, "as-of", "--config", str(config), "--stream", stream, "--at", at, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_given_a_stream_without_history_or_a_naive_moment_then_as_of_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    landed = run_target(tmp_path, target, singer_lines(ACCOUNT, _account("a", "a1", 10)))
    assert landed.returncode == 0, landed.stderr[-2000:]
    config = write_json(tmp_path / "as-of.json", target)
    cases = {
        "2026-01-01T00:00:00Z": ("Account", "keeps no history"),
        "2026-01-01T00:00:00": ("Account", "no time zone"),
    }
    for at, (stream, words) in cases.items():
        shown = _as_of_cli(config, stream, at)
        assert shown.returncode != 0
        assert words in shown.stderr, shown.stderr
    missing = _as_of_cli(config, "Contact", "2026-01-01T00:00:00Z")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "target-events: stream 'Contact': no Delta table at the destination"
    ]


def test_given_a_history_target_killed_between_commits_when_rerun_then_the_table_equals_an_unbroken_run(
    tmp_path: Path,
) -> None:
    """Meltano re-sends what no STATE covered: the killed run's commits and the rerun's merge
    into exactly the rows one unbroken run writes (merges on key and ``_valid_from``)."""
    messages = [ACCOUNT]
    for second in range(0, 40, 10):  # four versions of six keys, then two deletes
        messages += [_account(f"a{i}", f"v{second}", second + i) for i in range(6)]
    messages += [_account(f"a{i}", "gone", 50, IsDeleted=True) for i in (1, 4)]
    messages.append({"type": "STATE", "value": {"done": True}})
    lines = singer_lines(*messages)

    def config(name: str) -> dict:
        destination = str(tmp_path / name)
        return {"destination": destination, "format": "delta", "qa_mode": "off",
                "lake_mode": "history", "max_batch_rows": 3}  # fmt: skip

    unbroken = run_target(tmp_path, config("unbroken"), lines)
    assert unbroken.returncode == 0, unbroken.stderr[-2000:]
    killed_config = write_json(tmp_path / "killed.json", config("killed"))
    target = subprocess.Popen(
        [TARGET, "--config", str(killed_config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert target.stdin is not None
    target.stdin.write(singer_lines(*messages[:16]).encode())  # the input stays open
    target.stdin.flush()
    log = tmp_path / "killed" / "Account" / "_delta_log"
    deadline = time.monotonic() + 120  # a safety net: the commits come in seconds
    while len(list(log.glob("*.json"))) < 3:
        assert target.poll() is None, "the target ended with its input open"
        assert time.monotonic() < deadline, "no third commit after 120 s"
        time.sleep(0.01)
    target.send_signal(signal.SIGKILL)
    target.wait()
    rerun = run_target(tmp_path, config("killed"), lines)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    def rows(name: str) -> list[tuple]:
        table = DeltaTable(str(tmp_path / name / "Account")).to_pyarrow_table()
        columns = ["Id", "Name", "_valid_from", "_valid_to", "_is_current", "_is_deleted"]
        return sorted(tuple(r[c] for c in columns) for r in table.select(columns).to_pylist())

    assert rows("killed") == rows("unbroken")
    assert len(rows("unbroken")) == 6 * 4 + 2


def _account(key: str, name: str, second: int, **extra: object) -> dict:
    record = {"Id": key, "Name": name, "SystemModstamp": f"2026-01-01T00:00:{second:02d}Z"}
    return {"type": "RECORD", "stream": "Account", "record": {**record, **extra}}


ACCOUNT = {
    "type": "SCHEMA",
    "stream": "Account",
    "schema": {
        "type": "object",
        "properties": {
            "Id": {"type": "string"},
            "Name": {"type": ["string", "null"]},
            "IsDeleted": {"type": ["boolean", "null"]},
            "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "key_properties": ["Id"],
    "bookmark_properties": ["SystemModstamp"],
}


def test_given_versions_out_of_order_and_a_delete_then_each_takes_its_place_in_the_timeline(
    tmp_path: Path,
) -> None:
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    target["lake_mode"] = "history"
    runs = [
        [_account("a", "v30", 30), _account("a", "gone", 50, IsDeleted=True)],
        [_account("a", "v10", 10), _account("a", "v40", 40)],  # late, in between
        [_account("a", "v30", 30), _account("a", "v10", 10)],  # re-delivered: nothing changes
    ]
    versions = []
    for messages in runs:
        stdin = "\n".join(json.dumps(m) for m in [ACCOUNT, *messages]) + "\n"
        landed = run_target(tmp_path, target, stdin)
        assert landed.returncode == 0, landed.stderr[-2000:]
        versions.append(DeltaTable(str(tmp_path / "lake" / "Account")).version())
    assert versions[2] == versions[1], "a re-delivered copy makes no commit"
    uri = str(tmp_path / "lake" / "Account")
    at = {s: dt.datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (5, 10, 35, 45, 55)}
    names = {s: [r["Name"] for r in as_of(uri, moment).to_pylist()] for s, moment in at.items()}
    assert names == {5: [], 10: ["v10"], 35: ["v30"], 45: ["v40"], 55: []}
    rows = DeltaTable(uri).to_pyarrow_table().sort_by("_valid_from").to_pylist()
    assert [(r["Name"], r["_valid_to"].second) for r in rows] == [
        ("v10", 30),
        ("v30", 40),
        ("v40", 50),
        ("gone", 50),
    ]
    assert not any(r["_is_current"] for r in rows)


@pytest.mark.parametrize("order", ["stitch", "sdk"])
def test_given_a_full_table_version_then_keys_it_no_longer_holds_are_closed_and_history_kept(
    tmp_path: Path, order: str
) -> None:
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    target["lake_mode_streams"] = {"Account": "history"}
    first = [_account("a", "a1", 10), _account("b", "b1", 10), _account("c", "c1", 10)]
    versioned = [
        {**_account("a", "a2", 20), "version": 7},
        {**_account("b", "b1", 10), "version": 7},
    ]
    activate = {"type": "ACTIVATE_VERSION", "stream": "Account", "version": 7}
    second = [*versioned, activate] if order == "stitch" else [activate, *versioned]
    for messages in (first, second):
        stdin = "\n".join(json.dumps(m) for m in [ACCOUNT, *messages]) + "\n"
        landed = run_target(tmp_path, target, stdin)
        assert landed.returncode == 0, landed.stderr[-2000:]
    uri = str(tmp_path / "lake" / "Account")
    rows = (
        DeltaTable(uri)
        .to_pyarrow_table()
        .sort_by([("Id", "ascending"), ("_valid_from", "ascending")])
    )
    summary = [(r["Id"], r["Name"], r["_is_current"], r["_is_deleted"]) for r in rows.to_pylist()]
    assert summary == [
        ("a", "a1", False, False),
        ("a", "a2", True, False),
        ("b", "b1", True, False),
        ("c", "c1", False, False),
        ("c", None, False, True),
    ]
    old = as_of(uri, dt.datetime(2026, 1, 1, 0, 0, 15, tzinfo=UTC)).to_pylist()
    assert sorted(r["Name"] for r in old) == ["a1", "b1", "c1"]


def test_given_a_key_of_two_columns_and_a_struct_column_then_a_new_version_is_merged(
    tmp_path: Path,
) -> None:
    """``org_id_column``'s key (``_sdc_org_id, Id``) with a compound field (an object: a struct
    column): the batch's stored events are found by a join on the keys alone (Arrow's hash
    join refuses struct columns among the fields it carries)."""
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    target["lake_mode"] = "history"
    schema = json.loads(json.dumps(ACCOUNT))
    schema["key_properties"] = ["_sdc_org_id", "Id"]
    properties = schema["schema"]["properties"]
    properties["_sdc_org_id"] = {"type": ["string"]}
    properties["BillingAddress"] = {
        "type": ["object", "null"],
        "properties": {"city": {"type": ["string", "null"]}},
    }
    address = {"BillingAddress": {"city": "Oslo"}}
    runs = [
        [_account(k, "v1", 10, _sdc_org_id=org, **address) for org in ("x", "y") for k in "ab"],
        [_account("a", "v2", 20, _sdc_org_id="x", **address)],
    ]
    for messages in runs:
        landed = run_target(tmp_path, target, singer_lines(schema, *messages))
        assert landed.returncode == 0, landed.stderr[-2000:]
    rows = DeltaTable(str(tmp_path / "lake" / "Account")).to_pyarrow_table().to_pylist()
    current = sorted((r["_sdc_org_id"], r["Id"], r["Name"]) for r in rows if r["_is_current"])
    assert current == [("x", "a", "v2"), ("x", "b", "v1"), ("y", "a", "v1"), ("y", "b", "v1")]
    assert len(rows) == 5, "x/a's first version kept, closed"


def test_given_a_history_lake_keyed_by_id_when_org_id_column_is_turned_on_then_new_versions_merge(
    tmp_path: Path,
) -> None:
    """A history table written before ``org_id_column`` (key ``Id``) gains the key column first
    (nullable: the stored versions keep a null org id) and then merges versions by the new key;
    without it the stored events could not be read by the key."""
    target = {"destination": str(tmp_path / "lake"), "format": "delta", "qa_mode": "off"}
    target["lake_mode"] = "history"
    before = run_target(tmp_path, target, singer_lines(ACCOUNT, _account("a", "v1", 10)))
    assert before.returncode == 0, before.stderr[-2000:]
    by_org = json.loads(json.dumps(ACCOUNT))
    by_org["key_properties"] = ["_sdc_org_id", "Id"]
    by_org["schema"]["properties"]["_sdc_org_id"] = {"type": ["string"]}
    runs = [
        [_account("a", "v2", 20, _sdc_org_id="x"), _account("b", "v1", 20, _sdc_org_id="x")],
        [_account("a", "v3", 30, _sdc_org_id="x")],
    ]
    for messages in runs:
        landed = run_target(tmp_path, target, singer_lines(by_org, *messages))
        assert landed.returncode == 0, landed.stderr[-2000:]
    rows = DeltaTable(str(tmp_path / "lake" / "Account")).to_pyarrow_table().to_pylist()
    current = sorted((r["_sdc_org_id"] or "", r["Id"], r["Name"]) for r in rows if r["_is_current"])
    assert current == [("", "a", "v1"), ("x", "a", "v3"), ("x", "b", "v1")]
    assert len(rows) == 4, "x/a's first version kept, closed; the Id-keyed row a key of its own"

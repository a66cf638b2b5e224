"""Key reconciliation (``reconcile_deletes``) end to end: ``tap | target`` over simulated days.

Each day the synthetic org loses rows where no incremental read can see it: deleted more than 15
days back (the Recycle Bin already emptied), or hard-deleted past getDeleted's reach with the
delete log purged; soft deletes too, read with ``query`` only (``include_deleted`` off). The
tap's Id-only snapshot and the target's comparison must leave the lake equal to the org's live
rows: Delta deletes them, Parquet lands tombstones. A cadence not due reads nothing, and a
snapshot cut short (a killed tap) deletes nothing and does not move ``keys_reconciled_at``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.streams.key_snapshot import LIVE_KEYS, LIVE_KEYS_SCHEMA
from tests.helpers import TAP, run_tap, run_target, tap_config, tap_into_target, write_json
from tests.target.test_history_mode import ACCOUNT as HISTORY_ACCOUNT

UTC = dt.timezone.utc


def _truth(org: SandboxOrg) -> dict[str, str]:
    table = org.org.table("Account")
    live = table.filter(pc.invert(pc.fill_null(table["IsDeleted"], False)))
    return dict(zip(live["Id"].to_pylist(), live["Name"].to_pylist(), strict=True))


def _mirror(out: Path) -> dict[str, str]:
    rows = DeltaTable(str(out / "Account")).to_pyarrow_table(columns=["Id", "Name"]).to_pylist()
    return {r["Id"]: r["Name"] for r in rows}


def _lose_rows(org: SandboxOrg, day: int) -> list[str]:
    """Rows gone where incremental reads cannot see it; returns their Ids."""
    names = sorted(_truth(org))
    now = dt.datetime.now(UTC)
    past_bin, hard, soft = names[0], names[1], names[2]
    org.changes.delete("Account", [past_bin], at=now - dt.timedelta(days=20))
    gone = now.replace(microsecond=0) - dt.timedelta(days=16)
    org.changes.hard_delete("Account", [hard], at=gone)
    org.changes.purge_delete_log("Account", before=gone + dt.timedelta(seconds=1))
    org.changes.delete("Account", [soft])  # in the bin: queryAll would see it, query does not
    org.changes.update("Account", {names[3]: {"Name": f"day {day}"}})
    return [past_bin, hard, soft]


def _reconciled_at(state: dict | None) -> str | None:
    return ((state or {}).get("bookmarks", {}).get("Account") or {}).get("keys_reconciled_at")


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_given_deletes_past_the_recycle_bin_when_reconciling_always_then_the_delta_mirror_equals_the_org(
    tmp_path: Path, api_type: str
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    state: dict | None = None
    with SandboxOrg(seed=5, scale=40) as org:
        config = tap_config(org, objects=["Account"], reconcile_deletes="always", api_type=api_type)
        lost: list[str] = []
        for day in range(3):
            if day:
                time.sleep(3.5)  # changes are stamped 2 s back, in whole seconds
                lost += _lose_rows(org, day)
            run, landed = tap_into_target(tmp_path, config, target, state=state)
            state = run.last_state or state
            closing = [r for r in run.records(LIVE_KEYS) if r.get("complete")]
            assert [c["count"] for c in closing] == [len(_truth(org))]
            assert _reconciled_at(state) is not None
            assert _mirror(out) == _truth(org), f"day {day}"
        assert not set(lost) & set(_mirror(out))
        assert f"Account: {len(_truth(org))} live keys sent for reconciliation" in run.stderr
        assert "Account: 3 tombstones from key reconciliation" in landed.stderr


def test_given_a_weekly_cadence_when_not_due_then_nothing_is_read_until_a_week_has_passed(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    with SandboxOrg(seed=5, scale=40) as org:
        config = tap_config(org, objects=["Account"], reconcile_deletes={"Account": "weekly"})
        first, _ = tap_into_target(tmp_path, config, target)
        reconciled = _reconciled_at(first.last_state)
        assert reconciled is not None, "no reconciliation yet: due at once"
        time.sleep(3.5)
        lost = _lose_rows(org, 1)
        second = run_tap(tmp_path, config, state=first.last_state)
        assert second.returncode == 0, second.stderr[-2000:]
        assert second.records(LIVE_KEYS) == [], "not due: no Id read"
        assert _reconciled_at(second.last_state) == reconciled
        assert run_target(tmp_path, target, second.stdout).returncode == 0
        assert set(lost) <= set(_mirror(out)), "without a reconciliation the lake keeps them"
        # A week later (the last reconciliation 8 days back): due again.
        state = second.last_state
        assert state is not None
        week_ago = dt.datetime.now(UTC) - dt.timedelta(days=8)
        state["bookmarks"]["Account"]["keys_reconciled_at"] = week_ago.isoformat()
        third, _ = tap_into_target(tmp_path, config, target, state=state)
        assert _mirror(out) == _truth(org)
        assert _reconciled_at(third.last_state) not in (None, week_ago.isoformat())


def test_given_parquet_when_reconciling_then_tombstones_land_as_records_once(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "parquet", "qa_mode": "off"}
    state: dict | None = None
    snapshots = []
    with SandboxOrg(seed=5, scale=40) as org:
        config = tap_config(org, objects=["Account"], reconcile_deletes="always")
        lost: list[str] = []
        for day in range(3):  # day 1 loses rows; day 2 finds them tombstoned already
            if day == 1:
                time.sleep(3.5)
                lost = _lose_rows(org, day)
            run, _ = tap_into_target(tmp_path, config, target, state=state)
            state = run.last_state or state
            snapshots += [r["snapshot_at"] for r in run.records(LIVE_KEYS) if r.get("complete")]
    rows = pq.read_table(out / "Account").to_pylist()
    tombstones = [r for r in rows if r["_sdc_deleted_at"] is not None]
    assert sorted(r["Id"] for r in tombstones) == sorted(lost), "one tombstone per key, once"
    deleted_at = dt.datetime.fromisoformat(snapshots[1].replace("Z", "+00:00"))
    for row in tombstones:
        assert row["IsDeleted"] is True
        assert row["_sdc_deleted_at"] == deleted_at == row["SystemModstamp"]


def _kill_mid_snapshot(folder: Path, config: dict, state: dict) -> str:
    """The tap's stdout up to its kill, once it has started sending the key snapshot."""
    args = [TAP, "--config", str(write_json(folder / "config.json", config))]
    args += ["--state", str(write_json(folder / "state.json", state))]
    tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert tap.stdout is not None
    lines = []
    try:
        for line in tap.stdout:
            lines.append(line)
            message = json.loads(line)
            if message["type"] == "SCHEMA" and message["stream"] == LIVE_KEYS:
                break
    finally:
        tap.kill()
        tap.wait(30)
    return "".join(lines)


def test_given_a_snapshot_cut_short_then_nothing_is_deleted_and_the_state_does_not_move(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    with SandboxOrg(seed=5, scale=40) as org:
        config = tap_config(org, objects=["Account"], reconcile_deletes="always")
        first, _ = tap_into_target(tmp_path, config, target)
        state = first.last_state
        assert state is not None
        time.sleep(3.5)
        lost = _lose_rows(org, 1)
        before = _mirror(out)
        # A tap killed while the Id read's answer trickles in (a byte every 2 s).
        org.faults.slow_body, org.faults.slow_body_seconds = r"SELECT\+Id\+FROM\+Account", 2.0
        killed = _kill_mid_snapshot(tmp_path, config, state)
        org.faults.slow_body = None
        states = [json.loads(x)["value"] for x in killed.splitlines() if '"STATE"' in x]
        assert _reconciled_at(states[-1]) == _reconciled_at(state), "not advanced"
        assert run_target(tmp_path, target, killed).returncode == 0
        # A snapshot whose last half and closing record never arrived (lost with the tap).
        whole = run_tap(tmp_path, config, state=state)
        assert whole.returncode == 0, whole.stderr[-2000:]
        lines = whole.stdout.splitlines(keepends=True)
        keys = [n for n, x in enumerate(lines) if f'"stream":"{LIVE_KEYS}","record"' in x]
        cut = "".join(lines[: keys[len(keys) // 2]])
        landed = run_target(tmp_path, target, cut)
        assert landed.returncode == 0, landed.stderr[-2000:]
        mirror = _mirror(out)
        assert set(lost) <= set(mirror), "a partial snapshot deletes nothing"
        assert set(mirror) >= set(before)


def _account(key: str, second: int) -> dict:
    record = {"Id": key, "Name": key, "SystemModstamp": f"2026-01-01T00:00:{second:02d}.000Z"}
    return {"type": "RECORD", "stream": "Account", "record": record}


def _keys(*keys: str | None, count: int | None = None) -> list[dict]:
    at = "2026-01-01T00:00:30.000Z"
    records = [{"stream": "Account", "Id": key, "snapshot_at": at} for key in keys]
    records.append({"stream": "Account", "Id": None, "snapshot_at": at, "complete": True})
    records[-1]["count"] = len(keys) if count is None else count
    return [{"type": "RECORD", "stream": LIVE_KEYS, "record": r} for r in records]


ACCOUNT = copy.deepcopy(HISTORY_ACCOUNT)
ACCOUNT["schema"]["properties"]["_sdc_deleted_at"] = {
    "type": ["string", "null"],
    "format": "date-time",
}
KEYS_SCHEMA = {
    "type": "SCHEMA",
    "stream": LIVE_KEYS,
    "schema": LIVE_KEYS_SCHEMA,
    "key_properties": ["stream", "Id"],
}


@pytest.mark.parametrize("lake_mode", ["current", "history"])
def test_given_keys_landed_after_the_snapshot_started_then_they_are_never_tombstoned(
    tmp_path: Path, lake_mode: str
) -> None:
    """a (stamp 10) and b (20) are in the snapshot's past; c (40) landed after it began."""
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off", "lake_mode": lake_mode}
    rows = [_account("a", 10), _account("b", 20), _account("c", 40)]
    wrong_count = [ACCOUNT, *rows, KEYS_SCHEMA, *_keys("a", count=5)]
    # Each object's snapshot starts with the same SCHEMA, possibly while another's is staged.
    first_key, closing = _keys("a")
    messages = [ACCOUNT, KEYS_SCHEMA, first_key, KEYS_SCHEMA, closing]
    for stdin in (wrong_count, messages):
        landed = run_target(tmp_path, target, "".join(json.dumps(m) + "\n" for m in stdin))
        assert landed.returncode == 0, landed.stderr[-2000:]
        table = DeltaTable(str(out / "Account")).to_pyarrow_table()
        if lake_mode == "history":
            table = table.filter(table["_is_current"])
        current = sorted(table["Id"].to_pylist())
        if stdin is wrong_count:
            assert current == ["a", "b", "c"], "a snapshot whose count is wrong changes nothing"
    assert current == ["a", "c"]
    assert "Account: 1 tombstones from key reconciliation" in landed.stderr, "b only, never c"
    assert not (out / LIVE_KEYS).exists(), "key snapshots are not landed"

"""Key reconciliation per org (issues #28 and #29): several orgs share one lake.

With ``org_id_column`` on, the tap's key snapshot names its org (``_sdc_org_id`` on every key
and on the closing record), so the target compares it with that org's rows only and its
tombstones carry the org id: org A's rows deleted for good leave the lake, org B's rows (even
those with the same Ids, as a sandbox copied from production has) stay. A snapshot and a lake
that disagree on naming the org are refused in one warning line, and nothing is tombstoned.

End to end: two synthetic orgs (``tap | target`` each, reconciling always) into one Delta lake,
current and history mode, and one Parquet lake; then the target alone with handmade messages for
the disagreements.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.discovery.org_column import ORG_ID_COLUMN, OrgStamp
from tap_salesforce_temporal.streams.key_snapshot import LIVE_KEYS, snapshot_schema
from tests.helpers import run_target, tap_config, tap_into_target
from tests.target.test_history_mode import ACCOUNT as HISTORY_ACCOUNT

UTC = dt.timezone.utc
Key = tuple[str, str]  # (org id, Id)


def live(org: SandboxOrg) -> set[Key]:
    """The org's live Accounts, as the lake keys them."""
    table = org.org.table("Account")
    alive = table.filter(pc.invert(pc.fill_null(table["IsDeleted"], False)))
    return {(org.org_id, key) for key in alive["Id"].to_pylist()}


def delta_keys(out: Path) -> set[Key]:
    """The (org, Id) keys of the Delta table's current rows."""
    table = DeltaTable(str(out / "Account")).to_pyarrow_table()
    if "_is_current" in table.column_names:
        table = table.filter(table["_is_current"])
    rows = zip(table[ORG_ID_COLUMN].to_pylist(), table["Id"].to_pylist(), strict=True)
    return set(rows)


def lose_rows(org: SandboxOrg, other: SandboxOrg) -> set[Key]:
    """Rows of ``org`` gone where no incremental read sees it: a soft delete past the Recycle
    Bin and a hard delete with the delete log purged; both Ids alive in ``other`` too."""
    names = sorted({key for _, key in live(org)} & {key for _, key in live(other)})
    now = dt.datetime.now(UTC)
    past_bin, hard = names[0], names[1]
    org.changes.delete("Account", [past_bin], at=now - dt.timedelta(days=20))
    gone = now.replace(microsecond=0) - dt.timedelta(days=16)
    org.changes.hard_delete("Account", [hard], at=gone)
    org.changes.purge_delete_log("Account", before=gone + dt.timedelta(seconds=1))
    return {(org.org_id, past_bin), (org.org_id, hard)}


def sync(tmp_path: Path, org: SandboxOrg, target: dict, states: dict[str, dict | None]) -> str:
    """One ``tap | target`` run of ``org`` (its own STATE); the target's stderr."""
    folder = tmp_path / org.org_id
    folder.mkdir(exist_ok=True)
    config = tap_config(
        org, objects=["Account"], org_id_column=True, reconcile_deletes="always", api_type="rest"
    )
    run, landed = tap_into_target(folder, config, target, state=states.get(org.org_id))
    states[org.org_id] = run.last_state or states.get(org.org_id)
    closing = [r for r in run.records(LIVE_KEYS) if r.get("complete")]
    assert [c[ORG_ID_COLUMN] for c in closing] == [org.org_id], "the closing record names its org"
    keys = [r for r in run.records(LIVE_KEYS) if not r.get("complete")]
    assert keys
    assert {r[ORG_ID_COLUMN] for r in keys} == {org.org_id}
    return landed.stderr


@pytest.fixture
def orgs() -> Iterator[tuple[SandboxOrg, SandboxOrg]]:
    """Org B is larger: the two share Ids (the synthetic orgs number their records alike, as a
    sandbox copied from production does) and B has more."""
    with SandboxOrg(seed=5, scale=40) as first, SandboxOrg(seed=6, scale=60) as second:
        a, b = {k for _, k in live(first)}, {k for _, k in live(second)}
        assert len(a & b) >= 2, "the two orgs share Ids"
        assert b - a, "B has Ids A has not"
        yield first, second


@pytest.mark.parametrize("lake_mode", ["current", "history"])
def test_given_two_orgs_in_one_delta_lake_when_one_loses_rows_then_only_its_rows_are_reconciled(
    tmp_path: Path, orgs: tuple[SandboxOrg, SandboxOrg], lake_mode: str
) -> None:
    first, second = orgs
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off", "lake_mode": lake_mode}
    states: dict[str, dict | None] = {}
    for org in orgs:
        stderr = sync(tmp_path, org, target, states)
        # Compared with its own rows only: B's extra Ids are not "gone" from A's snapshot.
        assert "Account: 0 tombstones from key reconciliation" in stderr, org.org_id
    assert delta_keys(out) == live(first) | live(second)
    time.sleep(3.5)  # changes are stamped 2 s back, in whole seconds
    lost = lose_rows(first, second)
    stderr = sync(tmp_path, first, target, states)
    assert "Account: 2 tombstones from key reconciliation" in stderr
    landed = delta_keys(out)
    assert not lost & landed, "org A's rows deleted for good are gone"
    assert landed == live(first) | live(second), "org B's rows (same Ids too) and A's others stay"
    assert {(second.org_id, key) for _, key in lost} <= landed
    stderr = sync(tmp_path, second, target, states)
    assert "Account: 0 tombstones from key reconciliation" in stderr
    assert delta_keys(out) == live(first) | live(second)


def test_given_two_orgs_in_one_parquet_lake_then_tombstones_land_for_the_org_that_lost_rows(
    tmp_path: Path, orgs: tuple[SandboxOrg, SandboxOrg]
) -> None:
    first, second = orgs
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "parquet", "qa_mode": "off"}
    states: dict[str, dict | None] = {}
    for org in orgs:
        sync(tmp_path, org, target, states)
    time.sleep(3.5)
    lost = lose_rows(first, second)
    for org in (*orgs, first):  # A's second run finds its keys tombstoned already
        sync(tmp_path, org, target, states)
    rows = pq.read_table(out / "Account").to_pylist()
    tombstones = {(r[ORG_ID_COLUMN], r["Id"]) for r in rows if r["_sdc_deleted_at"] is not None}
    count = sum(1 for r in rows if r["_sdc_deleted_at"] is not None)
    assert tombstones == lost, "org A's lost keys only, with A's org id"
    assert count == len(lost), "once each"


# -- the target alone: a snapshot and a lake that disagree on naming the org --

AT = "2026-01-01T00:00:30.000Z"
ORG_X, ORG_Y = "00D000000000001AAA", "00D000000000002AAA"


def account_schema(per_org: bool) -> dict:
    message: dict[str, Any] = copy.deepcopy(HISTORY_ACCOUNT)
    properties = message["schema"]["properties"]
    properties["_sdc_deleted_at"] = {"type": ["string", "null"], "format": "date-time"}
    if per_org:
        properties[ORG_ID_COLUMN] = {"type": ["string"]}
        message["key_properties"] = [ORG_ID_COLUMN, "Id"]
    return message


def account(key: str, org: str | None = None) -> dict:
    record = {"Id": key, "Name": key, "SystemModstamp": "2026-01-01T00:00:10.000Z"}
    if org is not None:
        record[ORG_ID_COLUMN] = org
    return {"type": "RECORD", "stream": "Account", "record": record}


def snapshot(*keys: str, org: str | None = None) -> list[dict]:
    """A whole key snapshot of Account as the tap sends it: its SCHEMA, keys, closing record."""
    stamp = OrgStamp(org) if org is not None else None
    records: list[dict[str, Any]] = [
        {"stream": "Account", "Id": key, "snapshot_at": AT} for key in keys
    ]
    records.append({"stream": "Account", "Id": None, "snapshot_at": AT, "complete": True})
    records[-1]["count"] = len(keys)
    if stamp is not None:
        records = [stamp.record(record) for record in records]
    head = snapshot_schema(stamp).to_dict()
    return [head, *({"type": "RECORD", "stream": LIVE_KEYS, "record": r} for r in records)]


def land(tmp_path: Path, target: dict, *messages: dict) -> str:
    landed = run_target(tmp_path, target, "".join(json.dumps(m) + "\n" for m in messages))
    assert landed.returncode == 0, landed.stderr[-2000:]
    return landed.stderr


def delta_rows(out: Path) -> list[tuple[str | None, str]]:
    table = DeltaTable(str(out / "Account")).to_pyarrow_table()
    orgs = table[ORG_ID_COLUMN].to_pylist() if ORG_ID_COLUMN in table.column_names else None
    return sorted(zip(orgs or [None] * table.num_rows, table["Id"].to_pylist(), strict=True))


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_given_org_keyed_rows_of_two_orgs_then_a_snapshot_tombstones_its_own_org_only(
    tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": fmt, "qa_mode": "off"}
    rows = [account(k, org) for org in (ORG_X, ORG_Y) for k in ("a", "b", "c")]
    land(tmp_path, target, account_schema(True), *rows)
    stderr = land(tmp_path, target, account_schema(True), *snapshot("a", "c", org=ORG_X))
    assert "Account: 1 tombstones from key reconciliation" in stderr
    if fmt == "delta":
        expected = [(o, k) for o in (ORG_X, ORG_Y) for k in "abc" if (o, k) != (ORG_X, "b")]
        assert delta_rows(out) == expected
        return
    landed = pq.read_table(out / "Account").to_pylist()
    dead = [(r[ORG_ID_COLUMN], r["Id"]) for r in landed if r["_sdc_deleted_at"] is not None]
    assert dead == [(ORG_X, "b")]


UNKEYED = {**account_schema(True), "key_properties": ["Id"]}
CASES = {
    # the lake has no org column; the stream now has one, and so has the snapshot
    "org snapshot, lake without the column": (
        (account_schema(False), account("a"), account("b")),
        (account_schema(True), *snapshot("a", org=ORG_X)),
        f"the key snapshot names org {ORG_X} but its Delta table has no {ORG_ID_COLUMN}",
    ),
    # the lake holds two orgs; a tap without org_id_column sends a snapshot naming none
    "snapshot without org, lake with the column": (
        (account_schema(True), account("a", ORG_X), account("b", ORG_X), account("b", ORG_Y)),
        (account_schema(False), *snapshot("a")),
        f"the key snapshot names no org but its Delta table has {ORG_ID_COLUMN}",
    ),
    # the stream has the column, but its key does not lead with it: a merge on Id alone
    "org snapshot, key without the column": (
        (UNKEYED, account("a", ORG_X), account("b", ORG_X)),
        (UNKEYED, *snapshot("a", org=ORG_X)),
        f"the key snapshot names org {ORG_X} but its key ['Id'] has no {ORG_ID_COLUMN}",
    ),
    # the stream's own SCHEMA and its snapshot disagree
    "org snapshot, stream without the column": (
        (account_schema(False), account("a"), account("b")),
        (account_schema(False), *snapshot("a", org=ORG_X)),
        f"the key snapshot names org {ORG_X} but the stream's SCHEMA has no {ORG_ID_COLUMN}",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_given_a_snapshot_and_a_lake_that_disagree_on_the_org_then_nothing_is_tombstoned(
    tmp_path: Path, case: str
) -> None:
    first, second, why = CASES[case]
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    land(tmp_path, target, *first)
    before = delta_rows(out)
    stderr = land(tmp_path, target, *second)
    warnings = [line for line in stderr.splitlines() if "Key reconciliation of Account" in line]
    assert len(warnings) == 1, stderr[-2000:]
    assert "skipped" in warnings[0]
    assert why in warnings[0]
    assert delta_rows(out) == before, "nothing tombstoned"
    assert "tombstones from key reconciliation" not in stderr

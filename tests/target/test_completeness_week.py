"""Issue #28's acceptance as one scenario: a simulated week of ``tap | target`` runs against the
synthetic org, with everything an incremental sync cannot see at once.

Each day the org changes: names updated, a row deleted 20 days back (the Recycle Bin already
emptied), a row hard-deleted with its delete log purged, a soft delete, an invoice hard-deleted,
and TODAY() moving a day (Invoice__c.Days_Overdue__c changes without SystemModstamp). The tap
runs with its STATE carried over, ``include_deleted``, ``reconcile_deletes: always`` and
``formula_fields: refresh``; each day's output is delivered twice (at-least-once) into two Delta
destinations, one current-state mirror and one history table. At the end the mirror must equal
the org's live rows exactly, and the history table, read "as of" each day, the org of that day.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from target_events.lake.delta_history import as_of
from tests.helpers import run_tap, run_target, tap_config

UTC = dt.timezone.utc
COLUMNS = {
    "Account": ("Name", "Industry"),
    "Invoice__c": ("Name", "Amount__c", "Status__c", "Project_Status__c", "Days_Overdue__c"),
}
FORMULAS = {"Project_Status__c", "Days_Overdue__c"}
DAYS = 7


def _org(org: SandboxOrg, name: str, *, formulas: bool = True) -> dict[str, tuple]:
    """The object's live rows: Id -> the compared columns (formulas left out when asked)."""
    table = org.org.table(name)
    live = table.filter(pc.invert(pc.fill_null(table["IsDeleted"], False)))
    columns = [c for c in COLUMNS[name] if formulas or c not in FORMULAS]
    values = [live[c].to_pylist() for c in ("Id", *columns)]
    return {row[0]: tuple(_plain(v) for v in row[1:]) for row in zip(*values, strict=True)}


def _lake(rows: list[dict], name: str, *, formulas: bool = True) -> dict[str, tuple]:
    columns = [c for c in COLUMNS[name] if formulas or c not in FORMULAS]
    ids = [row["Id"] for row in rows]
    assert len(ids) == len(set(ids)), f"{name}: a key twice"
    return {row["Id"]: tuple(_plain(row.get(c)) for c in columns) for row in rows}


def _plain(value: object) -> object:
    """Numbers compared as floats: the org holds decimals, the lake doubles or decimals."""
    return float(value) if isinstance(value, int | float) or hasattr(value, "as_tuple") else value


def _change(org: SandboxOrg, day: int) -> None:
    """One day of changes, several of them invisible to an incremental read."""
    now = dt.datetime.now(UTC)
    accounts = sorted(_org(org, "Account"))
    past_bin, hard, soft = accounts[0], accounts[1], accounts[2]
    org.changes.update("Account", {i: {"Name": f"day {day} {i}"} for i in accounts[3:5]})
    org.changes.delete("Account", [past_bin], at=now - dt.timedelta(days=20))
    gone = now.replace(microsecond=0) - dt.timedelta(days=16)
    org.changes.hard_delete("Account", [hard], at=gone)
    org.changes.purge_delete_log("Account", before=gone + dt.timedelta(seconds=1))
    org.changes.delete("Account", [soft])
    invoices = sorted(_org(org, "Invoice__c"))
    if len(invoices) > 2:
        org.changes.hard_delete("Invoice__c", [invoices[0]], at=gone)
        org.changes.purge_delete_log("Invoice__c", before=gone + dt.timedelta(seconds=1))
    org.changes.set_today(org.changes.today + dt.timedelta(days=1))


def test_given_a_week_of_invisible_changes_then_the_mirror_is_the_org_and_history_its_past(
    tmp_path: Path,
) -> None:
    current = {"destination": str(tmp_path / "current"), "format": "delta", "qa_mode": "off"}
    history = {**current, "destination": str(tmp_path / "history"), "lake_mode": "history"}
    days: list[tuple[dt.datetime, dict[str, dict[str, tuple]]]] = []
    state: dict | None = None
    with SandboxOrg(seed=5, scale=80) as org:
        config = tap_config(
            org,
            objects=list(COLUMNS),
            include_deleted=True,
            reconcile_deletes="always",
            formula_fields="refresh",
            formula_refresh="always",
        )
        for day in range(DAYS):
            if day:
                time.sleep(3.5)  # changes are stamped 2 s back, in whole seconds
                _change(org, day)
            run = run_tap(tmp_path, config, state=state)
            assert run.returncode == 0, run.stderr[-2000:]
            state = run.last_state or state
            for target in (current, history, current, history):  # each output delivered twice
                landed = run_target(tmp_path, target, run.stdout)
                assert landed.returncode == 0, landed.stderr[-2000:]
            truth = {name: _org(org, name, formulas=False) for name in COLUMNS}
            days.append((dt.datetime.now(UTC), truth))
        final = {name: _org(org, name) for name in COLUMNS}
    for name in COLUMNS:
        mirror = DeltaTable(str(tmp_path / "current" / name)).to_pyarrow_table().to_pylist()
        assert _lake(mirror, name) == final[name], f"{name}: the mirror is not the org"
        uri = str(tmp_path / "history" / name)
        rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
        assert _lake([r for r in rows if r["_is_current"]], name) == final[name]
        for moment, truth in days:
            then = as_of(uri, moment).to_pylist()
            assert _lake(then, name, formulas=False) == truth[name], f"{name} as of {moment}"
    assert len(final["Account"]) < len(days[0][1]["Account"]), "rows were lost along the week"

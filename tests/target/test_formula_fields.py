"""Formula fields (``formula_fields``) end to end: ``tap | target`` in Delta mode while the org's
TODAY() moves a week, which changes Invoice__c.Days_Overdue__c without moving SystemModstamp.

``refresh`` (cadence ``always``) re-reads the rows, so the mirror's formula columns equal the
org's current values; ``include`` keeps the values read with each row, stale (asserted: the test
can fail); ``exclude`` leaves the formula columns out of the table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from tests.helpers import tap_config, tap_into_target

FORMULAS = ("Project_Status__c", "Days_Overdue__c")


def _org_values(org: SandboxOrg) -> dict[str, tuple]:
    table = org.org.table("Invoice__c")
    columns = [table[name].to_pylist() for name in ("Id", *FORMULAS)]
    return {row[0]: tuple(row[1:]) for row in zip(*columns, strict=True)}


def _mirror(out: Path) -> dict[str, tuple]:
    rows = DeltaTable(str(out / "Invoice__c")).to_pyarrow_table().to_pylist()
    return {r["Id"]: tuple(r.get(name) for name in FORMULAS) for r in rows}


@pytest.mark.parametrize(
    ("mode", "batches"),
    [("refresh", False), ("refresh", True), ("include", False), ("exclude", False)],
)
def test_given_today_moving_a_week_then_formula_columns_are_fresh_stale_or_absent(
    tmp_path: Path, mode: str, batches: bool
) -> None:
    """``batches``: the tap writes Parquet BATCH files of its own (re-read rows in files that
    never move the bookmark)."""
    out = tmp_path / "lake"
    target = {"destination": str(out), "format": "delta", "qa_mode": "off"}
    with SandboxOrg(seed=5, scale=40) as org:
        config = tap_config(
            org, objects=["Invoice__c"], formula_fields=mode, formula_refresh="always"
        )
        if batches:
            config["batch_config"] = {
                "encoding": {"format": "parquet", "compression": "none"},
                "storage": {"root": (tmp_path / "batches").as_uri()},
                "batch_size": 5,
            }
        first, _ = tap_into_target(tmp_path, config, target)
        newest = max(org.org.table("Invoice__c")["SystemModstamp"].to_pylist())
        before = _org_values(org)
        org.changes.set_today(org.changes.today + dt.timedelta(days=7))
        after = _org_values(org)
        assert before != after, "the week changes some formula values"
        second, _ = tap_into_target(tmp_path, config, target, state=first.last_state)
    bookmarks = [s["bookmarks"]["Invoice__c"] for s in (first.last_state, second.last_state)]
    # Every row read: the bookmark is the newest stamp, and the re-read moved it nowhere.
    assert bookmarks[0]["replication_key_value"] == newest.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert bookmarks[1]["replication_key_value"] == bookmarks[0]["replication_key_value"]
    columns = DeltaTable(str(out / "Invoice__c")).to_pyarrow_table().column_names
    if mode == "exclude":
        assert not set(FORMULAS) & set(columns)
        assert "formulas_refreshed_at" not in bookmarks[1]
        return
    mirror = _mirror(out)
    if mode == "refresh":
        assert mirror == after
        assert bookmarks[1]["formulas_refreshed_at"] > bookmarks[0]["formulas_refreshed_at"]
        assert f"Invoice__c: {len(after):,} rows re-read for formula fields" in second.stderr
    else:
        assert mirror == before != after, "include: the values read with each row, stale"
        assert "formulas_refreshed_at" not in bookmarks[1]

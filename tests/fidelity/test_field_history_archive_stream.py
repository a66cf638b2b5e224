"""FieldHistoryArchive (Field Audit Trail) is read within big-object rules: one REST query per
FieldHistoryType (the index's first field), never COUNT() (the org answers 400) nor a Bulk job
(INVALIDENTITY), incremental by CreatedDate with one bookmark per type."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

ARCHIVE = "FieldHistoryArchive"


def _bookmarks(state: dict) -> dict[str, str]:
    partitions = state["bookmarks"][ARCHIVE]["partitions"]
    return {
        p["context"]["FieldHistoryType"]: p["replication_key_value"]
        for p in partitions
        if p.get("replication_key_value")  # types with no archived rows have none
    }


def test_given_field_audit_trail_when_syncing_twice_then_the_archive_is_read_incrementally(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=5, scale=10, field_audit_trail=True) as org:
        everything = {
            row["Id"]: row["CreatedDate"]
            for row in org.org.table(ARCHIVE).select(["Id", "CreatedDate"]).to_pylist()
        }
        middle = sorted(everything.values())[len(everything) // 2]
        end = middle.replace(tzinfo=dt.timezone.utc).isoformat()
        # Bulk and auto would create a job or COUNT() first: the org refuses both, the run fails.
        first = run_tap(tmp_path, tap_config(org, objects=[ARCHIVE], api_type="bulk", end_date=end))
        assert first.returncode == 0, first.stderr
        marks = _bookmarks(first.last_state or {})
        assert set(marks) >= {"Account", "Case", "Opportunity"}  # from *History objects
        early = {r["Id"] for r in first.records(ARCHIVE)}
        assert early
        assert len(early) < len(everything)
        for kind, mark in marks.items():  # each type's bookmark: the latest row it emitted
            assert mark == max(
                r["CreatedDate"] for r in first.records(ARCHIVE) if r["FieldHistoryType"] == kind
            )
        second = run_tap(
            tmp_path,
            tap_config(org, objects=[ARCHIVE], api_type="auto"),
            state=first.last_state,
        )
        assert second.returncode == 0, second.stderr
        late = second.records(ARCHIVE)
        assert early | {r["Id"] for r in late} == set(everything)
        # Only what the first run had not read (ties at a bookmark are re-sent: at-least-once).
        assert all(r["CreatedDate"] >= marks[r["FieldHistoryType"]] for r in late)
        assert len(late) < len(everything)
        assert not [path for _, path, _ in org.requests if "/jobs/" in path]
        # The archive's rows are not live history: no events are derived from them.
        assert not second.records("micro_decision_events")


def test_given_no_field_audit_trail_then_the_archive_is_skipped_as_before(tmp_path: Path) -> None:
    with SandboxOrg(seed=5, scale=5) as org:
        run = run_tap(tmp_path, tap_config(org, objects=[ARCHIVE, "Account"]))
        assert run.returncode == 0, run.stderr
        assert "Object FieldHistoryArchive is not queryable by this user; skipped" in run.stderr
        assert not run.records(ARCHIVE)
        assert len(run.records("Account")) == org.count("Account")

"""Incremental replication: STATE, resumption, windows, and identical records over REST and Bulk."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from synthetic_org import SandboxOrg
from tests.helpers import TAP, run_tap, tap_config, write_json

HISTORY = ["Opportunity", "OpportunityFieldHistory", "OpportunityHistory"]


def _ids(records: list[dict]) -> Counter:
    return Counter(r["Id"] for r in records)


def test_given_a_full_run_when_the_org_changes_then_the_next_run_emits_only_what_changed(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(small_org, objects=HISTORY)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    before = {name: {r["Id"]: r for r in first.records(name)} for name in HISTORY}
    assert len(before["OpportunityFieldHistory"]) == small_org.count("OpportunityFieldHistory")

    touched = small_org.advance(opportunities=3)
    assert touched > 0
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr

    def bookmark(name: str) -> str:
        return first.last_state["bookmarks"][name]["replication_key_value"]

    # Rows at exactly the bookmark are read again (>=): at-least-once, never a gap.
    changed = [
        r for r in second.records("Opportunity") if r["SystemModstamp"] > bookmark("Opportunity")
    ]
    assert len(changed) == touched
    assert all(before["Opportunity"][r["Id"]]["StageName"] != r["StageName"] for r in changed)
    assert all(
        r["SystemModstamp"] == bookmark("Opportunity")
        for r in second.records("Opportunity")
        if r not in changed
    )
    history = second.records("OpportunityFieldHistory")
    fresh = [r for r in history if r["Id"] not in before["OpportunityFieldHistory"]]
    assert len(fresh) == touched
    assert all(
        r["CreatedDate"] == bookmark("OpportunityFieldHistory") for r in history if r not in fresh
    )
    full = run_tap(tmp_path, config)
    for name in HISTORY:
        union = {**before[name], **{r["Id"]: r for r in second.records(name)}}
        assert union == {r["Id"]: r for r in full.records(name)}, name


def test_given_rows_sharing_the_boundary_timestamp_when_split_across_runs_then_none_is_lost(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    table = small_org.org.table("OpportunityFieldHistory")
    counts = pc.value_counts(table["CreatedDate"]).to_pylist()
    shared = sorted(c["values"] for c in counts if c["counts"] > 1)
    boundary = shared[len(shared) // 2]
    end_date = boundary.strftime("%Y-%m-%dT%H:%M:%SZ")
    config = tap_config(small_org, objects=["OpportunityFieldHistory"])
    first = run_tap(tmp_path, {**config, "end_date": end_date})
    assert first.returncode == 0, first.stderr
    assert all(
        r["CreatedDate"] < boundary.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for r in first.records("OpportunityFieldHistory")
    )
    second = run_tap(tmp_path, config, state=first.last_state)
    union = set(_ids(first.records("OpportunityFieldHistory"))) | set(
        _ids(second.records("OpportunityFieldHistory"))
    )
    assert len(union) == small_org.count("OpportunityFieldHistory")
    at_boundary = [
        r
        for r in second.records("OpportunityFieldHistory")
        if r["CreatedDate"] == boundary.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ]
    assert len(at_boundary) >= 2


def test_given_a_lookback_window_when_running_incrementally_then_rows_before_the_bookmark_are_reread(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(small_org, objects=["OpportunityFieldHistory"])
    first = run_tap(tmp_path, config)
    bookmark = first.last_state["bookmarks"]["OpportunityFieldHistory"]["replication_key_value"]
    second = run_tap(tmp_path, {**config, "lookback_window": 30 * 86400}, state=first.last_state)
    assert second.records("OpportunityFieldHistory"), (
        "rows inside the lookback window are read again"
    )
    assert all(r["CreatedDate"] <= bookmark for r in second.records("OpportunityFieldHistory"))
    final = second.last_state["bookmarks"]["OpportunityFieldHistory"]["replication_key_value"]
    assert final == bookmark, "re-reading never moves the bookmark backwards"


def test_given_rest_and_bulk_paths_when_reading_the_same_objects_then_records_are_identical(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    objects = [
        "Account",
        "Opportunity",
        "OpportunityFieldHistory",
        "Project__c",
        "Task",
        "User",
        "TaskWhoRelation",
    ]
    rest = run_tap(tmp_path, tap_config(small_org, objects=objects, api_type="rest"))
    bulk = run_tap(tmp_path, tap_config(small_org, objects=objects, api_type="bulk"))
    assert rest.returncode == 0, rest.stderr
    assert bulk.returncode == 0, bulk.stderr
    assert "TaskWhoRelation: Bulk API refused" in bulk.stderr
    for name in objects:
        by_rest = sorted(rest.records(name), key=lambda r: r["Id"])
        by_bulk = sorted(bulk.records(name), key=lambda r: r["Id"])
        assert by_rest, name
        assert by_rest == by_bulk, name
    project = rest.records("Project__c")[0]
    assert isinstance(project["Is_Critical__c"], bool)
    assert isinstance(project["Site_Location__c"]["latitude"], float)
    assert project["CreatedDate"].endswith(".000Z")


def test_given_include_deleted_when_running_then_soft_deleted_rows_are_read_with_query_all(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    plain = run_tap(tmp_path, tap_config(small_org, objects=["Opportunity"]))
    everything = run_tap(
        tmp_path, tap_config(small_org, objects=["Opportunity"], include_deleted=True)
    )
    deleted = [r for r in everything.records("Opportunity") if r["IsDeleted"]]
    assert deleted
    assert len(everything.records("Opportunity")) == len(plain.records("Opportunity")) + len(
        deleted
    )


@pytest.fixture(scope="module")
def kill_org():
    with SandboxOrg(seed=21, scale=3000) as org:
        yield org


def test_given_a_tap_killed_mid_stream_when_restarted_from_its_last_state_then_no_record_is_lost(
    kill_org: SandboxOrg, tmp_path: Path
) -> None:
    config = write_json(
        tmp_path / "config.json",
        tap_config(kill_org, objects=["OpportunityFieldHistory"], api_type="rest"),
    )
    process = subprocess.Popen(
        [TAP, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    seen, last_state, states = set(), None, 0
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == "OpportunityFieldHistory":
            seen.add(message["record"]["Id"])  # (its events come from the same pages)
        elif message["type"] == "STATE" and message["value"].get("bookmarks", {}).get(
            "OpportunityFieldHistory"
        ):
            last_state, states = message["value"], states + 1
            if states == 2:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=30)
    assert last_state is not None
    expected = kill_org.count("OpportunityFieldHistory")
    assert 0 < len(seen) < expected, "killed mid-stream"
    resumed = run_tap(tmp_path, json.loads(config.read_text()), state=last_state)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        seen | set(_ids(resumed.records("OpportunityFieldHistory")))
        == set(kill_org.org.table("OpportunityFieldHistory")["Id"].to_pylist()) - set()
    )
    assert len(seen | set(_ids(resumed.records("OpportunityFieldHistory")))) == expected


def test_given_hard_deleted_rows_when_running_incrementally_with_include_deleted_then_tombstones_are_emitted(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(small_org, objects=["Opportunity"], include_deleted=True)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    soft_deleted = {r["Id"] for r in first.records("Opportunity") if r["IsDeleted"]}
    victims = [r["Id"] for r in first.records("Opportunity") if not r["IsDeleted"]][:2]
    small_org.hard_delete("Opportunity", victims)
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    tombstones = [r for r in second.records("Opportunity") if r.get("_sdc_deleted_at")]
    assert sorted(t["Id"] for t in tombstones) == sorted(victims)
    assert all(
        t["IsDeleted"] is True and t["SystemModstamp"] == t["_sdc_deleted_at"] for t in tombstones
    )
    assert not soft_deleted & {t["Id"] for t in tombstones}, (
        "soft deletes already came through queryAll"
    )


def test_given_a_delete_log_purged_past_the_bookmark_then_the_run_reads_what_is_left_and_warns(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    """Salesforce purges old delete-log entries; a start before what is left answers
    INVALID_REPLICATION_DATE. That used to fail this run and every later one from the same
    bookmark; now the tap reads from ``earliestDateAvailable`` and says what it cannot see."""
    config = tap_config(small_org, objects=["Opportunity"], include_deleted=True)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    alive = [r["Id"] for r in first.records("Opportunity") if not r["IsDeleted"]]
    now = dt.datetime.now(dt.timezone.utc)
    purged = now - dt.timedelta(minutes=10)
    lost = purged - dt.timedelta(minutes=10)  # before the purge point: its entry is gone
    small_org.changes.hard_delete("Opportunity", alive[:1], at=lost)
    small_org.changes.purge_delete_log("Opportunity", before=purged)
    small_org.changes.hard_delete("Opportunity", alive[1:3])  # after it: still in the log
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    tombstones = {r["Id"] for r in second.records("Opportunity") if r.get("_sdc_deleted_at")}
    assert tombstones == set(alive[1:3])
    warnings = [line for line in second.stderr.splitlines() if "purged its delete log" in line]
    assert len(warnings) == 1, second.stderr[-2000:]
    assert "reconcile_deletes" in warnings[0]


def test_given_an_object_too_wide_for_one_url_when_read_over_rest_then_field_sets_are_joined_on_id(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    rest = run_tap(tmp_path, tap_config(small_org, objects=["Wide_Record__c"], api_type="rest"))
    bulk = run_tap(tmp_path, tap_config(small_org, objects=["Wide_Record__c"], api_type="bulk"))
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert "fields exceed a GET URL; reading them as 2 field sets joined on Id" in rest.stderr
    queries = [
        length
        for method, path, length in small_org.requests
        if path == "/services/data/v62.0/query"
    ]
    assert queries, "the REST path was used"
    records = sorted(rest.records("Wide_Record__c"), key=lambda r: r["Id"])
    assert len(records) == small_org.count("Wide_Record__c")
    assert len(records[0]) > 450
    assert records == sorted(bulk.records("Wide_Record__c"), key=lambda r: r["Id"])
    assert max(queries) <= 16_384, "no request line over Salesforce's URL limit"

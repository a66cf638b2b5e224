"""Each fault a real org throws is survived, or fails with a clear message; the quota guard stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

OBJECTS = ["OpportunityFieldHistory", "Account", "Task"]


@pytest.fixture
def org():
    with SandboxOrg(seed=31, scale=300) as org:
        yield org


def _truth(org: SandboxOrg) -> dict[str, set[str]]:
    return {
        name: set(
            org.engine.execute(
                __import__("synthetic_org.soql.parser", fromlist=["parse"]).parse(
                    f"SELECT Id FROM {name}"
                ),
                include_deleted=False,
            )
            .table["Id"]
            .to_pylist()
        )
        for name in OBJECTS
    }


def _assert_complete(run, org: SandboxOrg) -> None:  # type: ignore[no-untyped-def]
    assert run.returncode == 0, run.stderr[-3000:]
    for name, ids in _truth(org).items():
        got = [r["Id"] for r in run.records(name)]
        assert set(got) == ids, name


@pytest.mark.parametrize(
    ("switch", "value", "api_type", "fault"),
    [
        ("session_expiry_after", 4, "rest", "INVALID_SESSION_ID"),
        ("unavailable_every", 3, "rest", "SERVER_UNAVAILABLE"),
        ("request_limit_every", 4, "bulk", "REQUEST_LIMIT_EXCEEDED"),
        ("drop_connection_every", 2, "rest", "DROPPED_CONNECTION"),
        ("drop_connection_every", 2, "bulk", "DROPPED_CONNECTION"),
        ("failed_bulk_jobs", 2, "bulk", "BULK_JOB_FAILED"),
    ],
)
def test_given_a_fault_when_syncing_then_the_run_survives_and_loses_nothing(
    org: SandboxOrg, tmp_path: Path, switch: str, value: int, api_type: str, fault: str
) -> None:
    setattr(org.faults, switch, value)
    run = run_tap(
        tmp_path, tap_config(org, objects=OBJECTS, api_type=api_type, bulk_page_records=1000)
    )
    _assert_complete(run, org)
    assert org.faults.injected[fault] >= 1, f"the {fault} fault was never met"
    assert "Run summary" in run.stderr


def test_given_query_timeout_on_wide_ranges_when_syncing_then_windows_are_halved(
    org: SandboxOrg, tmp_path: Path
) -> None:
    org.faults.query_timeout_days = 120
    run = run_tap(
        tmp_path,
        tap_config(org, objects=OBJECTS, api_type="rest", start_date="2024-01-01T00:00:00Z"),
    )
    _assert_complete(run, org)
    assert org.faults.injected["QUERY_TIMEOUT"] >= 3
    assert "QUERY_TIMEOUT on" in run.stderr
    assert "splitting the window" in run.stderr
    for name in OBJECTS:
        keys = [r.get("SystemModstamp") or r["CreatedDate"] for r in run.records(name)]
        assert keys == sorted(keys), "windows are read in order, so STATE stays resumable"


def test_given_failures_that_cannot_succeed_when_syncing_then_one_clear_error(
    org: SandboxOrg, tmp_path: Path
) -> None:
    org.faults.unavailable_every = 1
    run = run_tap(tmp_path, tap_config(org, objects=["Account"], max_retries=2))
    assert run.returncode == 1
    assert (
        "tap-salesforce-temporal: describeGlobal: Salesforce answered 0 RETRIES_EXHAUSTED: gave up after 2 retries; last failure: 503 SERVER_UNAVAILABLE"
        in run.stderr
    )


def test_given_usage_near_the_quota_when_syncing_then_the_guard_stops_cleanly_with_state(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=31, scale=300, api_usage_start=790, daily_api_limit=1000) as org:
        run = run_tap(
            tmp_path, tap_config(org, objects=OBJECTS, api_type="rest", max_api_usage_percent=79.6)
        )
        assert run.returncode == 3, "a quota stop is not a success"
        assert (
            "reached max_api_usage_percent=79.6; stopping cleanly, the next run resumes from STATE"
            in run.stderr
        )
        assert run.stderr.splitlines()[-1] == (
            "tap-salesforce-temporal: stopped early by the API quota guard "
            "(max_api_usage_percent=79.6), STATE emitted; exiting with quota_exit_code=3"
        )
        assert run.messages[-1]["type"] == "STATE", "the STATE is out before the exit"
        assert org.api_usage < 1000
        assert run.last_state is not None
        total = sum(len(run.records(name)) for name in OBJECTS)
        assert 0 < total < sum(len(ids) for ids in _truth(org).values())
        resumed_config = tap_config(org, objects=OBJECTS, api_type="rest")
        org.api_usage = 0
        resumed = run_tap(tmp_path, resumed_config, state=run.last_state)
        for name, ids in _truth(org).items():
            assert {r["Id"] for r in run.records(name)} | {
                r["Id"] for r in resumed.records(name)
            } == ids, name


def test_given_quota_exit_code_0_when_the_guard_stops_then_the_run_exits_0_with_state(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=31, scale=60, api_usage_start=790, daily_api_limit=1000) as org:
        config = tap_config(org, objects=["Account"], max_api_usage_percent=79.2, quota_exit_code=0)
        run = run_tap(tmp_path, config)
        assert run.returncode == 0, run.stderr
        assert "stopping cleanly" in run.stderr
        assert "quota_exit_code" not in run.stderr
        assert run.messages[-1]["type"] == "STATE"


def test_given_the_quota_crossed_mid_bulk_job_when_syncing_then_no_page_is_fetched_past_the_guard(
    tmp_path: Path,
) -> None:
    """Result pages are downloaded one ahead of the page being consumed, but never past the guard:
    the call that crosses the quota is the last one. A complete job is not aborted (Salesforce
    refuses to abort a JobComplete job; the call would only spend quota)."""
    with SandboxOrg(seed=31, scale=3000, api_usage_start=790, daily_api_limit=1000) as org:
        run = run_tap(
            tmp_path,
            tap_config(
                org,
                objects=["OpportunityFieldHistory"],
                api_type="bulk",
                bulk_page_records=1000,
                max_api_usage_percent=80,
            ),
        )
        assert run.returncode == 3, run.stderr
        assert "reached max_api_usage_percent=80; stopping cleanly" in run.stderr
        assert org.api_usage == 800, "the page that crossed 800 calls is the last call"
        assert [job.state for job in org.bulk.jobs.values()] == ["JobComplete"]
        assert "abort" not in run.stderr
        received = len(run.records("OpportunityFieldHistory"))
        assert 0 < received < org.count("OpportunityFieldHistory")
        assert received % 1000 == 0, "whole pages only"


def test_given_the_quota_stops_a_bulk_read_with_include_deleted_then_no_tombstone_moves_the_bookmark_past_unread_rows(
    tmp_path: Path,
) -> None:
    """Hard deletes are fetched after the rows; when the quota guard stopped the rows part of the
    way, a tombstone's (recent) date must not become the bookmark, or the unread rows are lost."""
    with SandboxOrg(seed=7, scale=3000, daily_api_limit=100_000) as org:
        config = tap_config(
            org,
            objects=["Opportunity"],
            api_type="bulk",
            include_deleted=True,
            bulk_page_records=1000,
            start_date="2000-01-01T00:00:00Z",  # a window start: getDeleted is asked
        )
        first = run_tap(tmp_path, config)
        assert first.returncode == 0, first.stderr
        alive = [r["Id"] for r in first.records("Opportunity") if not r["IsDeleted"]]
        org.hard_delete("Opportunity", alive[:2])
        before = org.api_usage
        probe = run_tap(tmp_path, config)  # read-only: counts the calls of a whole run
        assert probe.returncode == 0, probe.stderr
        everything = probe.records("Opportunity")
        assert len([r for r in everything if r.get("_sdc_deleted_at")]) == 2
        pages = -(-(len(everything) - 2) // 1000)
        assert pages >= 3
        # Stop right after the first result page: the calls before it, then page 1 crosses.
        first_page_call = org.api_usage - before - (pages - 1) - 1  # other pages, one getDeleted
        org.api_usage = 0
        stopped = run_tap(
            tmp_path, {**config, "max_api_usage_percent": 100 * first_page_call / 100_000}
        )
        assert stopped.returncode == 3, stopped.stderr
        assert "stopping cleanly" in stopped.stderr
        emitted = stopped.records("Opportunity")
        assert 0 < len(emitted) < len(everything)
        assert not [r for r in emitted if r.get("_sdc_deleted_at")], "no tombstones after a stop"
        # A Bulk job read part of the way moves no bookmark (its rows come unordered).
        bookmark = stopped.last_state["bookmarks"]["Opportunity"].get("replication_key_value")
        assert bookmark is None


def test_given_a_describe_that_keeps_failing_when_syncing_then_the_run_fails_naming_it(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """A transient failure is not a missing object: skipping the object would exit 0 without
    its rows (the chaos test lost every OpportunityHistory row to a twice-refused session)."""
    org.faults.unavailable_describes = frozenset({"Task"})
    run = run_tap(tmp_path, tap_config(org, objects=["Account", "Task"], max_retries=1))
    assert run.returncode == 1
    assert (
        "tap-salesforce-temporal: describe Task: Salesforce answered 0 RETRIES_EXHAUSTED"
        in run.stderr
    )
    assert not run.records(), "no stream syncs from a partial discovery"

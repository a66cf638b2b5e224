"""Issue #28 items 5-7 end to end, ``tap | target`` against the synthetic org over HTTP:
ContentDocumentLink read through its documents, a per-run API budget, the Bulk -> REST fallback
when the org's daily query jobs are used up, and a replication key the describe cannot filter."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from synthetic_org.soql.parser import parse
from tap_salesforce_temporal.query.by_parent import PARENT_BATCH
from tests.helpers import TapRun, run_tap, run_target, tap_config

LINKS = "ContentDocumentLink"
HISTORY = "ActivityFieldHistory"


def _alive(org: SandboxOrg, name: str) -> set[str]:
    """The Ids a plain ``query`` (not queryAll) answers: the org's truth for a sync."""
    return set(
        org.engine.execute(parse(f"SELECT Id FROM {name}"), include_deleted=False)
        .table["Id"]
        .to_pylist()
    )


def _lake_ids(root: Path, stream: str) -> set[str]:
    return set(DeltaTable(str(root / stream)).to_pyarrow_table(columns=["Id"])["Id"].to_pylist())


def _through_target(tmp_path: Path, run: TapRun, **target: object) -> Path:
    assert run.returncode == 0, run.stderr[-3000:]
    lake = tmp_path / "lake"
    config = {"destination": str(lake), "format": "delta", "qa_mode": "off", **target}
    landed = run_target(tmp_path, config, run.stdout)
    assert landed.returncode == 0, landed.stderr[-3000:]
    return lake


def _one_line(stderr: str, text: str) -> str:
    lines = [line for line in stderr.splitlines() if text in line]
    assert len(lines) == 1, lines
    return lines[0]


# -- item 5: an object whose queries must name its parents --


def test_given_contentdocumentlink_when_synced_twice_then_each_run_reads_every_link_through_batches_of_documents(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=9, scale=1000) as org:
        documents = org.org.table("ContentDocument").num_rows
        assert documents > PARENT_BATCH, "more documents than one batch"
        # The calls a read of the documents' Ids costs, to price the link queries against it.
        before = org.api_usage
        alone = run_tap(tmp_path, tap_config(org, objects=["ContentDocument"], api_type="rest"))
        assert alone.returncode == 0, alone.stderr[-3000:]
        documents_read = org.api_usage - before

        config = tap_config(org, objects=[LINKS], api_type="rest")
        before = org.api_usage
        first = run_tap(tmp_path, config)
        links_read = org.api_usage - before
        lake = _through_target(tmp_path, first, full_refresh_streams=[LINKS])
        truth = _alive(org, LINKS)
        assert {r["Id"] for r in first.records(LINKS)} == truth
        assert len(first.records(LINKS)) == len(truth), "each link once"
        assert _lake_ids(lake, LINKS) == truth
        assert links_read - documents_read == math.ceil(documents / PARENT_BATCH), (
            "one query per batch of documents on top of the documents' Id read"
        )
        assert first.last_state is not None
        assert first.last_state["bookmarks"][LINKS] == {}, "a full read claims no bookmark"
        _one_line(first.stderr, "ContentDocumentLink: read through ContentDocument")
        assert "not synced as streams" not in first.stderr

        links = org.org.table(LINKS)
        gone = links["Id"][0].as_py()
        org.changes.delete(LINKS, [gone])  # no Recycle Bin, no getDeleted: only a full read sees it
        second = run_tap(tmp_path, config, state=first.last_state)
        lake = _through_target(tmp_path, second, full_refresh_streams=[LINKS])
        assert {r["Id"] for r in second.records(LINKS)} == truth - {gone}
        assert _lake_ids(lake, LINKS) == truth - {gone}


def test_given_bulk_when_syncing_contentdocumentlink_then_the_documents_come_from_a_job_and_the_links_from_rest(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=4, scale=1000) as org:
        run = run_tap(tmp_path, tap_config(org, objects=[LINKS], api_type="bulk"))
        lake = _through_target(tmp_path, run)
        assert _lake_ids(lake, LINKS) == _alive(org, LINKS)
        assert [job.object_name for job in org.bulk.jobs.values()] == ["ContentDocument"]


def test_given_other_filter_required_objects_then_they_stay_skipped_with_the_existing_line(
    tmp_path: Path,
) -> None:
    import dataclasses

    with SandboxOrg(seed=3, scale=10) as org:
        org.objects = tuple(
            dataclasses.replace(o, listed=True) if o.name == "FieldDefinition" else o
            for o in org.objects
        )
        run = run_tap(tmp_path, tap_config(org, objects=["FieldDefinition", LINKS]))
        assert run.returncode == 0, run.stderr[-3000:]
        line = _one_line(run.stderr, "not synced as streams")
        assert line.endswith("not synced as streams: FieldDefinition")
        assert {r["Id"] for r in run.records(LINKS)} == _alive(org, LINKS)


# -- item 6: an API budget per run, and Bulk -> REST when the daily jobs are used up --

OBJECTS = ["OpportunityFieldHistory", "Account", "Task"]


def test_given_quota_percent_per_run_when_this_run_spends_it_then_it_stops_with_state_and_the_next_run_loses_nothing(
    tmp_path: Path,
) -> None:
    """Others have used half the day's calls: ``max_api_usage_percent`` (80) is far, but this
    run's own budget, 1.2% of 1,000 calls, ends it; the next run resumes from its STATE."""
    with SandboxOrg(seed=31, scale=2000, api_usage_start=500, daily_api_limit=1000) as org:
        config = tap_config(org, objects=OBJECTS, api_type="rest", quota_percent_per_run=1.2)
        stopped = run_tap(tmp_path, config)
        assert stopped.returncode == 3, stopped.stderr[-3000:]
        assert "reached quota_percent_per_run=1.2; stopping cleanly" in stopped.stderr
        assert stopped.stderr.splitlines()[-1] == (
            "tap-salesforce-temporal: stopped early by the API quota guard "
            "(quota_percent_per_run=1.2), STATE emitted; exiting with quota_exit_code=3"
        )
        assert stopped.messages[-1]["type"] == "STATE"
        spent = org.api_usage - 500
        # Each stream side by side may have one call in flight when another crosses the budget.
        assert 12 <= spent <= 12 + len(OBJECTS), "stopped at the page boundary past 12 calls"
        truth = {name: _alive(org, name) for name in OBJECTS}
        read = sum(len(stopped.records(name)) for name in OBJECTS)
        assert 0 < read < sum(len(ids) for ids in truth.values())

        resumed = run_tap(
            tmp_path, {**config, "quota_percent_per_run": 100}, state=stopped.last_state
        )
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        for name, ids in truth.items():
            got = {r["Id"] for r in stopped.records(name)} | {
                r["Id"] for r in resumed.records(name)
            }
            assert got == ids, name


def test_given_the_daily_bulk_job_limit_reached_mid_run_then_one_warning_and_every_later_read_goes_over_rest(
    tmp_path: Path,
) -> None:
    objects = ["Account", "Case", "Opportunity", "Task", LINKS]
    # One job left of the day's allocation; the streams one after another, so which read meets
    # the refusal is not a race between jobs created at once.
    with SandboxOrg(seed=5, scale=200, bulk_job_limit=3, bulk_jobs_used_start=2) as org:
        config = tap_config(org, objects=objects, api_type="bulk", max_concurrency=1)
        run = run_tap(tmp_path, config)
        lake = _through_target(tmp_path, run)
        line = _one_line(run.stderr, "LIMIT_EXCEEDED")
        assert "Max bulk v2 query jobs (3) per 24 hrs has been reached (4)" in line
        assert "every other Bulk read of this run go over REST" in line
        assert len(org.bulk.jobs) == 1, "no job asked for after the refusal"
        assert org.bulk.quota.used == 4, "one refused attempt, then no more"
        for name in objects:
            assert {r["Id"] for r in run.records(name)} == _alive(org, name), name
            assert _lake_ids(lake, name) == _alive(org, name), name


# -- item 7: a replication key the describe says cannot be filtered --


def test_given_a_replication_key_that_cannot_be_filtered_then_each_run_reads_the_object_whole(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=5, scale=100, activity_field_history=True) as org:
        config = tap_config(org, objects=[HISTORY, "Account"])
        first = run_tap(tmp_path, config)
        lake = _through_target(tmp_path, first)
        truth = _alive(org, HISTORY)
        assert {r["Id"] for r in first.records(HISTORY)} == truth
        assert _lake_ids(lake, HISTORY) == truth
        _one_line(first.stderr, "its replication key SystemModstamp is not filterable")
        assert first.last_state is not None
        assert first.last_state["bookmarks"][HISTORY] == {}, "no bookmark it could not honour"
        assert first.last_state["bookmarks"]["Account"]["replication_key_value"]

        tasks = org.org.table("Task")
        assert pc.sum(pc.is_valid(tasks["CompletedDateTime"])).as_py() == len(truth)
        second = run_tap(tmp_path, config, state=first.last_state)
        lake = _through_target(tmp_path, second)
        assert {r["Id"] for r in second.records(HISTORY)} == truth, "whole again"
        assert _lake_ids(lake, HISTORY) == truth
        assert "INVALID_FIELD" not in second.stderr

"""Read-ahead across streams, against an org that answers each call after 50 ms.

While one stream's records are written, the next streams' queries are already opened (Bulk jobs
created and run side by side); what the tap emits and the calls it makes stay those of a
sequential run (max_concurrency 1).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import TAP, run_tap, tap_config, write_json

OBJECTS = ["Account", "OpportunityHistory", "OpportunityFieldHistory", "CaseHistory", "Task"]
# Streams sync in name order: OpportunityFieldHistory (the largest at this scale) first.
BIG_FIRST = ["OpportunityFieldHistory", "OpportunityHistory", "Task", "User"]


@pytest.fixture(scope="module")
def slow_org() -> SandboxOrg:
    with SandboxOrg(seed=3, scale=300, latency_ms=50) as org:
        yield org


def _without_clock(messages: list[dict]) -> list[dict]:
    """Messages without what follows the wall clock (time_extracted, the signpost, extracted_at,
    history_tracked_fields' snapshot_at)."""
    text = json.dumps([{k: v for k, v in m.items() if k != "time_extracted"} for m in messages])
    cleaned = json.loads(
        re.sub(
            r'"(replication_key_signpost|extracted_at|snapshot_at)": "[^"]*"', '"clock": 0', text
        )
    )
    for message in cleaned:  # its bookmark is the snapshot's clock time
        if message["type"] == "STATE":
            message["value"].get("bookmarks", {}).pop("history_tracked_fields", None)
    return cleaned


def _calls(org: SandboxOrg, since: int) -> Counter:
    """The org's request log from ``since`` as (method, path shape) counts; job and cursor ids
    elided (they differ from run to run)."""
    shapes: Counter = Counter()
    for method, path, _ in org.requests[since:]:
        shape = re.sub(r"/750\w{15}", "/{job}", path)
        shapes[(method, re.sub(r"/query/01g\w+-", "/query/{cursor}-", shape))] += 1
    return shapes


@pytest.mark.parametrize("api_type", ["bulk", "rest", "auto"])
def test_given_read_ahead_when_syncing_then_output_state_and_calls_equal_a_sequential_run(
    slow_org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    config = tap_config(slow_org, objects=OBJECTS, api_type=api_type, bulk_threshold=500)
    runs = {}
    calls = {}
    for concurrency in (1, 8):
        before = len(slow_org.requests)
        runs[concurrency] = run_tap(tmp_path, {**config, "max_concurrency": concurrency})
        assert runs[concurrency].returncode == 0, runs[concurrency].stderr
        calls[concurrency] = _calls(slow_org, before)
    assert calls[8] == calls[1], "the same API calls, no more"
    assert _without_clock(runs[8].messages) == _without_clock(runs[1].messages), (
        "the same records and STATE, in the same order"
    )
    assert set(OBJECTS) <= set(runs[8].last_state["bookmarks"])


def test_given_read_ahead_when_a_stream_is_written_then_the_next_streams_jobs_already_run(
    slow_org: SandboxOrg, tmp_path: Path
) -> None:
    """The tap's stdout is not read: the first stream blocks on the full pipe, mid-records.
    A sequential tap could not create the next stream's Bulk job before it is unblocked."""
    config = tap_config(slow_org, objects=BIG_FIRST, api_type="bulk", max_concurrency=8)
    jobs_before = set(slow_org.bulk.jobs)
    tap = subprocess.Popen(
        [TAP, "--config", str(write_json(tmp_path / "tap.json", config))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        later: set[str] = set()
        while time.monotonic() < deadline and tap.poll() is None:
            later = {
                job.object_name for i, job in slow_org.bulk.jobs.items() if i not in jobs_before
            } - {"OpportunityFieldHistory"}
            if len(later) >= 2:
                break
            time.sleep(0.05)
        assert tap.poll() is None, "the tap is still blocked writing its first stream"
        assert len(later) >= 2, f"jobs of later streams created ahead; saw {sorted(later)}"
        out, _ = tap.communicate(timeout=120)
    finally:
        if tap.poll() is None:
            tap.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    # (micro_decision_events of OpportunityFieldHistory come from the same pages, each page's first)
    first = next(
        m for m in lines if m["type"] == "RECORD" and m["stream"] != "micro_decision_events"
    )
    assert first["stream"] == "OpportunityFieldHistory"
    written = sum(len(json.dumps(m)) for m in lines if m.get("stream") == "OpportunityFieldHistory")
    assert written > 1 << 19, "the first stream's output is more than the pipe and buffer hold"
    assert tap.returncode == 0


def test_given_a_bulk_job_without_order_by_then_the_bookmark_moves_only_once_it_is_read(
    tmp_path: Path,
) -> None:
    """ORDER BY disables PK chunking for Bulk API 2.0 queries: jobs are sent without it, their
    rows come in any order, and STATE during the job keeps the bookmark where it was."""
    with SandboxOrg(seed=5, scale=300) as org:
        config = tap_config(
            org,
            objects=["OpportunityFieldHistory"],
            api_type="bulk",
            bulk_page_records=1000,
            event_types=["activity"],  # micro_decision_events reads no field history here
        )
        run = run_tap(tmp_path, config)
        assert run.returncode == 0, run.stderr
        queries = [job.query for job in org.bulk.jobs.values()]
        assert queries
        assert not [q for q in queries if "ORDER BY" in q.upper()]
        records = run.records("OpportunityFieldHistory")
        keys = [r["CreatedDate"] for r in records]
        stream_states = []
        for message in run.messages:
            if message["type"] == "STATE":
                stream_states.append(
                    message["value"]["bookmarks"]
                    .get("OpportunityFieldHistory", {})
                    .get("replication_key_value")
                )
        assert stream_states[-1] == max(keys)
        assert set(stream_states) == {None, max(keys)}, "no bookmark part-way through the job"

"""Streams side by side, against an org that answers each call after 50 ms.

Up to ``max_concurrency`` streams sync at once (``scheduler``): their calls and Bulk jobs overlap,
their RECORD lines interleave a page at a time, and every STATE line covers only records
written before it. What a run reads, the calls it makes and where its bookmarks end are those
of a sequential run (max_concurrency 1).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import TAP, run_tap, tap_config, write_json

OBJECTS = ["Account", "OpportunityHistory", "OpportunityFieldHistory", "CaseHistory", "Task"]
BIG = ["OpportunityFieldHistory", "OpportunityHistory", "Task", "User"]
EVENTS = "micro_decision_events"


@pytest.fixture(scope="module")
def slow_org() -> SandboxOrg:
    with SandboxOrg(seed=3, scale=300, latency_ms=50) as org:
        yield org


def _calls(org: SandboxOrg, since: int) -> Counter:
    """The org's request log from ``since`` as (method, path shape) counts; job and cursor ids
    elided (they differ from run to run)."""
    shapes: Counter = Counter()
    for method, path, _ in org.requests[since:]:
        shape = re.sub(r"/750\w{15}", "/{job}", path)
        shapes[(method, re.sub(r"/query/01g\w+-", "/query/{cursor}-", shape))] += 1
    return shapes


def _by_stream(messages: list[dict]) -> dict[str, list[str]]:
    """Each stream's records (events per source object), order kept, clock fields dropped."""
    found: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        if message["type"] != "RECORD":
            continue
        record = dict(message["record"])
        record.pop("extracted_at", None)
        record.pop("snapshot_at", None)
        name = message["stream"]
        if name == EVENTS:
            name += ":" + record["context"]["source_object"]
        found[name].append(json.dumps(record, sort_keys=True))
    return found


def _bookmarks(state: dict) -> dict[str, str]:
    """Stream (events: per source object) -> bookmark, from one STATE value."""
    found = {}
    for stream, entry in state.get("bookmarks", {}).items():
        if entry.get("replication_key_value") is not None:
            found[stream] = entry["replication_key_value"]
        for partition in entry.get("partitions", []):
            if partition.get("replication_key_value") is not None:
                source = partition["context"]["source_object"]
                found[f"{stream}:{source}"] = partition["replication_key_value"]
    return found


def assert_state_never_passes_written_rows(messages: list[dict], keys: dict[str, str]) -> None:
    """Every STATE line's bookmarks are at or behind the largest key of the records written
    before it (streams of ``keys``: stream -> replication key)."""
    newest: dict[str, str] = {}
    for message in messages:
        if message["type"] == "RECORD":
            stream = message["stream"]
            record = message["record"]
            if stream == EVENTS:
                name = f"{EVENTS}:{record['context']['source_object']}"
                value = record["timestamp_recorded"]
            else:
                name, value = stream, record.get(keys.get(stream, ""))
            if value is not None and (name not in newest or value > newest[name]):
                newest[name] = value
        elif message["type"] == "STATE":
            for name, bookmark in _bookmarks(message["value"]).items():
                if name.split(":")[0] in keys or name.startswith(EVENTS):
                    # Shared events move with their object's rows (``shared_events``): a row
                    # may yield no event, so the rows written count for the events too.
                    source = name.split(":")[-1] if name.startswith(EVENTS) else None
                    written = max(newest.get(name, ""), newest.get(source or "", ""))
                    assert bookmark <= written, (
                        f"STATE moved {name} to {bookmark} before its rows were written"
                    )


KEYS = {
    "Account": "SystemModstamp",
    "OpportunityHistory": "SystemModstamp",
    "OpportunityFieldHistory": "CreatedDate",
    "CaseHistory": "CreatedDate",
    "Task": "SystemModstamp",
    "User": "SystemModstamp",
}


@pytest.mark.parametrize("api_type", ["bulk", "rest", "auto"])
def test_given_streams_side_by_side_then_records_bookmarks_and_calls_equal_a_sequential_run(
    slow_org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    config = tap_config(slow_org, objects=OBJECTS, api_type=api_type, bulk_threshold=500)
    runs, calls = {}, {}
    for concurrency in (1, 8):
        before = len(slow_org.requests)
        runs[concurrency] = run_tap(tmp_path, {**config, "max_concurrency": concurrency})
        assert runs[concurrency].returncode == 0, runs[concurrency].stderr
        calls[concurrency] = _calls(slow_org, before)
    assert calls[8] == calls[1], "the same API calls, no more"
    assert _by_stream(runs[8].messages) == _by_stream(runs[1].messages), (
        "each stream's records, in the same order"
    )
    final = {k: v for k, v in _bookmarks(runs[8].last_state).items() if "history_tracked" not in k}
    assert final == {
        k: v for k, v in _bookmarks(runs[1].last_state).items() if "history_tracked" not in k
    }
    assert set(OBJECTS) <= set(final)
    for run in runs.values():
        assert_state_never_passes_written_rows(run.messages, KEYS)


def test_given_streams_side_by_side_when_the_output_blocks_then_other_bulk_jobs_already_run(
    slow_org: SandboxOrg, tmp_path: Path
) -> None:
    """The tap's stdout is not read, so writing blocks once the pipe is full. A sequential tap
    could not have created the later streams' Bulk jobs before it is unblocked."""
    config = tap_config(slow_org, objects=BIG, api_type="bulk", max_concurrency=8)
    jobs_before = set(slow_org.bulk.jobs)
    tap = subprocess.Popen(
        [TAP, "--config", str(write_json(tmp_path / "tap.json", config))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        objects: set[str] = set()
        while time.monotonic() < deadline and tap.poll() is None:
            objects = {
                job.object_name for i, job in slow_org.bulk.jobs.items() if i not in jobs_before
            }
            if len(objects) >= 3:
                break
            time.sleep(0.05)
        assert tap.poll() is None, "the tap is blocked writing"
        assert len(objects) >= 3, f"jobs of several objects run at once; saw {sorted(objects)}"
        out, _ = tap.communicate(timeout=120)
    finally:
        if tap.poll() is None:
            tap.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    written = sum(len(json.dumps(m)) for m in lines if m["type"] == "RECORD")
    assert written > 1 << 19, "the output is more than the pipe and buffer hold"
    assert tap.returncode == 0
    assert_state_never_passes_written_rows(lines, KEYS)


def test_given_a_stream_that_fails_then_the_run_stops_with_its_error_and_state_stays_true(
    tmp_path: Path,
) -> None:
    """A stream's next page answers 503 with no retries left: that stream fails, the streams
    beside it stop at their next page instead of reading on, the error is the one line of the
    failure, and no STATE line passed a row that was not written."""
    with SandboxOrg(seed=3, scale=6000, latency_ms=20) as org:
        config = tap_config(org, objects=OBJECTS, api_type="rest", max_retries=0)
        before = len(org.requests)
        full = run_tap(tmp_path, config)
        assert full.returncode == 0, full.stderr
        calls_full = len(org.requests) - before
        assert calls_full > 60, "streams of many pages each"
        # The run's first next-page call answers 503, the streams beside it in flight.
        org.faults.unavailable_once = r"^/query/[^/]+-\d+$"
        before = len(org.requests)
        failed = run_tap(tmp_path, config)
        failed_at = next(
            i
            for i, (_, path, _) in enumerate(org.requests[before:], before)
            if re.search(r"/query/[^/]+-\d+$", path)
        )
        after_failure = len(org.requests) - failed_at - 1
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert org.faults.injected["SERVER_UNAVAILABLE"] == 1
    lines = [line for line in failed.stderr.splitlines() if line.startswith("tap-salesforce")]
    assert len(lines) == 1, failed.stderr[-2000:]
    assert "SERVER_UNAVAILABLE" in lines[0]
    # Each stream in flight (8 workers) ends the call it waits for, then stops: measured 4 and
    # 10 calls after the failure; without the stop the streams read on to the end (62-64).
    assert after_failure <= 2 * 8, "the streams beside the failed one stopped early"
    assert_state_never_passes_written_rows(failed.messages, KEYS)


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


def test_given_sessions_expiring_every_few_calls_when_streams_run_side_by_side_then_nothing_fails(
    tmp_path: Path,
) -> None:
    """A token dies after 3 calls: calls in flight on other threads meet the expiry after one of
    them already logged in again. Each sends again with the new token (not counted as its own
    re-login), so no call fails for another thread's refresh."""
    with SandboxOrg(seed=3, scale=1000, latency_ms=20) as org:
        config = tap_config(org, objects=OBJECTS, api_type="rest")
        truth = run_tap(tmp_path, config)
        assert truth.returncode == 0, truth.stderr
        org.faults.session_expiry_after = 3
        run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _by_stream(run.messages) == _by_stream(truth.messages)


@pytest.mark.parametrize(
    ("signum", "concurrency", "api_type"),
    [
        (signal.SIGINT, None, "rest"),
        (signal.SIGTERM, None, "rest"),
        (signal.SIGTERM, 1, "rest"),
        (signal.SIGTERM, 1, "bulk"),
    ],
)
def test_given_ctrl_c_or_sigterm_mid_run_then_the_streams_stop_and_the_exit_says_so(
    tmp_path: Path, signum: signal.Signals, concurrency: int | None, api_type: str
) -> None:
    """Ctrl-C or an orchestrator's SIGTERM while streams run: every worker stops at its next
    page or wait and is joined before the process ends, so no line is cut in half by the exit (a
    target would refuse it) and no STATE passes a written row; the exit is 128 + the signal with
    one line saying so (the SDK's own handler exits 0, which an orchestrator takes for done).
    One after another, the signal lands on the thread writing a page's lines: they go out a
    buffer at a time, so what it leaves is whole lines."""
    with SandboxOrg(seed=3, scale=3000, latency_ms=40) as org:
        config = tap_config(org, objects=OBJECTS, api_type=api_type)
        if concurrency is not None:
            config["max_concurrency"] = concurrency
        tap = subprocess.Popen(
            [TAP, "--config", str(write_json(tmp_path / "tap.json", config))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert tap.stdout is not None
            seen = b""
            while b'"type":"RECORD"' not in seen:  # streams are writing
                chunk = tap.stdout.read1(1 << 16)
                assert chunk, "the tap ended before writing a record"
                seen += chunk
            tap.send_signal(signum)
            rest, stderr = tap.communicate(timeout=60)
        finally:
            if tap.poll() is None:
                tap.kill()
    out = (seen + rest).decode()
    assert out.endswith("\n"), f"stdout ends mid-line: {out[-200:]!r}"
    lines = [json.loads(line) for line in out.splitlines()]  # every line whole
    assert tap.returncode == 128 + signum, stderr.decode()[-2000:]
    said = [line for line in stderr.decode().splitlines() if line.startswith("tap-salesforce")]
    assert said == [
        f"tap-salesforce-temporal: interrupted by {signum.name}: the streams in flight "
        "stopped; each STATE written covers only records written before it, so the next run "
        "resumes from the last one"
    ]
    assert_state_never_passes_written_rows(lines, KEYS)

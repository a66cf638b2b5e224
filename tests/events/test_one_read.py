"""One read per source object: an object stream selected beside micro_decision_events gives the
events from its own pages, the same events a run of the events stream alone gives."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tap_salesforce_temporal.events import EVENT_SCHEMA
from tap_salesforce_temporal.output.batches import open_object_encoder
from tests.helpers import run_tap, tap_config

OBJECT_STREAMS = [
    "Account",
    "AccountHistory",
    "OpportunityFieldHistory",
    "OpportunityHistory",
    "ProcessInstanceStep",
]
SHARED = ["AccountHistory", "OpportunityFieldHistory", "OpportunityHistory", "ProcessInstanceStep"]
LOOKUP = "lookup by ids"
# Keyed by SystemModstamp, their events by CreatedDate: one read of both windows.
OTHER_KEY = ("OpportunityHistory", "ProcessInstanceStep")


class QueryLog:
    """The objects the org ran queries on (REST and Bulk), COUNT() apart: the org's request
    log has the paths only, the SOQL travels in the query string or the job's body. A lookup
    by an id list (OpportunityHistory's snapshots before a window) is logged as ``LOOKUP``."""

    def __init__(self, org: SandboxOrg) -> None:
        self.queries: list[str] = []
        self.counts: list[str] = []  # COUNT() queries
        engine = org.engine
        execute = engine.execute

        def recording(query: Any, **kwargs: Any) -> Any:
            if query.is_count:
                self.counts.append(query.object_name)
            else:
                lookup = "InList(" in repr(query.where)
                self.queries.append(LOOKUP if lookup else query.object_name)
            return execute(query, **kwargs)

        engine.execute = recording  # type: ignore[method-assign]

    def since(self, position: int) -> Counter:
        return Counter(self.queries[position:])


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxOrg]:
    anchor = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    with SandboxOrg(seed=5, scale=120, anchor=anchor) as org:
        yield org


def _comparable(events: list[dict]) -> dict[str, dict]:
    return {e["event_id"]: {k: v for k, v in e.items() if k != "extracted_at"} for e in events}


def _events_bookmarks(state: dict) -> dict[str, str]:
    parts = state["bookmarks"]["micro_decision_events"]["partitions"]
    return {p["context"]["source_object"]: p.get("replication_key_value") for p in parts}


def _by_id(records: list[dict]) -> dict[str, dict]:
    return {r["Id"]: r for r in records}


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_given_an_object_stream_and_the_events_selected_then_each_source_is_read_once(
    org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    log = QueryLog(org)
    config = tap_config(org, api_type=api_type)
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)

    before = len(log.queries)
    both = run_tap(
        tmp_path,
        config,
        catalog=select(copy.deepcopy(catalog), [*OBJECT_STREAMS, "micro_decision_events"]),
    )
    assert both.returncode == 0, both.stderr
    reads = log.since(before)
    assert [reads[name] for name in SHARED] == [1] * len(SHARED), reads
    assert max(reads.values()) == 1, f"an object was queried twice: {reads}"

    before = len(log.queries)
    alone = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), ["micro_decision_events"])
    )
    assert alone.returncode == 0, alone.stderr
    assert log.since(before)["AccountHistory"] == 1
    objects = run_tap(tmp_path, config, catalog=select(copy.deepcopy(catalog), OBJECT_STREAMS))
    assert objects.returncode == 0, objects.stderr

    shared_events = _comparable(both.records("micro_decision_events"))
    assert {e["context"]["source_object"] for e in shared_events.values()} >= set(SHARED)
    assert shared_events == _comparable(alone.records("micro_decision_events"))
    # The object streams' rows are as read alone: none missing, no column read for the events.
    for name in OBJECT_STREAMS:
        assert _by_id(both.records(name)) == _by_id(objects.records(name)), name

    # Each bookmark is where the stream's own run leaves it; a shared source's events
    # bookmark moved with its object stream's (same key).
    state = both.last_state
    assert state is not None
    bookmarks = _events_bookmarks(state)
    assert bookmarks == _events_bookmarks(alone.last_state or {})
    for name in OBJECT_STREAMS:
        value = state["bookmarks"][name]["replication_key_value"]
        assert value == objects.last_state["bookmarks"][name]["replication_key_value"], name
        if name in SHARED and name not in OTHER_KEY:
            assert bookmarks[name] == value, name

    # The next run starts both reads at the same place: still one read each.
    before = len(log.queries)
    again = run_tap(
        tmp_path,
        config,
        state=state,
        catalog=select(copy.deepcopy(catalog), [*OBJECT_STREAMS, "micro_decision_events"]),
    )
    assert again.returncode == 0, again.stderr
    reads = log.since(before)
    reads.pop(LOOKUP, None)  # snapshots before the window, for its first stage moves
    assert max(reads.values(), default=0) <= 1, reads


@pytest.fixture
def moving_org() -> Iterator[SandboxOrg]:
    """An org whose opportunities move between runs (a fixture of its own: ``advance``)."""
    anchor = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    with SandboxOrg(seed=7, scale=120, anchor=anchor) as org:
        yield org


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_given_stage_moves_since_the_last_run_then_shared_stage_changes_know_the_stage_before(
    moving_org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    """OpportunityHistory's stage changes need each opportunity's snapshot before the window:
    read for the shared pages as for the events' own read, and no other read of the object."""
    log = QueryLog(moving_org)
    config = tap_config(moving_org, api_type=api_type)
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    both = select(copy.deepcopy(catalog), ["OpportunityHistory", "micro_decision_events"])
    first = run_tap(tmp_path, config, catalog=both)
    assert first.returncode == 0, first.stderr
    assert moving_org.advance(opportunities=8) > 0  # 2 s ago: before the next run's end

    def stage_changes(run: Any) -> dict[str, dict]:
        return {
            k: e
            for k, e in _comparable(run.records("micro_decision_events")).items()
            if e["event_type"] == "stage_change"
        }

    before = len(log.queries)
    shared = run_tap(tmp_path, config, catalog=both, state=first.last_state)
    assert shared.returncode == 0, shared.stderr
    reads = log.since(before)
    assert reads["OpportunityHistory"] == 1, "one read of the window for both"
    assert reads[LOOKUP] > 0, "the snapshots before the window, by opportunity"
    events_only = select(copy.deepcopy(catalog), ["micro_decision_events"])
    alone = run_tap(tmp_path, config, catalog=events_only, state=first.last_state)
    assert alone.returncode == 0, alone.stderr

    moved = stage_changes(shared)
    assert moved == stage_changes(alone), shared.stderr[-6000:]
    assert moved
    # Each move knows the stage it left and for how long: the snapshot before the window.
    assert all(e["context"].get("previous_stage") for e in moved.values())
    assert all(e["context"].get("stage_duration_days") is not None for e in moved.values())
    # The object stream's rows of the window: every snapshot the advance wrote.
    snapshots = {r["Id"] for r in shared.records("OpportunityHistory")}
    assert {e["context"]["source_record_id"] for e in moved.values()} <= snapshots


def test_given_the_two_bookmarks_apart_when_both_are_selected_then_no_event_is_lost_or_added(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """Either bookmark ahead: one read from the earlier one, each stream keeping the rows of
    its own window (the events skip rows before their bookmark, the stream rows before its)."""
    log = QueryLog(org)
    config = tap_config(org, api_type="rest")
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    both = select(copy.deepcopy(catalog), ["AccountHistory", "micro_decision_events"])
    history_only = select(copy.deepcopy(catalog), ["AccountHistory"])
    events_only = select(copy.deepcopy(catalog), ["micro_decision_events"])
    cut = {**config, "end_date": "2025-06-01T00:00:00Z"}

    def account_events(run: Any) -> dict[str, dict]:
        return {
            k: e
            for k, e in _comparable(run.records("micro_decision_events")).items()
            if e["context"]["source_object"] == "AccountHistory"
        }

    ahead = run_tap(tmp_path, cut, catalog=history_only).last_state
    assert ahead is not None
    before = len(log.queries)
    run = run_tap(tmp_path, config, state=ahead, catalog=both)
    assert run.returncode == 0, run.stderr
    assert log.since(before)["AccountHistory"] == 1, "one read of the events' longer window"
    everything = account_events(run_tap(tmp_path, config, catalog=events_only))
    assert account_events(run) == everything
    rows = run_tap(tmp_path, config, state=ahead, catalog=history_only)
    assert _by_id(run.records("AccountHistory")) == _by_id(rows.records("AccountHistory"))
    assert 0 < len(rows.records("AccountHistory")) < len(everything)

    behind = run_tap(tmp_path, cut, catalog=events_only).last_state
    assert behind is not None
    before = len(log.queries)
    shared = run_tap(tmp_path, config, state=behind, catalog=both)
    assert shared.returncode == 0, shared.stderr
    assert log.since(before)["AccountHistory"] == 1
    alone = run_tap(tmp_path, config, state=behind, catalog=events_only)
    assert account_events(shared) == account_events(alone)
    assert 0 < len(account_events(alone)) < len(everything)
    assert len(shared.records("AccountHistory")) > len(account_events(shared))


# -- BATCH mode: the events go into micro_decision_events' own Parquet files --


def _batch_config(root: Path) -> dict:
    return {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": root.as_uri(), "prefix": "batch-"},
        "batch_size": 150,  # several files per source, and bookmarks that move between them
    }


def _without_nulls(value: Any) -> Any:
    """Parquet rows carry every column (None where an event had no value); RECORDs leave it out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _file_events(message: dict) -> list[dict]:
    return pq.read_table(message["manifest"][0].removeprefix("file://")).to_pylist()


def _in_files(messages: list[dict]) -> dict[str, dict]:
    """Every event in the micro_decision_events files these messages announce."""
    return {
        k: e
        for m in messages
        if m["type"] == "BATCH" and m["stream"] == "micro_decision_events"
        for k, e in _without_nulls(_comparable(_file_events(m))).items()
    }


def _as_in_files(events: list[dict]) -> dict[str, dict]:
    """RECORD-mode events as a BATCH file holds them: open objects as JSON text."""
    encode = open_object_encoder(EVENT_SCHEMA)
    return _without_nulls(_comparable([encode(copy.deepcopy(e)) for e in events]))


def _walk_batches(
    run: Any, expected: dict[str, dict], sources: tuple[str, ...] = tuple(SHARED)
) -> dict[str, dict]:
    """The events the run's BATCH files hold, checking at every STATE that the events bookmark
    of each of ``sources`` covers only events already in announced files, and never passes its
    object stream's bookmark (when that stream is selected)."""
    announced: dict[str, dict] = {}
    for message in run.messages:
        if message["type"] == "BATCH" and message["stream"] == "micro_decision_events":
            announced.update(_without_nulls(_comparable(_file_events(message))))
        elif message["type"] == "STATE":
            state = message["value"]["bookmarks"]
            if "micro_decision_events" not in state:
                continue
            for name, bookmark in _events_bookmarks(message["value"]).items():
                if name not in sources or bookmark is None:
                    continue
                if name in state and name not in OTHER_KEY:
                    assert bookmark <= state[name]["replication_key_value"], name
                covered = {
                    k
                    for k, e in expected.items()
                    if e["context"]["source_object"] == name
                    and canonical(e["timestamp_recorded"])
                    < canonical(bookmark)  # resumed: from it on
                }
                missing = covered - set(announced)
                assert not missing, f"STATE moved {name}'s events bookmark past {len(missing)}"
    return announced


def canonical(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("api_type", "max_concurrency"), [("rest", 1), ("rest", None), ("bulk", None)]
)
def test_given_batch_mode_when_both_are_selected_then_each_source_is_read_once_into_event_files(
    org: SandboxOrg, tmp_path: Path, api_type: str, max_concurrency: int | None
) -> None:
    log = QueryLog(org)
    config = tap_config(org, api_type=api_type)
    if max_concurrency is not None:
        config["max_concurrency"] = max_concurrency  # else the default: streams side by side
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(catalog, [*OBJECT_STREAMS, "micro_decision_events"])
    records = run_tap(tmp_path, config, catalog=catalog)
    assert records.returncode == 0, records.stderr
    expected = _as_in_files(records.records("micro_decision_events"))

    before = len(log.queries)
    batch_config = _batch_config(tmp_path / "batches")
    run = run_tap(tmp_path, {**config, "batch_config": batch_config}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    reads = log.since(before)
    assert reads["AccountHistory"] == reads["OpportunityFieldHistory"] == 1, reads
    assert max(reads.values()) == 1, f"an object was queried twice: {reads}"
    assert not run.records(), "BATCH mode: no RECORD beside the files"

    landed = _walk_batches(run, expected)
    assert {e["context"]["source_object"] for e in landed.values()} >= set(SHARED)
    assert landed == expected
    # Keyed apart: the events bookmark moves with each full events file, not only once the
    # stream's own bookmark moves at the end of its read.
    early = [
        m
        for m in run.messages
        if m["type"] == "STATE"
        and "micro_decision_events" in m["value"]["bookmarks"]
        and _events_bookmarks(m["value"]).get("OpportunityHistory")
        and "replication_key_value" not in m["value"]["bookmarks"].get("OpportunityHistory", {})
    ]
    assert early, "no STATE carried the events bookmark before the stream's"

    state = run.last_state
    assert state is not None
    bookmarks = _events_bookmarks(state)
    for name in set(SHARED) - set(OTHER_KEY):
        assert bookmarks[name] == state["bookmarks"][name]["replication_key_value"], name
    assert state == records.last_state


def test_given_a_batch_run_killed_after_a_state_then_the_resumed_run_shares_and_loses_nothing(
    org: SandboxOrg, tmp_path: Path
) -> None:
    log = QueryLog(org)
    config = tap_config(org, api_type="rest", batch_config=_batch_config(tmp_path / "batches"))
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(catalog, ["OpportunityFieldHistory", "micro_decision_events"])
    full = run_tap(tmp_path, config, catalog=catalog)
    assert full.returncode == 0, full.stderr
    only = ("OpportunityFieldHistory",)
    everything = _in_files(full.messages)
    _walk_batches(full, everything, only)
    final = full.last_state
    assert final is not None

    # Killed right after a STATE whose events bookmark for the source is set, not yet final.
    cut = next(
        i
        for i, m in enumerate(full.messages)
        if m["type"] == "STATE"
        and "micro_decision_events" in m["value"]["bookmarks"]
        and _events_bookmarks(m["value"]).get("OpportunityFieldHistory")
        not in (None, _events_bookmarks(final)["OpportunityFieldHistory"])
    )
    killed = full.messages[: cut + 1]
    before_kill = _in_files(killed)
    before = len(log.queries)
    resumed = run_tap(tmp_path, config, catalog=catalog, state=killed[-1]["value"])
    assert resumed.returncode == 0, resumed.stderr
    assert log.since(before)["OpportunityFieldHistory"] == 1, "still one read"
    after = _in_files(resumed.messages)
    assert {**before_kill, **after} == everything
    assert after, "the resumed run wrote the events from its bookmark on"


@pytest.fixture(scope="module")
def slow_org() -> Iterator[SandboxOrg]:
    """Sources of several REST pages, each next page a wait: other sources work meanwhile."""
    anchor = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    with SandboxOrg(seed=5, scale=400, anchor=anchor, latency_ms=30) as org:
        yield org


def test_given_events_batches_of_sources_side_by_side_then_no_state_passes_an_unannounced_event(
    slow_org: SandboxOrg, tmp_path: Path
) -> None:
    """Each source's partition keeps its own latest row: the STATE after another source's file
    must not move it onto events still waiting (a page away) for their file."""
    config = tap_config(slow_org, api_type="rest")  # the default max_concurrency: side by side
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(catalog, ["micro_decision_events"])
    records = run_tap(tmp_path, config, catalog=catalog)
    assert records.returncode == 0, records.stderr
    assert slow_org.count("OpportunityFieldHistory") > 2000, "more than one REST page"
    expected = _as_in_files(records.records("micro_decision_events"))
    batch_config = _batch_config(tmp_path / "batches")
    run = run_tap(tmp_path, {**config, "batch_config": batch_config}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    sources = tuple(_events_bookmarks(records.last_state or {}))
    assert len(sources) > 5
    assert _walk_batches(run, expected, sources) == expected
    assert run.last_state == records.last_state


def test_given_an_object_filter_on_a_source_then_its_events_are_read_unfiltered(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """``object_filters`` narrow the object stream only: events derived from its filtered
    pages would silently miss every decision the filter leaves out."""
    log = QueryLog(org)
    config = tap_config(org, api_type="rest", object_filters={"Task": "Status = 'Completed'"})
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)

    def task_events(run: Any) -> dict[str, dict]:
        return {
            k: e
            for k, e in _comparable(run.records("micro_decision_events")).items()
            if e["context"]["source_object"] == "Task"
        }

    before = len(log.queries)
    both = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), ["Task", "micro_decision_events"])
    )
    assert both.returncode == 0, both.stderr
    assert log.since(before)["Task"] == 2, "the filtered stream, then the events' own read"
    tasks = both.records("Task")
    assert tasks
    assert all(t["Status"] == "Completed" for t in tasks)
    alone = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), ["micro_decision_events"])
    )
    assert alone.returncode == 0, alone.stderr
    assert task_events(both) == task_events(alone)
    assert len(task_events(alone)) > len(tasks)


def test_given_a_run_killed_between_pages_of_a_source_of_another_key_then_the_resume_loses_nothing(
    slow_org: SandboxOrg, tmp_path: Path
) -> None:
    """OpportunityHistory read once for its stream (SystemModstamp) and its stage changes
    (CreatedDate), in CreatedDate order: each page moves the events bookmark, the stream's waits
    for the last page. Killed after the first page's STATE, the next run writes every stage
    change and every snapshot the killed run had not, still in one read."""
    log = QueryLog(slow_org)
    config = tap_config(slow_org, api_type="rest")
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(catalog, ["OpportunityHistory", "micro_decision_events"])
    full = run_tap(tmp_path, config, catalog=catalog)
    assert full.returncode == 0, full.stderr
    assert slow_org.count("OpportunityHistory") > 2000, "more than one REST page"
    final = full.last_state
    assert final is not None
    done = _events_bookmarks(final)["OpportunityHistory"]

    def stage_changes(messages: list[dict]) -> dict[str, dict]:
        return {
            k: e
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == "micro_decision_events"
            for k, e in _comparable([m["record"]]).items()
            if e["event_type"] == "stage_change"
        }

    cut = next(
        i
        for i, m in enumerate(full.messages)
        if m["type"] == "STATE"
        and _events_bookmarks(m["value"]).get("OpportunityHistory") not in (None, done)
    )
    killed = full.messages[: cut + 1]
    state = killed[-1]["value"]
    assert "replication_key_value" not in state["bookmarks"].get("OpportunityHistory", {}), (
        "the stream's bookmark waits for its last page"
    )
    before = len(log.queries)
    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert resumed.returncode == 0, resumed.stderr
    reads = log.since(before)
    assert reads["OpportunityHistory"] == 1, "one read of the window for both"
    assert reads[LOOKUP] > 0, "the snapshots before the events' window, by opportunity"
    everything = stage_changes(full.messages)
    assert {**stage_changes(killed), **stage_changes(resumed.messages)} == everything
    assert stage_changes(resumed.messages), "the resumed run wrote the rest"
    snapshots = {r["Id"] for r in full.records("OpportunityHistory")}
    assert {r["Id"] for r in resumed.records("OpportunityHistory")} == snapshots
    assert resumed.last_state == final


def test_given_api_type_auto_then_the_count_sent_ahead_is_the_one_read_of_both(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """Streams side by side count their reads first (``counts``): a source read for its stream
    and its events counts that one read, once, and the read takes that count."""
    log = QueryLog(org)
    config = tap_config(org, api_type="auto", bulk_threshold=500)
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    names = ["OpportunityHistory", "ProcessInstanceStep"]
    run = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), [*names, "micro_decision_events"])
    )
    assert run.returncode == 0, run.stderr
    counted = Counter(log.counts)
    assert [counted[name] for name in names] == [1, 1], counted
    assert [Counter(log.queries)[name] for name in names] == [1, 1]
    total = org.count("OpportunityHistory")
    assert f"OpportunityHistory: {total} rows to read; using BULK" in run.stderr
    assert len(_by_id(run.records("OpportunityHistory"))) == total


def test_given_bulk_when_a_same_key_source_is_shared_then_its_job_has_no_order_by(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """A same-key source (AccountHistory, CreatedDate both) shared with its object stream is
    read as the stream reads it alone: a Bulk job without ORDER BY (it disables PK chunking and
    invites QUERY_TIMEOUT on large objects, README). Only a read keyed apart is ordered."""
    orders: dict[str, list[tuple]] = {}
    engine = org.engine
    execute = engine.execute

    def recording(query: Any, **kwargs: Any) -> Any:
        if not query.is_count and "InList(" not in repr(query.where):
            orders.setdefault(query.object_name, []).append(tuple(query.order_by))
        return execute(query, **kwargs)

    engine.execute = recording  # type: ignore[method-assign]
    try:
        config = tap_config(org, api_type="bulk")
        catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
        only = select(copy.deepcopy(catalog), ["AccountHistory"])
        alone = run_tap(tmp_path, config, catalog=only)
        assert alone.returncode == 0, alone.stderr
        assert orders.pop("AccountHistory") == [()], "the stream alone: no ORDER BY"
        both = select(copy.deepcopy(catalog), ["AccountHistory", "micro_decision_events"])
        run = run_tap(tmp_path, {**config, "event_types": ["field_change"]}, catalog=both)
        assert run.returncode == 0, run.stderr
        assert "derived from this stream's pages" in run.stderr, "shared: one read"
        assert orders["AccountHistory"] == [()], orders["AccountHistory"]
    finally:
        engine.execute = execute  # type: ignore[method-assign]


def test_given_a_start_date_inside_a_second_then_shared_stage_changes_know_the_stage_before(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """SOQL datetimes are whole seconds: the events' own read of ``CreatedDate >= start`` and
    its lookup of the snapshots ``CreatedDate < start`` both truncate ``start`` to its second.
    A start_date of 12:00:00.500 and a snapshot B at 12:00:00: the own read reads B, so the
    next snapshot C of that opportunity moves from B's stage. The shared read must give C the
    same previous_stage, not the stage of the snapshot before B."""
    table = org.org.table("OpportunityHistory").sort_by(
        [("CreatedDate", "ascending"), ("Id", "ascending")]
    )
    by_opportunity: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        by_opportunity.setdefault(row["OpportunityId"], []).append(row)
    a, b, c = next(
        rows[:3]
        for rows in by_opportunity.values()
        if len(rows) >= 3
        and len({rows[0]["StageName"], rows[1]["StageName"], rows[2]["StageName"]}) == 3
    )
    start = b["CreatedDate"].astimezone(dt.timezone.utc)
    start_date = start.strftime("%Y-%m-%dT%H:%M:%S") + ".500Z"
    config = tap_config(org, api_type="rest", start_date=start_date)
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)

    def moves_of_c(run: Any) -> list[dict]:
        return [
            e
            for e in run.records("micro_decision_events")
            if e["event_type"] == "stage_change" and e["context"]["source_record_id"] == c["Id"]
        ]

    both = select(copy.deepcopy(catalog), ["OpportunityHistory", "micro_decision_events"])
    shared = run_tap(tmp_path, config, catalog=both)
    assert shared.returncode == 0, shared.stderr
    assert "derived from this stream's pages" in shared.stderr, "shared: one read"
    alone = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), ["micro_decision_events"])
    )
    assert alone.returncode == 0, alone.stderr
    [own] = moves_of_c(alone)
    assert own["context"]["previous_stage"] == b["StageName"] != a["StageName"]
    [from_shared] = moves_of_c(shared)
    assert from_shared["context"]["previous_stage"] == b["StageName"], (
        f"C moved from {from_shared['context']['previous_stage']!r} (A's stage), not B's"
    )

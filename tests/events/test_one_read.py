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

import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.catalog import select
from tests.helpers import run_tap, tap_config

OBJECT_STREAMS = ["Account", "AccountHistory", "OpportunityFieldHistory"]
SHARED = ["AccountHistory", "OpportunityFieldHistory"]


class QueryLog:
    """The objects the org ran queries on (REST and Bulk), COUNT() apart: the org's request
    log has the paths only, the SOQL travels in the query string or the job's body."""

    def __init__(self, org: SandboxOrg) -> None:
        self.queries: list[str] = []
        engine = org.engine
        execute = engine.execute

        def recording(query: Any, **kwargs: Any) -> Any:
            if not query.is_count:
                self.queries.append(query.object_name)
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
    assert reads["AccountHistory"] == reads["OpportunityFieldHistory"] == 1, reads
    assert max(reads.values()) == 1, f"an object was queried twice: {reads}"

    before = len(log.queries)
    alone = run_tap(
        tmp_path, config, catalog=select(copy.deepcopy(catalog), ["micro_decision_events"])
    )
    assert alone.returncode == 0, alone.stderr
    assert log.since(before)["AccountHistory"] == 1

    shared_events = _comparable(both.records("micro_decision_events"))
    assert {e["context"]["source_object"] for e in shared_events.values()} >= set(SHARED)
    assert shared_events == _comparable(alone.records("micro_decision_events"))

    # The events bookmark of a shared source moved with its object stream's bookmark.
    state = both.last_state
    assert state is not None
    bookmarks = _events_bookmarks(state)
    for name in SHARED:
        assert bookmarks[name] == state["bookmarks"][name]["replication_key_value"], name

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
    # (OpportunityHistory is read twice: its snapshots before the window, then the window.)
    assert [reads[name] for name in OBJECT_STREAMS] == [1, 1, 1], reads


def test_given_the_two_bookmarks_apart_when_both_are_selected_then_no_event_is_lost_or_added(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """Object stream ahead of the events: the events are read on their own. Events ahead of the
    object stream: shared, without the rows before the events' bookmark."""
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
    before = len(log.queries)
    run = run_tap(tmp_path, config, state=ahead, catalog=both)
    assert run.returncode == 0, run.stderr
    assert log.since(before)["AccountHistory"] == 2, "the events read their own, longer window"
    everything = account_events(run_tap(tmp_path, config, catalog=events_only))
    assert account_events(run) == everything

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

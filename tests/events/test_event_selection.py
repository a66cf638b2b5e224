"""micro_decision_events honours the catalog's deselected properties (top-level and inside
``context``) and stream maps, whether its events come from its own reads or from an object
stream's pages: the fast RECORD path must write what the SDK's per-record path writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tap_salesforce_temporal.events import EVENT_SCHEMA
from tests.helpers import run_tap, tap_config

EVENTS = "micro_decision_events"
DESELECTED = (["properties", "actor_type"], ["properties", "context", "properties", "metadata"])


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=4, scale=20) as org:
        yield org


def _catalog(org: SandboxOrg, tmp_path: Path, config: dict) -> dict:
    catalog = select(json.loads(run_tap(tmp_path, config, discover=True).stdout), [EVENTS, "Task"])
    [events] = [s for s in catalog["streams"] if s["tap_stream_id"] == EVENTS]
    for entry in events["metadata"]:
        if entry["breadcrumb"] in DESELECTED:
            entry["metadata"]["selected"] = False
    return catalog


def test_given_deselected_event_properties_then_no_event_carries_them(
    org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(org, objects=["Task", "AccountHistory", "User"])
    run = run_tap(tmp_path, config, catalog=_catalog(org, tmp_path, config))
    assert run.returncode == 0, run.stderr[-2000:]
    events = run.records(EVENTS)
    sources = {e["context"]["source_object"] for e in events}
    assert sources == {"Task", "AccountHistory"}, "shared pages (Task) and own reads both written"
    expected = set(EVENT_SCHEMA["properties"]) - {"actor_type"}
    expected_context = set(EVENT_SCHEMA["properties"]["context"]["properties"]) - {"metadata"}
    for event in events:
        assert set(event) == expected, event
        assert set(event["context"]) == expected_context, event


def test_given_a_stream_map_on_events_then_it_applies_to_every_event(
    org: SandboxOrg, tmp_path: Path
) -> None:
    maps = {EVENTS: {"kind": "event_type", "old_value": None}}
    config = tap_config(org, objects=["Task", "AccountHistory", "User"], stream_maps=maps)
    run = run_tap(tmp_path, config, catalog=_catalog(org, tmp_path, config))
    assert run.returncode == 0, run.stderr[-2000:]
    events = run.records(EVENTS)
    assert {e["context"]["source_object"] for e in events} == {"Task", "AccountHistory"}
    for event in events:
        assert event["kind"] == event["event_type"]
        assert not {"old_value", "actor_type"} & set(event)
        assert "metadata" not in event["context"]

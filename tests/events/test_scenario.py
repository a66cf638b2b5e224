"""The hand-written scenario: every field of every expected event, written out by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from synthetic_org import SandboxOrg
from synthetic_org.ids import make_id
from tap_salesforce_temporal.events import event_id
from tests.helpers import run_tap, tap_config
from tests.scenario import (
    ACCOUNT,
    ADMIN,
    AUTOMATION,
    CONTACT,
    DEACTIVATION,
    DEFINITION,
    FIELD_HISTORY,
    INTEGRATION,
    MARIA,
    MEETING,
    OPPORTUNITY,
    PROCESS,
    RENEWAL,
    SAM,
    SETUP,
    SNAPSHOTS,
    STEP_APPROVED,
    STEP_STARTED,
    TASK,
    DecisionScenario,
)

ORG_ID = "00D8d0000000000EAA"  # DecisionScenario is seed 0: synthetic_org.oauth.org_id_for(0)


def _context(source: str, source_id: str, **overrides: object) -> dict:
    context = {
        "source_object": source,
        "source_record_id": source_id,
        "related_records": [],
        "previous_stage": None,
        "stage_duration_days": None,
        "approval_comments": None,
        "activity_subject": None,
        "activity_type": None,
        "metadata": {},
    }
    context.update(overrides)
    return context


def _event(
    event_type: str,
    source: str,
    source_id: str,
    field: str | None,
    when: str,
    actor: str | None,
    actor_type: str,
    record_type: str,
    record_id: str,
    old: str | None,
    new: str | None,
    context: dict,
    recorded: str | None = None,
) -> dict:
    return {
        "event_id": event_id(source, source_id, field),
        "event_type": event_type,
        "timestamp_occurred": when,
        "timestamp_recorded": recorded or when,
        "actor_id": actor,
        "actor_type": actor_type,
        "record_type": record_type,
        "record_id": record_id,
        "field_name": field,
        "old_value": old,
        "new_value": new,
        "context": context,
        "extractor_version": "0.1.0",
    }


EXPECTED = [
    _event("field_change", "OpportunityFieldHistory", FIELD_HISTORY[0], "created", "2025-03-03T09:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, None, None,
           _context("OpportunityFieldHistory", FIELD_HISTORY[0], metadata={"data_type": "Text"})),
    _event("field_change", "OpportunityFieldHistory", FIELD_HISTORY[2], "Amount", "2025-03-12T15:30:00.000Z", INTEGRATION, "integration", "Opportunity", OPPORTUNITY, "50000.0", "65000.0",
           _context("OpportunityFieldHistory", FIELD_HISTORY[2], metadata={"data_type": "Currency"})),
    _event("stage_change", "OpportunityHistory", SNAPSHOTS[0], "StageName", "2025-03-03T09:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, None, "Prospecting",
           _context("OpportunityHistory", SNAPSHOTS[0], metadata={"amount": 50000.0, "probability": 10.0, "close_date": "2025-04-30", "forecast_category": "Pipeline", "expected_revenue": 5000.0})),
    _event("stage_change", "OpportunityHistory", SNAPSHOTS[1], "StageName", "2025-03-10T10:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, "Prospecting", "Qualification",
           _context("OpportunityHistory", SNAPSHOTS[1], previous_stage="Prospecting", stage_duration_days=7.0417, metadata={"amount": 50000.0, "probability": 10.0, "close_date": "2025-04-30", "forecast_category": "Pipeline", "expected_revenue": 5000.0})),
    _event("stage_change", "OpportunityHistory", SNAPSHOTS[3], "StageName", "2025-03-20T12:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, "Qualification", "Closed Won",
           _context("OpportunityHistory", SNAPSHOTS[3], previous_stage="Qualification", stage_duration_days=10.0833, metadata={"amount": 65000.0, "probability": 100.0, "close_date": "2025-03-20", "forecast_category": "Closed", "expected_revenue": 65000.0})),
    _event("approval_decision", "ProcessInstanceStep", STEP_STARTED, "StepStatus", "2025-03-15T09:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, None, "Started",
           _context("ProcessInstanceStep", STEP_STARTED, related_records=[PROCESS], approval_comments="Please approve a 10% discount.",
                    metadata={"process_instance_id": PROCESS, "process_definition_id": DEFINITION, "original_actor_id": SAM, "step_node_id": None, "elapsed_days": 0.0})),
    _event("approval_decision", "ProcessInstanceStep", STEP_APPROVED, "StepStatus", "2025-03-16T11:00:00.000Z", MARIA, "user", "Opportunity", OPPORTUNITY, None, "Approved",
           _context("ProcessInstanceStep", STEP_APPROVED, related_records=[PROCESS], approval_comments="Approved - strategic account.",
                    metadata={"process_instance_id": PROCESS, "process_definition_id": DEFINITION, "original_actor_id": MARIA, "step_node_id": make_id("04b", 1), "elapsed_days": 1.083})),
    _event("activity", "Task", TASK, "Status", "2025-03-11T14:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, None, "Completed",
           _context("Task", TASK, related_records=[CONTACT, OPPORTUNITY], activity_subject="Call to confirm pricing", activity_type="Call",
                    metadata={"activity_date": "2025-03-11", "end": None, "closed": True})),
    _event("setup_change", "SetupAuditTrail", SETUP, "activatedinteractiondefversion", "2025-03-05T08:00:00.000Z", AUTOMATION, "automation", "Organization", ORG_ID, None, 'Activated flow version #2 "Stage Sync"',
           _context("SetupAuditTrail", SETUP, metadata={"section": "Flows", "action": "activatedinteractiondefversion", "delegate_user": None, "created_by_context": "Automated Process", "responsible_namespace_prefix": None})),
    _event("field_change", "OpportunityFieldHistory", FIELD_HISTORY[4], "created", "2025-03-05T10:00:00.000Z", SAM, "user", "Opportunity", RENEWAL, None, None,
           _context("OpportunityFieldHistory", FIELD_HISTORY[4], metadata={"data_type": "Text"})),
    _event("stage_change", "OpportunityHistory", SNAPSHOTS[4], "StageName", "2025-03-05T10:00:00.000Z", SAM, "user", "Opportunity", RENEWAL, None, "Prospecting",
           _context("OpportunityHistory", SNAPSHOTS[4], metadata={"amount": 20000.0, "probability": 10.0, "close_date": "2025-03-31", "forecast_category": "Pipeline", "expected_revenue": 2000.0})),
    _event("stage_change", "OpportunityHistory", SNAPSHOTS[5], "StageName", "2025-03-25T10:00:00.000Z", SAM, "user", "Opportunity", RENEWAL, "Prospecting", "Closed Lost",
           _context("OpportunityHistory", SNAPSHOTS[5], previous_stage="Prospecting", stage_duration_days=20.0, metadata={"amount": 20000.0, "probability": 0.0, "close_date": "2025-03-25", "forecast_category": "Omitted", "expected_revenue": 0.0})),
    _event("activity", "Event", MEETING, "Type", "2025-03-18T13:00:00.000Z", SAM, "user", "Opportunity", OPPORTUNITY, None, "Meeting",
           _context("Event", MEETING, related_records=[CONTACT, OPPORTUNITY], activity_subject="Kickoff meeting", activity_type="Event",
                    metadata={"activity_date": "2025-03-18", "end": "2025-03-18T14:00:00.000Z", "closed": None}), recorded="2025-03-14T09:00:00.000Z"),
    _event("setup_change", "SetupAuditTrail", DEACTIVATION, "deactivateduser", "2025-03-25T16:00:00.000Z", ADMIN, "user", "Organization", ORG_ID, None, "Deactivated user Old Contractor",
           _context("SetupAuditTrail", DEACTIVATION, metadata={"section": "Manage Users", "action": "deactivateduser", "delegate_user": None, "created_by_context": None, "responsible_namespace_prefix": None})),
]  # fmt: skip


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with SandboxOrg(org=DecisionScenario()) as org:
        tmp = tmp_path_factory.mktemp("scenario")
        catalog = json.loads(run_tap(tmp, tap_config(org), discover=True).stdout)
        run = run_tap(tmp, tap_config(org))
        assert run.returncode == 0, run.stderr
        yield run, catalog


def test_given_the_scenario_when_extracted_then_every_event_matches_the_hand_written_truth(
    scenario_run,
) -> None:  # type: ignore[no-untyped-def]
    run, _ = scenario_run
    events = [dict(e) for e in run.records("micro_decision_events")]
    for event in events:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z", event.pop("extracted_at"))
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events) == len(EXPECTED), sorted(
        (e["event_type"], e["field_name"]) for e in events
    )
    for expected in EXPECTED:
        assert by_id[expected["event_id"]] == expected, expected["event_type"]
    stage_rows = [
        e for e in events if e["field_name"] == "StageName" and e["event_type"] == "field_change"
    ]
    assert stage_rows == [], (
        "OpportunityFieldHistory StageName rows are the same decision as the stage_change"
    )
    assert ACCOUNT not in {e["record_id"] for e in events}


def test_given_the_catalog_then_events_validate_and_event_id_is_the_primary_key(
    scenario_run,
) -> None:  # type: ignore[no-untyped-def]
    run, catalog = scenario_run
    [entry] = [s for s in catalog["streams"] if s["tap_stream_id"] == "micro_decision_events"]
    assert entry["key_properties"] == ["event_id"]
    assert entry["replication_key"] == "timestamp_recorded"
    for event in run.records("micro_decision_events"):
        jsonschema.validate(event, entry["schema"])
    state = run.last_state["bookmarks"]["micro_decision_events"]["partitions"]
    sources = {p["context"]["source_object"]: p.get("replication_key_value") for p in state}
    assert sources["OpportunityHistory"] == "2025-03-25T10:00:00.000Z"
    assert sources["SetupAuditTrail"] == "2025-03-25T16:00:00.000Z"


def test_given_tracked_history_objects_then_history_tracked_fields_lists_them(scenario_run) -> None:  # type: ignore[no-untyped-def]
    run, _ = scenario_run
    rows = {(r["history_object"], r["field_name"]) for r in run.records("history_tracked_fields")}
    assert ("OpportunityFieldHistory", "StageName") in rows
    assert ("Project__History", "Budget__c") in rows
    assert all(
        r["object_name"] == "Opportunity"
        for r in run.records("history_tracked_fields")
        if r["history_object"] == "OpportunityFieldHistory"
    )


def test_given_untracked_or_invisible_objects_then_one_warning_each_and_the_run_succeeds(
    scenario_run,
) -> None:  # type: ignore[no-untyped-def]
    run, _ = scenario_run
    assert (
        run.stderr.count(
            "Object Invoice__c has no field history object visible (history tracking off or no access)"
        )
        == 1
    )
    assert (
        run.stderr.count("Object FieldHistoryArchive is not queryable by this user; skipped") == 1
    )


def test_given_event_type_and_record_type_settings_then_only_those_events_are_derived(
    tmp_path: Path,
) -> None:
    with SandboxOrg(org=DecisionScenario()) as org:
        run = run_tap(
            tmp_path,
            tap_config(
                org, event_types=["stage_change", "setup_change"], record_types=["Opportunity"]
            ),
        )
        assert run.returncode == 0, run.stderr
        assert {e["event_type"] for e in run.records("micro_decision_events")} == {"stage_change"}

"""The derivation rules as pure functions: actor types, stage tracking, skipped duplicates."""

from __future__ import annotations

from tap_salesforce_temporal.events import Derivation, StageTracker, event_id, field_history_events

D = Derivation(
    user_types={"005A": "Standard", "005B": "AutomatedProcess", "005C": "CloudIntegrationUser"},
    key_prefixes={"006": "Opportunity", "500": "Case"},
    org_id="00Dx",
    extracted_at="2025-01-01T00:00:00.000Z",
    extractor_version="test",
)


def test_actor_type_covers_user_automation_integration_and_system() -> None:
    assert [D.actor_type(a) for a in ("005A", "005B", "005C", None, "")] == [
        "user",
        "automation",
        "integration",
        "system",
        "system",
    ]
    assert D.actor_type("005Unknown") == "user"


def test_event_id_is_deterministic_and_distinguishes_its_inputs() -> None:
    assert event_id("A", "1", "f") == event_id("A", "1", "f")
    assert (
        len(
            {
                event_id("A", "1", "f"),
                event_id("A", "1", "g"),
                event_id("B", "1", "f"),
                event_id("A", "2", None),
            }
        )
        == 4
    )


def _snapshot(row_id: str, opp: str, stage: str, when: str) -> dict:
    return {
        "Id": row_id,
        "OpportunityId": opp,
        "StageName": stage,
        "CreatedDate": when,
        "CreatedById": "005A",
    }


def test_stage_tracker_seeded_from_prior_snapshots_measures_duration_across_the_window_edge() -> (
    None
):
    prior = [
        _snapshot("1", "006X", "Prospecting", "2025-01-01T00:00:00.000Z"),
        _snapshot("2", "006X", "Prospecting", "2025-01-03T00:00:00.000Z"),
    ]
    tracker = StageTracker()
    tracker.seed(prior)
    [event] = tracker.events(
        [_snapshot("3", "006X", "Qualification", "2025-01-11T12:00:00.000Z")], D
    )
    assert event["old_value"] == "Prospecting"
    assert event["context"]["stage_duration_days"] == 10.5, (
        "measured from when the stage was entered, not the last snapshot"
    )


def test_unchanged_stage_snapshots_yield_no_event_and_the_first_has_no_old_value() -> None:
    rows = [
        _snapshot("1", "006Y", "Prospecting", "2025-01-01T00:00:00.000Z"),
        _snapshot("2", "006Y", "Prospecting", "2025-01-02T00:00:00.000Z"),
    ]
    events = list(StageTracker().events(rows, D))
    assert len(events) == 1
    assert events[0]["old_value"] is None
    assert events[0]["context"]["previous_stage"] is None


def test_field_history_skips_opportunity_stage_rows_but_keeps_other_objects_status_rows() -> None:
    row = {
        "Id": "017A",
        "Field": "StageName",
        "OldValue": "a",
        "NewValue": "b",
        "CreatedDate": "2025-01-01T00:00:00.000Z",
        "CreatedById": None,
        "OpportunityId": "006Z",
        "CaseId": "500Z",
    }
    assert (
        list(
            field_history_events(
                "OpportunityFieldHistory", "Opportunity", "OpportunityId", [row], D
            )
        )
        == []
    )
    [case_event] = field_history_events(
        "CaseHistory", "Case", "CaseId", [dict(row, Field="Status")], D
    )
    assert case_event["actor_type"] == "system"
    assert case_event["record_id"] == "500Z"

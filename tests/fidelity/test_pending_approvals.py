"""Pending approvals: the synthetic org has undecided ones (a Pending ProcessInstance, its Started
step, a ProcessInstanceWorkitem for the approver), the tap reads them, and the events count only
what was decided: the submission, never an approval_decision for the step still waiting."""

from __future__ import annotations

from pathlib import Path

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.events import Derivation, approval_events
from tests.helpers import run_tap, tap_config


def test_given_pending_approvals_when_extracted_then_work_items_are_read_and_no_decision_is_invented(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=1, scale=10) as org:
        run = run_tap(
            tmp_path, tap_config(org, objects=["ProcessInstance*", "Opportunity*", "User"])
        )
    assert run.returncode == 0, run.stderr[-2000:]
    workitems = run.records("ProcessInstanceWorkitem")
    assert workitems, "the org seeds pending approvals"
    instances = {r["Id"]: r for r in run.records("ProcessInstance")}
    pending = {w["ProcessInstanceId"] for w in workitems}
    assert {instances[i]["Status"] for i in pending} == {"Pending"}
    assert all(instances[i]["CompletedDate"] is None for i in pending)
    steps = [s for s in run.records("ProcessInstanceStep") if s["ProcessInstanceId"] in pending]
    assert {s["StepStatus"] for s in steps} == {"Started"}
    events = [
        e
        for e in run.records("micro_decision_events")
        if e["event_type"] == "approval_decision"
        and e["context"]["metadata"]["process_instance_id"] in pending
    ]
    assert sorted(e["new_value"] for e in events) == ["Started"] * len(pending)


def test_given_an_undecided_step_row_then_it_is_no_approval_decision() -> None:
    derivation = Derivation({}, {"006": "Opportunity"}, "00D", "2025-01-01T00:00:00.000Z", "t")
    row = {
        "Id": "04h8d0000000001AAA",
        "ProcessInstanceId": "04g8d0000000001AAA",
        "ProcessInstance.TargetObjectId": "0068d0000000001AAA",
        "CreatedDate": "2025-01-01T00:00:00.000Z",
        "ActorId": None,
    }
    assert list(approval_events([{**row, "StepStatus": "Pending"}], derivation)) == []
    assert [
        e["new_value"] for e in approval_events([{**row, "StepStatus": "Approved"}], derivation)
    ] == ["Approved"]

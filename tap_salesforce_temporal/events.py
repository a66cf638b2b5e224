"""MicroDecisionEvent: one standardized record per decision, derived by pure functions from rows.

Every function here takes canonical source rows (as the tap emits them) and returns event dicts;
nothing does I/O, so the derivation rules are tested directly and give the same events whether the
history arrives in one run or in many (the only carried state is ``StageState`` per opportunity).

Rules (DESIGN.md §3): field history row -> field_change (the parent is the record; OpportunityFieldHistory
StageName rows are skipped because the OpportunityHistory snapshot describes the same decision);
consecutive OpportunityHistory snapshots -> stage_change when StageName differs (the first snapshot
has old_value null); ProcessInstanceStep -> approval_decision; Task/Event -> activity;
SetupAuditTrail -> setup_change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

EVENT_TYPES = ("field_change", "stage_change", "approval_decision", "activity", "setup_change")
ACTOR_TYPES = ("user", "system", "automation", "integration")
AUTOMATION_USER_TYPES = frozenset({"AutomatedProcess"})
INTEGRATION_USER_TYPES = frozenset({"CloudIntegrationUser", "AutomatedUser"})

CONTEXT_SCHEMA = {
    "type": ["object", "null"],
    "properties": {
        "source_object": {"type": ["string", "null"]},
        "source_record_id": {"type": ["string", "null"]},
        "related_records": {"type": ["array", "null"], "items": {"type": "string"}},
        "previous_stage": {"type": ["string", "null"]},
        "stage_duration_days": {"type": ["number", "null"]},
        "approval_comments": {"type": ["string", "null"]},
        "activity_subject": {"type": ["string", "null"]},
        "activity_type": {"type": ["string", "null"]},
        "metadata": {"type": ["object", "null"]},
    },
    "additionalProperties": False,
}
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event_id": {"type": "string"},
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "timestamp_occurred": {"type": "string", "format": "date-time"},
        "timestamp_recorded": {"type": "string", "format": "date-time"},
        "actor_id": {"type": ["string", "null"]},
        "actor_type": {"type": "string", "enum": list(ACTOR_TYPES)},
        "record_type": {"type": ["string", "null"]},
        "record_id": {"type": ["string", "null"]},
        "field_name": {"type": ["string", "null"]},
        "old_value": {"type": ["string", "null"]},
        "new_value": {"type": ["string", "null"]},
        "context": CONTEXT_SCHEMA,
        "extracted_at": {"type": "string", "format": "date-time"},
        "extractor_version": {"type": "string"},
    },
    "required": [
        "event_id",
        "event_type",
        "timestamp_occurred",
        "timestamp_recorded",
        "actor_type",
        "extracted_at",
        "extractor_version",
    ],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Derivation:
    """What every rule needs to know besides the rows themselves."""

    user_types: Mapping[str, str | None]  # User Id -> UserType
    key_prefixes: Mapping[str, str]  # "006" -> "Opportunity"
    org_id: str
    extracted_at: str
    extractor_version: str

    def actor_type(self, actor_id: str | None) -> str:
        """automation (Automated Process), integration (integration users), system (no user), user."""
        if not actor_id:
            return "system"
        user_type = self.user_types.get(actor_id)
        if user_type in AUTOMATION_USER_TYPES:
            return "automation"
        if user_type in INTEGRATION_USER_TYPES:
            return "integration"
        return "user"

    def record_type(self, record_id: str | None) -> str | None:
        return self.key_prefixes.get(record_id[:3]) if record_id else None

    def event(
        self,
        *,
        event_type: str,
        source_object: str,
        source_record_id: str,
        field_name: str | None,
        occurred: str,
        recorded: str,
        actor_id: str | None,
        record_type: str | None,
        record_id: str | None,
        old_value: object = None,
        new_value: object = None,
        related: Iterable[str | None] = (),
        previous_stage: str | None = None,
        stage_duration_days: float | None = None,
        approval_comments: str | None = None,
        activity_subject: str | None = None,
        activity_type: str | None = None,
        metadata: dict | None = None,
    ) -> dict:
        return {
            "event_id": event_id(source_object, source_record_id, field_name),
            "event_type": event_type,
            "timestamp_occurred": occurred,
            "timestamp_recorded": recorded,
            "actor_id": actor_id,
            "actor_type": self.actor_type(actor_id),
            "record_type": record_type,
            "record_id": record_id,
            "field_name": field_name,
            "old_value": _text(old_value),
            "new_value": _text(new_value),
            "context": {
                "source_object": source_object,
                "source_record_id": source_record_id,
                "related_records": [r for r in related if r],
                "previous_stage": previous_stage,
                "stage_duration_days": stage_duration_days,
                "approval_comments": approval_comments,
                "activity_subject": activity_subject,
                "activity_type": activity_type,
                "metadata": metadata or {},
            },
            "extracted_at": self.extracted_at,
            "extractor_version": self.extractor_version,
        }


def event_id(source_object: str, source_record_id: str, field_name: str | None) -> str:
    """Deterministic: the same Salesforce row always yields the same id, in any run."""
    key = f"{source_object}\x1f{source_record_id}\x1f{field_name or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def days_between(start: str, end: str) -> float:
    return round((parse_ts(end) - parse_ts(start)).total_seconds() / 86_400, 4)


# --- field history ---------------------------------------------------------------------------


def field_history_events(
    source_object: str, parent_object: str, parent_field: str, rows: Iterable[dict], d: Derivation
) -> Iterator[dict]:
    """One field_change per row; the parent record is the business record."""
    skip_stage = source_object == "OpportunityFieldHistory"
    for row in rows:
        if skip_stage and row.get("Field") == "StageName":
            continue  # the OpportunityHistory snapshot yields this decision as a stage_change
        yield d.event(
            event_type="field_change",
            source_object=source_object,
            source_record_id=row["Id"],
            field_name=row.get("Field"),
            occurred=row["CreatedDate"],
            recorded=row["CreatedDate"],
            actor_id=row.get("CreatedById"),
            record_type=parent_object,
            record_id=row.get(parent_field),
            old_value=row.get("OldValue"),
            new_value=row.get("NewValue"),
            metadata={"data_type": row.get("DataType")},
        )


# --- stage changes ---------------------------------------------------------------------------


@dataclass
class StageState:
    """The stage an opportunity is in and since when: all a later snapshot needs."""

    stage: str | None
    entered_at: str | None


@dataclass
class StageTracker:
    """Carries StageState across snapshots (and, seeded from Salesforce, across runs)."""

    states: dict[str, StageState] = field(default_factory=dict)

    def seed(self, prior_snapshots: Iterable[dict]) -> None:
        """Replay snapshots older than the window (ordered by CreatedDate, Id) without emitting."""
        for row in prior_snapshots:
            self._advance(row)

    def _advance(self, row: dict) -> tuple[StageState | None, bool]:
        opp = row["OpportunityId"]
        before = self.states.get(opp)
        stage = row.get("StageName")
        changed = before is None or before.stage != stage
        if changed:
            self.states[opp] = StageState(stage, row["CreatedDate"])
        return before, changed

    def events(self, rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
        for row in rows:
            before, changed = self._advance(row)
            if not changed:
                continue
            previous = before.stage if before else None
            duration = (
                days_between(before.entered_at, row["CreatedDate"])
                if before and before.entered_at
                else None
            )
            yield d.event(
                event_type="stage_change",
                source_object="OpportunityHistory",
                source_record_id=row["Id"],
                field_name="StageName",
                occurred=row["CreatedDate"],
                recorded=row["CreatedDate"],
                actor_id=row.get("CreatedById"),
                record_type="Opportunity",
                record_id=row["OpportunityId"],
                old_value=previous,
                new_value=row.get("StageName"),
                previous_stage=previous,
                stage_duration_days=duration,
                metadata={
                    "amount": row.get("Amount"),
                    "probability": row.get("Probability"),
                    "close_date": row.get("CloseDate"),
                    "forecast_category": row.get("ForecastCategory"),
                    "expected_revenue": row.get("ExpectedRevenue"),
                },
            )


# --- approvals, activities, setup ------------------------------------------------------------


# Step statuses that record no decision yet: an approver who has not answered. The decision comes
# later as its own step row (Approved, Rejected...), which is when the event is emitted; a pending
# instance's only event is its submission (the Started step).
UNDECIDED_STEP_STATUSES = frozenset({"Pending", "Held"})


def approval_events(rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
    for row in rows:
        if row.get("StepStatus") in UNDECIDED_STEP_STATUSES:
            continue
        target = row.get("ProcessInstance.TargetObjectId")
        yield d.event(
            event_type="approval_decision",
            source_object="ProcessInstanceStep",
            source_record_id=row["Id"],
            field_name="StepStatus",
            occurred=row["CreatedDate"],
            recorded=row["CreatedDate"],
            actor_id=row.get("ActorId"),
            record_type=d.record_type(target),
            record_id=target,
            new_value=row.get("StepStatus"),
            related=[row.get("ProcessInstanceId")],
            approval_comments=row.get("Comments"),
            metadata={
                "process_instance_id": row.get("ProcessInstanceId"),
                "process_definition_id": row.get("ProcessInstance.ProcessDefinitionId"),
                "original_actor_id": row.get("OriginalActorId"),
                "step_node_id": row.get("StepNodeId"),
                "elapsed_days": row.get("ElapsedTimeInDays"),
            },
        )


def activity_events(source_object: str, rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
    """Task: when it was completed (else created); Event: when it starts."""
    is_task = source_object == "Task"
    for row in rows:
        record_id = row.get("WhatId") or row.get("WhoId")
        if is_task:
            occurred = row.get("CompletedDateTime") or row["CreatedDate"]
            field_name, value, kind = "Status", row.get("Status"), row.get("TaskSubtype")
        else:
            occurred = row.get("StartDateTime") or row["CreatedDate"]
            field_name, value, kind = "Type", row.get("Type"), row.get("EventSubtype")
        yield d.event(
            event_type="activity",
            source_object=source_object,
            source_record_id=row["Id"],
            field_name=field_name,
            occurred=occurred,
            recorded=row["SystemModstamp"],
            actor_id=row.get("OwnerId"),
            record_type=d.record_type(record_id),
            record_id=record_id,
            new_value=value,
            related=[row.get("WhoId"), row.get("WhatId")],
            activity_subject=row.get("Subject"),
            activity_type=kind,
            metadata={
                "activity_date": row.get("ActivityDate"),
                "end": row.get("EndDateTime"),
                "closed": row.get("IsClosed"),
            },
        )


def setup_events(rows: Iterable[dict], d: Derivation) -> Iterator[dict]:
    for row in rows:
        yield d.event(
            event_type="setup_change",
            source_object="SetupAuditTrail",
            source_record_id=row["Id"],
            field_name=row.get("Action"),
            occurred=row["CreatedDate"],
            recorded=row["CreatedDate"],
            actor_id=row.get("CreatedById"),
            record_type="Organization",
            record_id=d.org_id,
            new_value=row.get("Display"),
            metadata={
                "section": row.get("Section"),
                "action": row.get("Action"),
                "delegate_user": row.get("DelegateUser"),
                "created_by_context": row.get("CreatedByContext"),
                "responsible_namespace_prefix": row.get("ResponsibleNamespacePrefix"),
            },
        )

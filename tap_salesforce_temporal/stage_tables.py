"""Stage changes of a page of OpportunityHistory snapshots at once, as an event table (issue #26).

``StageTracker.events`` walks the snapshots in (CreatedDate, Id) order, carrying each
opportunity's stage and since when. The walk stays a Python loop over three columns (which
snapshot changes its opportunity's stage depends on every snapshot before it), ~1 µs a row;
what made stage changes cost several times that, a dict per event and its encoding, is the
table of ``event_tables`` instead. The tracker's states are the same objects the dict walk
keeps: pages may alternate between the two, and ``seed`` fills them for both.
"""

from __future__ import annotations

import pyarrow as pa

from .event_tables import PageColumns, event_table, text_values
from .events import Derivation, StageState, StageTracker, days_between

SOURCE_OBJECT = "OpportunityHistory"


def stage_change_table(
    tracker: StageTracker, rows: pa.Table, d: Derivation
) -> tuple[pa.Table, pa.Array]:
    """``tracker.events`` of a page: the events, and the positions in ``rows`` of the
    snapshots they come from (one each, in order). The tracker moves on as the walk does."""
    page = PageColumns(rows)
    opportunities = page.required("OpportunityId").to_pylist()
    stages = page.get("StageName")
    created = page.required("CreatedDate").to_pylist()
    states = tracker.states
    kept: list[int] = []
    previous: list[object] = []
    durations: list[float | None] = []
    for index, (opportunity, stage, when) in enumerate(
        zip(opportunities, stages.to_pylist(), created, strict=True)
    ):
        before = states.get(opportunity)
        if before is not None and before.stage == stage:
            continue  # the same stage: no decision
        states[opportunity] = StageState(stage, when)
        kept.append(index)
        if before is None:
            previous.append(None)
            durations.append(None)
        else:
            previous.append(before.stage)
            entered = before.entered_at
            durations.append(days_between(entered, when) if entered else None)
    positions = pa.array(kept, pa.int64())
    r = PageColumns(rows.take(positions))
    created_at = r.required("CreatedDate")
    previous_stage = pa.array(previous, stages.type)
    field_name = r.constant("StageName")
    return (
        event_table(
            r,
            d,
            event_type="stage_change",
            source_object=SOURCE_OBJECT,
            source_record_id=r.required("Id"),
            field_name=field_name,
            occurred=created_at,
            recorded=created_at,
            actor_id=r.get("CreatedById"),
            record_type=r.constant("Opportunity"),
            record_id=r.required("OpportunityId"),
            old_value=text_values(previous_stage),
            new_value=text_values(r.get("StageName")),
            previous_stage=previous_stage,
            stage_duration_days=pa.array(durations, pa.float64()),
            metadata={
                "amount": r.get("Amount"),
                "probability": r.get("Probability"),
                "close_date": r.get("CloseDate"),
                "forecast_category": r.get("ForecastCategory"),
                "expected_revenue": r.get("ExpectedRevenue"),
            },
        ),
        positions,
    )

"""Support cases with their status and priority history."""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from .base import DAY, HISTORY_SPAN_DAYS, FieldHistoryWriter, World, ms, spec
from .columns import TableBuilder


def simulate_cases(org: World, rng: random.Random) -> dict[str, pa.Table]:
    cases = TableBuilder(spec("Case"))
    case_history = TableBuilder(spec("CaseHistory"))
    for index, created_at in enumerate(org.sorted_times(rng, org.size.cases, HISTORY_SPAN_DAYS)):
        case_id = make_id("500", index + 1)
        owner = org.owner(rng)
        history = FieldHistoryWriter(case_history, "CaseId", case_id)
        history.created(created_at, org.user_id(owner))
        status, priority, t, modified = (
            "New",
            rng.choice(("High", "Medium", "Low")),
            created_at,
            created_at,
        )
        path = ["Working", "Escalated", "Closed"] if rng.random() < 0.2 else ["Working", "Closed"]
        for next_status in path:
            t += int(rng.uniform(0.1, 10) * DAY)
            if t >= org.anchor:
                break
            actor = org.user_id(org.actor(rng, owner))
            history.change(t, actor, "Status", "Picklist", status, next_status)
            if next_status == "Escalated" and priority != "High":
                history.change(t, actor, "Priority", "Picklist", priority, "High")
                priority = "High"
            status, modified = next_status, t
        deleted_at = org.deleted(rng, after=modified)
        closed = status == "Closed"
        cases.add(
            Id=case_id,
            IsDeleted=deleted_at is not None,
            CaseNumber=f"{index + 1:08d}",
            AccountId=make_id("001", 1 + rng.randrange(org.size.accounts)),
            ContactId=make_id("003", 1 + rng.randrange(org.size.contacts)),
            Subject=rng.choice(
                (
                    "Cannot log in",
                    "Invoice question",
                    "Integration error 500",
                    "Feature request",
                )
            ),
            Status=status,
            Priority=priority,
            Origin=rng.choice(("Phone", "Email", "Web")),
            Reason=rng.choice(("Installation", "Equipment Complexity", "Performance", "Breakdown")),
            IsClosed=closed,
            ClosedDate=ms(modified) if closed else None,
            IsEscalated="Escalated" in path and t >= created_at,
            Description=None,
            OwnerId=org.user_id(owner),
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(deleted_at or modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(deleted_at or modified),
        )
    return {
        "Case": cases.to_table(),
        "CaseHistory": case_history.to_table(assign_ids=True, sort_by="CreatedDate"),
    }

"""Leads moving along their status path, with LeadHistory."""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from .base import DAY, HISTORY_SPAN_DAYS, FieldHistoryWriter, World, day_number, ms, spec
from .columns import TableBuilder
from .names import COMPANY_SUFFIX, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES


def simulate_leads(org: World, rng: random.Random) -> dict[str, pa.Table]:
    leads = TableBuilder(spec("Lead"))
    lead_history = TableBuilder(spec("LeadHistory"))
    path = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted")
    for index, created_at in enumerate(org.sorted_times(rng, org.size.leads, HISTORY_SPAN_DAYS)):
        lead_id = make_id("00Q", index + 1)
        owner = org.owner(rng)
        history = FieldHistoryWriter(lead_history, "LeadId", lead_id)
        history.created(created_at, org.user_id(owner))
        status, t, modified = path[0], created_at, created_at
        for next_status in path[1:]:
            t += int(rng.uniform(1, 40) * DAY)
            if t >= org.anchor or rng.random() < 0.3:
                break
            if next_status == path[2] and rng.random() < 0.4:
                next_status = "Closed - Not Converted"
            history.change(
                t,
                org.user_id(org.actor(rng, owner)),
                "Status",
                "Picklist",
                status,
                next_status,
            )
            status, modified = next_status, t
        converted = status == "Closed - Converted"
        deleted_at = org.deleted(rng, after=modified)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        leads.add(
            Id=lead_id,
            IsDeleted=deleted_at is not None,
            FirstName=first,
            LastName=last,
            Name=f"{first} {last}",
            Company=f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}",
            Email=f"lead{index}@prospect.example.com",
            Status=status,
            LeadSource=rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Trade Show")),
            Rating=rng.choice(("Hot", "Warm", "Cold")),
            IsConverted=converted,
            ConvertedDate=day_number(modified) if converted else None,
            ConvertedAccountId=make_id("001", 1 + rng.randrange(org.size.accounts))
            if converted
            else None,
            OwnerId=org.user_id(owner),
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(deleted_at or modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(deleted_at or modified),
        )
    return {
        "Lead": leads.to_table(),
        "LeadHistory": lead_history.to_table(assign_ids=True, sort_by="CreatedDate"),
    }

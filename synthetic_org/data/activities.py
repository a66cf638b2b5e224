"""Tasks, Events and TaskWhoRelation linked to contacts, leads, opportunities, accounts and cases."""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from ..metadata import OBJECTS_BY_NAME
from .base import DAY, HISTORY_SPAN_DAYS, World, day_number, ms
from .columns import TableBuilder

ARCHIVE_AFTER_DAYS = 365
TASK_SUBJECTS = (
    "Call",
    "Send Quote",
    "Send Letter",
    "Follow up on proposal",
    "Email: pricing",
    "Other",
)
EVENT_SUBJECTS = ("Meeting", "Demo", "Discovery call", "QBR", "Contract review")


def _what(org: World, rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.6:
        return make_id("006", 1 + rng.randrange(org.size.opportunities)), make_id(
            "001", 1 + rng.randrange(org.size.accounts)
        )
    if roll < 0.85:
        account = make_id("001", 1 + rng.randrange(org.size.accounts))
        return account, account
    return make_id("500", 1 + rng.randrange(org.size.cases)), make_id(
        "001", 1 + rng.randrange(org.size.accounts)
    )


def _who(org: World, rng: random.Random) -> tuple[str | None, str | None]:
    roll = rng.random()
    if roll < 0.8:
        return make_id("003", 1 + rng.randrange(org.size.contacts)), "Contact"
    if roll < 0.9:
        return make_id("00Q", 1 + rng.randrange(org.size.leads)), "Lead"
    return None, None


def simulate_activities(org: World, rng: random.Random) -> dict[str, pa.Table]:
    tasks = TableBuilder(OBJECTS_BY_NAME["task"])
    events = TableBuilder(OBJECTS_BY_NAME["event"])
    relations = TableBuilder(OBJECTS_BY_NAME["taskwhorelation"])
    archive_before = org.anchor - ARCHIVE_AFTER_DAYS * DAY
    for index, created in enumerate(org.sorted_times(rng, org.size.tasks, HISTORY_SPAN_DAYS)):
        task_id = make_id("00T", index + 1)
        owner = org.owner(rng)
        what_id, account_id = _what(org, rng)
        who_id, who_type = _who(org, rng)
        due = created + int(rng.uniform(0, 14) * DAY)
        done = due < org.anchor and rng.random() < 0.85
        completed_at = min(due + rng.randrange(0, 8 * 3600), org.anchor - 60) if done else None
        deleted_at = org.deleted(rng, after=completed_at or created, rate=0.01)
        modified = deleted_at or completed_at or created
        subtype = rng.choice(("Task", "Email", "Call"))
        tasks.add(
            Id=task_id,
            IsDeleted=deleted_at is not None,
            WhoId=who_id,
            WhatId=what_id,
            AccountId=account_id,
            Subject=rng.choice(TASK_SUBJECTS),
            ActivityDate=day_number(due),
            Status="Completed" if done else rng.choice(("Not Started", "In Progress")),
            Priority=rng.choice(("High", "Normal", "Normal", "Low")),
            IsClosed=done,
            Type=subtype if subtype != "Task" else "Other",
            TaskSubtype=subtype,
            CompletedDateTime=ms(completed_at) if completed_at else None,
            IsArchived=done and due < archive_before,
            Description=None,
            OwnerId=org.user_id(owner),
            CreatedDate=ms(created),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(modified),
        )
        related = [(who_id, who_type)] if who_id else []
        if who_type == "Contact" and rng.random() < 0.2:
            related.append((make_id("003", 1 + rng.randrange(org.size.contacts)), "Contact"))
        for relation_id, relation_type in related:
            relations.add(
                Id=make_id("0RT", relations.rows + 1),
                IsDeleted=False,
                TaskId=task_id,
                RelationId=relation_id,
                Type=relation_type,
                CreatedDate=ms(created),
                CreatedById=org.user_id(owner),
                LastModifiedDate=ms(created),
                LastModifiedById=org.user_id(owner),
                SystemModstamp=ms(created),
            )
    for index, created in enumerate(org.sorted_times(rng, org.size.events, HISTORY_SPAN_DAYS)):
        owner = org.owner(rng)
        what_id, account_id = _what(org, rng)
        who_id, _ = _who(org, rng)
        start = created + int(rng.uniform(1, 21) * DAY)
        start -= start % 1800
        minutes = rng.choice((30, 45, 60, 90))
        end = start + minutes * 60
        events.add(
            Id=make_id("00U", index + 1),
            IsDeleted=False,
            WhoId=who_id,
            WhatId=what_id,
            AccountId=account_id,
            Subject=rng.choice(EVENT_SUBJECTS),
            Location=rng.choice(("Zoom", "Customer HQ", "Office", None)),
            StartDateTime=ms(start),
            EndDateTime=ms(end),
            ActivityDateTime=ms(start),
            ActivityDate=day_number(start),
            DurationInMinutes=minutes,
            EventSubtype="Event",
            Type=rng.choice(("Meeting", "Call", "Other")),
            IsArchived=end < archive_before,
            OwnerId=org.user_id(owner),
            CreatedDate=ms(created),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(created),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(created),
        )
    return {
        "Task": tasks.to_table(),
        "Event": events.to_table(),
        "TaskWhoRelation": relations.to_table(),
    }

"""A custom object with history (Project__c) and one without (Invoice__c), plus a very wide one."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from functools import partial

import pyarrow as pa

from ..ids import make_id
from .base import (
    DAY,
    HISTORY_SPAN_DAYS,
    FieldHistoryWriter,
    World,
    day_number,
    money_text,
    ms,
    spec,
)
from .columns import TableBuilder
from .formulas import invoice_formulas
from .names import CITIES


def simulate_projects(org: World, rng: random.Random) -> dict[str, pa.Table]:
    projects = TableBuilder(spec("Project__c"))
    project_history = TableBuilder(spec("Project__History"))
    invoices = TableBuilder(spec("Invoice__c"))
    statuses = ("Planned", "Active", "On Hold", "Done")
    for index, created_at in enumerate(org.sorted_times(rng, org.size.projects, HISTORY_SPAN_DAYS)):
        project_id = make_id("a00", index + 1)
        owner = org.owner(rng)
        history = FieldHistoryWriter(project_history, "ParentId", project_id)
        history.created(created_at, org.user_id(owner))
        status, budget, t, modified = (
            "Planned",
            float(rng.randrange(10, 500) * 1000),
            created_at,
            created_at,
        )
        for next_status in ("Active", "Done"):
            t += int(rng.uniform(5, 60) * DAY)
            if t >= org.anchor:
                break
            actor = org.user_id(org.actor(rng, owner))
            history.change(t, actor, "Status__c", "Picklist", status, next_status)
            if rng.random() < 0.3:
                new_budget = round(budget * rng.uniform(1.05, 1.5), 2)
                history.change(
                    t,
                    actor,
                    "Budget__c",
                    "Currency",
                    money_text(budget),
                    money_text(new_budget),
                )
                budget = new_budget
            status, modified = next_status, t
        city = rng.choice(CITIES)
        projects.add(
            Id=project_id,
            IsDeleted=False,
            Name=f"PRJ-{index + 1:05d}",
            OwnerId=org.user_id(owner),
            Account__c=make_id("001", 1 + rng.randrange(org.size.accounts)),
            Status__c=status if status in statuses else "Active",
            Budget__c=budget,
            Completion__c=round(rng.uniform(0, 100), 2),
            Start_Date__c=day_number(created_at + 7 * DAY),
            Kickoff_Time__c=f"{rng.randrange(8, 18):02d}:{rng.choice(('00', '30'))}:00.000Z",
            Tags__c=";".join(
                sorted(
                    rng.sample(
                        ("Migration", "Analytics", "Security", "Integration"),
                        rng.randrange(1, 3),
                    )
                )
            ),
            Is_Critical__c=rng.random() < 0.2,
            Health_Score__c=round(rng.uniform(1, 10), 1),
            Headcount__c=float(rng.randrange(1, 40)),
            Notes__c='Kick-off done.\nRisks: data quality, "legacy" ERP.'
            if rng.random() < 0.3
            else None,
            Site_Location__Latitude__s=city[3],
            Site_Location__Longitude__s=city[4],
            Internal_Cost__c=float(rng.randrange(1, 100) * 1000),
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(owner),
            LastModifiedDate=ms(modified),
            LastModifiedById=org.user_id(owner),
            SystemModstamp=ms(modified),
        )
        for _ in range(2):
            issued = min(modified + int(rng.uniform(1, 30) * DAY), org.anchor - DAY)
            invoices.add(
                Id=make_id("a02", invoices.rows + 1),
                IsDeleted=False,
                Name=f"INV-{invoices.rows + 1:06d}",
                Project__c=project_id,
                Amount__c=round(budget / rng.randrange(2, 6), 2),
                Status__c=rng.choice(("Draft", "Sent", "Paid")),
                Due_Date__c=day_number(issued + 30 * DAY),
                OwnerId=org.user_id(owner),
                CreatedDate=ms(issued),
                CreatedById=org.user_id(owner),
                LastModifiedDate=ms(issued),
                LastModifiedById=org.user_id(owner),
                SystemModstamp=ms(issued),
            )
    project_table = projects.to_table()
    # The org's TODAY() starts at the anchor's date (SandboxOrg.set_today moves it).
    today = dt.datetime.fromtimestamp(org.anchor, dt.timezone.utc).date()
    return {
        "Project__c": project_table,
        "Project__History": project_history.to_table(assign_ids=True, sort_by="CreatedDate"),
        "Invoice__c": invoice_formulas(invoices.to_table(), project_table, today),
    }


def simulate_wide_records(org: World, rng: random.Random) -> dict[str, pa.Table]:
    wide = spec("Wide_Record__c")
    builder = TableBuilder(wide)
    count = max(5, org.size.opportunities // 20)
    for index, created in enumerate(org.sorted_times(rng, count, HISTORY_SPAN_DAYS)):
        values: dict[str, object] = {}
        for field in wide.fields:
            if not field.name.startswith("Quarterly_"):
                continue
            roll = rng.random()
            if roll < 0.1:
                continue  # some nulls
            draw: dict[str, Callable[[], object]] = {
                "string": lambda: f"value {rng.randrange(1000)}",
                "double": lambda: round(rng.uniform(0, 1000), 2),
                "boolean": lambda: rng.random() < 0.5,
                "date": partial(day_number, created),
            }
            values[field.name] = draw[field.type]()
        builder.add(
            Id=make_id("a03", index + 1), IsDeleted=False, Name=f"W-{index + 1:05d}", CreatedDate=ms(created), CreatedById=org.user_id(org.ADMIN),
            LastModifiedDate=ms(created), LastModifiedById=org.user_id(org.ADMIN), SystemModstamp=ms(created), **values,
        )  # fmt: skip
    return {"Wide_Record__c": builder.to_table()}

"""Opportunities as Salesforce records them: stage moves, snapshots, field history and approvals.

One save of an opportunity writes, at the same timestamp, an OpportunityHistory snapshot (when stage,
amount, probability or close date changed) and one OpportunityFieldHistory row per tracked field, so
the three objects agree with each other exactly as in a real org.
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from .columns import TableBuilder, mint_ids
from .generator import (
    APPROVAL_COMMENTS,
    DAY,
    FORECAST_NAME,
    HISTORY_SPAN_DAYS,
    REJECTION_COMMENTS,
    STAGE_FORECAST,
    STAGE_PROBABILITY,
    FieldHistoryWriter,
    day_number,
    money_text,
    ms,
)
from .ids import make_id
from .metadata import OBJECTS_BY_NAME, STAGES

if TYPE_CHECKING:
    from .generator import SyntheticOrg

CLOSED_WON, CLOSED_LOST, NEGOTIATION, PROPOSAL = 8, 9, 7, 6


def _date_text(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date().isoformat()


class _Builders:
    def __init__(self) -> None:
        spec = OBJECTS_BY_NAME
        self.opportunities = TableBuilder(spec["opportunity"])
        self.snapshots = TableBuilder(spec["opportunityhistory"])
        self.field_history = TableBuilder(spec["opportunityfieldhistory"])
        self.instances = TableBuilder(spec["processinstance"])
        self.steps = TableBuilder(spec["processinstancestep"])
        self.workitems = TableBuilder(spec["processinstanceworkitem"])


class _Opportunity:
    """The evolving state of one opportunity while its timeline is simulated."""

    def __init__(self, opp_id: str, owner: int, created: int, amount: float, close: int) -> None:
        self.id = opp_id
        self.owner = owner
        self.stage = 0
        self.amount = amount
        self.close = close
        self.last_modified = created
        self.last_stage_change = created
        self.next_step: str | None = None

    @property
    def probability(self) -> float:
        return float(STAGE_PROBABILITY[self.stage])

    @property
    def closed(self) -> bool:
        return self.stage in (CLOSED_WON, CLOSED_LOST)


def simulate_opportunities(org: SyntheticOrg, rng: random.Random) -> dict[str, pa.Table]:
    users = org.table("User").column("Name").to_pylist()
    out = _Builders()
    size = org.size
    created_times = org._sorted_times(rng, size.opportunities, HISTORY_SPAN_DAYS)
    for index, created in enumerate(created_times):
        owner = org._owner(rng)
        opp = _Opportunity(
            make_id("006", index + 1),
            owner,
            created,
            float(rng.randrange(5, 500) * 1000),
            created + int(rng.uniform(30, 180) * DAY),
        )
        history = FieldHistoryWriter(out.field_history, "OpportunityId", opp.id)
        history.created(created, org.user_id(owner))
        _snapshot(out, opp, created, org.user_id(owner))
        t = created
        while not opp.closed:
            t += int(rng.uniform(0.5, 25) * DAY) + rng.randrange(0, 3600)
            if t >= org.anchor:
                break
            actor = org.user_id(org._actor(rng, opp.owner))
            if rng.random() < 0.04:
                _change_owner(org, rng, history, opp, t, actor, users)
                continue
            amount_only = rng.random() < 0.25  # a save that revises the deal without moving it
            if not amount_only:
                _advance_stage(rng, history, opp, t, actor)
            if amount_only or rng.random() < 0.3:
                new_amount = float(round(opp.amount * rng.uniform(0.7, 1.4), -2))
                history.change(
                    t, actor, "Amount", "Currency", money_text(opp.amount), money_text(new_amount)
                )
                opp.amount = new_amount
            if rng.random() < 0.2 or (opp.closed and opp.close > t):
                new_close = t if opp.closed else opp.close + int(rng.uniform(7, 45) * DAY)
                history.change(
                    t, actor, "CloseDate", "Date", _date_text(opp.close), _date_text(new_close)
                )
                opp.close = new_close
            _snapshot(out, opp, t, actor)
            opp.last_modified = t
            if opp.stage == PROPOSAL and rng.random() < 0.5:
                _approval(org, rng, out, opp, t)
        _opportunity_row(org, rng, out, opp, index, created)
    return {
        "Opportunity": out.opportunities.to_table(),
        "OpportunityHistory": out.snapshots.to_table(assign_ids=True, sort_by="CreatedDate"),
        "OpportunityFieldHistory": out.field_history.to_table(
            assign_ids=True, sort_by="CreatedDate"
        ),
        "ProcessInstance": out.instances.to_table(),
        "ProcessInstanceStep": out.steps.to_table(assign_ids=True, sort_by="CreatedDate"),
        "ProcessInstanceWorkitem": out.workitems.to_table(),
    }


def _advance_stage(
    rng: random.Random, history: FieldHistoryWriter, opp: _Opportunity, t: int, actor: str
) -> None:
    old = opp.stage
    if opp.stage == NEGOTIATION:
        opp.stage = CLOSED_WON if rng.random() < 0.6 else CLOSED_LOST
    elif rng.random() < 0.1:
        opp.stage = CLOSED_LOST
    else:
        opp.stage = min(NEGOTIATION, opp.stage + (2 if rng.random() < 0.15 else 1))
    history.change(t, actor, "StageName", "Picklist", STAGES[old], STAGES[opp.stage])
    opp.last_stage_change = t


def _change_owner(
    org: SyntheticOrg,
    rng: random.Random,
    history: FieldHistoryWriter,
    opp: _Opportunity,
    t: int,
    actor: str,
    user_names: list[str],
) -> None:
    """An owner change writes two rows, ids then names, as Salesforce does."""
    new_owner = org._owner(rng)
    if new_owner == opp.owner:
        return
    history.change(t, actor, "Owner", "EntityId", org.user_id(opp.owner), org.user_id(new_owner))
    history.change(t, actor, "Owner", "Text", user_names[opp.owner], user_names[new_owner])
    opp.owner = new_owner
    opp.last_modified = t


def _snapshot(out: _Builders, opp: _Opportunity, t: int, actor: str) -> None:
    out.snapshots.add(
        IsDeleted=False,
        OpportunityId=opp.id,
        CreatedById=actor,
        CreatedDate=ms(t),
        StageName=STAGES[opp.stage],
        Amount=opp.amount,
        ExpectedRevenue=round(opp.amount * opp.probability / 100, 2),
        CloseDate=day_number(opp.close),
        Probability=opp.probability,
        ForecastCategory=STAGE_FORECAST[opp.stage],
        SystemModstamp=ms(t),
    )


def _approval(
    org: SyntheticOrg, rng: random.Random, out: _Builders, opp: _Opportunity, submitted: int
) -> None:
    """A discount approval: a Started step, then one or two approver decisions."""
    instance_id = make_id("04g", out.instances.rows + 1)
    submitter = org.user_id(opp.owner)
    steps = [
        (
            "Started",
            submitter,
            submitted,
            rng.choice((None, "Please approve a 15% discount.")),
            None,
        )
    ]
    approvers = [org.ADMIN] + ([org._owner(rng)] if rng.random() < 0.5 else [])
    t, status, pending_actor = submitted, "Approved", None
    for node, approver in enumerate(approvers, start=1):
        t += int(rng.uniform(0.1, 4) * DAY)
        if t >= org.anchor:
            status, pending_actor = "Pending", approver
            break
        approved = rng.random() < 0.8
        comment = rng.choice(APPROVAL_COMMENTS if approved else REJECTION_COMMENTS)
        steps.append(
            (
                "Approved" if approved else "Rejected",
                org.user_id(approver),
                t,
                comment,
                make_id("04b", node),
            )
        )
        if not approved:
            status = "Rejected"
            break
    previous = submitted
    for step_status, actor, at, comment, node_id in steps:
        elapsed = (at - previous) / DAY
        out.steps.add(
            ProcessInstanceId=instance_id,
            StepStatus=step_status,
            OriginalActorId=actor,
            ActorId=actor,
            Comments=comment,
            StepNodeId=node_id,
            ElapsedTimeInDays=round(elapsed, 3),
            ElapsedTimeInHours=round(elapsed * 24, 2),
            ElapsedTimeInMinutes=float(round(elapsed * 1440)),
            CreatedDate=ms(at),
            CreatedById=actor,
            SystemModstamp=ms(at),
        )
        previous = at
    last_actor, last_at = steps[-1][1], steps[-1][2]
    if pending_actor is not None:
        out.workitems.add(
            Id=make_id("04i", out.workitems.rows + 1),
            IsDeleted=False,
            ProcessInstanceId=instance_id,
            OriginalActorId=org.user_id(pending_actor),
            ActorId=org.user_id(pending_actor),
            ElapsedTimeInDays=round((org.anchor - last_at) / DAY, 3),
            CreatedDate=ms(last_at),
            CreatedById=last_actor,
            SystemModstamp=ms(last_at),
        )
    completed = None if status == "Pending" else last_at
    elapsed_days = ((completed or org.anchor) - submitted) / DAY
    out.instances.add(
        Id=instance_id,
        IsDeleted=False,
        ProcessDefinitionId=make_id("04a", 1 + len(approvers)),
        TargetObjectId=opp.id,
        Status=status,
        CompletedDate=ms(completed) if completed else None,
        LastActorId=last_actor,
        SubmittedById=submitter,
        ElapsedTimeInDays=round(elapsed_days, 3),
        ElapsedTimeInHours=round(elapsed_days * 24, 2),
        ElapsedTimeInMinutes=float(round(elapsed_days * 1440)),
        CreatedDate=ms(submitted),
        CreatedById=submitter,
        LastModifiedDate=ms(last_at),
        LastModifiedById=last_actor,
        SystemModstamp=ms(last_at),
    )


def _opportunity_row(
    org: SyntheticOrg,
    rng: random.Random,
    out: _Builders,
    opp: _Opportunity,
    index: int,
    created: int,
) -> None:
    deleted_at = org._deleted(rng, after=opp.last_modified)
    modified = deleted_at or opp.last_modified
    forecast = STAGE_FORECAST[opp.stage]
    out.opportunities.add(
        Id=opp.id,
        IsDeleted=deleted_at is not None,
        AccountId=make_id("001", 1 + rng.randrange(org.size.accounts)),
        Name=f"Deal {index + 1:06d}",
        StageName=STAGES[opp.stage],
        Amount=opp.amount,
        Probability=opp.probability,
        ExpectedRevenue=round(opp.amount * opp.probability / 100, 2),
        CloseDate=day_number(opp.close),
        Type=rng.choice(
            ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Renewal")
        ),
        LeadSource=rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Trade Show", None)),
        IsClosed=opp.closed,
        IsWon=opp.stage == CLOSED_WON,
        ForecastCategory=forecast,
        ForecastCategoryName=FORECAST_NAME[forecast],
        NextStep=opp.next_step,
        OwnerId=org.user_id(opp.owner),
        LastStageChangeDate=ms(opp.last_stage_change),
        CreatedDate=ms(created),
        CreatedById=org.user_id(opp.owner),
        LastModifiedDate=ms(modified),
        LastModifiedById=org.user_id(opp.owner),
        SystemModstamp=ms(modified),
    )


def advance_opportunities(org: SyntheticOrg, rng: random.Random, count: int, at: int) -> int:
    """Move up to ``count`` open opportunities one stage forward at epoch second ``at``.

    Appends the OpportunityFieldHistory and OpportunityHistory rows a real save writes and updates
    the Opportunity rows, so an incremental extractor sees new and changed rows after ``at``.
    Returns the number of opportunities touched.
    """
    opportunities = org.table("Opportunity")
    open_rows = opportunities.filter(
        pc.and_(pc.invert(opportunities["IsClosed"]), pc.invert(opportunities["IsDeleted"]))
    ).to_pylist()
    chosen = rng.sample(open_rows, min(count, len(open_rows)))
    if not chosen:
        return 0
    out = _Builders()
    updated = []
    for row in chosen:
        opp = _Opportunity(row["Id"], 3, at, float(row["Amount"] or 0.0), at)
        opp.stage = STAGES.index(row["StageName"])
        opp.close = int(
            dt.datetime.combine(row["CloseDate"], dt.time(), dt.timezone.utc).timestamp()
        )
        history = FieldHistoryWriter(out.field_history, "OpportunityId", opp.id)
        actor = row["OwnerId"]
        _advance_stage(rng, history, opp, at, actor)
        _snapshot(out, opp, at, actor)
        forecast = STAGE_FORECAST[opp.stage]
        row.update(
            StageName=STAGES[opp.stage],
            Probability=opp.probability,
            ExpectedRevenue=round(opp.amount * opp.probability / 100, 2),
            IsClosed=opp.closed,
            IsWon=opp.stage == CLOSED_WON,
            ForecastCategory=forecast,
            ForecastCategoryName=FORECAST_NAME[forecast],
            LastStageChangeDate=at,
            LastModifiedDate=at,
            SystemModstamp=at,
        )
        updated.append(row)
    touched = pa.array([r["Id"] for r in updated])
    kept = opportunities.filter(pc.invert(pc.is_in(opportunities["Id"], value_set=touched)))
    decimals = {f.name: f.type.scale for f in opportunities.schema if pa.types.is_decimal(f.type)}
    for r in updated:
        for name, scale in decimals.items():
            if isinstance(r[name], (int, float)):
                r[name] = decimal.Decimal(f"{r[name]:.{scale}f}")
    fresh = pa.Table.from_pylist(
        [
            {
                **r,
                "LastStageChangeDate": _ts(r["LastStageChangeDate"]),
                "LastModifiedDate": _ts(at),
                "SystemModstamp": _ts(at),
            }
            for r in updated
        ],
        schema=opportunities.schema,
    )
    org.replace("Opportunity", pa.concat_tables([kept, fresh]).combine_chunks())
    for name, builder in (
        ("OpportunityFieldHistory", out.field_history),
        ("OpportunityHistory", out.snapshots),
    ):
        existing = org.table(name)
        added = builder.to_table()
        ids = pa.array(mint_ids(builder.spec.key_prefix, existing.num_rows + 1, added.num_rows))
        added = added.set_column(added.schema.get_field_index("Id"), "Id", ids)
        org.replace(name, pa.concat_tables([existing, added]).combine_chunks())
    return len(updated)


def _ts(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)  # type: ignore[arg-type]

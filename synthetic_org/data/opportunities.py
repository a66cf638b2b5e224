"""Opportunities as Salesforce records them: stage moves, snapshots, field history and approvals.

One save of an opportunity writes, at the same timestamp, an OpportunityHistory snapshot (when stage,
amount, probability or close date changed) and one OpportunityFieldHistory row per tracked field, so
the three objects agree with each other exactly as in a real org.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from ..ids import make_id
from ..metadata import OBJECTS_BY_NAME, STAGES
from .approvals import Approvals
from .base import DAY, HISTORY_SPAN_DAYS, FieldHistoryWriter, World, day_number, money_text, ms
from .columns import TableBuilder

# Probability and forecast category Salesforce assigns by default to each stage.
STAGE_PROBABILITY = (10, 10, 20, 25, 40, 50, 75, 90, 100, 0)
STAGE_FORECAST = (
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "BestCase",
    "BestCase",
    "Forecast",
    "Closed",
    "Omitted",
)
FORECAST_NAME = {
    "Pipeline": "Pipeline",
    "BestCase": "Best Case",
    "Forecast": "Commit",
    "Closed": "Closed",
    "Omitted": "Omitted",
}

CLOSED_WON, CLOSED_LOST, NEGOTIATION, PROPOSAL = 8, 9, 7, 6


def _date_text(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date().isoformat()


class Builders:
    def __init__(self) -> None:
        spec = OBJECTS_BY_NAME
        self.opportunities = TableBuilder(spec["opportunity"])
        self.snapshots = TableBuilder(spec["opportunityhistory"])
        self.field_history = TableBuilder(spec["opportunityfieldhistory"])
        self.approvals = Approvals()


class OpportunityState:
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


def simulate_opportunities(org: World, rng: random.Random) -> dict[str, pa.Table]:
    users = org.table("User").column("Name").to_pylist()
    out = Builders()
    size = org.size
    created_times = org.sorted_times(rng, size.opportunities, HISTORY_SPAN_DAYS)
    for index, created in enumerate(created_times):
        owner = org.owner(rng)
        opp = OpportunityState(
            make_id("006", index + 1),
            owner,
            created,
            float(rng.randrange(5, 500) * 1000),
            created + int(rng.uniform(30, 180) * DAY),
        )
        history = FieldHistoryWriter(out.field_history, "OpportunityId", opp.id)
        history.created(created, org.user_id(owner))
        snapshot(out, opp, created, org.user_id(owner))
        t = created
        while not opp.closed:
            t += int(rng.uniform(0.5, 25) * DAY) + rng.randrange(0, 3600)
            if t >= org.anchor:
                break
            actor = org.user_id(org.actor(rng, opp.owner))
            if rng.random() < 0.04:
                _change_owner(org, rng, history, opp, t, actor, users)
                continue
            amount_only = rng.random() < 0.25  # a save that revises the deal without moving it
            if not amount_only:
                advance_stage(rng, history, opp, t, actor)
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
            snapshot(out, opp, t, actor)
            opp.last_modified = t
            if opp.stage == PROPOSAL and rng.random() < 0.5:
                out.approvals.submit(org, rng, opp.owner, opp.id, t)
        _opportunity_row(org, rng, out, opp, index, created)
    return {
        "Opportunity": out.opportunities.to_table(),
        "OpportunityHistory": out.snapshots.to_table(assign_ids=True, sort_by="CreatedDate"),
        "OpportunityFieldHistory": out.field_history.to_table(
            assign_ids=True, sort_by="CreatedDate"
        ),
        **out.approvals.tables(org),
    }


def advance_stage(
    rng: random.Random, history: FieldHistoryWriter, opp: OpportunityState, t: int, actor: str
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
    org: World,
    rng: random.Random,
    history: FieldHistoryWriter,
    opp: OpportunityState,
    t: int,
    actor: str,
    user_names: list[str],
) -> None:
    """An owner change writes two rows, ids then names, as Salesforce does."""
    new_owner = org.owner(rng)
    if new_owner == opp.owner:
        return
    history.change(t, actor, "Owner", "EntityId", org.user_id(opp.owner), org.user_id(new_owner))
    history.change(t, actor, "Owner", "Text", user_names[opp.owner], user_names[new_owner])
    opp.owner = new_owner
    opp.last_modified = t


def snapshot(out: Builders, opp: OpportunityState, t: int, actor: str) -> None:
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


def _opportunity_row(
    org: World,
    rng: random.Random,
    out: Builders,
    opp: OpportunityState,
    index: int,
    created: int,
) -> None:
    deleted_at = org.deleted(rng, after=opp.last_modified)
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

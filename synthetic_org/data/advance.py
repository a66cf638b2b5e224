"""Time passing in a running org: open opportunities move a stage forward between two runs."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import pyarrow as pa
import pyarrow.compute as pc

from ..metadata import STAGES
from .base import FieldHistoryWriter
from .columns import mint_ids
from .opportunities import (
    CLOSED_WON,
    FORECAST_NAME,
    STAGE_FORECAST,
    Builders,
    OpportunityState,
    advance_stage,
    snapshot,
)
from .org import SyntheticOrg


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
    out = Builders()
    updated = []
    for row in chosen:
        opp = OpportunityState(row["Id"], 3, at, float(row["Amount"] or 0.0), at)
        opp.stage = STAGES.index(row["StageName"])
        opp.close = int(
            dt.datetime.combine(row["CloseDate"], dt.time(), dt.timezone.utc).timestamp()
        )
        history = FieldHistoryWriter(out.field_history, "OpportunityId", opp.id)
        actor = row["OwnerId"]
        advance_stage(rng, history, opp, at, actor)
        snapshot(out, opp, at, actor)
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


def _ts(value: dt.datetime | int) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)

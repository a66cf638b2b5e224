"""Wide objects read as field sets whose GET URLs fit (``reader.split_for_url``)."""

from __future__ import annotations

import random

from tap_salesforce_temporal.query.reader import _url_length, split_for_url
from tap_salesforce_temporal.query.soql import Select


def _wide(fields: int, seed: int) -> Select:
    rng = random.Random(seed)
    names = [f"Field_{n}_{'x' * rng.randint(1, 40)}__c" for n in range(fields)]
    return Select(
        "Wide__c",
        ["Id", "SystemModstamp", *names],
        ["SystemModstamp >= 2024-01-01T00:00:00Z"],
        order_by=["SystemModstamp", "Id"],
    )


def test_given_a_wide_select_then_every_field_set_fits_and_none_could_take_one_more() -> None:
    for seed in range(5):
        select = _wide(700, seed)
        limit = 4000 + 1000 * seed
        groups = split_for_url(select, limit)
        assert len(groups) > 1
        rest = [f for f in select.fields if f not in ("Id", "SystemModstamp")]
        assert [f for g in groups for f in g.fields[2:]] == rest, "every field once, in order"
        for position, group in enumerate(groups):
            assert group.fields[:2] == ["Id", "SystemModstamp"], "Id and the order key in each"
            assert _url_length(group) <= limit
            if position + 1 < len(groups):
                taken = Select(
                    group.object_name,
                    [*group.fields, groups[position + 1].fields[2]],
                    group.where,
                    group.order_by,
                )
                assert _url_length(taken) > limit, "each set is as large as the limit allows"


def test_given_a_select_that_fits_then_it_is_sent_whole() -> None:
    select = _wide(10, 0)
    assert split_for_url(select) == [select]

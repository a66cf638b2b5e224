"""REST values typed into the canonical record shape, whatever form each value arrives in."""

from __future__ import annotations

import decimal

import pytest

from tap_salesforce_temporal.discovery.schema import from_describe
from tap_salesforce_temporal.errors import BrokenPaging
from tap_salesforce_temporal.query.values import RecordShaper

DESCRIBE = {
    "name": "Deal__c",
    "fields": [
        {"name": "Id", "type": "id"},
        {"name": "SystemModstamp", "type": "datetime"},
        {"name": "Value__c", "type": "anyType"},
        {"name": "Seats__c", "type": "int"},
        {"name": "Ratio__c", "type": "double"},
        {"name": "Amount__c", "type": "currency", "precision": 18, "scale": 2},
    ],
}
FIELDS = ["Id", "SystemModstamp", "Value__c", "Seats__c", "Ratio__c", "Amount__c", "Owner.Name"]
D = decimal.Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (  # REST's usual forms: +0000 datetimes, fractions read as Decimals
            {
                "attributes": {},
                "Id": "a01",
                "SystemModstamp": "2024-01-15T10:30:00.000+0000",
                "Value__c": D("12.50"),
                "Seats__c": 3,
                "Ratio__c": D("0.1"),
                "Amount__c": D("9876543210987654.32"),
                "Owner": {"Name": "Ann"},
            },
            ["a01", "2024-01-15T10:30:00.000Z", "12.50", 3, 0.1, D("9876543210987654.32"), "Ann"],
        ),
        (  # another offset, Z form, a boolean anyType, whole numbers, a relationship left null
            {
                "Id": "a02",
                "SystemModstamp": "2024-01-15T10:30:00.000+0100",
                "Value__c": True,
                "Seats__c": D("4.0"),
                "Ratio__c": 2,
                "Amount__c": 7,
                "Owner": None,
            },
            ["a02", "2024-01-15T09:30:00.000Z", "true", 4, 2.0, D("7.00"), None],  # at the scale
        ),
        (  # fields the answer left out, nulls, an already canonical datetime
            {"Id": "a03", "SystemModstamp": "2024-01-15T10:30:00.000Z", "Value__c": None},
            ["a03", "2024-01-15T10:30:00.000Z", None, None, None, None, None],
        ),
    ],
)
def test_given_rest_values_in_any_form_then_each_is_typed_canonically(
    raw: dict, expected: list
) -> None:
    [record] = RecordShaper(from_describe(DESCRIBE), FIELDS).from_rest([raw])
    assert list(record) == FIELDS
    got = [(type(v).__name__, str(v)) for v in record.values()]
    assert got == [(type(v).__name__, str(v)) for v in expected]


def test_given_a_page_of_rest_values_then_its_table_holds_what_each_record_would() -> None:
    """A page a column at a time (Arrow's fast paths for REST's datetime form and for numbers
    at a decimal's scale) holds the values typed one by one."""
    shaper = RecordShaper(from_describe(DESCRIBE), FIELDS)
    rows = [
        {"Id": "a1", "SystemModstamp": "2024-01-15T10:30:00.000+0000", "Amount__c": D("8400.0")},
        {"Id": "a2", "SystemModstamp": None, "Amount__c": 7, "Seats__c": 2},
        {"Id": "a3", "SystemModstamp": "2024-01-15T10:30:00.000+0000", "Amount__c": D("1.5E+7")},
    ]
    records = list(shaper.from_table(shaper.rest_table(rows)))
    stamp = "2024-01-15T10:30:00.000Z"
    assert [r["SystemModstamp"] for r in records] == [stamp, None, stamp]
    assert [str(r["Amount__c"]) for r in records] == ["8400.00", "7.00", "15000000.00"]
    mixed = [*rows, {"Id": "a4", "SystemModstamp": "2024-01-15T10:30:00.000+0100"}]
    assert [r["SystemModstamp"] for r in shaper.from_table(shaper.rest_table(mixed))][-1] == (
        "2024-01-15T09:30:00.000Z"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("Seats__c", "many"), ("Amount__c", "lots"), ("Amount__c", D("1.005")), ("Id", 5)],
)
def test_given_a_value_its_field_cannot_hold_then_one_line_names_the_field(
    field: str, value: object
) -> None:
    shaper = RecordShaper(from_describe(DESCRIBE), FIELDS)
    with pytest.raises(BrokenPaging, match=f"Deal__c: .* whose {field} holds a value"):
        shaper.rest_table([{"Id": "a1", field: value}])

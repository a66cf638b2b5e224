"""object_filters: the condition parser, the describe checks and the SOQL it renders.

Table-driven: a valid filter renders to the SOQL Salesforce receives; a hostile or malformed one
is a one-line error naming the setting and the object, never a query.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tap_salesforce_temporal.discovery.schema import from_describe
from tap_salesforce_temporal.query.filters import FilterError, where_clause
from tap_salesforce_temporal.query.soql import Select


def _field(name: str, sf_type: str, **extra: object) -> dict:
    return {"name": name, "type": sf_type, **extra}


OPPORTUNITY = from_describe(
    {
        "name": "Opportunity",
        "fields": [
            _field("Id", "id"),
            _field("Name", "string"),
            _field("StageName", "picklist"),
            _field("AccountId", "reference"),
            _field("Amount", "currency", precision=18, scale=2),
            _field("Probability", "percent", precision=3, scale=0),
            _field("TotalOpportunityQuantity", "double"),
            _field("IsWon", "boolean"),
            _field("CloseDate", "date"),
            _field("SystemModstamp", "datetime"),
            _field("Description", "textarea", filterable=False),
            _field("Attachment", "base64"),
            _field("BillingAddress", "address", filterable=False),
        ],
    }
)

VALID = [
    (
        "StageName != 'Closed Lost' AND Amount > 1000",
        "(StageName != 'Closed Lost' AND Amount > 1000)",
    ),
    ("stagename in ('Banking','Retail')", "(StageName IN ('Banking', 'Retail'))"),
    ("StageName NOT IN ('A')", "(StageName NOT IN ('A'))"),
    ("Name LIKE 'Acme%'", "(Name LIKE 'Acme%')"),
    ("Name LIKE '100\\% sure\\_x'", "(Name LIKE '100\\% sure\\_x')"),
    ("AccountId = null", "(AccountId = null)"),
    ("AccountId != NULL", "(AccountId != null)"),
    ("IsWon = true", "(IsWon = TRUE)"),
    ("Amount <> 5", "(Amount != 5)"),
    ("Amount >= -1.50 AND Probability <= 90", "(Amount >= -1.50 AND Probability <= 90)"),
    (
        "(StageName = 'A' OR StageName = 'B') AND Amount > 1",
        "((StageName = 'A' OR StageName = 'B') AND Amount > 1)",
    ),
    ("NOT StageName = 'A'", "(NOT (StageName = 'A'))"),
    ("NOT (IsWon = TRUE OR Amount < 3)", "(NOT (IsWon = TRUE OR Amount < 3))"),
    ("CloseDate >= 2024-01-31", "(CloseDate >= 2024-01-31)"),
    (
        "SystemModstamp < 2024-01-15T10:30:00.250+02:00",
        "(SystemModstamp < 2024-01-15T08:30:00.250Z)",
    ),
    ("Name = 'O\\'Brien'", "(Name = 'O\\'Brien')"),
    ("Name = 'line\\nbreak'", "(Name = 'line\\nbreak')"),
    # Injection attempts inside a literal stay one literal.
    ("Name = 'x\\' OR Id != null'", "(Name = 'x\\' OR Id != null')"),
    ("Name = 'a\\\\'", "(Name = 'a\\\\')"),
    ("Name = ') OR (Id != null'", "(Name = ') OR (Id != null')"),
]


@pytest.mark.parametrize(("text", "soql"), VALID)
def test_given_a_valid_filter_when_rendered_then_the_soql_is_rebuilt(text: str, soql: str) -> None:
    assert where_clause("Opportunity", text, OPPORTUNITY) == soql


HOSTILE = [
    ("Name = 'x' OR Id != null AND Amount > 1", "AND and OR mixed without parentheses"),
    ("Name = 'x'' OR Id != null'", "expected AND, OR or the end of the filter"),
    ("Name = 'x'; DELETE FROM Opportunity", "unexpected ';"),
    ("Name = 'x') OR (Id != null", "expected AND, OR or the end of the filter, got ')'"),
    ("Name = 'x' --", "unexpected '--'"),
    ("Name = 'x' /* */", "unexpected '/"),
    ("Id IN (SELECT Id FROM Account)", "expected a value"),
    ("Name = 'unterminated", 'unexpected "\'unterminated"'),
    ("Name = 'lone \\ backslash'", "unexpected"),
    ("Name = :bind", "unexpected ':bind'"),
    ("Account.Name = 'x'", 'unexpected ".Name'),
    ("CloseDate = LAST_N_DAYS:30", "unexpected ':30'"),
    ("Name = 'x' LIMIT 1", "expected AND, OR or the end of the filter, got 'LIMIT'"),
    ("Name = 'x' ORDER BY Name", "got 'ORDER'"),
    ("", "the filter is empty"),
    ("(Name = 'x'", "expected ')' at the end of the filter"),
    ("Name =", "expected a value at the end of the filter"),
    ("AND = 'x'", "expected a field name, got 'AND'"),
    ("Amount > 1e5", "unexpected '1e5'"),
    ("CloseDate > 2024-02-30", "invalid date '2024-02-30'"),
    ("(" * 30 + "Name = 'x'" + ")" * 30, "nested deeper than 20 levels"),
    ("Nope = 'x'", "field 'Nope' does not exist"),
    ("Description = 'x'", "field 'Description' is not filterable"),
    ("Attachment = 'x'", "field 'Attachment' is not filterable"),
    ("BillingAddress = 'x'", "field 'BillingAddress' is not filterable"),
    ("Amount > '1000'", "field 'Amount' (currency) takes a number, got string"),
    ("StageName = 5", "field 'StageName' (picklist) takes a 'quoted string', got number"),
    ("CloseDate > 2024-01-01T00:00:00Z", "takes a date (YYYY-MM-DD), got datetime"),
    ("SystemModstamp > 2024-01-01", "takes a date-time (YYYY-MM-DDThh:mm:ssZ), got date"),
    ("IsWon = 'true'", "takes TRUE or FALSE, got string"),
    ("IsWon > TRUE", "only = and !="),
    ("Amount LIKE '1%'", "LIKE needs a text field"),
    ("Amount > null", "null only with = or !="),
    ("StageName IN ('A', null)", "null only with = or !="),
    ("StageName IN ('A', 5)", "takes a 'quoted string', got number"),
]


@pytest.mark.parametrize(("text", "problem"), HOSTILE)
def test_given_a_hostile_or_wrong_filter_when_checked_then_one_line_names_object_and_problem(
    text: str, problem: str
) -> None:
    with pytest.raises(FilterError) as caught:
        where_clause("Opportunity", text, OPPORTUNITY)
    message = str(caught.value)
    assert message.startswith("setting 'object_filters': Opportunity: "), message
    assert problem in message
    assert "\n" not in message


def test_given_a_filter_when_combined_with_the_window_then_window_and_filter_are_anded() -> None:
    condition = where_clause("Opportunity", "IsWon = TRUE OR Amount > 5", OPPORTUNITY)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    select = Select("Opportunity", ["Id"], [condition]).with_range("SystemModstamp", start, None)
    assert select.soql() == (
        "SELECT Id FROM Opportunity WHERE (IsWon = TRUE OR Amount > 5)"
        " AND SystemModstamp >= 2024-01-01T00:00:00Z"
    )
    assert select.count().soql() == (
        "SELECT COUNT() FROM Opportunity WHERE (IsWon = TRUE OR Amount > 5)"
        " AND SystemModstamp >= 2024-01-01T00:00:00Z"
    )


def test_given_an_or_condition_not_enclosed_when_built_then_it_is_parenthesised() -> None:
    select = Select("Opportunity", ["Id"], ["(A = 1) OR (B = ')')", "C = 'x OR y'"])
    assert select.soql() == (
        "SELECT Id FROM Opportunity WHERE ((A = 1) OR (B = ')')) AND (C = 'x OR y')"
    )

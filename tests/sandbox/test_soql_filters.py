"""The synthetic org's WHERE semantics that object_filters relies on, over HTTP.

Salesforce compares text case-insensitively in = and IN, refuses long text areas in WHERE (the
describe says filterable: false), and refuses AND mixed with OR without parentheses.
"""

from __future__ import annotations

from tests.conftest import Api


def _count(api: Api, where: str, obj: str = "Opportunity") -> int:
    response = api.query(f"SELECT COUNT() FROM {obj} WHERE {where}")
    assert response.status_code == 200, response.text
    return int(response.json()["totalSize"])


def test_given_in_with_other_case_when_queried_then_text_matches_case_insensitively(
    api: Api,
) -> None:
    exact = _count(api, "StageName = 'Closed Won'")
    assert exact > 0
    assert _count(api, "StageName IN ('closed won', 'NO SUCH STAGE')") == exact
    assert _count(api, "StageName NOT IN ('CLOSED WON')") == _count(
        api, "StageName != 'Closed Won'"
    )


def test_given_not_and_parentheses_when_queried_then_they_combine_as_boolean_logic(
    api: Api,
) -> None:
    total = _count(api, "Amount != null OR Amount = null")
    won = _count(api, "StageName = 'Closed Won'")
    assert _count(api, "NOT (StageName = 'Closed Won')") == total - won
    assert _count(api, "(StageName = 'Closed Won' OR IsClosed = FALSE) AND Amount > 0") == (
        won + _count(api, "IsClosed = FALSE AND Amount > 0")
    )


def test_given_a_long_text_area_in_where_when_queried_then_invalid_field_as_described(
    api: Api,
) -> None:
    fields = {f["name"]: f for f in api.get("/sobjects/Account/describe").json()["fields"]}
    assert fields["Description"]["filterable"] is False  # textarea(32000)
    assert fields["BillingStreet"]["filterable"] is True  # textarea(255)
    assert _count(api, "BillingStreet != null", obj="Account") >= 0
    response = api.query("SELECT Id FROM Account WHERE Description = 'x'")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "can not be filtered" in response.json()[0]["message"]


def test_given_and_mixed_with_or_without_parentheses_when_queried_then_malformed_query(
    api: Api,
) -> None:
    response = api.query(
        "SELECT Id FROM Opportunity WHERE IsWon = TRUE OR Amount > 1 AND IsClosed = TRUE"
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"

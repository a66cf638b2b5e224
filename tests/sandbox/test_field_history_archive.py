"""FieldHistoryArchive with Field Audit Trail on: a big object. SOQL must filter its index fields
(FieldHistoryType, ParentId, CreatedDate) in order, "=" before the last one; no COUNT(); Bulk
API 2.0 refuses it."""

from __future__ import annotations

from synthetic_org import SandboxOrg
from tests.conftest import Api


def test_given_field_audit_trail_when_querying_the_archive_then_big_object_rules_hold() -> None:
    with SandboxOrg(scale=10, field_audit_trail=True) as org:
        api = Api(org)

        def query(where: str) -> tuple[int, object]:
            response = api.get(
                "/query",
                params={
                    "q": f"SELECT ParentId, Field, CreatedDate FROM FieldHistoryArchive{where}"
                },
            )
            return response.status_code, response.json()

        status, body = query(" WHERE FieldHistoryType = 'Opportunity'")
        assert status == 200
        assert body["totalSize"] > 0
        parent = body["records"][0]["ParentId"]  # type: ignore[index]
        status, body = query(
            f" WHERE FieldHistoryType = 'Opportunity' AND ParentId = '{parent}' AND CreatedDate > 2000-01-01T00:00:00Z"
        )
        assert status == 200
        assert {r["ParentId"] for r in body["records"]} == {parent}
        for where in (
            "",  # no filter
            f" WHERE ParentId = '{parent}'",  # skips FieldHistoryType
            " WHERE FieldHistoryType > 'A' AND ParentId = 'x'",  # range before the last field
            " WHERE FieldHistoryType != 'Account'",
        ):
            assert query(where)[0] == 400, where
        count = api.get(
            "/query",
            params={"q": "SELECT COUNT() FROM FieldHistoryArchive WHERE FieldHistoryType = 'Case'"},
        )
        assert count.status_code == 400
        job = api.send(
            "POST",
            "/jobs/query",
            json={
                "operation": "query",
                "query": "SELECT Id FROM FieldHistoryArchive WHERE FieldHistoryType = 'Case'",
            },
        )
        assert job.status_code == 400
        assert job.json()[0]["errorCode"] == "INVALIDENTITY"


def test_given_no_field_audit_trail_then_the_archive_is_not_queryable() -> None:
    with SandboxOrg(scale=5) as org:
        response = Api(org).get(
            "/query",
            params={"q": "SELECT Id FROM FieldHistoryArchive WHERE FieldHistoryType = 'Case'"},
        )
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "INVALID_TYPE"

"""Bulk API 2.0 with ORDER BY on a large object: Salesforce cannot chunk the query by primary key,
runs it whole, and the job fails with QUERY_TIMEOUT. The synthetic org does the same above its
``bulk_order_by_max_rows`` (500,000 by default; lowered here)."""

from __future__ import annotations

from synthetic_org import SandboxOrg
from tests.conftest import Api


def _job_end(api: Api, soql: str) -> dict:
    job = api.send("POST", "/jobs/query", json={"operation": "query", "query": soql}).json()
    return [api.get(f"/jobs/query/{job['id']}").json() for _ in range(2)][-1]


def test_given_a_large_object_when_a_bulk_query_orders_its_rows_then_the_job_times_out() -> None:
    with SandboxOrg(scale=20, bulk_order_by_max_rows=30) as org:
        api = Api(org)
        assert org.org.table("Task").num_rows > 30
        ordered = _job_end(api, "SELECT Id FROM Task ORDER BY CreatedDate, Id")
        assert ordered["state"] == "Failed"
        assert ordered["errorMessage"].startswith("QUERY_TIMEOUT")
        # Without ORDER BY the job is chunked and completes; a small object may still be ordered.
        assert _job_end(api, "SELECT Id FROM Task")["state"] == "JobComplete"
        assert org.org.table("Account").num_rows <= 30
        assert _job_end(api, "SELECT Id FROM Account ORDER BY Id")["state"] == "JobComplete"


def _job_ids(api: Api, soql: str) -> list[str]:
    job = _job_end(api, soql)
    assert job["state"] == "JobComplete"
    csv = api.get(f"/jobs/query/{job['id']}/results").text
    return [line.strip('"') for line in csv.splitlines()[1:]]


def test_given_a_bulk_query_without_order_by_then_rows_come_in_a_seeded_shuffled_order() -> None:
    """PK-chunked results come back in whatever order the chunks finish; with ORDER BY, sorted."""
    with SandboxOrg(scale=10) as org:
        api = Api(org)
        unordered = _job_ids(api, "SELECT Id FROM Task")
        assert len(unordered) > 10
        assert unordered != sorted(unordered)
        assert _job_ids(api, "SELECT Id FROM Task") == unordered  # same query, same order
        ordered = _job_ids(api, "SELECT Id FROM Task ORDER BY Id")
        assert ordered == sorted(unordered)

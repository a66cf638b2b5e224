"""The tap only reads from Salesforce, and names from catalogs or settings cannot inject SOQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.errors import TapError
from tap_salesforce_temporal.query.soql import Select, identifier
from tests.helpers import run_tap, tap_config


def test_given_a_full_run_over_rest_and_bulk_then_only_reads_and_query_jobs_reach_the_org(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    for api_type in ("rest", "bulk"):
        run = run_tap(tmp_path, tap_config(small_org, api_type=api_type, include_deleted=True))
        assert run.returncode == 0, run.stderr[-2000:]
    writes = [(method, path) for method, path, _ in small_org.requests if method != "GET"]
    allowed = {("POST", "/services/oauth2/token"), ("POST", "/services/data/v62.0/jobs/query")}
    assert {w for w in writes if not w[1].startswith("/services/data/v62.0/jobs/query/")} <= allowed
    assert all(
        method == "PATCH"
        for method, path in writes
        if path.startswith("/services/data/v62.0/jobs/query/")
    ), "only aborts of our own query jobs"
    assert ("POST", "/services/data/v62.0/jobs/query") in writes, "the Bulk path was exercised"


@pytest.mark.parametrize(
    "name",
    [
        "Id FROM Account WHERE Name != ''",
        "Name,(SELECT Id FROM Contacts)",
        "Id--",
        "Account; DELETE",
        "",
        "1Id",
        "Id' OR '1'='1",
    ],
)
def test_given_a_hostile_field_or_object_name_then_the_query_builder_refuses_it(name: str) -> None:
    with pytest.raises(TapError, match="not a Salesforce API name"):
        identifier(name)
    with pytest.raises(TapError, match="not a Salesforce API name"):
        Select("Account", ["Id", name]).soql()
    with pytest.raises(TapError, match="not a Salesforce API name"):
        Select(name, ["Id"]).soql()


def test_given_a_hostile_catalog_property_when_syncing_then_the_run_refuses_it_in_one_line(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    import json

    discovered = json.loads(
        run_tap(tmp_path, tap_config(small_org, objects=["Account"]), discover=True).stdout
    )
    [account] = [s for s in discovered["streams"] if s["tap_stream_id"] == "Account"]
    account["schema"]["properties"]["Name FROM User WHERE Id != null"] = {
        "type": ["string", "null"]
    }
    run = run_tap(tmp_path, tap_config(small_org, objects=["Account"]), catalog=discovered)
    assert "DELETE" not in str(small_org.requests)
    assert run.returncode == 0, run.stderr[-1500:]
    assert (
        "Field Account.Name FROM User WHERE Id != null is in the catalog but not visible to this user"
        in run.stderr
    )

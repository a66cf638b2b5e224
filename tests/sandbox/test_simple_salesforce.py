"""simple-salesforce, unchanged, as an independent client of the sandbox org.

simple-salesforce always builds https:// URLs for *.salesforce.com hosts; the only adaptation is a
requests.Session that sends those requests to the sandbox's loopback address instead.
"""

from __future__ import annotations

import io
import time
import urllib.parse

import jwt
import pyarrow.csv as pa_csv
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from synthetic_org import SandboxOrg


class LoopbackSession(requests.Session):
    """Sends every request to the sandbox, keeping the path and query simple-salesforce built."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._target = urllib.parse.urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(
            (self._target.scheme, self._target.netloc, parts.path, parts.query, "")
        )
        return super().request(method, url, *args, **kwargs)


def _soap_client(org: SandboxOrg) -> Salesforce:
    creds = org.credentials
    return Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=LoopbackSession(org.base_url),
    )


def test_given_each_login_flow_when_connecting_then_simple_salesforce_gets_a_working_session(
    big_org: SandboxOrg,
) -> None:
    creds = big_org.credentials
    session = LoopbackSession(big_org.base_url)
    clients = {
        "soap": _soap_client(big_org),
        "oauth password": Salesforce(
            username=creds.username,
            password=creds.password + creds.security_token,
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            session=session,
        ),
        "client credentials": Salesforce(
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            domain="sandbox-org.my",
            session=session,
        ),
        "jwt": Salesforce(
            username=creds.username,
            consumer_key=creds.client_id,
            privatekey=creds.private_key_pem,
            session=session,
        ),
    }
    expected = big_org.count("Account")
    for flow, client in clients.items():
        assert client.query("SELECT COUNT() FROM Account")["totalSize"] == expected, flow


def test_given_wrong_password_when_logging_in_then_simple_salesforce_reports_invalid_login(
    big_org: SandboxOrg,
) -> None:
    creds = big_org.credentials
    with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_LOGIN"):
        Salesforce(
            username=creds.username,
            password="wrong",
            security_token=creds.security_token,
            session=LoopbackSession(big_org.base_url),
        )
    with pytest.raises(SalesforceAuthenticationFailed, match="authentication failure"):
        Salesforce(
            username=creds.username,
            password="wrong",
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            session=LoopbackSession(big_org.base_url),
        )


def test_given_a_large_history_when_query_all_then_every_page_arrives_and_counts_match(
    big_org: SandboxOrg,
) -> None:
    sf = _soap_client(big_org)
    soql = "SELECT Id, OpportunityId, Field, DataType, OldValue, NewValue, CreatedDate FROM OpportunityFieldHistory"
    first = sf.query(soql)
    assert first["done"] is False
    assert first["nextRecordsUrl"].startswith("/services/data/v")
    assert len(first["records"]) == 2000
    result = sf.query_all(soql)
    expected = big_org.count("OpportunityFieldHistory")
    assert expected > 3 * 2000, "needs at least 3 pages"
    assert result["totalSize"] == expected
    assert len(result["records"]) == expected
    assert len({r["Id"] for r in result["records"]}) == expected
    record = result["records"][0]
    assert record["attributes"]["type"] == "OpportunityFieldHistory"
    assert record["attributes"]["url"].endswith(f"/sobjects/OpportunityFieldHistory/{record['Id']}")
    assert record["CreatedDate"].endswith(".000+0000")


def test_given_deleted_rows_when_query_all_then_they_are_returned_and_query_hides_them(
    big_org: SandboxOrg,
) -> None:
    sf = _soap_client(big_org)
    visible = sf.query_all("SELECT Id FROM Opportunity")["totalSize"]
    everything = sf.query_all("SELECT Id, IsDeleted FROM Opportunity", include_deleted=True)
    deleted = [r for r in everything["records"] if r["IsDeleted"]]
    assert deleted, "the synthetic org soft-deletes some opportunities"
    assert visible == big_org.count("Opportunity") == everything["totalSize"] - len(deleted)


def test_given_describe_when_reading_fields_then_real_salesforce_types_are_reported(
    big_org: SandboxOrg,
) -> None:
    sf = _soap_client(big_org)
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Id"]["type"] == "id"
    assert fields["Amount"]["type"] == "currency"
    assert (fields["Amount"]["precision"], fields["Amount"]["scale"]) == (18, 2)
    assert fields["CloseDate"]["type"] == "date"
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["ExpectedRevenue"]["calculated"] is True
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    project = {f["name"]: f for f in sf.Project__c.describe()["fields"]}
    assert project["Site_Location__c"]["type"] == "location"
    assert project["Tags__c"]["type"] == "multipicklist"
    assert project["Kickoff_Time__c"]["type"] == "time"
    assert "Internal_Cost__c" not in project, "field-level security hides it"
    global_names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"OpportunityFieldHistory", "Project__History", "SetupAuditTrail"} <= global_names


def test_given_50k_rows_when_bulk2_query_then_pages_by_locator_and_counts_match(
    big_org: SandboxOrg,
) -> None:
    sf = _soap_client(big_org)
    soql = "SELECT Id, OpportunityId, Field, OldValue, NewValue, CreatedDate FROM OpportunityFieldHistory"
    pages = list(sf.bulk2.OpportunityFieldHistory.query(soql, max_records=30_000, wait=0))
    expected = big_org.count("OpportunityFieldHistory")
    assert expected >= 50_000
    assert len(pages) >= 2
    tables = [pa_csv.read_csv(io.BytesIO(page.encode())) for page in pages]
    assert sum(t.num_rows for t in tables) == expected
    assert (
        pages[0].splitlines()[0]
        == '"Id","OpportunityId","Field","OldValue","NewValue","CreatedDate"'
    )
    ids = set()
    for table in tables:
        ids.update(table["Id"].to_pylist())
    assert len(ids) == expected


def test_given_relationship_fields_when_querying_steps_then_parent_values_are_nested(
    big_org: SandboxOrg,
) -> None:
    sf = _soap_client(big_org)
    result = sf.query(
        "SELECT Id, StepStatus, ProcessInstance.TargetObjectId FROM ProcessInstanceStep "
        "WHERE StepStatus IN ('Approved', 'Rejected') ORDER BY CreatedDate, Id LIMIT 5"
    )
    assert result["totalSize"] == 5
    for record in result["records"]:
        parent = record["ProcessInstance"]
        assert parent["attributes"]["type"] == "ProcessInstance"
        assert parent["TargetObjectId"].startswith("006")


def test_given_a_jwt_for_another_user_when_logging_in_then_the_grant_is_refused(
    big_org: SandboxOrg,
) -> None:
    creds = big_org.credentials
    claims = {
        "iss": creds.client_id,
        "sub": "someone@else.example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 60,
    }
    assertion = jwt.encode(claims, creds.private_key_pem, algorithm="RS256")
    response = requests.post(
        f"{big_org.base_url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "user hasn't approved this consumer",
    }

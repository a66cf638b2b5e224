"""Every error and fault switch answers with Salesforce's status, errorCode and message."""

from __future__ import annotations

import base64

import pytest
import requests

from synthetic_org import SandboxOrg
from tests.conftest import Api


def _error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 1
    return response.status_code, body[0]["errorCode"], body[0]["message"]


@pytest.mark.parametrize(
    ("soql", "status", "code", "message"),
    [
        ("SELECT Id FROM", 400, "MALFORMED_QUERY", "unexpected end of query"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Rating = 'Hot' OR Type = 'x'",
            400,
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        (
            "SELECT Id FROM Account GROUP BY Name",
            400,
            "MALFORMED_QUERY",
            "unexpected token: 'GROUP'",
        ),
        (
            "SELECT Id, Nope FROM Account",
            400,
            "INVALID_FIELD",
            "No such column 'Nope' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        ),
        (
            "SELECT Id FROM Opportunity WHERE CreatedDate > 2024-01-01",
            400,
            "INVALID_FIELD",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Opportunity WHERE CloseDate > '2024-01-01'",
            400,
            "INVALID_FIELD",
            "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Widget__c",
            400,
            "INVALID_TYPE",
            "sObject type 'Widget__c' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
        ),
        (
            "SELECT Id FROM FieldHistoryArchive",
            400,
            "INVALID_TYPE",
            "sObject type 'FieldHistoryArchive' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
        ),
        (
            "SELECT Id, Internal_Cost__c FROM Project__c",
            400,
            "INVALID_FIELD",
            "No such column 'Internal_Cost__c' on entity 'Project__c'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        ),
    ],
)
def test_given_a_bad_query_when_sent_then_salesforce_error_shape_is_returned(
    api: Api, soql: str, status: int, code: str, message: str
) -> None:
    assert _error(api.query(soql)) == (status, code, message)


def test_given_no_or_unknown_token_when_calling_then_401_invalid_session_id(
    small_org: SandboxOrg,
) -> None:
    url = f"{small_org.base_url}/services/data/v62.0/limits"
    for headers in ({}, {"Authorization": "Bearer 00Dnot-a-session"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert _error(response) == (401, "INVALID_SESSION_ID", "Session expired or invalid")


def test_given_session_expiry_after_3_calls_when_calling_then_the_4th_is_401_and_a_new_login_works(
    api: Api,
) -> None:
    api.org.faults.session_expiry_after = 3
    for _ in range(3):
        assert api.get("/limits").status_code == 200
    assert _error(api.get("/limits")) == (401, "INVALID_SESSION_ID", "Session expired or invalid")
    api.token = api.login()
    assert api.get("/limits").status_code == 200
    assert api.org.faults.injected["INVALID_SESSION_ID"] == 1


def test_given_503_every_2_calls_when_calling_then_every_second_call_is_server_unavailable(
    api: Api,
) -> None:
    api.org.faults.unavailable_every = 2
    statuses = [api.get("/limits").status_code for _ in range(4)]
    assert statuses == [200, 503, 200, 503]
    api.org.faults.unavailable_every = 1
    assert _error(api.get("/limits")) == (
        503,
        "SERVER_UNAVAILABLE",
        "Server unavailable, please try again later.",
    )


def test_given_request_limit_fault_when_calling_then_403_request_limit_exceeded(api: Api) -> None:
    api.org.faults.request_limit_every = 1
    assert _error(api.get("/limits")) == (
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )


def test_given_usage_near_the_daily_limit_when_calling_then_limit_info_shows_it_and_the_quota_bites() -> (
    None
):
    with SandboxOrg(seed=1, scale=10, api_usage_start=14_998, daily_api_limit=15_000) as org:
        api = Api(org)
        response = api.get("/limits")
        assert response.headers["Sforce-Limit-Info"] == "api-usage=14999/15000"
        assert response.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 1}
        assert api.get("/limits").headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
        assert _error(api.get("/limits")) == (
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )


def test_given_query_timeout_days_when_range_is_wide_then_query_timeout_and_narrow_range_works(
    api: Api,
) -> None:
    api.org.faults.query_timeout_days = 30
    wide = api.query(
        "SELECT Id FROM OpportunityFieldHistory WHERE CreatedDate >= 2020-01-01T00:00:00Z"
    )
    assert _error(wide) == (400, "QUERY_TIMEOUT", "Your query request was running for too long.")
    unbounded = api.query("SELECT Id FROM OpportunityFieldHistory")
    assert _error(unbounded)[1] == "QUERY_TIMEOUT"
    narrow = api.query(
        "SELECT Id FROM OpportunityFieldHistory WHERE CreatedDate >= 2025-01-01T00:00:00Z "
        "AND CreatedDate < 2025-01-20T00:00:00Z"
    )
    assert narrow.status_code == 200


def test_given_drop_connection_when_reading_a_page_then_the_body_is_cut_and_a_retry_succeeds(
    api: Api,
) -> None:
    api.org.faults.drop_connection_every = 1
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.query("SELECT Id FROM Task").content  # noqa: B018 - reading the body is the point
    api.org.faults.drop_connection_every = None
    assert api.query("SELECT Id FROM Task").status_code == 200
    assert api.org.faults.injected["DROPPED_CONNECTION"] == 1


def _create_job(api: Api, soql: str, operation: str = "query") -> requests.Response:
    return api.send(
        "POST",
        "/jobs/query",
        json={
            "operation": operation,
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        },
    )


def test_given_bulk_job_lifecycle_when_polled_then_states_progress_and_results_page_by_locator(
    api: Api,
) -> None:
    api.org.faults.slow_polls = 2
    created = _create_job(
        api, "SELECT Id, Subject, IsClosed, CompletedDateTime, ActivityDate FROM Task ORDER BY Id"
    )
    assert created.status_code == 200
    job = created.json()
    assert job["state"] == "UploadComplete"
    assert job["id"].startswith("750")
    assert job["object"] == "Task"
    too_early = api.get(f"/jobs/query/{job['id']}/results")
    assert _error(too_early)[0:2] == (400, "INVALIDJOBSTATE")
    states = [api.get(f"/jobs/query/{job['id']}").json()["state"] for _ in range(4)]
    assert states == ["InProgress", "InProgress", "JobComplete", "JobComplete"]
    expected = api.org.count("Task")
    page = api.get(f"/jobs/query/{job['id']}/results", params={"maxRecords": 50})
    assert page.headers["Sforce-NumberOfRecords"] == "50"
    assert page.headers["Sforce-Locator"] == base64.b64encode(b"50").decode().rstrip("=")
    lines = page.text.splitlines()
    assert lines[0] == '"Id","Subject","IsClosed","CompletedDateTime","ActivityDate"'
    assert len(lines) == 51
    received, locator = 50, page.headers["Sforce-Locator"]
    while locator != "null":
        page = api.get(
            f"/jobs/query/{job['id']}/results", params={"maxRecords": 50, "locator": locator}
        )
        received += int(page.headers["Sforce-NumberOfRecords"])
        locator = page.headers["Sforce-Locator"]
    assert received == expected
    assert api.send("DELETE", f"/jobs/query/{job['id']}").status_code == 204
    assert _error(api.get(f"/jobs/query/{job['id']}"))[0:2] == (404, "NOT_FOUND")


def test_given_bulk_csv_when_values_are_special_then_salesforce_csv_conventions_hold(
    api: Api,
) -> None:
    projects = api.org.org.table("Project__c").to_pylist()
    assert any(p["Notes__c"] and '"' in p["Notes__c"] for p in projects), (
        "scenario needs a quoted note"
    )
    assert any(p["Notes__c"] is None for p in projects), "scenario needs a null note"
    soql = "SELECT Id, Notes__c, Is_Critical__c, Start_Date__c, CreatedDate FROM Project__c ORDER BY Id"
    job = _create_job(api, soql).json()
    while api.get(f"/jobs/query/{job['id']}").json()["state"] != "JobComplete":
        pass
    text = api.get(f"/jobs/query/{job['id']}/results").text
    expected_lines = ['"Id","Notes__c","Is_Critical__c","Start_Date__c","CreatedDate"']
    for p in sorted(projects, key=lambda p: p["Id"]):
        notes = "" if p["Notes__c"] is None else '"' + p["Notes__c"].replace('"', '""') + '"'
        critical = "true" if p["Is_Critical__c"] else "false"
        created = p["CreatedDate"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        expected_lines.append(
            f'"{p["Id"]}",{notes},"{critical}","{p["Start_Date__c"].isoformat()}","{created}"'
        )
    assert text == "\n".join(expected_lines) + "\n"


def test_given_failed_bulk_job_fault_when_polled_then_state_failed_with_error_message(
    api: Api,
) -> None:
    api.org.faults.failed_bulk_jobs = 1
    job = _create_job(api, "SELECT Id FROM Task").json()
    states = [api.get(f"/jobs/query/{job['id']}").json() for _ in range(2)]
    assert states[-1]["state"] == "Failed"
    assert states[-1]["errorMessage"].startswith("InternalServerError")
    assert _error(api.get(f"/jobs/query/{job['id']}/results"))[1] == "INVALIDJOBSTATE"
    again = _create_job(api, "SELECT Id FROM Task").json()
    assert [api.get(f"/jobs/query/{again['id']}").json()["state"] for _ in range(2)][
        -1
    ] == "JobComplete"


def test_given_bulk_unsupported_queries_when_creating_jobs_then_salesforce_refuses_them(
    api: Api,
) -> None:
    assert _error(_create_job(api, "SELECT Id FROM TaskWhoRelation")) == (
        400,
        "INVALIDENTITY",
        "Entity 'TaskWhoRelation' is not supported by the Bulk API.",
    )
    assert _error(_create_job(api, "SELECT Id, BillingAddress FROM Account")) == (
        400,
        "API_ERROR",
        "Selecting compound data not supported in Bulk Query",
    )
    assert _error(_create_job(api, "SELECT Id FROM", "query"))[0:2] == (400, "MALFORMED_QUERY")
    assert _error(_create_job(api, "SELECT Id FROM Task", "delete"))[0:2] == (400, "INVALIDJOB")


def test_given_a_running_job_when_aborted_then_state_aborted(api: Api) -> None:
    job = _create_job(api, "SELECT Id FROM Task").json()
    aborted = api.send("PATCH", f"/jobs/query/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    assert api.get(f"/jobs/query/{job['id']}").json()["state"] == "Aborted"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {
                "grant_type": "password",
                "client_id": "nope",
                "client_secret": "x",
                "username": "u",
                "password": "p",
            },
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "{client_id}",
                "client_secret": "wrong",
            },
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {"grant_type": "refresh_token", "client_id": "{client_id}", "refresh_token": "stale"},
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
        ),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "not.a.jwt"},
            {"error": "invalid_grant", "error_description": "invalid assertion"},
        ),
        (
            {"grant_type": "authorization_code"},
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        ),
    ],
)
def test_given_bad_oauth_requests_when_posting_to_token_then_oauth_error_json(
    small_org: SandboxOrg, form: dict, error: dict
) -> None:
    form = {k: v.format(client_id=small_org.credentials.client_id) for k, v in form.items()}
    response = requests.post(f"{small_org.base_url}/services/oauth2/token", data=form, timeout=10)
    assert response.status_code == 400
    assert response.json() == error


def test_given_each_grant_when_valid_then_salesforce_token_response(small_org: SandboxOrg) -> None:
    creds = small_org.credentials
    for form in (
        {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        {
            "grant_type": "refresh_token",
            "client_id": creds.client_id,
            "refresh_token": creds.refresh_token,
        },
    ):
        body = requests.post(
            f"{small_org.base_url}/services/oauth2/token", data=form, timeout=10
        ).json()
        assert set(body) >= {
            "access_token",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
            "signature",
        }
        assert "expires_in" not in body
        assert body["token_type"] == "Bearer"
        assert body["instance_url"] == small_org.base_url


def test_given_every_response_when_api_called_then_limit_info_header_is_present(api: Api) -> None:
    for path in (
        "/sobjects",
        "/sobjects/Account/describe",
        "/limits",
        "/query?q=SELECT+Id+FROM+User",
    ):
        response = api.get(path)
        assert response.status_code == 200
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_given_write_methods_when_called_then_sandbox_refuses_and_404_for_unknown(api: Api) -> None:
    assert _error(api.send("POST", "/sobjects/Account", json={"Name": "x"})) == (
        405,
        "METHOD_NOT_ALLOWED",
        "HTTP Method 'POST' not allowed. Allowed are GET,HEAD",
    )
    assert _error(api.get("/sobjects/Nope/describe")) == (
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
    )


def test_given_get_deleted_when_window_is_recent_then_deleted_ids_and_dates_are_listed(
    api: Api,
) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    start = (now - dt.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    end = now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    body = api.get("/sobjects/Opportunity/deleted/", params={"start": start, "end": end}).json()
    expected = api.org.count("Opportunity", include_deleted=True, where="IsDeleted = true")
    assert len(body["deletedRecords"]) == expected
    assert all(
        r["id"].startswith("006") and r["deletedDate"].endswith("+0000")
        for r in body["deletedRecords"]
    )
    assert {"earliestDateAvailable", "latestDateCovered"} <= set(body)
    too_old = (now - dt.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    refused = api.get("/sobjects/Opportunity/deleted/", params={"start": too_old, "end": end})
    assert _error(refused)[0:2] == (400, "INVALID_REPLICATION_DATE")


def test_given_batch_size_header_when_querying_then_pages_have_that_size(api: Api) -> None:
    response = api.get(
        "/query",
        params={"q": "SELECT Id FROM OpportunityFieldHistory"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    body = response.json()
    assert len(body["records"]) == 200
    assert body["done"] is False
    next_page = api.get(body["nextRecordsUrl"].split("/v62.0", 1)[1]).json()
    assert len(next_page["records"]) == min(200, body["totalSize"] - 200)
    assert {r["Id"] for r in body["records"]}.isdisjoint(r["Id"] for r in next_page["records"])


def test_given_a_request_line_over_16k_characters_when_sent_then_414_uri_too_long(api: Api) -> None:
    fields = ", ".join(f"Quarterly_Measurement_Attribute_{n:04d}__c" for n in range(450))
    response = api.query(f"SELECT Id, {fields} FROM Wide_Record__c")
    assert _error(response) == (414, "URI_TOO_LONG", "The request URI is too long")

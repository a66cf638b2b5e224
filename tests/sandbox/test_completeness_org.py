"""What the synthetic org models for issue #28, over HTTP as a client meets it: deletes beyond the
Recycle Bin, formula fields that change without SystemModstamp, ContentDocumentLink's parent
filter, the daily Bulk query job allocation, and fields that cannot be filtered."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow.compute as pc
import pytest
import requests

from synthetic_org import SandboxOrg
from tests.conftest import Api
from tests.helpers import serve_org

UTC = dt.timezone.utc
PARENT_FILTER_ERROR = (
    "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
    "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN "
    "operator."
)


@pytest.fixture
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=5, scale=40) as org:
        yield org


def _soql_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deleted(api: Api, name: str, start: dt.datetime, end: dt.datetime) -> requests.Response:
    return api.get(
        f"/sobjects/{name}/deleted/", params={"start": start.isoformat(), "end": end.isoformat()}
    )


def _live_ids(org: SandboxOrg, name: str, count: int) -> list[str]:
    table = org.org.table(name)
    return table.filter(pc.invert(table["IsDeleted"]))["Id"].to_pylist()[:count]


def _ids(response: requests.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {r["Id"] for r in response.json()["records"]}


# -- deletes: the Recycle Bin, beyond it, and getDeleted's reach --


def test_given_a_delete_within_the_recycle_bin_then_query_hides_it_queryall_and_getdeleted_show_it(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    victim = _live_ids(org, "Account", 1)[0]
    org.changes.delete("Account", [victim])
    soql = f"SELECT Id, IsDeleted, SystemModstamp FROM Account WHERE Id = '{victim}'"
    assert _ids(api.query(soql)) == set()
    (row,) = api.query(soql, "queryAll").json()["records"]
    assert row["IsDeleted"] is True
    now = dt.datetime.now(UTC)
    body = _deleted(api, "Account", now - dt.timedelta(days=1), now).json()
    assert {"id": victim, "deletedDate": row["SystemModstamp"]} in body["deletedRecords"]
    earliest = dt.datetime.fromisoformat(body["earliestDateAvailable"].replace("+0000", "+00:00"))
    assert abs(earliest - (now - dt.timedelta(days=15))) < dt.timedelta(minutes=2)


def test_given_a_delete_older_than_the_recycle_bin_then_queryall_and_getdeleted_have_lost_it(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    victim = _live_ids(org, "Opportunity", 1)[0]
    org.changes.delete("Opportunity", [victim], at=dt.datetime.now(UTC) - dt.timedelta(days=20))
    assert _ids(api.query(f"SELECT Id FROM Opportunity WHERE Id = '{victim}'", "queryAll")) == set()
    now = dt.datetime.now(UTC)
    earliest = now - dt.timedelta(days=14)
    body = _deleted(api, "Opportunity", earliest, now).json()
    assert victim not in {r["id"] for r in body["deletedRecords"]}
    too_early = _deleted(api, "Opportunity", now - dt.timedelta(days=21), now)
    assert too_early.status_code == 400
    assert too_early.json() == [
        {
            "message": "startDate before org replication enabled date",
            "errorCode": "INVALID_REPLICATION_DATE",
        }
    ]


def test_given_an_emptied_recycle_bin_then_queryall_loses_the_rows_and_getdeleted_keeps_them(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    victims = _live_ids(org, "Case", 2)
    org.changes.delete("Case", victims)
    assert org.changes.empty_recycle_bin("Case", victims) == 2
    listed = ", ".join(f"'{v}'" for v in victims)
    assert _ids(api.query(f"SELECT Id FROM Case WHERE Id IN ({listed})", "queryAll")) == set()
    now = dt.datetime.now(UTC)
    body = _deleted(api, "Case", now - dt.timedelta(days=1), now).json()
    assert set(victims) <= {r["id"] for r in body["deletedRecords"]}


def test_given_a_purged_delete_log_then_earliest_date_moves_and_older_starts_are_refused(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    victim = _live_ids(org, "Lead", 1)[0]
    org.changes.hard_delete("Lead", [victim], at=dt.datetime.now(UTC) - dt.timedelta(days=3))
    purge = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(days=1)
    assert org.changes.purge_delete_log("Lead", before=purge) == 1
    now = dt.datetime.now(UTC)
    refused = _deleted(api, "Lead", now - dt.timedelta(days=5), now)
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    body = _deleted(api, "Lead", purge, now).json()
    assert body["earliestDateAvailable"] == purge.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert victim not in {r["id"] for r in body["deletedRecords"]}


def test_given_a_purge_part_way_through_a_second_then_a_start_at_the_named_earliest_date_is_read(
    org: SandboxOrg,
) -> None:
    """The answer names the earliest date to the second; a start at exactly that moment is
    accepted (a tap starting from it once met INVALID_REPLICATION_DATE when the purge ran a
    fraction of a second past the minute it names)."""
    api = Api(org)
    purge = dt.datetime.now(UTC).replace(second=0, microsecond=654_321) - dt.timedelta(hours=1)
    org.changes.purge_delete_log("Lead", before=purge)
    now = dt.datetime.now(UTC)
    named = _deleted(api, "Lead", now - dt.timedelta(minutes=1), now).json()
    earliest = dt.datetime.strptime(named["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert earliest == purge.replace(microsecond=0)
    answer = _deleted(api, "Lead", earliest, now)
    assert answer.status_code == 200, answer.text


def test_given_each_object_then_describe_says_who_deletes_and_which_deletes_wait_in_the_bin(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    expected = {
        "Account": (True, True),
        "Project__c": (True, True),
        "ContentDocument": (True, True),
        "ContentDocumentLink": (True, False),  # gone at once, no undelete()
        "AccountHistory": (False, False),  # history rows go with their parent
        "OpportunityHistory": (False, False),
        "User": (False, False),  # users are deactivated
        "SetupAuditTrail": (False, False),
    }
    entries = {e["name"]: e for e in api.get("/sobjects").json()["sobjects"]}
    for name, (deletable, undeletable) in expected.items():
        describe = api.get(f"/sobjects/{name}/describe").json()
        for entry in (entries[name], describe):
            assert (entry["deletable"], entry["undeletable"]) == (deletable, undeletable), name


def test_given_an_object_without_a_recycle_bin_when_deleting_then_the_row_is_gone_at_once(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    link = org.org.table("ContentDocumentLink").slice(0, 1).to_pylist()[0]
    org.changes.delete("ContentDocumentLink", [link["Id"]])
    soql = f"SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '{link['ContentDocumentId']}'"
    assert link["Id"] not in _ids(api.query(soql, "queryAll"))


def test_given_an_object_users_cannot_delete_then_the_org_refuses_to_delete_its_rows(
    org: SandboxOrg,
) -> None:
    row = org.org.table("AccountHistory")["Id"][0].as_py()
    with pytest.raises(ValueError, match="AccountHistory is not deletable"):
        org.changes.delete("AccountHistory", [row])
    with pytest.raises(ValueError, match="no Account rows"):
        org.changes.delete("Account", ["001000000000000AAA"])


# -- formula fields --


def test_given_invoice_formulas_then_describe_shows_them_calculated_with_their_formula(
    org: SandboxOrg,
) -> None:
    fields = {f["name"]: f for f in Api(org).get("/sobjects/Invoice__c/describe").json()["fields"]}
    assert fields["Project_Status__c"]["calculated"] is True
    assert fields["Project_Status__c"]["calculatedFormula"] == "TEXT(Project__r.Status__c)"
    assert fields["Days_Overdue__c"]["calculatedFormula"] == (
        'IF(ISPICKVAL(Status__c, "Paid"), 0, MAX(0, TODAY() - Due_Date__c))'
    )
    assert (fields["Days_Overdue__c"]["createable"], fields["Days_Overdue__c"]["updateable"]) == (
        False,
        False,
    )
    assert fields["Amount__c"]["calculated"] is False


def test_given_a_project_status_change_then_its_invoices_formula_changes_without_their_modstamp(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    soql = "SELECT Id, Project__c, Project_Status__c, SystemModstamp FROM Invoice__c"
    before = {r["Id"]: r for r in api.query(soql).json()["records"]}
    project = next(iter(before.values()))["Project__c"]
    old_status = next(r["Project_Status__c"] for r in before.values() if r["Project__c"] == project)
    new_status = "On Hold" if old_status != "On Hold" else "Active"
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    org.changes.update("Project__c", {project: {"Status__c": new_status}})
    after = {r["Id"]: r for r in api.query(soql).json()["records"]}
    for invoice_id, row in after.items():
        expected = (
            new_status if row["Project__c"] == project else before[invoice_id]["Project_Status__c"]
        )
        assert row["Project_Status__c"] == expected
        assert row["SystemModstamp"] == before[invoice_id]["SystemModstamp"]
    changed_since = f"SELECT Id FROM Invoice__c WHERE SystemModstamp > {_soql_time(started)}"
    assert _ids(api.query(changed_since)) == set(), "an incremental read sees no invoice change"
    project_row = api.query(
        f"SELECT Status__c, SystemModstamp FROM Project__c WHERE Id = '{project}'"
    ).json()["records"][0]
    assert project_row["Status__c"] == new_status
    history = api.query(
        f"SELECT OldValue, NewValue FROM Project__History WHERE ParentId = '{project}' "
        f"AND Field = 'Status__c' AND CreatedDate > {_soql_time(started)}"
    ).json()["records"]
    assert [(h["OldValue"], h["NewValue"]) for h in history] == [(old_status, new_status)]


def test_given_a_day_passes_then_unpaid_invoices_grow_a_day_overdue_and_keep_their_modstamp(
    org: SandboxOrg,
) -> None:
    api = Api(org)
    soql = "SELECT Id, Status__c, Days_Overdue__c, SystemModstamp FROM Invoice__c"
    before = {r["Id"]: r for r in api.query(soql).json()["records"]}
    org.changes.set_today(org.changes.today + dt.timedelta(days=1))
    after = {r["Id"]: r for r in api.query(soql).json()["records"]}
    grew = [i for i, r in after.items() if r["Days_Overdue__c"] == before[i]["Days_Overdue__c"] + 1]
    assert grew, "overdue invoices are a day later"
    for invoice_id, row in after.items():
        if row["Status__c"] == "Paid":
            assert row["Days_Overdue__c"] == 0
        assert row["SystemModstamp"] == before[invoice_id]["SystemModstamp"]


# -- ContentDocumentLink: readable only through its parents --


@pytest.fixture(scope="module")
def files_org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=9, scale=60) as org:
        yield org


@pytest.mark.parametrize(
    "where",
    [
        "",
        " WHERE ShareType = 'V'",
        " WHERE ContentDocumentId != '069000000000000AAA'",
        " WHERE ContentDocumentId NOT IN ('069000000000000AAA')",
        " WHERE LinkedEntityId = '001000000000000AAA' OR ShareType = 'V'",
    ],
)
def test_given_no_parent_filter_then_contentdocumentlink_answers_the_implementation_restriction(
    files_org: SandboxOrg, where: str
) -> None:
    api = Api(files_org)
    for soql in (
        f"SELECT Id FROM ContentDocumentLink{where}",
        f"SELECT COUNT() FROM ContentDocumentLink{where}",
    ):
        answer = api.query(soql)
        assert answer.status_code == 400, soql
        assert answer.json() == [{"message": PARENT_FILTER_ERROR, "errorCode": "MALFORMED_QUERY"}]
    job = api.send(
        "POST",
        "/jobs/query",
        json={"operation": "query", "query": f"SELECT Id FROM ContentDocumentLink{where}"},
    )
    assert job.status_code == 400
    assert job.json()[0]["message"] == PARENT_FILTER_ERROR


def test_given_parent_ids_in_batches_then_contentdocumentlink_answers_exactly_their_links(
    files_org: SandboxOrg,
) -> None:
    api = Api(files_org)
    links = files_org.org.table("ContentDocumentLink")
    accounts = sorted({i for i in links["LinkedEntityId"].to_pylist() if i.startswith("001")})
    assert len(accounts) >= 3, "files are shared to accounts"
    listed = ", ".join(f"'{a}'" for a in accounts)
    got = _ids(
        api.query(
            f"SELECT Id, ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId IN ({listed})",
            "queryAll",
        )
    )
    wanted = [r["Id"] for r in links.to_pylist() if r["LinkedEntityId"] in accounts]
    assert got == set(wanted)
    document = links["ContentDocumentId"][0].as_py()
    by_document = _ids(
        api.query(
            f"SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '{document}'", "queryAll"
        )
    )
    assert by_document == set(
        links.filter(pc.equal(links["ContentDocumentId"], document))["Id"].to_pylist()
    )
    owner = files_org.org.table("ContentDocument")["OwnerId"][0].as_py()
    other_filter = api.query(
        f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId IN ('{owner}') AND ShareType = 'I'"
    )
    assert other_filter.status_code == 400
    assert (
        "only permitted when filtering by ContentDocumentLink.LinkedEntityId" in other_filter.text
    )
    allowed = api.query(
        f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '{owner}' AND ShareType = 'I'"
    )
    assert allowed.status_code == 200
    assert allowed.json()["totalSize"] >= 1
    job = api.send(
        "POST",
        "/jobs/query",
        json={
            "operation": "query",
            "query": f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId IN ({listed})",
        },
    )
    assert job.status_code == 200, job.text


def test_given_the_seeded_files_then_every_link_points_at_an_existing_document_and_record(
    files_org: SandboxOrg,
) -> None:
    data = files_org.org
    links = data.table("ContentDocumentLink")
    documents = set(data.table("ContentDocument")["Id"].to_pylist())
    assert set(links["ContentDocumentId"].to_pylist()) == documents
    records = {
        i
        for name in ("Account", "Opportunity", "Case", "Project__c", "User")
        for i in data.table(name)["Id"].to_pylist()
    }
    assert set(links["LinkedEntityId"].to_pylist()) <= records
    owners = {
        (r["ContentDocumentId"], r["LinkedEntityId"])
        for r in links.to_pylist()
        if r["ShareType"] == "I"
    }
    assert owners == {(d["Id"], d["OwnerId"]) for d in data.table("ContentDocument").to_pylist()}
    assert Api(files_org).query("SELECT Id FROM ContentDocument").json()["totalSize"] >= 1


# -- the daily Bulk query job allocation --


def test_given_a_daily_bulk_job_limit_then_limits_count_down_and_the_next_job_is_refused() -> None:
    with SandboxOrg(seed=5, scale=10, bulk_job_limit=2) as org:
        api = Api(org)
        body = {"operation": "query", "query": "SELECT Id FROM Account"}
        assert api.get("/limits").json()["DailyBulkV2QueryJobs"] == {"Max": 2, "Remaining": 2}
        jobs = [api.send("POST", "/jobs/query", json=body) for _ in range(2)]
        assert [j.status_code for j in jobs] == [200, 200]
        assert api.get("/limits").json()["DailyBulkV2QueryJobs"] == {"Max": 2, "Remaining": 0}
        for job in jobs:  # deleting a job gives nothing back: the allocation counts creations
            api.send("PATCH", f"/jobs/query/{job.json()['id']}", json={"state": "Aborted"})
            api.send("DELETE", f"/jobs/query/{job.json()['id']}")
        refused = api.send("POST", "/jobs/query", json=body)
        assert refused.status_code == 400
        assert refused.json() == [
            {
                "message": "Max bulk v2 query jobs (2) per 24 hrs has been reached (3)",
                "errorCode": "LIMIT_EXCEEDED",
            }
        ]
        assert _ids(api.query("SELECT Id FROM Account")), "REST queries still answer"
        quota = org.bulk.quota
        started = quota.clock()
        quota.clock = lambda: started + 24 * 3600 + 1  # a day later, the window has rolled
        assert api.send("POST", "/jobs/query", json=body).status_code == 200
        assert api.get("/limits").json()["DailyBulkV2QueryJobs"] == {"Max": 2, "Remaining": 1}


def test_given_jobs_created_side_by_side_then_the_daily_limit_still_holds() -> None:
    """Eight requests at once against a limit of two: two jobs, six refusals (the check and the
    count are one step, as a tap syncing streams side by side needs the org to be)."""
    with SandboxOrg(seed=5, scale=10, bulk_job_limit=2) as org:
        api = Api(org)
        body = {"operation": "query", "query": "SELECT Id FROM Account"}
        invalid = api.send("POST", "/jobs/query", json={**body, "operation": "upsert"})
        assert invalid.json()[0]["errorCode"] == "INVALIDJOB"  # no job: nothing counted
        start = threading.Barrier(8)

        def create(_: int) -> int:
            start.wait()
            return api.send("POST", "/jobs/query", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = sorted(pool.map(create, range(8)))
        assert codes == [200] * 2 + [400] * 6
        refused = api.send("POST", "/jobs/query", json={"operation": "upsert", "query": "x"})
        assert refused.status_code == 400  # the limit is reached: refused before anything else
        assert refused.json()[0]["errorCode"] == "LIMIT_EXCEEDED"


# -- fields that cannot be filtered --


def test_given_activity_field_history_then_systemmodstamp_cannot_be_filtered_and_a_full_read_works() -> (
    None
):
    with SandboxOrg(seed=5, scale=20) as plain:
        names = {e["name"] for e in Api(plain).get("/sobjects").json()["sobjects"]}
        assert "ActivityFieldHistory" not in names, "only when the feature is on"
    with SandboxOrg(seed=5, scale=20, activity_field_history=True) as org:
        api = Api(org)
        fields = {
            f["name"]: f
            for f in api.get("/sobjects/ActivityFieldHistory/describe").json()["fields"]
        }
        assert fields["SystemModstamp"]["filterable"] is False
        assert fields["ChangedDate"]["filterable"] is True
        since = _soql_time(dt.datetime(2024, 1, 1, tzinfo=UTC))
        refused = api.query(f"SELECT Id FROM ActivityFieldHistory WHERE SystemModstamp >= {since}")
        assert refused.status_code == 400
        assert refused.json() == [
            {
                "message": "field 'SystemModstamp' can not be filtered in a query call",
                "errorCode": "INVALID_FIELD",
            }
        ]
        whole = api.query("SELECT Id, ActivityId, SystemModstamp FROM ActivityFieldHistory")
        tasks = org.org.table("Task")
        completed = pc.sum(pc.is_valid(tasks["CompletedDateTime"])).as_py()
        assert whole.json()["totalSize"] == completed > 0
        assert (
            api.query(
                f"SELECT Id FROM ActivityFieldHistory WHERE ChangedDate >= {since}"
            ).status_code
            == 200
        )
        bulk = api.send(
            "POST",
            "/jobs/query",
            json={"operation": "query", "query": "SELECT Id FROM ActivityFieldHistory"},
        )
        assert bulk.status_code == 400
        assert bulk.json()[0]["errorCode"] == "INVALIDENTITY"
        description = api.query("SELECT Id FROM Account WHERE Description = 'x'")
        assert description.json()[0]["message"] == (
            "field 'Description' can not be filtered in a query call"
        )


def test_given_the_cli_switches_then_the_served_org_has_them() -> None:
    flags = ("--bulk-job-limit", "7", "--bulk-jobs-used-start", "3", "--activity-field-history")
    with serve_org(*flags) as (api, http, auth):
        limits = http.get(f"{api}/limits", headers=auth, timeout=10).json()
        assert limits["DailyBulkV2QueryJobs"] == {"Max": 7, "Remaining": 4}
        entries = http.get(f"{api}/sobjects", headers=auth, timeout=10).json()["sobjects"]
        names = {e["name"] for e in entries}
        assert {"ActivityFieldHistory", "ContentDocument", "ContentDocumentLink"} <= names

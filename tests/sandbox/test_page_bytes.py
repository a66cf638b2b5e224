"""Pages the org serves are byte-for-byte what the straightforward renderers give, over HTTP, for
every page of queries that cover each kind of value: REST pages rendered by Arrow kernels
(``soql.rest_json``) against ``render.rest_records`` (a dict per record, encoded by the handler's
msgspec encoder), and Bulk CSV pages against Arrow's CSV writer over ``strftime`` datetimes."""

from __future__ import annotations

import base64
import decimal
import io
import re
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthetic_org import SandboxOrg
from synthetic_org.soql.json_values import ENCODER, json_fragments
from synthetic_org.soql.render import rest_records, salesforce_number
from tests.conftest import Api

VERSION = "62.0"


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=3, scale=60) as org:
        # A contact whose account is gone for good and one without an account: a nested parent
        # with null fields, and a null relationship.
        contacts = org.org.table("Contact")
        account_ids = contacts["AccountId"].to_pylist()
        org.hard_delete("Account", [account_ids[0]])
        account_ids[1] = None
        index = contacts.column_names.index("AccountId")
        org.org.replace(
            "Contact", contacts.set_column(index, "AccountId", pa.array(account_ids, pa.string()))
        )
        yield org


def _all_fields(org: SandboxOrg, name: str) -> list[str]:
    spec = org.find_object(name)
    assert spec is not None
    return [f.name for f in spec.fields if f.visible]


def _reference_page(org: SandboxOrg, soql: str, resource: str, served: dict, offset: int) -> bytes:
    """The page as the straightforward renderer shapes it, encoded as the handler encodes it."""
    result = org.rest.run_query(soql, include_deleted=resource == "queryAll")
    stop = min(offset + 200, result.total_size)
    body: dict = {"totalSize": result.total_size, "done": served["done"]}
    if "nextRecordsUrl" in served:
        body["nextRecordsUrl"] = served["nextRecordsUrl"]
    body["records"] = rest_records(result, offset, stop, VERSION)
    return ENCODER.encode(body)


def _served_pages(api: Api, soql: str, resource: str) -> Iterator[tuple[int, bytes, dict]]:
    """Every page of a query over HTTP, 200 rows a page: (offset, raw body, parsed body)."""
    options = {"Sforce-Query-Options": "batchSize=200"}
    response = api.get(f"/{resource}", params={"q": soql}, headers=options)
    offset = 0
    while True:
        assert response.status_code == 200, response.text
        yield offset, response.content, response.json()
        next_url = response.json().get("nextRecordsUrl")
        if not next_url:
            return
        offset = int(re.fullmatch(r".*-(\d+)", next_url)[1])  # type: ignore[index]
        response = api.get(next_url.removeprefix(f"/services/data/v{VERSION}"))


QUERIES = [
    # compound address fields, decimals, dates, nulls, strings with quotes and newlines
    ("query", "Account", "SELECT {all} FROM Account ORDER BY SystemModstamp, Id"),
    # decimals of several scales, a location compound field, doubles
    ("query", "Project__c", "SELECT {all} FROM Project__c"),
    # decimals (18,2) and (3,0), a date, datetimes
    ("query", "Opportunity", "SELECT {all} FROM Opportunity WHERE Amount > 1000"),
    # anyType values typed by DataType, deleted rows included
    ("queryAll", "OpportunityFieldHistory", "SELECT {all} FROM OpportunityFieldHistory"),
    ("queryAll", "Contact", "SELECT {all}, Account.Name, Account.AnnualRevenue FROM Contact"),
    # relationship fields from the parent, a datetime across the relationship
    (
        "query",
        "ProcessInstanceStep",
        "SELECT Id, StepStatus, Comments, ProcessInstance.TargetObjectId, ProcessInstance.Status,"
        " ProcessInstance.CreatedDate, CreatedDate FROM ProcessInstanceStep",
    ),
    # a hundred and fifty columns of every primitive type (all of them: a URL too long)
    ("query", "Wide_Record__c", "SELECT {first_150} FROM Wide_Record__c"),
    # a field selected twice: the fast path declines, the answer must not change
    ("query", "Account", "SELECT Id, Name, Id FROM Account"),
]


@pytest.mark.parametrize(("resource", "name", "template"), QUERIES)
def test_given_a_query_when_every_page_is_served_then_bytes_equal_the_reference_rendering(
    org: SandboxOrg, resource: str, name: str, template: str
) -> None:
    api = Api(org)
    fields = _all_fields(org, name)
    soql = template.format(all=", ".join(fields), first_150=", ".join(fields[:150]))
    pages = list(_served_pages(api, soql, resource))
    for offset, raw, served in pages:
        assert raw == _reference_page(org, soql, resource, served, offset), (name, offset)
    assert sum(len(served["records"]) for _, _, served in pages) == pages[0][2]["totalSize"] > 0


def test_the_queries_cover_deleted_rows_escapes_and_empty_relationships(org: SandboxOrg) -> None:
    """Guards the test above: the org data still holds the cases it claims to compare."""
    api = Api(org)
    contacts = api.query(
        f"SELECT {', '.join(_all_fields(org, 'Contact'))}, Account.Name FROM Contact", "queryAll"
    ).json()["records"]
    assert any(r["IsDeleted"] for r in contacts)
    assert any(r["Account"] is None for r in contacts)
    assert any(r["Account"] and r["Account"]["Name"] is None for r in contacts)
    accounts = api.query("SELECT Description, BillingStreet FROM Account").content
    assert b'\\"' in accounts or b"\\n" in accounts


def _reference_csv(org: SandboxOrg, job_id: str, offset: int, stop: int) -> bytes:
    """A Bulk result page as first written: ``strftime`` datetimes, every value quoted."""
    result = org.bulk.jobs[job_id].result
    assert result is not None
    page = result.table.slice(offset, stop - offset)
    arrays = []
    for column in result.columns:
        array = page[column.key]
        if column.spec.type == "datetime":
            array = pc.strftime(array, format="%Y-%m-%dT%H:%M:%SZ")  # %S carries the millis
        elif column.spec.type == "date":
            array = array.cast(pa.string())
        arrays.append(array)
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=True, quoting_style="all_valid")
    names = [column.name for column in result.columns]
    pa_csv.write_csv(pa.table(arrays, names=names), buffer, write_options=options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("operation", "soql"),
    [
        ("queryAll", "SELECT {all} FROM OpportunityHistory"),
        ("query", "SELECT {all} FROM Opportunity ORDER BY CreatedDate"),
        (
            "query",
            "SELECT Id, ProcessInstance.TargetObjectId, ProcessInstance.CreatedDate,"
            " StepStatus, Comments, CreatedDate FROM ProcessInstanceStep",
        ),
    ],
)
def test_given_a_bulk_job_when_every_result_page_is_read_then_bytes_equal_the_reference(
    org: SandboxOrg, operation: str, soql: str
) -> None:
    api = Api(org)
    name = re.search(r"FROM (\w+)", soql)[1]  # type: ignore[index]
    query = soql.format(all=", ".join(_all_fields(org, name)))
    job = api.send("POST", "/jobs/query", json={"operation": operation, "query": query}).json()
    while api.get(f"/jobs/query/{job['id']}").json()["state"] != "JobComplete":
        pass
    offset, locator = 0, None
    while locator != "null":
        params = {"maxRecords": "25", **({"locator": locator} if locator else {})}
        response = api.get(f"/jobs/query/{job['id']}/results", params=params)
        assert response.status_code == 200, response.text
        count = int(response.headers["Sforce-NumberOfRecords"])
        assert response.content == _reference_csv(org, job["id"], offset, offset + count)
        offset += count
        locator = response.headers["Sforce-Locator"]
        if locator != "null":
            assert int(base64.b64decode(locator + "=" * (-len(locator) % 4))) == offset
    assert offset > 25  # several pages


JSON_TEXT = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from('"\\\n\r\t\b\f\x00\x1f\x7f')
)


@settings(max_examples=200, deadline=None)
@given(
    strings=st.lists(st.none() | JSON_TEXT, max_size=6),
    floats=st.lists(st.none() | st.floats(allow_nan=False, allow_infinity=False), max_size=6),
    integers=st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=6),
    booleans=st.lists(st.none() | st.booleans(), max_size=6),
    scale=st.integers(0, 18),
    digits=st.lists(st.none() | st.integers(-(10**17) + 1, 10**17 - 1), max_size=6),
)
def test_given_any_values_when_rendered_as_fragments_then_each_is_the_reference_text(
    strings: list, floats: list, integers: list, booleans: list, scale: int, digits: list
) -> None:
    decimals = [None if d is None else decimal.Decimal(d).scaleb(-scale) for d in digits]
    columns = [
        pa.array(strings, pa.string()),
        pa.array(floats, pa.float64()),
        pa.array(integers, pa.int64()),
        pa.array(booleans, pa.bool_()),
        pa.array(decimals, pa.decimal128(18, scale)),
    ]
    for array in columns:
        for sliced in (array, array.slice(1)):  # a page is a slice of a larger table
            expected = [
                ENCODER.encode(salesforce_number(value)).decode() for value in sliced.to_pylist()
            ]
            assert json_fragments(sliced).to_pylist() == expected
    address = pa.StructArray.from_arrays(
        [columns[0], pa.array([1.5] * len(strings), pa.float64())], names=["city", "latitude"]
    )
    expected = [
        ENCODER.encode({k: salesforce_number(v) for k, v in value.items()}).decode()
        for value in address.to_pylist()
    ]
    assert json_fragments(address).to_pylist() == expected
    assert pc.all(pc.is_valid(json_fragments(address))).as_py() in (True, None)

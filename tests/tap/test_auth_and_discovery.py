"""The tap logs in with every flow, refuses bad credentials in one line, and discovers typed streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from synthetic_org.metadata import OBJECTS
from tap_salesforce_temporal.discovery.unsyncable import is_unsyncable
from tests.helpers import run_tap, tap_config


def _flow_config(org: SandboxOrg, flow: str) -> dict:
    creds = org.credentials
    base = {
        "auth_flow": flow,
        "domain": org.base_url,
        "objects": ["User"],
        "retry_backoff_seconds": 0.01,
    }
    extra = {
        "password": {
            "username": creds.username,
            "password": creds.password,
            "security_token": creds.security_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        "client_credentials": {"client_id": creds.client_id, "client_secret": creds.client_secret},
        "refresh_token": {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token,
        },
        "jwt": {
            "client_id": creds.client_id,
            "username": creds.username,
            "private_key": creds.private_key_pem,
        },
    }[flow]
    return {**base, **extra}


@pytest.mark.parametrize("flow", ["password", "client_credentials", "refresh_token", "jwt"])
def test_given_each_auth_flow_when_syncing_then_it_logs_in_and_reads_users(
    small_org: SandboxOrg, tmp_path: Path, flow: str
) -> None:
    run = run_tap(tmp_path, _flow_config(small_org, flow))
    assert run.returncode == 0, run.stderr
    assert len(run.records("User")) == small_org.count("User")


@pytest.mark.parametrize(
    ("flow", "wrong", "expected"),
    [
        (
            "password",
            {"password": "not-the-password-xyz"},
            "Salesforce login failed (auth_flow=password): invalid_grant: authentication failure",
        ),
        (
            "client_credentials",
            {"client_secret": "wrong-secret-abc123"},
            "Salesforce login failed (auth_flow=client_credentials): invalid_client: invalid client credentials",
        ),
        (
            "refresh_token",
            {"refresh_token": "stale-refresh-token-999"},
            "Salesforce login failed (auth_flow=refresh_token): invalid_grant: expired access/refresh token",
        ),
        (
            "jwt",
            {"username": "intruder@example.com"},
            "Salesforce login failed (auth_flow=jwt): invalid_grant: user hasn't approved this consumer",
        ),
    ],
)
def test_given_wrong_credentials_when_running_then_one_line_error_and_no_secret_printed(
    small_org: SandboxOrg, tmp_path: Path, flow: str, wrong: dict, expected: str
) -> None:
    config = {**_flow_config(small_org, flow), **wrong}
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert run.stdout == ""
    error_lines = [line for line in run.stderr.splitlines() if "login failed" in line]
    assert error_lines == [f"tap-salesforce-temporal: {expected}"]
    assert "Traceback" not in run.stderr
    creds = small_org.credentials
    secrets = [
        creds.password,
        creds.security_token,
        creds.client_secret,
        creds.refresh_token,
        *wrong.values(),
    ]
    secrets += [line for line in creds.private_key_pem.splitlines() if "PRIVATE KEY" not in line]
    for secret in secrets:
        assert secret not in run.stderr, "a secret leaked to stderr"
        assert secret not in run.stdout, "a secret leaked to stdout"


def test_given_discover_then_every_queryable_object_is_a_stream_with_salesforce_types(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(small_org), discover=True)
    assert run.returncode == 0, run.stderr
    catalog = json.loads(run.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    # Objects that need a parent filter are streams when the tap reads them through their
    # parent (ContentDocumentLink), else named in one line and skipped.
    listed = {o.name for o in OBJECTS if o.queryable and o.listed}
    assert set(streams) == {n for n in listed if not is_unsyncable(n)} | {
        "micro_decision_events",
        "history_tracked_fields",
    }
    assert "Object FieldHistoryArchive is not queryable by this user; skipped" in run.stderr
    assert "ContentDocumentLink" in streams
    assert streams["ContentDocumentLink"].get("replication_key") is None, "read whole each run"
    assert "not synced as streams" not in run.stderr
    props = {name: s["schema"]["properties"] for name, s in streams.items()}
    expected_types = {
        ("Account", "Id"): {"type": ["string", "null"]},
        ("Account", "Name"): {"type": ["string", "null"]},
        ("Account", "NumberOfEmployees"): {"type": ["integer", "null"]},
        # currency(18, 2): exact decimals a number-only reader still takes
        ("Account", "AnnualRevenue"): {
            "type": ["number", "null"],
            "multipleOf": 0.01,
            "exclusiveMaximum": 10**16,
            "exclusiveMinimum": -(10**16),
        },
        ("Account", "IsDeleted"): {"type": ["boolean", "null"]},
        ("Account", "LastActivityDate"): {"type": ["string", "null"], "format": "date"},
        ("Account", "SystemModstamp"): {"type": ["string", "null"], "format": "date-time"},
        ("Account", "Website"): {"type": ["string", "null"]},
        ("Opportunity", "Probability"): {  # percent(3, 0)
            "type": ["number", "null"],
            "multipleOf": 1,
            "exclusiveMaximum": 1000,
            "exclusiveMinimum": -1000,
        },
        ("Opportunity", "StageName"): {"type": ["string", "null"]},
        ("Project__c", "Tags__c"): {"type": ["string", "null"]},
        ("Project__c", "Kickoff_Time__c"): {"type": ["string", "null"], "format": "time"},
        ("Project__c", "Notes__c"): {"type": ["string", "null"]},
        ("OpportunityFieldHistory", "OldValue"): {"type": ["string", "null"]},
    }
    for (stream, field), schema in expected_types.items():
        assert props[stream][field] == schema, (stream, field)
    billing = props["Account"]["BillingAddress"]
    assert billing["type"] == ["object", "null"]
    assert billing["properties"]["latitude"] == {"type": ["number", "null"]}
    assert "BillingCity" in props["Account"], "components stay as scalar columns"
    assert set(props["Project__c"]["Site_Location__c"]["properties"]) == {"latitude", "longitude"}
    assert "Internal_Cost__c" not in props["Project__c"]
    assert streams["OpportunityFieldHistory"]["replication_key"] == "CreatedDate"
    assert streams["Account"]["replication_key"] == "SystemModstamp"
    assert streams["Account"]["key_properties"] == ["Id"]
    metadata = {tuple(m["breadcrumb"]): m["metadata"] for m in streams["Opportunity"]["metadata"]}
    assert metadata[("properties", "Amount")] == {
        "inclusion": "available",
        "sf-type": "currency",
        "precision": 18,
        "scale": 2,
    }
    assert metadata[("properties", "ExpectedRevenue")]["calculated"] is True
    assert metadata[("properties", "SystemModstamp")]["inclusion"] == "automatic"
    assert metadata[("properties", "Id")]["inclusion"] == "automatic"


def test_given_object_globs_when_discovering_then_only_matching_streams(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(small_org, objects=["*History", "Case"]), discover=True)
    names = {s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]}
    assert names == {
        "OpportunityHistory",
        "OpportunityFieldHistory",
        "AccountHistory",
        "CaseHistory",
        "ContactHistory",
        "LeadHistory",
        "Project__History",
        "Case",
        "micro_decision_events",
        "history_tracked_fields",
    }


def test_given_a_thousand_object_org_when_discovering_then_each_is_a_typed_stream(
    tmp_path: Path,
) -> None:
    """The large-org emulation: 1,000 extra custom objects in describeGlobal, each described once."""
    with SandboxOrg(seed=3, scale=20, extra_objects=1000) as org:
        run = run_tap(tmp_path, tap_config(org), discover=True)
        describes = [p for m, p, _ in org.requests if m == "GET" and p.endswith("/describe")]
    assert run.returncode == 0, run.stderr[-2000:]
    streams = {s["tap_stream_id"]: s for s in json.loads(run.stdout)["streams"]}
    extras = sorted(name for name in streams if name.startswith("Extra_Object_"))
    assert extras == [f"Extra_Object_{n:04d}__c" for n in range(1000)]
    assert len(describes) == len(set(describes)), "each object described once"
    last = streams["Extra_Object_0999__c"]["schema"]["properties"]
    assert last["Attribute_01__c"] == {"type": ["number", "null"]}
    assert last["Attribute_04__c"] == {"type": ["string", "null"], "format": "date-time"}
    assert streams["Extra_Object_0999__c"]["replication_key"] == "SystemModstamp"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"domain": "http://login.example.com"},
            "setting 'domain': plain http is only allowed for loopback hosts, got 'login.example.com'; use https",
        ),
        (
            {"auth_flow": "jwt", "private_key": None},
            "setting 'private_key': is required for auth_flow=jwt",
        ),
        ({"api_type": "soap"}, "api_type"),
        (
            {"lookback_window": -5},
            "setting 'lookback_window': -5 must be between 0 and 31622400 seconds (366 days)",
        ),
        (
            {"start_date": "2025-01-02T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"},
            "setting 'end_date': must be after start_date",
        ),
        (
            {"lookback_window": 10**12},
            "setting 'lookback_window': 1000000000000 must be between 0 and 31622400 seconds",
        ),
        (
            {"start_date": "0001-01-01T00:00:00Z"},
            "setting 'start_date': 0001-01-01 is outside the dates Salesforce accepts",
        ),
        (
            {"max_api_usage_percent": 150},
            "setting 'max_api_usage_percent': 150.0 must be above 0 and at most 100",
        ),
    ],
)
def test_given_a_bad_setting_when_running_then_the_error_names_it(
    small_org: SandboxOrg, tmp_path: Path, override: dict, message: str
) -> None:
    config = {k: v for k, v in {**tap_config(small_org), **override}.items() if v is not None}
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert message in run.stderr
    assert run.stdout == ""

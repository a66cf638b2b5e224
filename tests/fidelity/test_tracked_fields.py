"""history_tracked_fields comes from FieldDefinition.IsFieldHistoryTracked (the history object's
Field picklist only as a logged fallback), and is emitted only when it changed."""

from __future__ import annotations

from pathlib import Path

import requests

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

OBJECTS = ["Opportunity", "OpportunityFieldHistory", "AccountHistory"]


def _tracked(run) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {
        (r["object_name"], r["field_name"], r["source"])
        for r in run.records("history_tracked_fields")
    }


def test_given_field_definition_when_syncing_then_only_fields_with_tracking_on_are_listed(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=3, scale=10) as org:
        run = run_tap(tmp_path, tap_config(org, objects=OBJECTS))
    assert run.returncode == 0, run.stderr[-2000:]
    rows = _tracked(run)
    source = "FieldDefinition.IsFieldHistoryTracked"
    assert ("Opportunity", "StageName", source) in rows
    assert ("Opportunity", "OwnerId", source) in rows
    # NextStep and Industry are in the history picklists, but tracking is off for them now.
    assert not {r for r in rows if r[1] in ("NextStep", "Industry")}
    assert {r[0] for r in rows} == {"Opportunity", "Account"}


def test_given_a_second_run_with_state_when_nothing_changed_then_nothing_is_re_sent(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=3, scale=10) as org:
        first = run_tap(tmp_path, tap_config(org, objects=OBJECTS))
        second = run_tap(tmp_path, tap_config(org, objects=OBJECTS), state=first.last_state)
    assert first.records("history_tracked_fields")
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.records("history_tracked_fields") == []
    assert "unchanged since the last run" in second.stderr
    digest = first.last_state["bookmarks"]["history_tracked_fields"]["snapshot_digest"]  # type: ignore[index]
    assert second.last_state["bookmarks"]["history_tracked_fields"]["snapshot_digest"] == digest  # type: ignore[index]


def test_given_field_definition_unreadable_when_syncing_then_the_picklist_fallback_says_so(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=3, scale=10, unreadable_objects=("FieldDefinition",)) as org:
        run = run_tap(tmp_path, tap_config(org, objects=OBJECTS))
    assert run.returncode == 0, run.stderr[-2000:]
    rows = _tracked(run)
    assert ("Opportunity", "NextStep", "history Field picklist (fallback)") in rows
    assert "falling back to the Field picklist" in run.stderr


def test_given_field_definition_when_queried_without_an_entity_filter_then_refused() -> None:
    with SandboxOrg(scale=5) as org:
        settings = org.login_settings()
        token = requests.post(
            f"{org.base_url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": settings["client_id"],
                "client_secret": settings["client_secret"],
                "username": settings["username"],
                "password": settings["password"] + settings["security_token"],
            },
            timeout=10,
        ).json()["access_token"]

        def query(soql: str) -> requests.Response:
            return requests.get(
                f"{org.base_url}/services/data/v62.0/query",
                params={"q": soql},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )

        unfiltered = query("SELECT QualifiedApiName FROM FieldDefinition")
        assert unfiltered.status_code == 400
        assert unfiltered.json()[0]["errorCode"] == "EXTERNAL_OBJECT_UNSUPPORTED_EXCEPTION"
        either = query(
            "SELECT QualifiedApiName FROM FieldDefinition WHERE EntityDefinitionId = 'Account' OR EntityDefinitionId = 'Case'"
        )
        assert either.json()[0]["message"] == "Disjunctions not supported"
        filtered = query(
            "SELECT QualifiedApiName FROM FieldDefinition WHERE EntityDefinition.QualifiedApiName = 'Account' AND IsFieldHistoryTracked = true"
        )
        assert sorted(r["QualifiedApiName"] for r in filtered.json()["records"]) == [
            "OwnerId",
            "Rating",
            "Type",
        ]

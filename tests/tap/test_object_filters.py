"""object_filters end to end: the tap lands exactly the rows the filter selects, over every path.

The expected rows come from the org's own table, filtered here in Python, not through SOQL: the
tap's rendered condition and the synthetic org's SOQL engine are both under test.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

FILTER = "IsClosed = FALSE OR (StageName IN ('closed won', 'Prospecting') AND NOT Amount <= 300000)"


def _selected(org: SandboxOrg) -> dict[str, str]:
    """Id -> SystemModstamp of the Opportunities the filter selects, read off the org's table."""
    rows = org.org.table("Opportunity").to_pylist()
    return {
        r["Id"]: r["SystemModstamp"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for r in rows
        if not r["IsDeleted"]
        and (
            not r["IsClosed"]
            or (
                r["StageName"].lower() in ("closed won", "prospecting")
                and r["Amount"] is not None
                and r["Amount"] > Decimal(300000)
            )
        )
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _summary_path(stderr: str) -> str:
    match = re.search(r"Run summary \| Opportunity\s+\S+\s+(\w+)", stderr)
    assert match, stderr[-2000:]
    return match.group(1)


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"api_type": "rest"}, "rest"),
        ({"api_type": "bulk"}, "bulk"),
        ({"api_type": "auto", "bulk_threshold": 1}, "bulk"),
        ({"api_type": "auto", "bulk_threshold": 1000}, "rest"),
    ],
)
def test_given_an_opportunity_filter_when_synced_twice_then_exactly_the_selected_rows_land(
    small_org: SandboxOrg, tmp_path: Path, settings: dict, path: str
) -> None:
    config = tap_config(
        small_org, objects=["Opportunity"], object_filters={"Opportunity": FILTER}, **settings
    )
    expected = _selected(small_org)
    assert 0 < len(expected) < small_org.count("Opportunity")  # the filter does select

    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    assert {r["Id"]: r["SystemModstamp"] for r in first.records("Opportunity")} == expected
    assert _summary_path(first.stderr) == path
    if settings["api_type"] == "auto":
        assert f"Opportunity: {len(expected)} rows to read" in first.stderr  # the COUNT is filtered

    bookmark = first.last_state["bookmarks"]["Opportunity"]["replication_key_value"]
    # The advance is random (seeded by its moment): ~1 in 40 moves only rows the filter rejects,
    # so up to 20 moments are tried (5 were once all unlucky under make test-busy). Each is after the bookmark (a loaded machine can finish the
    # first run within the second the org's newest row was stamped), and in the past when the
    # second run starts, so the tap's end bound covers it.
    after = dt.datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
    for attempt in range(20):
        moment = max(after + dt.timedelta(seconds=1 + attempt), _now() - dt.timedelta(seconds=2))
        while _now() < moment + dt.timedelta(seconds=2):
            time.sleep(0.1)
        moved = small_org.advance(opportunities=5, at=moment)
        assert moved or attempt, "the org moved no opportunity"
        if any(v > bookmark for v in _selected(small_org).values()):
            break
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    now = _selected(small_org)
    changed = {k: v for k, v in now.items() if v > bookmark}
    assert changed  # the advance touched rows the filter still selects
    landed = {r["Id"]: r["SystemModstamp"] for r in second.records("Opportunity")}
    # Every selected row changed since the bookmark lands; anything else re-read is a row at the
    # bookmark itself (>=, at-least-once), and nothing the filter rejects lands.
    assert changed.items() <= landed.items()
    assert all(now.get(k) == v for k, v in landed.items())
    assert all(v == bookmark for k, v in landed.items() if k not in changed)
    assert second.last_state["bookmarks"]["Opportunity"]["replication_key_value"] == max(
        now.values()
    )


def test_given_a_filter_on_a_missing_field_when_run_then_one_line_names_setting_object_field(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(
        small_org, objects=["Opportunity"], object_filters={"Opportunity": "Nope = 'x'"}
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert not run.records()
    assert run.stderr.splitlines()[-1] == (
        "tap-salesforce-temporal: setting 'object_filters': Opportunity: field 'Nope' does not exist"
    )
    assert "Traceback" not in run.stderr


def test_given_a_filter_that_does_not_parse_when_run_then_it_fails_before_logging_in(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(
        small_org,
        object_filters={"Opportunity": "Name = 'x' OR Id != null AND Amount > 1"},
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert "setting 'object_filters': Opportunity: AND and OR mixed without parentheses" in (
        run.stderr
    )
    assert "Traceback" not in run.stderr


def test_given_a_filter_for_an_object_not_read_when_run_then_it_warns_and_syncs(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(
        small_org,
        objects=["Account"],
        object_filters={"Opportunity": "Amount > 1", "Account": "Industry IN ('Banking','Retail')"},
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert "setting 'object_filters': Opportunity is not a discovered or selected object" in (
        run.stderr
    )
    industries = {r["Industry"] for r in run.records("Account")}
    assert industries == {"Banking", "Retail"}
    assert len(run.records("Account")) == small_org.count(
        "Account", where="Industry IN ('Banking', 'Retail')"
    )

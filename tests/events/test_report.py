"""`target-events report` over the landed hand-written scenario: every figure worked out by hand.

The scenario (sandbox/scenario.py), as the report sees it:
- Acme: Prospecting (03-03 09:00) -> Qualification (03-10 10:00: 7.0417 days) -> Closed Won
  (03-20 12:00: 10.0833 days in Qualification). Globex: Prospecting (03-05 10:00) -> Closed Lost
  (03-25 10:00: 20.0 days). Prospecting: median (7.0417 + 20) / 2 = 13.52085, p90 = 7.0417 +
  0.9 * (20 - 7.0417) = 18.70417. Funnel: 2 entered, 1 Qualification (50%), 1 won (100% of
  Qualification), 1 lost; win rate 1 / 2.
- Approval: Started by Sam (03-15), Approved by Maria Manager (03-16) after 1.083 days.
- Activities: one completed Call task, one Meeting event (subtype Event).
- Setup: a flow activation (Flows, not critical) and a user deactivation by Ada Admin (03-25 16:00).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from synthetic_org import SandboxOrg
from tests.helpers import TARGET, run_tap, run_target, singer_lines, tap_config
from tests.scenario import ADMIN, MARIA, DecisionScenario
from tests.system_tools import browser

PROSPECTING_MEDIAN = (7.0417 + 20.0) / 2
PROSPECTING_P90 = 7.0417 + 0.9 * (20.0 - 7.0417)


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario extracted and landed twice (at-least-once delivery: every event duplicated)."""
    tmp = tmp_path_factory.mktemp("report")
    with SandboxOrg(org=DecisionScenario()) as org:
        run = run_tap(tmp, tap_config(org))
        assert run.returncode == 0, run.stderr
    destination = tmp / "landed"
    for _ in range(2):
        landed = run_target(tmp, {"destination": str(destination)}, run.stdout)
        assert landed.returncode == 0, landed.stderr
    return destination


def report(destination: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TARGET, "report", str(destination), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_report(destination: Path, *args: str) -> dict:
    done = report(destination, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_given_the_scenario_then_every_figure_of_the_json_report_is_the_hand_worked_one(
    landed: Path,
) -> None:
    result = json_report(landed, "--as-of", "2025-04-01", "--critical-days", "30")
    assert result["period"] == {
        "since": None,
        "until": None,
        "first_event": "2025-03-03T09:00:00+00:00",
        "last_event": "2025-03-25T16:00:00+00:00",
        "as_of": "2025-04-01T00:00:00+00:00",
        "critical_days": 30,
    }
    assert result["events"] == {
        "total": 14,
        "by_type": {
            "stage_change": 5,
            "field_change": 3,
            "activity": 2,
            "approval_decision": 2,
            "setup_change": 2,
        },
    }, "landed twice, counted once: deduplicated by event_id"
    stages = result["stages"]
    assert stages["durations"] == [
        {
            "stage": "Prospecting",
            "moves": 2,
            "median_days": pytest.approx(PROSPECTING_MEDIAN, abs=1e-4),
            "p90_days": pytest.approx(PROSPECTING_P90, abs=1e-4),
            "mean_days": pytest.approx(PROSPECTING_MEDIAN, abs=1e-4),
            "max_days": 20.0,
        },
        {
            "stage": "Qualification",
            "moves": 1,
            "median_days": 10.0833,
            "p90_days": 10.0833,
            "mean_days": 10.0833,
            "max_days": 10.0833,
        },
    ]
    assert stages["bottleneck"] == {
        "stage": "Prospecting",
        "median_days": pytest.approx(PROSPECTING_MEDIAN, abs=1e-4),
        "moves": 2,
    }
    assert stages["funnel"] == [
        {"stage": "Prospecting", "opportunities": 2, "share_of_entered": 1.0, "conversion_from_previous": None, "probability": 10.0, "outcome": "open"},
        {"stage": "Qualification", "opportunities": 1, "share_of_entered": 0.5, "conversion_from_previous": 0.5, "probability": 10.0, "outcome": "open"},
        {"stage": "Closed Won", "opportunities": 1, "share_of_entered": 0.5, "conversion_from_previous": 1.0, "probability": 100.0, "outcome": "won"},
        {"stage": "Closed Lost", "opportunities": 1, "share_of_entered": 0.5, "conversion_from_previous": None, "probability": 0.0, "outcome": "lost"},
    ]  # fmt: skip
    assert (stages["opportunities_entered"], stages["won"], stages["lost"]) == (2, 1, 1)
    assert stages["win_rate"] == 0.5
    maria = {
        "actor_id": MARIA,
        "name": "Maria Manager",
        "decisions": 1,
        "approved": 1,
        "rejected": 0,
        "median_days": 1.083,
    }
    assert result["approvals"] == {
        "steps": 2,
        "steps_by_status": {"Approved": 1, "Started": 1},
        "decisions": 1,
        "median_days_to_decision": 1.083,
        "by_approver": [maria],
        "slowest_approver": maria,
        "by_month": [
            {"month": "2025-03", "status": "Approved", "steps": 1},
            {"month": "2025-03", "status": "Started", "steps": 1},
        ],
    }
    assert result["activities"] == {
        "total": 2,
        "tasks_by_status": {"Completed": 1},
        "tasks_by_subtype": {"Call": 1},
        "events_by_subtype": {"Event": 1},
        "events_by_type": {"Meeting": 1},
    }
    assert result["setup"] == {
        "total": 2,
        "by_section": {"Flows": 1, "Manage Users": 1},
        "critical": [
            {
                "at": "2025-03-25T16:00:00+00:00",
                "category": "user_deactivation",
                "section": "Manage Users",
                "action": "deactivateduser",
                "display": "Deactivated user Old Contractor",
                "actor_id": ADMIN,
                "actor_name": "Ada Admin",
            }
        ],
        "critical_by_category": {"user_deactivation": 1},
    }


def test_given_a_period_and_a_short_critical_window_then_only_their_events_count(
    landed: Path,
) -> None:
    result = json_report(
        landed, "--since", "2025-03-15", "--until", "2025-03-25", "--critical-days", "3"
    )
    assert result["events"]["by_type"] == {
        "approval_decision": 2,
        "activity": 1,
        "stage_change": 1,
    }, "03-15..03-25 exclusive: both approval steps, the meeting, Closed Won"
    assert result["stages"]["durations"] == [
        {
            "stage": "Qualification",
            "moves": 1,
            "median_days": 10.0833,
            "p90_days": 10.0833,
            "mean_days": 10.0833,
            "max_days": 10.0833,
        }
    ]
    assert result["stages"]["win_rate"] == 1.0
    assert result["setup"]["critical"] == [], "as-of defaults to --until; the 25th is outside"


def test_given_the_table_format_then_the_terminal_report_names_the_bottleneck_and_critical_change(
    landed: Path,
) -> None:
    done = report(landed, "--as-of", "2025-04-01")
    assert done.returncode == 0, done.stderr
    assert "Bottleneck: Prospecting (median 13.52 days over 2 moves)" in done.stdout
    assert "Stage funnel (2 opportunities; won 1, lost 1, win rate 50%)" in done.stdout, done.stdout
    assert "user_deactivation" in done.stdout
    assert "Ada Admin" in done.stdout


def test_given_a_missing_destination_or_stream_then_one_line_and_exit_1(tmp_path: Path) -> None:
    done = report(tmp_path / "nowhere")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"target-events report: destination {str(tmp_path / 'nowhere')!r} is not a directory"
    )
    (tmp_path / "empty").mkdir()
    done = report(tmp_path / "empty")
    assert (
        done.stderr.strip()
        == f"target-events report: no micro_decision_events files under {tmp_path / 'empty'}"
    )


def test_given_the_html_report_then_headless_chromium_renders_the_figures_and_charts(
    landed: Path, tmp_path: Path
) -> None:
    chromium = browser()
    page = tmp_path / "report.html"
    done = report(landed, "--format", "html", "--output", str(page), "--as-of", "2025-04-01")
    assert done.returncode == 0, done.stderr
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1600",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for figure in (
        "Prospecting",
        "13.52 (p90 18.70) days",
        "2 (100%)",
        "Maria Manager",
        "1.08",
        "Deactivated user Old Contractor",
        "user_deactivation",
        "<svg",
    ):
        assert figure in rendered, figure
    assert rendered.count("<svg") == 3, "time in stage, funnel, approvals over time"
    data = rendered.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["stages"]["bottleneck"]["stage"] == "Prospecting"
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1400, 1600)
    colors = image.getcolors(maxcolors=1_000_000) or []
    background = max(colors)[1]
    covered = sum(count for count, color in colors if color != background) / (1400 * 1600)
    assert len(colors) > 50, "text, bars and header in many colours, not a blank page"
    assert covered > 0.2, f"only {covered:.0%} of the page differs from the background"
    header_blue = (0x16, 0x32, 0x5C)
    assert any(color == header_blue for _, color in colors), "the header is painted"


def test_given_users_in_history_mode_then_the_report_names_each_approver_as_of_its_moment(
    tmp_path: Path,
) -> None:
    """A history mirror of User holds every name a user had: the report reads the one valid at
    ``--as-of`` (not any version of the key)."""
    with SandboxOrg(org=DecisionScenario()) as org:
        run = run_tap(tmp_path, tap_config(org))
        assert run.returncode == 0, run.stderr
    destination = tmp_path / "lake"
    config = {"destination": str(destination), "format": "delta", "qa_mode": "off"}
    config["lake_mode_streams"] = {"User": "history"}
    landed = run_target(tmp_path, config, run.stdout)
    assert landed.returncode == 0, landed.stderr
    messages = [json.loads(line) for line in run.stdout.splitlines()]
    user_schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "User")
    maria = next(
        m["record"]
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "User" and m["record"]["Id"] == MARIA
    )
    renamed = {**maria, "Name": "Maria Director", "SystemModstamp": "2025-06-01T00:00:00.000Z"}
    rename = singer_lines(user_schema, {"type": "RECORD", "stream": "User", "record": renamed})
    landed = run_target(tmp_path, config, rename)
    assert landed.returncode == 0, landed.stderr

    def approver(as_of: str) -> str:
        result = json_report(destination, "--as-of", as_of)
        return result["approvals"]["by_approver"][0]["name"]

    assert approver("2025-05-01") == "Maria Manager"
    assert approver("2025-07-01") == "Maria Director"

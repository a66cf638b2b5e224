"""One run or many incremental runs give the same events, stage durations included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, tap_config

SOURCES = [
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "ProcessInstanceStep",
    "ProcessInstance",
    "Task",
    "SetupAuditTrail",
    "User",
]


def _comparable(events: list[dict]) -> dict[str, dict]:
    return {e["event_id"]: {k: v for k, v in e.items() if k != "extracted_at"} for e in events}


@pytest.mark.parametrize("seed", [3, 8, 13])
def test_given_history_read_in_one_run_or_six_incremental_runs_then_the_events_are_identical(
    tmp_path: Path, seed: int
) -> None:
    anchor = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    with SandboxOrg(seed=seed, scale=150, anchor=anchor) as org:
        config = tap_config(org, objects=SOURCES)
        single = run_tap(tmp_path, config)
        assert single.returncode == 0, single.stderr
        once = _comparable(single.records("micro_decision_events"))
        assert {e["event_type"] for e in once.values()} == {
            "field_change",
            "stage_change",
            "approval_decision",
            "activity",
            "setup_change",
        }

        state: dict | None = None
        collected: dict[str, dict] = {}
        cuts = [anchor - dt.timedelta(days=d) for d in (600, 400, 250, 120, 30)]
        for cut in [*cuts, None]:
            window = dict(config, lookback_window=3 * 86400)
            if cut is not None:
                window["end_date"] = cut.strftime("%Y-%m-%dT%H:%M:%SZ")
            run = run_tap(tmp_path, window, state=state)
            assert run.returncode == 0, run.stderr
            for event_id, event in _comparable(run.records("micro_decision_events")).items():
                assert collected.get(event_id, event) == event, "a re-read event never changes"
                collected[event_id] = event
            state = run.last_state
        assert collected == once
        durations = [
            e["context"]["stage_duration_days"]
            for e in once.values()
            if e["event_type"] == "stage_change"
        ]
        assert sum(1 for d in durations if d is not None) > 50

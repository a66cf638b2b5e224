"""A hostile org (issue #27): every answer that could hang the tap or grow its memory ends the
run in one line, non-zero, no traceback, STATE never past a row not written.

Each case is a synthetic-org fault switch (``synthetic-org serve --fault-...`` reproduces it). The
tap runs as a subprocess with a wall-clock bound far above what the run needs (a hang fails the
test instead of blocking it) and under ``RLIMIT_AS``: an answer inflated past the cap would end
in MemoryError, not in the one line asserted.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tests.helpers import TAP, TapRun, tap_config, write_json

ADDRESS_SPACE = 3 * 1024**3  # the Bulk page cap (1 GiB) and the tap itself fit; 6 GB does not
HANG = 240  # seconds: a bound for runs that end in seconds, far from a tight timing


@pytest.fixture
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=4, scale=10) as org:
        yield org


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(tmp_path: Path, config: dict) -> TapRun:
    args = [TAP, "--config", str(write_json(tmp_path / "config.json", config))]
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=HANG,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_limit_memory,
        check=False,
    )
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return TapRun(done.returncode, done.stdout, done.stderr, messages)


def _one_line(run: TapRun) -> str:
    """The run's single error line, after checking it failed without a traceback."""
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = [
        line for line in run.stderr.splitlines() if line.startswith("tap-salesforce-temporal:")
    ]
    assert len(lines) == 1, run.stderr[-3000:]
    return lines[0]


def _config(org: SandboxOrg, api_type: str, **overrides: object) -> dict:
    return tap_config(org, objects=["Account"], api_type=api_type, max_retries=1, **overrides)


def _assert_state_covers_only_written_rows(run: TapRun) -> None:
    written = [r["SystemModstamp"] for r in run.records("Account")]
    for state in run.states:
        bookmark = state.get("bookmarks", {}).get("Account", {}).get("replication_key_value")
        if bookmark is not None:
            assert written
            assert bookmark <= max(written)


# -- 1: a total deadline per exchange --


def test_given_a_query_page_trickling_a_byte_every_second_then_the_deadline_ends_it(
    org: SandboxOrg, tmp_path: Path
) -> None:
    org.faults.slow_body, org.faults.slow_body_seconds = r"FROM\+Account", 1.0
    run = _run(tmp_path, _config(org, "rest", request_timeout=2))
    line = _one_line(run)
    assert line == (
        "tap-salesforce-temporal: Account: Salesforce answered 0 RETRIES_EXHAUSTED: gave up after "
        "1 retries; last failure: no complete answer within request_timeout=2s"
    )
    assert org.faults.injected["SLOW_BODY"] == 2, "the deadline is retried like a timeout"
    assert run.records("Account") == []
    _assert_state_covers_only_written_rows(run)


def test_given_a_bulk_result_page_trickling_then_the_deadline_covers_the_streamed_body(
    org: SandboxOrg, tmp_path: Path
) -> None:
    org.faults.slow_body, org.faults.slow_body_seconds = r"/results", 1.0
    line = _one_line(_run(tmp_path, _config(org, "bulk", request_timeout=2)))
    assert line.endswith(
        "Account: Salesforce answered 0 RETRIES_EXHAUSTED: gave up after 1 retries; "
        "last failure: no complete answer within request_timeout=2s"
    )


def test_given_a_login_answer_trickling_then_the_login_fails_in_one_line(
    org: SandboxOrg, tmp_path: Path
) -> None:
    org.faults.slow_body, org.faults.slow_body_seconds = r"oauth2/token", 1.0
    run = _run(tmp_path, _config(org, "rest", request_timeout=2))
    line = _one_line(run)
    assert "Salesforce login failed (auth_flow=password)" in line
    assert "DeadlineExceeded" in line
    assert org.credentials.password not in run.stderr


# -- 2: paging that does not progress --


@pytest.mark.parametrize(
    ("api_type", "expected"),
    [
        ("rest", "tap-salesforce-temporal: Account: Salesforce answered the query locator "),
        ("bulk", "tap-salesforce-temporal: Account: Bulk API 2.0 answered the result locator "),
    ],
)
def test_given_a_page_naming_itself_as_the_next_then_paging_stops_in_one_line(
    org: SandboxOrg, tmp_path: Path, api_type: str, expected: str
) -> None:
    org.faults.repeated_locator = "Account"
    run = _run(tmp_path, _config(org, api_type))
    line = _one_line(run)
    assert line.startswith(expected), line
    assert "again" in line
    assert "stopped" in line
    # The first page's rows once: the page repeating them is refused before it is written.
    assert len(run.records("Account")) == org.count("Account")
    assert org.faults.injected["REPEATED_LOCATOR"] == 2
    _assert_state_covers_only_written_rows(run)


@pytest.mark.parametrize(
    ("api_type", "expected"),
    [
        ("rest", "tap-salesforce-temporal: Account: Salesforce's query pages hold more rows "),
        ("bulk", "tap-salesforce-temporal: Account: Bulk API 2.0 result pages hold more rows "),
    ],
)
def test_given_pages_naming_fresh_locators_to_the_same_rows_then_paging_stops_in_one_line(
    org: SandboxOrg, tmp_path: Path, api_type: str, expected: str
) -> None:
    org.faults.endless_locator = "Account"
    run = _run(tmp_path, _config(org, api_type))
    line = _one_line(run)
    assert line.startswith(expected), line
    assert line.endswith("stopped instead of paging on")
    assert len(run.records("Account")) == org.count("Account")
    assert org.faults.injected["ENDLESS_LOCATOR"] == 2
    _assert_state_covers_only_written_rows(run)


# -- 3: answers too large to be a page --


@pytest.mark.parametrize(
    ("switch", "target", "api_type", "cap"),
    [
        ("gzip_bomb", r"FROM\+Account", "rest", "256 MiB"),
        ("gzip_bomb", r"/results", "bulk", "1024 MiB"),
        ("huge_body", r"FROM\+Account", "rest", "256 MiB"),
        ("huge_body", r"/results", "bulk", "1024 MiB"),
    ],
)
def test_given_an_answer_larger_than_any_page_then_it_is_refused_at_the_cap(
    org: SandboxOrg, tmp_path: Path, switch: str, target: str, api_type: str, cap: str
) -> None:
    setattr(org.faults, switch, target)
    run = _run(tmp_path, _config(org, api_type))
    assert _one_line(run) == (
        f"tap-salesforce-temporal: Account: answer exceeds {cap} (decompressed), more than any "
        "page Salesforce sends; stopped without reading the rest"
    )
    assert org.faults.injected[switch.upper()] == 1, "not retried: the same answer would come"
    assert run.records("Account") == []
    _assert_state_covers_only_written_rows(run)


# -- 8: members of the wrong type --


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("records", "a query page whose 'records' is a string, not an array"),
        ("done", "a query page whose 'done' is a string, not a boolean"),
        ("totalSize", "a query page whose 'totalSize' is a string, not an integer"),
        ("record", "a query page whose record 0 is a string, not an object"),
    ],
)
def test_given_a_page_member_of_the_wrong_type_then_one_line_names_the_object(
    org: SandboxOrg, tmp_path: Path, member: str, message: str
) -> None:
    org.faults.wrong_type, org.faults.wrong_type_objects = member, "Account"
    run = _run(tmp_path, _config(org, "rest"))
    assert (
        _one_line(run)
        == f"tap-salesforce-temporal: Account: Salesforce answered {message}; stopped"
    )
    assert run.records("Account") == []

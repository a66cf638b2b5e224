"""Bad input the tap meets at run time: odd answers, a malformed or future STATE, broken files.

Each either recovers (a 200 that is not JSON is transient) or ends in one line naming what is
wrong, exit 1, no traceback.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from synthetic_org import SandboxOrg
from tests.helpers import TAP, run_tap, tap_config
from tests.stub_http import Answer, Seen, StubServer


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [
        line
        for line in stderr.splitlines()
        if line.startswith("tap-salesforce-temporal:") or "| ERROR" in line
    ]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=4, scale=10) as org:
        yield org


class CorruptingProxy:
    """Forwards to the sandbox, except that the first ``bad`` query answers are HTML under a 200
    (a captive portal or a maintenance page) and the one after is JSON cut short."""

    def __init__(self, org: SandboxOrg, bad: int) -> None:
        self.org, self.bad, self.corrupted = org, bad, 0
        self.stub = StubServer(self.respond)

    def respond(self, seen: Seen) -> Answer:
        if "/query" in seen.path and self.corrupted < self.bad:
            self.corrupted += 1
            if self.corrupted % 2:
                return 200, {"Content-Type": "text/html"}, b"<html>Down for maintenance</html>"
            return 200, {"Content-Type": "application/json"}, b'{"totalSize": 3, "done": tr'
        answer = requests.request(
            seen.method,
            f"{self.org.base_url}{seen.path}",
            headers={k: v for k, v in seen.headers.items() if k.lower() != "host"},
            data=seen.body,
            timeout=30,
        )
        body = answer.content
        if seen.path == "/services/oauth2/token" and answer.ok:
            body = json.dumps({**answer.json(), "instance_url": self.stub.url}).encode()
        return answer.status_code, {"Content-Type": answer.headers["Content-Type"]}, body


def test_given_200_answers_that_are_not_json_when_syncing_then_they_are_retried(
    org: SandboxOrg, tmp_path: Path
) -> None:
    proxy = CorruptingProxy(org, bad=3)
    with proxy.stub:
        config = tap_config(org, domain=proxy.stub.url, objects=["Account"], api_type="rest")
        run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert proxy.corrupted == 3
    assert "answer is not JSON" in run.stderr
    assert len(run.records("Account")) == org.count("Account")


def test_given_only_html_answers_then_the_run_stops_in_one_line_after_its_retries(
    org: SandboxOrg, tmp_path: Path
) -> None:
    proxy = CorruptingProxy(org, bad=1_000)
    with proxy.stub:
        config = tap_config(
            org, domain=proxy.stub.url, objects=["Account"], api_type="rest", max_retries=2
        )
        run = run_tap(tmp_path, config)
    assert run.returncode == 1
    line = _one_error_line(run.stderr)
    assert "gave up after 2 retries; last failure: 200 answer is not JSON" in line
    assert proxy.corrupted == 3


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"bookmarks": []}, "STATE: 'bookmarks' expects an object of stream bookmarks, got array"),
        ({"bookmarks": {"Account": 5}}, "STATE: bookmarks.Account expects an object, got integer"),
        (
            {"bookmarks": {"Account": {"replication_key_value": 1700000000}}},
            "STATE: bookmarks.Account.replication_key_value expects an ISO-8601 date-time string, got integer",
        ),
        (
            {"bookmarks": {"Account": {"replication_key_value": "2024-13-45T00:00:00Z"}}},
            "STATE: bookmarks.Account.replication_key_value: '2024-13-45T00:00:00Z' is not an ISO-8601 date-time",
        ),
        (
            {"bookmarks": {"Account": {"replication_key_value": ["2024-01-01"]}}},
            "got array",
        ),
        (
            {"bookmarks": {"Account": {"replication_key_value": "0001-01-01T00:00:00Z"}}},
            "is before 1700-01-01",
        ),
        (
            {"bookmarks": {"micro_decision_events": {"partitions": {"a": 1}}}},
            "STATE: bookmarks.micro_decision_events.partitions expects an array, got object",
        ),
    ],
)
def test_given_a_malformed_state_then_one_line_names_the_bad_value(
    org: SandboxOrg, tmp_path: Path, state: object, message: str
) -> None:
    run = run_tap(tmp_path, tap_config(org, objects=["Account"]), state=state)  # type: ignore[arg-type]
    assert run.returncode == 1
    assert message in _one_error_line(run.stderr)
    assert run.stdout == ""


def test_given_a_bookmark_in_the_future_then_it_is_clamped_to_the_run_start_with_a_warning(
    org: SandboxOrg, tmp_path: Path
) -> None:
    future = "2999-01-01T00:00:00.000Z"
    state = {"bookmarks": {"Account": {"replication_key": "SystemModstamp",
                                        "replication_key_value": future}}}  # fmt: skip
    before = dt.datetime.now(dt.timezone.utc)
    run = run_tap(tmp_path, tap_config(org, objects=["Account"]), state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "bookmarks.Account: bookmark 2999-01-01T00:00:00.000Z is in the future" in run.stderr
    bookmark = run.last_state["bookmarks"]["Account"]["replication_key_value"]  # type: ignore[index]
    clamped = dt.datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=5) <= clamped <= dt.datetime.now(dt.timezone.utc)
    # The next run reads what changed after the clamped bookmark instead of nothing until 2999.
    org.advance(opportunities=2)
    again = run_tap(tmp_path, tap_config(org, objects=["Account"]), state=run.last_state)
    assert again.returncode == 0
    assert again.last_state["bookmarks"]["Account"]["replication_key_value"] >= bookmark  # type: ignore[index]


@pytest.mark.parametrize("option", ["--config", "--state", "--catalog"])
def test_given_a_file_that_is_not_json_then_one_line_names_the_file(
    org: SandboxOrg, tmp_path: Path, option: str
) -> None:
    import subprocess

    good = tmp_path / "config.json"
    good.write_text(json.dumps(tap_config(org, objects=["Account"])))
    broken = tmp_path / "broken.json"
    broken.write_text('{"bookmarks": [')
    args = {"--config": str(good), option: str(broken)}
    done = subprocess.run(
        [TAP, *[part for pair in args.items() for part in pair]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{option} file {broken}: not valid JSON" in _one_error_line(done.stderr)
    broken.write_text('["a list"]')
    done = subprocess.run(
        [TAP, *[part for pair in args.items() for part in pair]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{option} file {broken}: expects a JSON object" in _one_error_line(done.stderr)


def test_given_a_login_answering_html_under_200_then_one_line_says_so(tmp_path: Path) -> None:
    def portal(seen: Seen) -> Answer:
        return 200, {"Content-Type": "text/html"}, b"<html>Sign in to the Wi-Fi</html>"

    with StubServer(portal) as login:
        config = {"domain": login.url, "client_id": "c", "client_secret": "s",
                  "username": "u", "password": "p"}  # fmt: skip
        run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert _one_error_line(run.stderr) == (
        "tap-salesforce-temporal: Salesforce login failed (auth_flow=password): HTTP 200 without"
        " an access_token (not Salesforce's JSON answer: a proxy?)"
    )

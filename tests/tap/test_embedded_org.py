"""The embedded synthetic org cannot be mistaken for a Salesforce sandbox org, nor mixed with one.

``sandbox: true`` used to swap real credentials for synthetic data with one INFO line; in
Salesforce and on Meltano Hub "sandbox" means a real sandbox org. The setting is now
``embedded_org``, says SYNTHETIC DATA loudly, and is refused beside anything naming a real org.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_tap


def _one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("tap-salesforce-temporal:")]
    assert len(lines) == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("config", "named", "words"),
    [
        ({"sandbox": True}, "sandbox", "renamed embedded_org"),
        ({"is_sandbox": True}, "is_sandbox", "domain: test"),
        (
            {"embedded_org": True, "username": "me@acme.com", "password": "pw-real-0001"},
            "embedded_org",
            "username, password",
        ),
        ({"embedded_org": True, "domain": "acme.my.salesforce.com"}, "embedded_org", "domain"),
    ],
)
def test_given_a_config_mixing_the_embedded_org_with_a_real_one_then_it_is_refused(
    tmp_path: Path, config: dict, named: str, words: str
) -> None:
    run = run_tap(tmp_path, config, discover=True)
    assert run.returncode == 1
    error = _one_error(run.stderr)
    assert error.startswith(f"tap-salesforce-temporal: setting '{named}'"), error
    assert words in error, error
    assert "pw-real-0001" not in run.stderr


def test_given_the_embedded_org_then_the_log_says_synthetic_data(tmp_path: Path) -> None:
    config = {"embedded_org": True, "embedded_org_scale": 2, "embedded_org_latency_ms": 5}
    run = run_tap(tmp_path, config, discover=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "SYNTHETIC DATA" in run.stderr
    assert '"tap_stream_id":"Account"' in run.stdout.replace(" ", "")

"""Every setting of the tap, fed wrong types and hostile values: one line naming it, never a secret.

Wrong types (an int for a string, lists and objects for scalars, impossible dates) must be
refused with one line that names the setting; hostile values of the right type (backslashes,
newlines, ``@``, huge and negative numbers) may be accepted, and a run with all of them at once
succeeds. Every value is checked in-process by the tap's own config check; the CLI path (exit 1,
exactly one error line, no traceback) runs once per setting. Real-looking secrets
sit in the secret settings of every run (and are the hostile values of those settings): none may
appear in stdout or stderr, nor in ``--about``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.config.settings import CONFIG_SCHEMA, SECRET_SETTINGS, Settings, _kind
from tap_salesforce_temporal.errors import SettingError
from tap_salesforce_temporal.tap import TapSalesforceTemporal
from tests.helpers import TAP, write_json

PEM_LINES = [
    "-----BEGIN PRIVATE KEY-----",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "q8Zr3vX1mNf0pLw2aT9kHc4uJe6sRbYo5dGiW7tEnQxPjAlKyM",
    "-----END PRIVATE KEY-----",
]
SECRETS = {
    "client_secret": "cs-9Jq2Xw7LmZ4pRt8Vn",
    "refresh_token": "rt-5Ty8Gh3KpQ1wEr6Ui",
    "password": "pw-2Bn7Mk4LsX9cVq3Za",
    "security_token": "st-8Hd5Fj2RwP6yTu1Oi",
    "private_key": "\n".join(PEM_LINES),
}
# The runs log in to a synthetic org on loopback with the password flow (embedded_org refuses
# credentials beside it): its password, security token and client secret join SECRETS.
BASE: dict = {}
LOGIN = ("auth_flow", "domain", "instance_url", "username", "client_id", *SECRETS)


@pytest.fixture(scope="module", autouse=True)
def _org() -> Iterator[None]:
    with SandboxOrg(seed=1, scale=1) as org:
        login = org.login_settings()
        SECRETS.update({k: login[k] for k in ("password", "security_token", "client_secret")})
        BASE.update({**SECRETS, **login, "objects": ["Account"]})
        yield
        BASE.clear()


HUGE = 10**30

WRONG_TYPES = {
    "string": [123456789012345, ["a-line-1XyZ", "a-line-2XyZ"], {"k": "nested-4TqW"}, True],
    "integer": ["abc", 1.5, [1], {"n": 1}, "1e400"],
    "number": ["lots", [1.0], {"n": 1}, 10**400],
    "boolean": ["maybe", 2, [True], {"b": True}],
    "array": ["Account", [1, 2], {"a": "b"}, [["Account"]]],
    "date-time": ["2024-13-45T00:00:00Z", 0, "0001-01-01T00:00:00Z", "yesterday", ["2024-01-01"]],
    "object": [
        "Account",
        ["Account"],
        {"Account": 5},
        {"Account": "Name = 'x' OR"},
        {"Acc\nount": "Name = 'x'"},
        {"Account": "Name = 'x'; DELETE"},
    ],
}
HOSTILE = {
    "string": ["back\\slash@host", "new\nline\r\x00", "http://192.0.2.2:1\\@127.0.0.1"],
    "integer": [-1, 0, 10**12, HUGE, -HUGE],
    "number": [-1, 0, 1e308],
    "boolean": ["TRUE"],
    "array": [["*"], ["Acc\\ount"], ["a\nb"]],
    "date-time": ["9999-12-31T23:59:59-23:59", "1700-01-01T00:00:00Z"],
    "object": [{"Account": "Name = 'x\\' OR Id != null' OR Name != null"}],
}
# Settings whose hostile string values must be refused (URLs the credentials go to, enums).
MUST_REFUSE_STRINGS = {"domain", "instance_url", "api_version", "auth_flow", "api_type"}


def _kind_of(spec: dict) -> str:
    return "date-time" if spec.get("format") == "date-time" else _kind(spec)


def _run(config_dir: Path, config: dict, *args: str) -> subprocess.CompletedProcess[str]:
    path = write_json(config_dir / "config.json", config)
    return subprocess.run(
        [TAP, "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _error_lines(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("tap-salesforce-temporal:")
        or "| ERROR" in line
        or "| CRITICAL" in line
        or "Traceback" in line
    ]


def _leaked(output: str, name: str, value: object) -> list[str]:
    """Secret material found in ``output``: every secret of the run and, for a secret setting,
    the pieces of its hostile value."""
    pieces = [v for s in SECRETS.values() for v in s.splitlines()]
    if name in SECRET_SETTINGS:
        pieces += [str(value)] if isinstance(value, (int, str)) else []
        pieces += [str(v) for v in value] if isinstance(value, list) else []
        pieces += [str(v) for v in value.values()] if isinstance(value, dict) else []
    return [p for p in pieces if len(p) >= 6 and p in output]


def _validation_error(config: dict) -> str | None:
    """What the tap's config check says about ``config`` (None: accepted), in-process."""
    try:
        TapSalesforceTemporal(config=config, setup_mapper=False)
    except SettingError as error:
        return str(error)
    return None


def _cases(name: str) -> list[tuple[object, bool]]:
    """(value, must be refused) for one setting."""
    kind = _kind_of(CONFIG_SCHEMA["properties"][name])
    refuse_hostile = kind == "string" and name in MUST_REFUSE_STRINGS
    return [(v, True) for v in WRONG_TYPES[kind]] + [(v, refuse_hostile) for v in HOSTILE[kind]]


SETTINGS = list(CONFIG_SCHEMA["properties"])


@pytest.mark.parametrize("name", SETTINGS)
def test_given_wrong_and_hostile_values_for_a_setting_then_the_error_names_it_in_one_line(
    name: str,
) -> None:
    for value, must_fail in _cases(name):
        shown = f"{name}={value!r}"
        error = _validation_error({**BASE, name: value})
        if error is None:
            assert not must_fail, f"{shown} was accepted"
            continue
        assert "\n" not in error, shown
        assert not _leaked(error, name, value), shown
        # A value accepted for its own setting may still make another one required.
        if must_fail:
            assert error.startswith(f"setting '{name}'"), f"{shown}: {error}"


def _attempt(folder: Path, config: dict) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    return _run(folder, config, "--discover")


def test_given_a_wrong_value_for_each_setting_when_the_cli_runs_then_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    wrong = {name: _cases(name)[0][0] for name in SETTINGS}
    with ThreadPoolExecutor(3) as pool:
        runs = list(
            pool.map(lambda name: _attempt(tmp_path / name, {**BASE, name: wrong[name]}), SETTINGS)
        )
    for name, run in zip(SETTINGS, runs, strict=True):
        shown = f"{name}={wrong[name]!r}"
        assert run.returncode == 1, shown
        assert _error_lines(run.stderr) == [
            next(line for line in run.stderr.splitlines() if line.startswith("tap-"))
        ], shown
        assert _error_lines(run.stderr)[0].startswith(f"tap-salesforce-temporal: setting '{name}'")
        assert not _leaked(run.stdout + run.stderr, name, wrong[name]), shown
        assert run.stdout == "", shown


def test_given_every_accepted_hostile_value_at_once_when_discovering_then_the_run_succeeds(
    tmp_path: Path,
) -> None:
    accepted = {}
    for name in SETTINGS:
        if name in (*LOGIN, "objects", "start_date", "end_date", "max_api_usage_percent"):
            continue  # the run logs in to the org, reads one small object, in a sane range
        for value, _ in _cases(name):
            if _validation_error({**BASE, **accepted, name: value}) is None:
                accepted[name] = value
    assert {"api_version", "lookback_window", "bulk_threshold", "event_types"} & set(accepted)
    run = _attempt(tmp_path / "run", {**BASE, **accepted})
    assert run.returncode == 0, run.stderr[-2000:]
    assert _error_lines(run.stderr) == []
    assert not _leaked(run.stdout + run.stderr, "", None)


def test_given_secrets_in_the_config_then_about_never_shows_them(tmp_path: Path) -> None:
    for args in (["--about"], ["--about", "--format", "json"], ["--about", "--format", "markdown"]):
        run = _run(tmp_path, BASE, *args)
        assert run.returncode == 0, run.stderr
        assert not _leaked(run.stdout + run.stderr, "", None), args


def test_given_parsed_settings_then_their_repr_shows_no_secret() -> None:
    assert not _leaked(repr(Settings.from_config(BASE)), "", None)

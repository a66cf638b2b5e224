"""Run the real CLIs as subprocesses and read their Singer output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from synthetic_org import SandboxOrg

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-salesforce-temporal")
TARGET = str(BIN / "target-events")


def tap_config(org: SandboxOrg, **overrides: object) -> dict:
    return {
        **org.login_settings(),
        "retry_backoff_seconds": 0.01,
        "lookback_window": 0,
        **overrides,
    }


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    def records(self, stream: str | None = None) -> list[dict]:
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)
        ]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def run_tap(
    tmp_path: Path,
    config: dict,
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    discover: bool = False,
    timeout: float = 300,
) -> TapRun:
    args = [TAP, "--config", str(write_json(tmp_path / "config.json", config))]
    if discover:
        args.append("--discover")
    if state is not None:
        args += ["--state", str(write_json(tmp_path / "state.json", state))]
    if catalog is not None:
        args += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    messages = []
    if not discover:
        messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return TapRun(done.returncode, done.stdout, done.stderr, messages)


@dataclass
class TargetRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def singer_lines(*messages: dict) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def run_target(
    tmp_path: Path, config: dict, stdin: str | bytes, *, timeout: float = 120
) -> TargetRun:
    config_path = write_json(tmp_path / "target-config.json", config)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [TARGET, "--config", str(config_path)],
        input=data,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return TargetRun(done.returncode, done.stdout.decode(), done.stderr.decode(errors="replace"))


def tap_into_target(
    tmp_path: Path, config: dict, target: dict, *, state: dict | None = None
) -> tuple[TapRun, TargetRun]:
    """``tap | target`` once (the tap's whole output, then the target), both succeeding."""
    run = run_tap(tmp_path, config, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    landed = run_target(tmp_path, target, run.stdout)
    assert landed.returncode == 0, landed.stderr[-2000:]
    return run, landed


def run_meltano(project: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    """The real ``meltano`` CLI of this venv, run in ``project``."""
    return subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@contextmanager
def serve_org(*flags: str) -> Iterator[tuple[str, requests.Session, dict[str, str]]]:
    """``synthetic-org serve --scale 5 flags`` as its own process: its API base URL, a logged-in
    session and the bearer header."""
    server = subprocess.Popen(
        [str(BIN / "synthetic-org"), "serve", "--json", "--scale", "5", *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        http = requests.Session()
        token = http.post(
            f"{info['url']}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "username": info["username"],
                "password": info["password"] + info["security_token"],
            },
            timeout=30,
        ).json()["access_token"]
        yield f"{info['url']}/services/data/v62.0", http, {"Authorization": f"Bearer {token}"}
    finally:
        server.terminate()
        server.wait(timeout=30)

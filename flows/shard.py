"""One shard of one org as two processes, ``tap | target``, and the STATE the target acknowledged.

The target writes a STATE line on stdout only once the rows before it are committed; that line,
not the tap's, is what a rerun may resume from. It is handed to ``on_state`` as it arrives (the
flow saves it to the state store, at most every ``state_every_seconds``, and always at the end,
failed or not), so a shard killed part-way resumes where its rows stopped landing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
TAP = (str(BIN / "tap-salesforce-temporal"),)
TARGET = (str(BIN / "target-events"),)
# The last lines of a failed process's stderr quoted in the task's error.
ERROR_TAIL = 2000


@dataclass(frozen=True)
class ShardJob:
    """What one task runs: an org's shard (its catalog) into the shared destination."""

    org: str
    shard: str
    streams: tuple[str, ...]
    tap_config: str
    catalog: str
    target_config: str
    logs: str


@dataclass(frozen=True)
class PipeOutcome:
    tap_code: int
    target_code: int
    state: dict | None  # the last STATE the target acknowledged (None: not one)
    error: str  # the failed process's stderr tail ("" when both exited 0)

    @property
    def ok(self) -> bool:
        return self.tap_code == 0 and self.target_code == 0


class ShardFailed(RuntimeError):
    """The shard's tap or target failed; its acknowledged STATE is already saved."""


def run_pipe(
    job: ShardJob,
    state: dict | None,
    on_state: Callable[[dict], None],
    *,
    tap: Sequence[str] = TAP,
    target: Sequence[str] = TARGET,
    state_every_seconds: float = 1.0,
    attempt: int = 1,
) -> PipeOutcome:
    """Run ``tap | target`` for ``job`` from ``state``; ``on_state`` gets acknowledged STATEs."""
    logs = Path(job.logs)
    logs.mkdir(parents=True, exist_ok=True)
    tap_args = [*tap, "--config", job.tap_config, "--catalog", job.catalog]
    if state:
        state_file = logs / f"attempt-{attempt}.state.json"
        state_file.write_text(json.dumps(state))
        tap_args += ["--state", str(state_file)]
    tap_log, target_log = (
        logs / f"attempt-{attempt}.tap.log",
        logs / f"attempt-{attempt}.target.log",
    )
    with tap_log.open("wb") as tap_err, target_log.open("wb") as target_err:
        tap_process = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=tap_err)
        target_process = subprocess.Popen(
            [*target, "--config", job.target_config],
            stdin=tap_process.stdout,
            stdout=subprocess.PIPE,
            stderr=target_err,
        )
        assert tap_process.stdout is not None
        assert target_process.stdout is not None
        tap_process.stdout.close()  # the target holds the pipe: a dead target stops the tap
        last, saved, saved_at = None, None, 0.0
        for line in target_process.stdout:
            if not line.strip():
                continue
            last = json.loads(line)
            if time.monotonic() - saved_at >= state_every_seconds:
                on_state(last)
                saved, saved_at = last, time.monotonic()
        target_code = target_process.wait()
        tap_code = tap_process.wait()
    if last is not None and last is not saved:
        on_state(last)
    error = ""
    if tap_code != 0:
        error = f"tap exited {tap_code}: {_tail(tap_log)}"
    elif target_code != 0:
        error = f"target exited {target_code}: {_tail(target_log)}"
    return PipeOutcome(tap_code, target_code, last, error)


def _tail(path: Path) -> str:
    return path.read_bytes()[-ERROR_TAIL:].decode(errors="replace")

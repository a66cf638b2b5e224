"""The target's exceptions: one base, ``TargetError``, for everything a user can cause or fix.

The rule every subclass keeps: the message is one line that names what is wrong (the setting,
stream, input line, file or object key) and never a secret value. ``target-events`` prints it as
``target-events: <message>`` and exits 1; a traceback is always a bug.
"""

from __future__ import annotations

import signal


class TargetError(Exception):
    """A failure the user can act on, worded in one line."""

    def __str__(self) -> str:
        return " ".join(super().__str__().splitlines())


class InputError(TargetError):
    """Bad input that stops the run: the message names the stream and input line."""


class SettingError(TargetError):
    """A setting that cannot work: one line naming the setting, never a secret value."""


class StorageError(TargetError):
    """The destination refused a write (missing bucket, bad credentials, full disk)."""


class QualityError(TargetError):
    """Strict mode: the run's data failed the quality check (the files are written regardless)."""


class LakeError(TargetError):
    """A Delta table refused a batch (a column changed type, the store failed)."""


class ReportError(TargetError):
    """The destination cannot be reported on (missing, empty, not Parquet)."""


class Interrupted(TargetError):
    """SIGINT or SIGTERM (Ctrl-C, an orchestrator cancelling the run): stop, exit 128 + the
    signal's number, never 0 (the SDK's own handler exits 0: "done")."""

    def __init__(self, signum: int) -> None:
        self.exit_code = 128 + signum
        super().__init__(
            f"interrupted by {signal.Signals(signum).name}: records after the last STATE "
            "passed on were not written; the next run receives them again"
        )

"""The target's own exception for bad input: one line that names the stream and input line."""

from __future__ import annotations


class InputError(Exception):
    """Bad input that stops the run: the message names the stream and input line."""


class SettingError(Exception):
    """A setting that cannot work: one line naming the setting, never a secret value."""

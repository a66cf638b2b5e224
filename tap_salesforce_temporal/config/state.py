"""The input STATE, checked before the SDK reads it.

The SDK trusts its input: ``bookmarks`` as a list, an integer bookmark or ``2024-13-45`` end in a
traceback deep in a stream. Here each is one line naming the path of the bad value. A bookmark in
the future (a clock that ran ahead, a hand-edited file) would make every later run read nothing
until the clock catches up: it is clamped to the run's start, with a warning.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from ..errors import TapError
from ..query.values import format_datetime
from .settings import EARLIEST_DATETIME, shown


class StateError(TapError):
    """The --state input cannot be used as it is."""


def checked_state(state: object, run_started: dt.datetime, logger: logging.Logger) -> dict:
    """``state`` validated, with future bookmarks clamped to ``run_started`` (a new dict)."""
    if not isinstance(state, dict):
        raise StateError(f"STATE: expects a JSON object, got {shown('STATE', state)}")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateError(
            f"STATE: 'bookmarks' expects an object of stream bookmarks, got {_kind(bookmarks)}"
        )
    checked: dict = {}
    for stream, entry in bookmarks.items():
        where = f"bookmarks.{stream}"
        entry = _checked_bookmark(entry, where, run_started, logger)
        if "partitions" in entry:  # null too: the SDK iterates it
            partitions = entry["partitions"]
            if not isinstance(partitions, list):
                raise StateError(
                    f"STATE: {where}.partitions expects an array, got {_kind(partitions)}"
                )
            entry["partitions"] = [
                _checked_bookmark(part, f"{where}.partitions[{n}]", run_started, logger)
                for n, part in enumerate(partitions)
            ]
            _refuse_duplicate_contexts(where, entry["partitions"])
        checked[stream] = entry
    return {**state, "bookmarks": checked}


def _refuse_duplicate_contexts(where: str, partitions: list[dict]) -> None:
    """Two bookmarks for one partition: the SDK stops with a ``ValueError`` traceback.

    Refused rather than resolved: which one is right cannot be known (a hand-merged file, two
    runs' states concatenated). Keeping the later would skip what the earlier one still has to
    read; keeping the earlier would silently re-read. The user picks, in one edit.
    """
    seen: dict[str, int] = {}
    for n, part in enumerate(partitions):
        if "context" not in part:  # the SDK looks each partition up by it
            raise StateError(f"STATE: {where}.partitions[{n}] has no 'context' object")
        key = json.dumps(part.get("context", {}), sort_keys=True, default=str)
        if key in seen:
            raise StateError(
                f"STATE: {where}.partitions[{n}] has the same context as "
                f"partitions[{seen[key]}] ({key[:80]}); keep one of the two bookmarks"
            )
        seen[key] = n


def _checked_bookmark(
    entry: object, where: str, run_started: dt.datetime, logger: logging.Logger
) -> dict:
    if not isinstance(entry, dict):
        raise StateError(f"STATE: {where} expects an object, got {_kind(entry)}")
    if not isinstance(entry.get("context", {}), dict):
        raise StateError(f"STATE: {where}.context expects an object")
    # The SDK pops progress_markers at the start of a sync and reads replication_key as a name.
    if "progress_markers" in entry and not isinstance(entry["progress_markers"], dict):
        raise StateError(
            f"STATE: {where}.progress_markers expects an object, got {_kind(entry['progress_markers'])}"
        )
    if entry.get("replication_key") is not None and not isinstance(entry["replication_key"], str):
        raise StateError(
            f"STATE: {where}.replication_key expects a field name, got {_kind(entry['replication_key'])}"
        )
    value = entry.get("replication_key_value")
    if value is None:
        return dict(entry)
    at = f"STATE: {where}.replication_key_value"
    if not isinstance(value, str):
        raise StateError(f"{at} expects an ISO-8601 date-time string, got {_kind(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise StateError(f"{at}: {value[:40]!r} is not an ISO-8601 date-time") from None
    if parsed < EARLIEST_DATETIME:
        raise StateError(f"{at}: {value[:40]!r} is before 1700-01-01, which Salesforce refuses")
    if parsed > run_started:
        clamped = format_datetime(run_started)
        logger.warning(
            "%s: bookmark %s is in the future; reading from the run start %s instead",
            where,
            value,
            clamped,
        )
        return {**entry, "replication_key_value": clamped}
    return dict(entry)


def _kind(value: object) -> str:
    return shown("STATE", value).split(" ", 1)[0]

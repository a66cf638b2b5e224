"""How often a periodic completeness task runs, per object, and whether it is due this run.

Two tasks re-read what an incremental sync cannot see: the key reconciliation
(``reconcile_deletes``: an Id-only read that finds hard deletes past the Recycle Bin) and the
formula refresh (``formula_refresh``: a re-read of rows whose formula values changed without
SystemModstamp moving). Both cost a full read of the object, so a user picks how often:
``never``, ``always`` (every run), ``daily``, ``weekly`` or a number of hours, for every object
or per object (``{"Account": "daily", "*": "weekly"}``; objects not named: ``never``).

The last time a task completed is kept in the stream's STATE bookmark as the run start of the
run that completed it; "now" is the run start too, so a run scheduled every 24 hours finds a
``daily`` task due each time: a run that starts up to 5% of the period early (at most an hour)
still counts, or scheduler jitter would push the task to every other run.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass

NAMED_HOURS: dict[str, float | None] = {
    "never": None,
    "always": 0.0,
    "daily": 24.0,
    "weekly": 168.0,
}
MAX_HOURS = 366 * 24  # a year: a longer period is a typo (and what STATE can be trusted for)
EARLY_SHARE = 0.05
EARLY_AT_MOST = dt.timedelta(hours=1)
EVERY_OBJECT = "*"


class CadenceError(ValueError):
    """A cadence value that is not one; the message is the problem, without the setting name."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """A period in hours; None: never, 0: every run."""

    hours: float | None

    @property
    def never(self) -> bool:
        return self.hours is None

    def due(self, last: dt.datetime | None, now: dt.datetime) -> bool:
        """True when the task should run in a run started at ``now``, last completed at ``last``."""
        if self.hours is None:
            return False
        if self.hours == 0 or last is None:
            return True
        period = dt.timedelta(hours=self.hours)
        early = min(period * EARLY_SHARE, EARLY_AT_MOST)
        return now - last >= period - early


NEVER = Cadence(None)


@dataclass(frozen=True, slots=True)
class CadenceSetting:
    """A cadence setting's value: one cadence for every object, or one per object."""

    default: Cadence = NEVER
    per_object: tuple[tuple[str, Cadence], ...] = ()

    def for_object(self, name: str) -> Cadence:
        for object_name, cadence in self.per_object:
            if object_name.lower() == name.lower():
                return cadence
        return self.default


def parse_cadence(value: object) -> Cadence:
    """One cadence: a name (never, always, daily, weekly) or a number of hours (0 < h <= a year)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in NAMED_HOURS:
            return Cadence(NAMED_HOURS[text])
        try:
            value = float(text)
        except ValueError:
            raise CadenceError(
                f"{text[:40]!r} is not never, always, daily, weekly or a number of hours"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise CadenceError(
            f"expects never, always, daily, weekly or a number of hours, got {type(value).__name__}"
        )
    hours = float(value)
    if not 0 < hours <= MAX_HOURS:  # NaN fails too
        raise CadenceError(
            f"{hours:g} hours is not between 0 (use always) and {MAX_HOURS} (a year)"
        )
    return Cadence(hours)


def parse_setting(value: object) -> CadenceSetting:
    """A cadence for every object, or an object of object name (or ``*``) -> cadence; the
    object may come as JSON text (an environment variable, Meltano's ``kind: string``)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise CadenceError("is not a JSON object of object name -> cadence") from None
    if isinstance(value, Mapping):
        per_object: list[tuple[str, Cadence]] = []
        default = NEVER
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise CadenceError("expects object names as keys")
            try:
                cadence = parse_cadence(item)
            except CadenceError as error:
                raise CadenceError(f"{name[:40]!r}: {error}") from None
            if name == EVERY_OBJECT:
                default = cadence
            else:
                per_object.append((name, cadence))
        return CadenceSetting(default, tuple(sorted(per_object)))
    return CadenceSetting(parse_cadence(value))


def parse_moment(value: object) -> dt.datetime | None:
    """A completion time kept in STATE (an ISO-8601 string), or None when absent or unreadable
    (the task is then due: running it again is safe, skipping it is not)."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

"""Cadence settings (``reconcile_deletes``, ``formula_refresh``): parsing, per-object values,
when a task is due, and bad values refused in one line naming the setting."""

from __future__ import annotations

import datetime as dt

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_salesforce_temporal.config.cadence import Cadence, parse_moment
from tap_salesforce_temporal.config.settings import Settings

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _settings(**values: object) -> Settings:
    return Settings.from_config({"embedded_org": True, **values})


@pytest.mark.parametrize(
    ("value", "hours"),
    [("never", None), ("always", 0.0), ("daily", 24.0), ("Weekly", 168.0), (6, 6.0), ("1.5", 1.5)],
)
def test_given_a_cadence_for_every_object_then_each_object_has_it(
    value: object, hours: float | None
) -> None:
    setting = _settings(reconcile_deletes=value).reconcile_deletes
    assert setting.for_object("Account") == Cadence(hours)


def test_given_per_object_cadences_then_unnamed_objects_take_the_star_or_never() -> None:
    per_object = {"Account": "daily", "invoice__c": 12}
    setting = _settings(reconcile_deletes=per_object).reconcile_deletes
    assert setting.for_object("Account").hours == 24
    assert setting.for_object("Invoice__c").hours == 12, "object names are case-insensitive"
    assert setting.for_object("Lead").never
    as_text = _settings(reconcile_deletes='{"Account": "daily"}').reconcile_deletes
    assert as_text == setting.__class__(per_object=(("Account", Cadence(24)),)), "env var JSON"
    starred = _settings(formula_refresh={"*": "weekly", "Lead": "never"}).formula_refresh
    assert (starred.for_object("Account").hours, starred.for_object("Lead").never) == (168, True)


def test_given_the_defaults_then_nothing_is_reconciled_and_formulas_refresh_daily() -> None:
    settings = _settings()
    assert settings.reconcile_deletes.for_object("Account").never
    assert settings.formula_fields == "include"
    assert settings.formula_refresh.for_object("Account").hours == 24


@pytest.mark.parametrize(
    ("cadence", "last", "due"),
    [
        (Cadence(None), None, False),
        (Cadence(0), NOW, True),
        (Cadence(24), None, True),
        (Cadence(24), NOW - dt.timedelta(hours=24), True),
        # A daily schedule starting a little early each day still runs daily.
        (Cadence(24), NOW - dt.timedelta(hours=23, minutes=10), True),
        (Cadence(24), NOW - dt.timedelta(hours=22), False),
        (Cadence(168), NOW - dt.timedelta(days=6), False),
        (Cadence(2), NOW - dt.timedelta(minutes=115), True),  # 5 minutes early: within 5%
        (Cadence(2), NOW - dt.timedelta(minutes=110), False),
    ],
)
def test_given_the_last_completion_then_due_says_whether_to_run(
    cadence: Cadence, last: dt.datetime | None, due: bool
) -> None:
    assert cadence.due(last, NOW) is due


def test_given_an_unreadable_time_in_state_then_the_task_is_due() -> None:
    assert parse_moment("2026-06-01T00:00:00.000Z") == dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_moment("yesterday") is None
    assert parse_moment(12) is None
    assert Cadence(24).due(parse_moment("yesterday"), NOW)


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("reconcile_deletes", "sometimes", "'sometimes' is not never, always, daily, weekly"),
        ("reconcile_deletes", 0, "0 hours is not between 0 (use always) and 8784"),
        ("reconcile_deletes", 10_000, "10000 hours is not between"),
        ("reconcile_deletes", True, "got bool"),
        ("reconcile_deletes", ["daily"], "got list"),
        ("formula_refresh", {"Account": "hourly"}, "'Account': 'hourly' is not never"),
        ("formula_refresh", {"": "daily"}, "expects object names as keys"),
        ("formula_refresh", "nan", "nan hours is not between"),
        ("formula_refresh", '{"Account": ', "is not a JSON object of object name -> cadence"),
        ("formula_fields", "sometimes", "'sometimes' is not one of include, exclude, refresh"),
    ],
)
def test_given_a_bad_value_then_one_line_names_the_setting(
    setting: str, value: object, problem: str
) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        _settings(**{setting: value})
    message = str(raised.value)
    assert message.startswith(f"setting '{setting}': ")
    assert problem in message
    assert "\n" not in message

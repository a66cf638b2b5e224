"""Decision analytics over landed micro_decision_events, computed by DuckDB SQL.

Every figure is an aggregate query over the Parquet dataset (deduplicated by ``event_id``, since
delivery is at-least-once); Python only reshapes the handful of result rows into the report dict.
Definitions, so the numbers can be checked by hand:

- stage duration: ``stage_duration_days`` of a stage_change, attributed to the stage that was left
  (``previous_stage``); median and p90 are continuous quantiles (linear interpolation).
- funnel: opportunities that reached each stage in the period, open stages by ascending median
  probability, then won stages, then lost ones (ForecastCategory Closed / Omitted); conversion is
  the share of the previous open stage's opportunities; win rate is won / (won + lost).
- approvals: ProcessInstanceStep rows by StepStatus; a decision is an Approved or Rejected step,
  and its time is Salesforce's own ``ElapsedTimeInDays`` of that step.
- critical setup changes: SetupAuditTrail rows of the last N days whose action or section falls in
  one of the categories of ``CRITICAL_RULES`` (actions are matched before sections).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow.dataset as ds

from ..run.duck import connect

DECISION_STATUSES = ("Approved", "Rejected")
CRITICAL_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "user_deactivation": {"actions": ("deactivateduser", "frozeuser", "suspendeduser")},
    "profiles_and_permissions": {
        "actions": (
            "changedprofileforuser",
            "PermSetAssign",
            "PermSetUnassign",
            "PermSetGroupAssign",
            "PermSetGroupUnassign",
            "profileFlsChanged",
            "changedUserRole",
        ),
        "sections": ("Profiles", "Permission Sets", "Permission Set Groups", "Manage Roles"),
    },
    "login_and_session": {
        "sections": (
            "Session Settings",
            "Login Flows",
            "Login Access Policies",
            "Single Sign-On Settings",
            "My Domain",
            "Identity Provider",
        ),
    },
    "security": {
        "sections": (
            "Security Controls",
            "Network Access",
            "Password Policies",
            "Certificate and Key Management",
            "Health Check",
            "Remote Site Settings",
            "Connected Apps",
            "Named Credentials",
            "Sharing Settings",
        ),
    },
}
DUCKDB_MEMORY_LIMIT = "512MB"


def _rule_rows() -> list[tuple[str, str, str, int]]:
    rows = []
    for priority, (category, rule) in enumerate(CRITICAL_RULES.items()):
        rows += [("action", value, category, priority) for value in rule.get("actions", ())]
        rows += [("section", value, category, 100 + priority) for value in rule.get("sections", ())]
    return rows


def _as_dict(rows: list[tuple[Any, Any]]) -> dict[str, int]:
    return {str(key): int(value) for key, value in rows}


def _days(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


class DecisionMetrics:
    """One DuckDB connection over the events (and User names when that stream landed too)."""

    def __init__(
        self,
        events: ds.Dataset,
        users: ds.Dataset | None,
        *,
        since: dt.datetime | None,
        until: dt.datetime | None,
        as_of: dt.datetime,
        critical_days: int,
    ) -> None:
        self.since, self.until, self.as_of, self.critical_days = since, until, as_of, critical_days
        self.db = connect(memory_limit=DUCKDB_MEMORY_LIMIT, preserve_insertion_order=False)
        self.db.register("raw_events", events)
        self.db.execute(
            """
            CREATE TEMP TABLE events AS
            SELECT event_id, event_type, timestamp_occurred AS occurred, actor_id, record_id, field_name,
                   old_value, new_value, context.previous_stage AS previous_stage,
                   context.stage_duration_days AS stage_days, context.activity_type AS activity_type,
                   context.source_object AS source_object, context.metadata AS metadata
            FROM raw_events
            WHERE (?::TIMESTAMPTZ IS NULL OR timestamp_occurred >= ?::TIMESTAMPTZ)
              AND (?::TIMESTAMPTZ IS NULL OR timestamp_occurred < ?::TIMESTAMPTZ)
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY extracted_at DESC) = 1
            """,
            [since, since, until, until],
        )
        if users is not None and {"Id", "Name"} <= set(users.schema.names):
            self.db.register("raw_users", users.to_table(columns=["Id", "Name"]))
        else:
            self.db.execute("CREATE TEMP TABLE raw_users (Id VARCHAR, Name VARCHAR)")
        self.db.execute(
            "CREATE TEMP TABLE users AS SELECT Id, any_value(Name) AS Name FROM raw_users GROUP BY Id"
        )
        self.db.execute(
            "CREATE TEMP TABLE critical_rules (kind VARCHAR, value VARCHAR, category VARCHAR, priority INTEGER)"
        )
        self.db.executemany("INSERT INTO critical_rules VALUES (?, ?, ?, ?)", _rule_rows())
        self.db.execute(
            """
            CREATE TEMP VIEW approvals AS
            SELECT e.*, u.Name AS actor_name,
                   TRY_CAST(json_extract_string(metadata, '$.elapsed_days') AS DOUBLE) AS elapsed
            FROM events e LEFT JOIN users u ON u.Id = e.actor_id
            WHERE event_type = 'approval_decision'
            """
        )
        self.db.execute(
            """
            CREATE TEMP VIEW setup_changes AS
            SELECT e.event_id, e.occurred, e.actor_id, u.Name AS actor_name,
                   e.new_value AS display,
                   json_extract_string(metadata, '$.section') AS section,
                   json_extract_string(metadata, '$.action') AS action
            FROM events e LEFT JOIN users u ON u.Id = e.actor_id
            WHERE event_type = 'setup_change'
            """
        )

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.db.execute(sql, params or []).fetchall()

    def report(self) -> dict[str, Any]:
        total, first, last = self._rows(
            "SELECT count(*), min(occurred), max(occurred) FROM events"
        )[0]
        return {
            "period": {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "first_event": first.isoformat() if first else None,
                "last_event": last.isoformat() if last else None,
                "as_of": self.as_of.isoformat(),
                "critical_days": self.critical_days,
            },
            "events": {
                "total": int(total),
                "by_type": _as_dict(
                    self._rows(
                        "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1"
                    )
                ),
            },
            "stages": self._stages(),
            "approvals": self._approvals(),
            "activities": self._activities(),
            "setup": self._setup(),
        }

    def _stages(self) -> dict[str, Any]:
        durations = [
            {
                "stage": stage,
                "moves": int(moves),
                "median_days": _days(median),
                "p90_days": _days(p90),
                "mean_days": _days(mean),
                "max_days": _days(longest),
            }
            for stage, moves, median, p90, mean, longest in self._rows(
                """
                SELECT previous_stage, count(*), quantile_cont(stage_days, 0.5),
                       quantile_cont(stage_days, 0.9), avg(stage_days), max(stage_days)
                FROM events
                WHERE event_type = 'stage_change' AND previous_stage IS NOT NULL
                  AND stage_days IS NOT NULL
                GROUP BY 1 ORDER BY 3 DESC, 1
                """
            )
        ]
        reached = self._rows(
            """
            WITH moves AS (
                SELECT record_id, new_value AS stage,
                       TRY_CAST(json_extract_string(metadata, '$.probability') AS DOUBLE) AS probability,
                       json_extract_string(metadata, '$.forecast_category') AS forecast, occurred
                FROM events WHERE event_type = 'stage_change' AND new_value IS NOT NULL
            )
            SELECT stage, count(DISTINCT record_id), median(probability),
                   bool_or(forecast = 'Closed'), bool_or(forecast = 'Omitted'), min(occurred)
            FROM moves GROUP BY 1
            ORDER BY (bool_or(forecast = 'Closed') OR bool_or(forecast = 'Omitted')),
                     bool_or(forecast = 'Omitted'), median(probability), min(occurred), 1
            """
        )
        (entered,) = self._rows(
            "SELECT count(DISTINCT record_id) FROM events WHERE event_type = 'stage_change'"
        )[0]
        funnel, previous_open = [], None
        for stage, opportunities, probability, won, lost, _ in reached:
            step = {
                "stage": stage,
                "opportunities": int(opportunities),
                "share_of_entered": _ratio(int(opportunities), int(entered)),
                "conversion_from_previous": None,
                "probability": None if probability is None else float(probability),
                "outcome": "won" if won else "lost" if lost else "open",
            }
            if not lost and previous_open is not None:
                step["conversion_from_previous"] = _ratio(int(opportunities), previous_open)
            if not lost:
                previous_open = int(opportunities)
            funnel.append(step)
        won = sum(s["opportunities"] for s in funnel if s["outcome"] == "won")
        lost = sum(s["opportunities"] for s in funnel if s["outcome"] == "lost")
        bottleneck = (
            {k: durations[0][k] for k in ("stage", "median_days", "moves")} if durations else None
        )
        return {
            "durations": durations,
            "bottleneck": bottleneck,
            "funnel": funnel,
            "opportunities_entered": int(entered),
            "won": won,
            "lost": lost,
            "win_rate": _ratio(won, won + lost),
        }

    def _approvals(self) -> dict[str, Any]:
        decided = list(DECISION_STATUSES)
        by_status = _as_dict(
            self._rows("SELECT new_value, count(*) FROM approvals GROUP BY 1 ORDER BY 2 DESC, 1")
        )
        decisions, median = self._rows(
            "SELECT count(*), quantile_cont(elapsed, 0.5) FROM approvals WHERE list_contains(?, new_value)",
            [decided],
        )[0]
        by_approver = [
            {
                "actor_id": actor,
                "name": name,
                "decisions": int(count),
                "approved": int(approved),
                "rejected": int(rejected),
                "median_days": _days(days),
            }
            for actor, name, count, approved, rejected, days in self._rows(
                """
                SELECT actor_id, any_value(actor_name), count(*),
                       count(*) FILTER (WHERE new_value = 'Approved'),
                       count(*) FILTER (WHERE new_value = 'Rejected'),
                       quantile_cont(elapsed, 0.5)
                FROM approvals WHERE list_contains(?, new_value)
                GROUP BY 1 ORDER BY 6 DESC NULLS LAST, 3 DESC, 1
                """,
                [decided],
            )
        ]
        by_month = [
            {"month": month, "status": status, "steps": int(steps)}
            for month, status, steps in self._rows(
                "SELECT strftime(occurred, '%Y-%m'), new_value, count(*) FROM approvals GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ]
        return {
            "steps": sum(by_status.values()),
            "steps_by_status": by_status,
            "decisions": int(decisions),
            "median_days_to_decision": _days(median),
            "by_approver": by_approver,
            "slowest_approver": by_approver[0] if by_approver else None,
            "by_month": by_month,
        }

    def _activities(self) -> dict[str, Any]:
        def grouped(source: str, by_status: bool) -> dict[str, int]:
            """Status (Task) / Type (Event) live in new_value; the subtype in activity_type."""
            return _as_dict(
                self._rows(
                    "SELECT coalesce(CASE WHEN ? THEN new_value ELSE activity_type END, '(none)'),"
                    " count(*) FROM events WHERE event_type = 'activity' AND source_object = ?"
                    " GROUP BY 1 ORDER BY 2 DESC, 1",
                    [by_status, source],
                )
            )

        (total,) = self._rows("SELECT count(*) FROM events WHERE event_type = 'activity'")[0]
        return {
            "total": int(total),
            "tasks_by_status": grouped("Task", by_status=True),
            "tasks_by_subtype": grouped("Task", by_status=False),
            "events_by_subtype": grouped("Event", by_status=False),
            "events_by_type": grouped("Event", by_status=True),
        }

    def _setup(self) -> dict[str, Any]:
        by_section = _as_dict(
            self._rows(
                "SELECT coalesce(section, '(none)'), count(*) FROM setup_changes GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        )
        since = self.as_of - dt.timedelta(days=self.critical_days)
        critical = [
            {
                "at": at.isoformat(),
                "category": category,
                "section": section,
                "action": action,
                "display": display,
                "actor_id": actor,
                "actor_name": name,
            }
            for at, category, section, action, display, actor, name in self._rows(
                """
                SELECT any_value(s.occurred), arg_min(r.category, r.priority), any_value(s.section),
                       any_value(s.action), any_value(s.display), any_value(s.actor_id),
                       any_value(s.actor_name)
                FROM setup_changes s
                JOIN critical_rules r
                  ON (r.kind = 'action' AND r.value = s.action)
                  OR (r.kind = 'section' AND r.value = s.section)
                WHERE s.occurred >= ? AND s.occurred <= ?
                GROUP BY s.event_id
                ORDER BY 1 DESC, s.event_id
                """,
                [since, self.as_of],
            )
        ]
        by_category: dict[str, int] = {}
        for change in critical:
            by_category[change["category"]] = by_category.get(change["category"], 0) + 1
        return {
            "total": sum(by_section.values()),
            "by_section": by_section,
            "critical": critical,
            "critical_by_category": by_category,
        }

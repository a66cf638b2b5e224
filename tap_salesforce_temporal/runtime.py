"""Per-run state shared by the tap's streams: the client, the run's start time, statistics."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from .client import SalesforceClient
from .query.ahead import NoReadAhead, ReadAhead
from .settings import Settings


@dataclass
class StreamStats:
    name: str = ""
    rows: int = 0
    path: str = "-"
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    tombstones: int = 0


@dataclass
class Runtime:
    """Everything a stream needs that outlives one stream."""

    settings: Settings
    client: SalesforceClient
    logger: logging.Logger
    # Bookmarks never pass the run's start: rows committed later belong to the next run.
    run_started: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    )
    stats: dict[str, StreamStats] = field(default_factory=dict)
    stopped_reason: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    key_prefixes: dict[str, str] = field(default_factory=dict)
    queryable_objects: set[str] = field(default_factory=set)
    # Opens upcoming streams' queries while one is written (tap.sync_all sets it up).
    ahead: ReadAhead = field(default_factory=NoReadAhead)
    # Source objects whose micro_decision_events came from their own stream's pages this run
    # (``streams.shared_events``): the events stream does not read them again.
    shared_event_sources: set[str] = field(default_factory=set)
    _user_types: dict[str, str | None] | None = None

    def user_types(self) -> dict[str, str | None]:
        """User Id -> UserType for every user (actor_type of events), read once per run."""
        if self._user_types is None:
            from .query import rest

            types: dict[str, str | None] = {}
            for page in rest.pages(
                self.client, "SELECT Id, UserType FROM User", all_rows=True, context="User types"
            ):
                types.update({row["Id"]: row.get("UserType") for row in page})
            self._user_types = types
        return self._user_types

    def stats_for(self, stream: str) -> StreamStats:
        return self.stats.setdefault(stream, StreamStats(name=stream))

    def summary_lines(self) -> list[str]:
        lines = [f"{'stream':<28} {'rows':>10} {'path':<6} {'api calls':>9} {'seconds':>8}  errors"]
        for name, s in self.stats.items():
            lines.append(
                f"{name:<28} {s.rows:>10,} {s.path:<6} {self.client.calls_of(name):>9} {s.seconds:>8.1f}  {'; '.join(s.errors) or '-'}"
            )
        usage = self.client.usage
        lines.append(
            f"API usage {usage.describe()}; {usage.calls} calls, {usage.retries} retries, "
            f"{usage.refreshes} session refreshes; faults met: {usage.faults or 'none'}"
        )
        return lines

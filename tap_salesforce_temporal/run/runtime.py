"""Per-run state shared by the tap's streams: the client, the run's start time, statistics."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..config.settings import Settings
from ..connection.client import SalesforceClient
from ..errors import Cancelled
from ..query.soql import Select


@dataclass
class StreamStats:
    name: str = ""
    rows: int = 0
    path: str = "-"
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    tombstones: int = 0
    # Completeness tasks (``cadence``): live keys sent for the key reconciliation, rows re-read
    # by the formula refresh; None: the task did not run.
    live_keys: int | None = None
    refreshed: int | None = None


@dataclass
class Runtime:
    """Everything a stream needs that outlives one stream."""

    settings: Settings
    client: SalesforceClient
    logger: logging.Logger
    # Reads the users' types from the org (the tap passes ``query.users.user_types``): this
    # layer keeps the answer for the run and sends no query of its own.
    read_user_types: Callable[[], dict[str, str | None]]
    # Bookmarks never pass the run's start: rows committed later belong to the next run.
    run_started: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    )
    stats: dict[str, StreamStats] = field(default_factory=dict)
    stopped_reason: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    key_prefixes: dict[str, str] = field(default_factory=dict)
    queryable_objects: set[str] = field(default_factory=set)
    # Set when the run must stop now (a stream failed, Ctrl-C): streams in flight stop at
    # their next page, Bulk jobs still running are aborted (``scheduler``).
    cancel: threading.Event = field(default_factory=threading.Event)
    # Source objects whose micro_decision_events came from their own stream's pages this run
    # (``streams.shared_events``): the events stream does not read them again.
    shared_event_sources: set[str] = field(default_factory=set)
    # Why Bulk API 2.0 is off for the rest of the run (the org's daily query jobs used up).
    bulk_off_reason: str | None = None
    _bulk_lock: threading.Lock = field(default_factory=threading.Lock)
    _user_types: dict[str, str | None] | None = None
    # COUNTs sent ahead (``counts``), by (COUNT query, queryAll): each stream takes its own.
    _counted: dict[tuple[str, bool], int] = field(default_factory=dict)
    # Streams of this run not finished yet, each with the event set when it is.
    _finished: dict[str, threading.Event] = field(default_factory=dict)

    def remember_count(self, select: Select, all_rows: bool, rows: int) -> None:
        self._counted[(select.count().soql(), all_rows)] = rows

    def take_count(self, select: Select, all_rows: bool) -> int | None:
        """The rows counted ahead for this query (once), or None: send the COUNT."""
        return self._counted.pop((select.count().soql(), all_rows), None)

    def turn_bulk_off(self, reason: str) -> bool:
        """Read the rest of the run over REST; True for the first caller only (who says why)."""
        with self._bulk_lock:
            first = self.bulk_off_reason is None
            if first:
                self.bulk_off_reason = reason
            return first

    def expect_streams(self, names: Iterable[str]) -> None:
        """The streams this run syncs; ``wait_for_stream`` waits only for these."""
        self._finished = {name: threading.Event() for name in names}

    def stream_done(self, name: str) -> None:
        if name in self._finished:
            self._finished[name].set()

    def wait_for_stream(self, name: str) -> None:
        """Wait (the baton handed over) until stream ``name`` has finished, if this run syncs it.

        The events stream waits so for an object stream that may derive its events from its own
        pages (``shared_events``): it then knows whether they still need a read of their own.
        """
        finished = self._finished.get(name)
        if finished is None or finished.is_set():
            return
        with self.client.baton.released():
            while not finished.wait(0.2):
                self.check_cancelled()

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("stopped: another stream of this run failed")

    def user_types(self) -> dict[str, str | None]:
        """User Id -> UserType for every user (actor_type of events), read once per run."""
        if self._user_types is None:
            self._user_types = self.read_user_types()
        return self._user_types

    def stats_for(self, stream: str) -> StreamStats:
        return self.stats.setdefault(stream, StreamStats(name=stream))

    def summary_lines(self) -> list[str]:
        lines = [f"{'stream':<28} {'rows':>10} {'path':<6} {'api calls':>9} {'seconds':>8}  errors"]
        for name, s in self.stats.items():
            lines.append(
                f"{name:<28} {s.rows:>10,} {s.path:<6} {self.client.calls_of(name):>9} {s.seconds:>8.1f}  {'; '.join(s.errors) or '-'}"
            )
        lines += [
            f"{name}: {s.live_keys:,} live keys sent for reconciliation"
            for name, s in self.stats.items()
            if s.live_keys is not None
        ]
        lines += [
            f"{name}: {s.refreshed:,} rows re-read for formula fields"
            for name, s in self.stats.items()
            if s.refreshed is not None
        ]
        usage = self.client.usage
        lines.append(
            f"API usage {usage.describe()}; {usage.calls} calls, {usage.retries} retries, "
            f"{usage.refreshes} session refreshes; faults met: {usage.faults or 'none'}"
        )
        return lines

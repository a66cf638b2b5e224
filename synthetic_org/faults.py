"""Fault switches: the failures a real org throws at an extractor, on demand and countable.

Every switch can be set from the CLI (``synthetic-org serve --fault-503-every 5``) or in-process
(``org.faults.unavailable_every = 5``). Counters are per server and thread-safe, and ``injected``
tells a test how many faults it actually met.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

# The members ``wrong_type`` can spoil: the page's records, done, totalSize, or one record.
WRONG_TYPES = ("records", "done", "totalSize", "record")


@dataclass
class Faults:
    """Which failures to inject. ``None``/0 disables a switch."""

    session_expiry_after: int | None = None  # a session token dies after N API calls
    unavailable_every: int | None = None  # every Nth API call answers 503 SERVER_UNAVAILABLE
    request_limit_every: int | None = None  # every Nth API call answers 403 REQUEST_LIMIT_EXCEEDED
    drop_connection_every: int | None = None  # every Nth result page is cut off mid-body
    failed_bulk_jobs: int = 0  # the next N Bulk jobs end in state Failed
    slow_polls: int = 0  # polls a Bulk job stays InProgress before it completes
    query_timeout_days: float | None = None  # queries spanning more days answer QUERY_TIMEOUT
    # Describes of these objects answer 503 SERVER_UNAVAILABLE, every time (retries exhausted).
    unavailable_describes: frozenset[str] = frozenset()
    # The first API call whose path (after /services/data/vXX.X) matches this regex answers 503
    # SERVER_UNAVAILABLE: a failure that always lands on the same kind of call.
    unavailable_once: str | None = None
    # Hostile answers (issue #27). slow_body, gzip_bomb and huge_body are regexes searched in the
    # request target, path and query string (``oauth2/token``, ``FROM\+Account``, ``/results``):
    # every matching answer gets that body. repeated_locator, endless_locator and
    # wrong_type_objects are regexes of object names whose query pages (REST and Bulk; REST only
    # for wrong types) misbehave.
    slow_body: str | None = None  # headers, then the body a byte every slow_body_seconds
    slow_body_seconds: float = 2.0
    gzip_bomb: str | None = None  # a gzip body that inflates to gzip_bomb_bytes
    gzip_bomb_bytes: int = 6 * 1024**3
    huge_body: str | None = None  # a chunked body of huge_body_bytes, no Content-Length
    huge_body_bytes: int = 2 * 1024**3
    repeated_locator: str | None = None  # each page names itself as the next one (done: false)
    endless_locator: str | None = None  # each page names a fresh locator to its own rows again
    wrong_type: str | None = None  # this member of REST query pages (WRONG_TYPES) has a wrong type
    wrong_type_objects: str = ".*"
    # Chaos mode: each API call independently meets one random fault with this probability.
    random_rate: float = 0.0
    random_seed: int = 0
    injected: Counter = field(default_factory=Counter)
    _calls: int = 0
    _pages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rng: random.Random | None = field(default=None, repr=False)

    def on_api_call(self, path: str = "") -> str | None:
        """Count one API call; name the fault it must answer with, if any."""
        with self._lock:
            self._calls += 1
            calls = self._calls
            if self.unavailable_once and re.search(self.unavailable_once, path):
                self.unavailable_once = None
                return self._hit("SERVER_UNAVAILABLE")
            if self.unavailable_every and calls % self.unavailable_every == 0:
                return self._hit("SERVER_UNAVAILABLE")
            if self.request_limit_every and calls % self.request_limit_every == 0:
                return self._hit("REQUEST_LIMIT_EXCEEDED")
            if self.random_rate and self._random().random() < self.random_rate:
                return self._hit(
                    self._random().choice(
                        ("SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID")
                    )
                )
            return None

    def hostile_answer(self, target: str) -> str | None:
        """Which hostile body (slow_body, gzip_bomb, huge_body) the answer to ``target`` gets."""
        for name in ("slow_body", "gzip_bomb", "huge_body"):
            pattern = getattr(self, name)
            if pattern and re.search(pattern, target):
                self.record(name.upper())
                return name
        return None

    def repeats_locator(self, object_name: str) -> bool:
        if self.repeated_locator and re.fullmatch(self.repeated_locator, object_name):
            self.record("REPEATED_LOCATOR")
            return True
        return False

    def endless(self, object_name: str) -> bool:
        if self.endless_locator and re.fullmatch(self.endless_locator, object_name):
            self.record("ENDLESS_LOCATOR")
            return True
        return False

    def spoils(self, object_name: str) -> str | None:
        """The member a REST query page of ``object_name`` gets of a wrong type, if any."""
        if self.wrong_type and re.fullmatch(self.wrong_type_objects, object_name):
            self.record("WRONG_TYPE")
            return self.wrong_type
        return None

    def on_result_page(self) -> bool:
        """True when this result page must be cut off mid-body."""
        with self._lock:
            self._pages += 1
            if self.drop_connection_every and self._pages % self.drop_connection_every == 0:
                self._hit("DROPPED_CONNECTION")
                return True
            if self.random_rate and self._random().random() < self.random_rate:
                self._hit("DROPPED_CONNECTION")
                return True
            return False

    def take_failed_job(self) -> bool:
        with self._lock:
            if self.failed_bulk_jobs > 0:
                self.failed_bulk_jobs -= 1
                self._hit("BULK_JOB_FAILED")
                return True
            if self.random_rate and self._random().random() < self.random_rate:
                self._hit("BULK_JOB_FAILED")
                return True
            return False

    def record(self, name: str) -> None:
        with self._lock:
            self._hit(name)

    def _hit(self, name: str) -> str:
        self.injected[name] += 1
        return name

    def _random(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.random_seed)
        return self._rng

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

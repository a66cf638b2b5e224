"""Bulk API 2.0's daily allocation of query jobs: a rolling 24-hour count, and the error past it.

"Limits and Allocations" (Bulk API 2.0 and Bulk API Developer Guide): at most 10,000 query jobs
per 24-hour rolling window, the current count shown as DailyBulkV2QueryJobs by the REST
``/limits`` resource. Past it, creating a job answers 400 LIMIT_EXCEEDED
"Max bulk v2 query jobs (10000) per 24 hrs has been reached (10021)": the text open connectors
match to fall back to REST (Airbyte source-salesforce's tests, estuary/connectors#3318). The
number in the last parentheses counts the attempts of the window, refused ones included.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from .errors import SalesforceError

DAILY_BULK_QUERY_JOBS = 10_000
WINDOW_SECONDS = 24 * 3600


class DailyJobQuota:
    """Query jobs created in the last 24 hours against ``limit``; ``clock`` is epoch seconds."""

    def __init__(
        self,
        limit: int = DAILY_BULK_QUERY_JOBS,
        used: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.clock = clock
        self._stamps: deque[float] = deque([clock()] * used)
        self._lock = threading.Lock()

    def _used(self) -> int:
        horizon = self.clock() - WINDOW_SECONDS
        while self._stamps and self._stamps[0] <= horizon:
            self._stamps.popleft()
        return len(self._stamps)

    @property
    def used(self) -> int:
        with self._lock:
            return self._used()

    def reserve(self) -> float:
        """Count a job about to be created, or raise LIMIT_EXCEEDED when the window is full
        (the refused attempt counts too). Checked and counted under one lock: jobs created
        side by side cannot all pass a limit they exceed together."""
        with self._lock:
            used = self._used()
            stamp = self.clock()
            self._stamps.append(stamp)
            if used < self.limit:
                return stamp
        raise SalesforceError(
            400,
            "LIMIT_EXCEEDED",
            f"Max bulk v2 query jobs ({self.limit}) per 24 hrs has been reached ({used + 1})",
        )

    def release(self, stamp: float) -> None:
        """A reserved job that was never created (its request was refused) does not count."""
        with self._lock:
            if stamp in self._stamps:
                self._stamps.remove(stamp)

    def limits_entry(self) -> dict[str, int]:
        """The DailyBulkV2QueryJobs member of ``/limits``."""
        with self._lock:
            return {"Max": self.limit, "Remaining": max(0, self.limit - self._used())}

"""Opening upcoming streams' queries while the current stream is written.

A real org answers each call in 100-500 ms and runs a Bulk job for seconds to minutes; read one
stream after another, a whole-org run is mostly waiting. Before the streams sync, the tap plans
each selected stream's first query (the same query the stream will send) and this pool opens up
to ``max_concurrency - 1`` of them ahead: the COUNT (api_type auto), the Bulk job created and
waited for (Salesforce runs the jobs side by side), or the first REST page. When a stream's turn
comes its reader takes the opened query (``take``) and reads on; another plan is then opened.

What does not change: records and STATE are written by one stream at a time, in the same order,
so bookmarks are exactly those of a sequential run. API calls do not grow: only queries the
streams will send are opened, each once. Bounds: at most ``max_concurrency - 1`` plans are open
and not yet taken (each may hold a REST query cursor, of which Salesforce keeps 10 per user);
nothing new is opened once the quota guard trips; ``close`` cancels what was not taken, and a
Bulk job still running for a cancelled plan is aborted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..client import owner

Opener = Callable[[threading.Event], Any]


class ReadAhead:
    def __init__(self, ahead: int, logger: logging.Logger, stopped: Callable[[], bool]) -> None:
        self.ahead = max(0, ahead)
        self.logger = logger
        self._stopped = stopped
        self._queue: deque[tuple[tuple, str, Opener]] = deque()
        self._open: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._pool: ThreadPoolExecutor | None = None

    def plan(self, key: tuple, who: str, opener: Opener) -> None:
        """Queue a query to open ahead; ``who`` is the stream the calls are counted for."""
        if self.ahead:
            with self._lock:
                self._queue.append((key, who, opener))

    def start(self) -> None:
        self._fill()

    def take(self, key: tuple) -> Future | None:
        """The opened query for ``key`` (its result, or the error opening it met), or None:
        the caller opens the query itself. A queued plan not started yet is dropped."""
        with self._lock:
            ticket = self._open.pop(key, None)
            if ticket is None:
                self._queue = deque(entry for entry in self._queue if entry[0] != key)
        self._fill()
        return ticket

    def _fill(self) -> None:
        with self._lock:
            while self._queue and len(self._open) < self.ahead and not self._cancel.is_set():
                if self._stopped():
                    self._queue.clear()
                    break
                key, who, opener = self._queue.popleft()
                if key in self._open:
                    continue
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.ahead, thread_name_prefix="read-ahead")
                self._open[key] = self._pool.submit(self._run, who, opener)

    def _run(self, who: str, opener: Opener) -> Any:
        owner.set(who)
        return opener(self._cancel)

    def close(self) -> None:
        """Cancel every plan not taken; Bulk jobs still running for them are aborted (the
        opener sees ``cancel`` set). Waits for the pool's threads."""
        self._cancel.set()
        with self._lock:
            self._queue.clear()
            tickets, self._open = list(self._open.values()), {}
        for ticket in tickets:
            ticket.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        unused = sum(1 for t in tickets if t.done() and not t.cancelled())
        if unused:
            self.logger.info("Read-ahead: %d opened queries left unread (run stopped)", unused)


class NoReadAhead(ReadAhead):
    """Sequential reads (``max_concurrency`` 1, discovery, tests of one stream)."""

    def __init__(self) -> None:
        super().__init__(0, logging.getLogger(__name__), lambda: False)

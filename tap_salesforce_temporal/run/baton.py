"""One thread at a time does the tap's own work; a thread hands the baton over while it waits.

Streams sync side by side (``scheduler``), but everything a stream does between two waits on
the network (shaping rows, writing RECORD and STATE lines, moving bookmarks in the tap's one
state dict, the SDK's own bookkeeping) runs while holding the baton. So a STATE line is always
written after the records it covers, and no two streams ever touch the state at once, exactly as
in a sequential run; only the waiting (an API answer, a Bulk job's poll delay, a page parsed on
a helper thread) overlaps. A thread releases the baton only around such a wait
(``released``), so a page's records and the STATE after them go out together.

The rule that keeps this free of deadlocks: while holding the baton a thread may only wait for
work that needs no baton (a socket, a sleep, a helper thread that never takes it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Baton:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    def holding(self) -> bool:
        return bool(getattr(self._local, "held", False))

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the baton for the whole block (a stream's sync on a worker thread)."""
        self._lock.acquire()
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            self._lock.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let other threads work while this one waits; a no-op for a thread not holding it
        (the main thread of a sequential run, discovery's and the Bulk reader's helpers)."""
        if not self.holding():
            yield
            return
        self._local.held = False
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._local.held = True

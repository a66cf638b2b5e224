"""Streams synced side by side: up to ``max_concurrency`` at once, their waiting overlapped.

A real org answers each call in 100-500 ms and runs a Bulk job for seconds to minutes; read
one stream after another, a whole-org run is mostly waiting. Here each of ``max_concurrency``
worker threads takes the next stream (in sync order) and runs the SDK's whole sync of it while
holding the ``Baton``; a worker hands the baton over whenever it waits for the org, so the
streams' API calls and Bulk jobs run side by side while their rows are shaped and written one
page at a time. RECORD lines of different streams interleave (the Singer spec allows it; each
stream's SCHEMA comes before its records), and every STATE line covers exactly the records
written before it: each stream's bookmark never passes a row not emitted, as in a sequential
run. API calls are those of the sequential run: every stream sends the queries it would send
alone.

A stream with partitions (micro_decision_events: one per source object) is synced a partition
at a time, so its sources are read side by side too; the stream is finalized after the last.

The first error ends the run: the workers stop taking streams, the streams in flight stop at
their next page (``Runtime.cancel``) and the error is raised once every worker has stopped.
``max_concurrency`` 1 syncs on the calling thread, one stream after another, with no baton.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence

from singer_sdk import Stream
from singer_sdk.helpers.types import Context

from ..errors import Cancelled
from ..sdk_hooks import StreamHooks
from .runtime import Runtime

# How long an interrupted run waits for its streams to stop (a call in flight, a page written).
STOP_SECONDS = 30.0
# One unit of work: a stream's whole sync (context None), or one partition of it.
Work = tuple[Stream, dict | None]


class StreamScheduler:
    def __init__(self, runtime: Runtime, logger: logging.Logger) -> None:
        self.runtime = runtime
        self.logger = logger
        self._queue: deque[Work] = deque()
        self._parts_left: Counter[str] = Counter()
        self._error: BaseException | None = None

    def run(self, work: Sequence[Work]) -> None:
        """Sync each unit of ``work``, in order (side by side: as workers free up). A stream
        split into partitions is finalized once its last partition is synced."""
        runtime = self.runtime
        runtime.expect_streams(dict.fromkeys(stream.name for stream, _ in work))
        self._parts_left = Counter(stream.name for stream, context in work if context is not None)
        workers = min(runtime.settings.max_concurrency, len(work))
        if workers <= 1:
            for stream, context in work:
                self._sync(stream, context)
            return
        self._queue.extend(work)
        threads = [
            threading.Thread(target=self._work, name=f"stream-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
        except BaseException:  # a signal (``Interrupted``): the streams in flight stop
            runtime.cancel.set()
            # ...at their next page or wait; joined before the process ends, so none is cut
            # off half-way through a line or inside Arrow's threads while Python finalizes.
            deadline = time.monotonic() + STOP_SECONDS
            for thread in threads:
                thread.join(max(deadline - time.monotonic(), 0))
            raise
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        baton = self.runtime.client.baton
        while True:
            with baton.held():
                if not self._queue or self.runtime.cancel.is_set():
                    return
                stream, context = self._queue.popleft()
                try:
                    self._sync(stream, context)
                except BaseException as error:
                    if self._error is None and not isinstance(error, Cancelled):
                        self._error = error
                    self.runtime.cancel.set()
                    return

    def _sync(self, stream: Stream, context: Context | None) -> None:
        if context is None:
            try:
                stream.sync()
                stream.finalize_state_progress_markers()
                if isinstance(stream, StreamHooks):
                    stream.after_sync()
            finally:
                self.runtime.stream_done(stream.name)
            return
        stream.sync(context)
        self._parts_left[stream.name] -= 1
        if not self._parts_left[stream.name]:
            stream.finalize_state_progress_markers()  # every partition, then STATE
            self.runtime.stream_done(stream.name)

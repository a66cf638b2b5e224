"""What every incremental stream of this tap shares: the read range and a bookmark that never regresses."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

from singer_sdk import Stream

from ..errors import QuotaReached, TapError
from ..runtime import Runtime, StreamStats


class IncrementalStream(Stream):
    runtime: Runtime

    @property
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    def _increment_stream_state(self, latest_record: dict, *, context: dict | None = None) -> None:
        """Never move a bookmark backwards while the lookback window is re-read."""
        if self.replication_key:
            current = self.get_context_state(context).get("replication_key_value")
            value = latest_record.get(self.replication_key)
            if current is not None and value is not None and value < current:
                return
        super()._increment_stream_state(latest_record, context=context)

    def query_range(self, context: dict | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[bookmark - lookback_window, min(run start, end_date))``; a bookmark never passes the run start."""
        if not self.replication_key:
            return None, None
        settings = self.runtime.settings
        start = self.get_starting_timestamp(context)
        has_bookmark = self.get_context_state(context).get("replication_key_value") is not None
        if start is not None and has_bookmark and settings.lookback_window:
            start -= dt.timedelta(seconds=settings.lookback_window)
        end = self.runtime.run_started
        if settings.end_date is not None:
            end = min(end, settings.end_date)
        return start, end

    def accounted(self, records: Iterator[dict], stats: StreamStats) -> Iterator[dict]:
        """Count rows, seconds and API calls for the run summary.

        The quota guard ends the stream cleanly (the SDK still finalizes and emits STATE) and stops
        the streams after it; other user-facing errors are recorded and re-raised.
        """
        runtime = self.runtime
        started, calls_before = time.monotonic(), runtime.client.usage.calls
        try:
            for record in records:
                stats.rows += 1
                yield record
        except QuotaReached as stop:
            runtime.stopped_reason = str(stop)
            stats.errors.append("stopped: API quota guard")
            self.logger.warning("%s", stop)
        except TapError as error:
            stats.errors.append(str(error))
            raise
        finally:
            stats.seconds += time.monotonic() - started
            stats.api_calls += runtime.client.usage.calls - calls_before

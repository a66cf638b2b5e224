"""What the tap asks before its streams sync about events derived from an object stream's pages.

micro_decision_events of an object may come from the pages of the object's own stream instead of
a second read of the same rows (``page_events``; the stream decides in
``MicroDecisionEventsStream.sharing``). The tap orders its work (``could_share``) and reads the
org's users first (``read_users_first``) knowing which.
"""

from __future__ import annotations

from collections.abc import Iterable

from singer_sdk import Stream

from ..run.runtime import Runtime
from .decisions import MicroDecisionEventsStream
from .page_pipeline import Output
from .sobject import SObjectStream

EVENTS_STREAM = MicroDecisionEventsStream.name


def read_users_first(streams: Iterable[Stream], runtime: Runtime) -> None:
    """Read the org's users (events' actor types) before any stream opens its query.

    A shared source derives its events from its first page on; reading the users then would
    put a call between the object's pages, so a quota stop would cross at another call than a
    sequential read's page. Streams side by side would each start the same read. The events
    stream reads them anyway.
    """
    streams = list(streams)
    events = next((s for s in streams if isinstance(s, MicroDecisionEventsStream)), None)
    if events is None or not events.selected or runtime.client.quota_reached():
        return
    if runtime.settings.max_concurrency > 1:
        runtime.user_types()
        return
    if any(s.selected and s.name in events.sources for s in streams if s is not events):
        runtime.user_types()


def could_share(stream: SObjectStream, output: Output) -> bool:
    """Whether ``stream``'s reads may give its source's events at all, the events stream
    selected (``MicroDecisionEventsStream.could_share``); ``output``: ``sync_shape()``."""
    events = stream.sdk_tap_stream(EVENTS_STREAM)
    return isinstance(events, MicroDecisionEventsStream) and events.could_share(stream, output)

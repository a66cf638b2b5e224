"""Every object stream's COUNT sent up front, side by side, before streams sync side by side.

With ``api_type`` auto each stream's read starts with a COUNT of its window (it picks REST or
Bulk). Sent by each stream when its turn comes, the counts are ``max_concurrency`` at a time
and the streams start in name order, so a large object that happens to sort last starts last
and the run waits for it alone at the end. Here the same COUNTs (the query each stream will
send: same window, fields and filters) go out first on ``max_workers`` threads (short requests,
like discovery's describes); each stream's reader then takes its count instead of sending it
(``Runtime.take_count``), and the streams are synced largest first. API calls do not change:
each COUNT is sent once. A COUNT that fails here is simply sent again by its stream, where its
error is reported as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from singer_sdk import Stream

from ..connection.client import owner
from ..query import rest
from ..query.reader import Plan
from ..run.runtime import Runtime
from .sobject import SObjectStream


def count_ahead(streams: Sequence[Stream], runtime: Runtime) -> dict[str, int]:
    """Stream name -> rows in its window, for the object streams this run reads with auto."""
    settings = runtime.settings
    if settings.api_type != "auto" or runtime.client.quota_reached():
        return {}
    plans = [
        (stream, plan)
        for stream in streams
        if isinstance(stream, SObjectStream) and (plan := stream.plan_read()) is not None
    ]
    if not plans:
        return {}

    def count(stream: SObjectStream, plan: Plan) -> int | None:
        owner.set(stream.name)  # the run summary counts the call for its stream
        try:
            return rest.count(
                runtime.client, plan.select, all_rows=plan.all_rows, context=stream.name
            )
        except Exception as error:  # the stream sends it again and reports what is wrong
            runtime.logger.debug("%s: COUNT ahead failed (%s)", stream.name, error)
            return None

    with ThreadPoolExecutor(min(settings.max_workers, len(plans)), "count") as pool:
        results = list(pool.map(lambda pair: count(*pair), plans))
    counts = {}
    for (stream, plan), rows in zip(plans, results, strict=True):
        if rows is not None:
            runtime.remember_count(plan.select, plan.all_rows, rows)
            counts[stream.name] = rows
    return counts

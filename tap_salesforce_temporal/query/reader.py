"""Reads one object's rows in ``[start, end)`` a page at a time, whichever API fits.

Shared by the SObject streams and the derived events stream: path choice (auto counts first, Bulk
at or above the threshold, REST when Bulk refuses the object, and for the rest of the run once the
org's daily Bulk query jobs are used up), QUERY_TIMEOUT window halving, Bulk job retries,
progress logging, and the quota guard between pages. A read is opened (``open``) then read
(``_fetch``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..discovery.schema import ObjectSchema
from ..errors import BulkJobFailed, BulkJobLimit, BulkNotSupported, QueryTimeout, TapError
from ..run.runtime import Runtime, StreamStats
from . import rest
from .bulk import BulkQuery, CompletedJob
from .page import Page
from .soql import Select
from .values import RecordShaper

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MIN_WINDOW = dt.timedelta(minutes=1)
PROGRESS_EVERY_SECONDS = 15.0
BULK_JOB_ATTEMPTS = 3
# Salesforce refuses GET request lines around 16,000 characters; stay clear of it with the host.
MAX_QUERY_URL = 15_000
# A query page with no rows, as the REST API answers it.
NO_ROWS = {"totalSize": 0, "done": True, "records": []}


@dataclass(frozen=True, slots=True)
class Opened:
    """A query whose first round trips are done: the path chosen, and where its rows wait:
    the COUNT (api_type auto), the Bulk job created and waited for, or the first REST page."""

    path: Literal["bulk", "rest"]
    total: int | None = None
    job: CompletedJob | None = None
    first: dict | None = None


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """What a stream asks one read for: ``ObjectReader.plan`` and ``read_pages`` take it."""

    fields: list[str]
    start: dt.datetime | None
    end: dt.datetime | None
    key: str | None
    where: tuple[str, ...] = ()
    ordered: bool = True
    # None: queryAll when include_deleted is on; False: query (live rows only, a key snapshot).
    all_rows: bool | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One query as the stream sends it, narrowed by ``window`` when a QUERY_TIMEOUT splits it."""

    base: Select
    key_field: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    all_rows: bool
    ordered: bool

    @property
    def select(self) -> Select:
        if not self.key_field:
            return self.base
        return self.base.with_range(self.key_field, self.start, self.end)

    def window(self, start: dt.datetime | None, end: dt.datetime | None) -> Plan:
        return Plan(self.base, self.key_field, start, end, self.all_rows, self.ordered)


class ObjectReader:
    def __init__(
        self,
        runtime: Runtime,
        schema: ObjectSchema,
        logger: logging.Logger,
        *,
        name: str | None = None,
        where: tuple[str, ...] = (),
        api_type: str | None = None,
    ) -> None:
        self.runtime = runtime
        # The path every read of this reader takes (``settings.api_type`` when None).
        self.api_type = api_type
        # Conditions every query of this reader carries (an object_filters entry), COUNT included.
        self.where = where
        self.schema = schema
        self.logger = logger
        self.name = name or schema.name
        self.bulk_refused = False

    def plan(
        self,
        fields: list[str],
        start: dt.datetime | None,
        end: dt.datetime | None,
        *,
        key: str | None,
        where: list[str] | None = None,
        all_rows: bool | None = None,
        ordered: bool = True,
    ) -> Plan:
        """The first query ``read_pages`` sends for these arguments (the whole window)."""
        order = [key, "Id"] if key else ["Id"]
        select = Select(self.schema.name, fields, [*self.where, *(where or [])], order_by=order)
        include = self.runtime.settings.include_deleted if all_rows is None else all_rows
        return Plan(select, key, start, end, include, ordered)

    def plan_for(self, spec: ReadSpec) -> Plan:
        """The first query ``read_spec`` sends for ``spec``."""
        return self.plan(
            spec.fields,
            spec.start,
            spec.end,
            key=spec.key,
            where=list(spec.where),
            all_rows=spec.all_rows,
            ordered=spec.ordered,
        )

    def read_spec(self, spec: ReadSpec, stats: StreamStats) -> Iterator[Page]:
        """``read_pages`` of what a stream asks for (``ReadSpec``)."""
        shaper = RecordShaper(self.schema, spec.fields)
        yield from self._read_range(self.plan_for(spec), shaper, stats)

    def read(
        self,
        fields: list[str],
        start: dt.datetime | None,
        end: dt.datetime | None,
        stats: StreamStats,
        *,
        key: str | None,
        where: list[str] | None = None,
        all_rows: bool | None = None,
    ) -> Iterator[dict]:
        """Records with ``start <= key < end`` (no range when ``key`` is None), in (key, Id) order:
        the pages' tables in record form (``RecordShaper.from_table``), for the events' rules."""
        shaper = RecordShaper(self.schema, fields)
        for page in self.read_pages(
            fields, start, end, stats, key=key, where=where, all_rows=all_rows
        ):
            yield from shaper.from_table(page.rows)

    def read_pages(
        self,
        fields: list[str],
        start: dt.datetime | None,
        end: dt.datetime | None,
        stats: StreamStats,
        *,
        key: str | None,
        where: list[str] | None = None,
        all_rows: bool | None = None,
        ordered: bool = True,
    ) -> Iterator[Page]:
        """The rows a page at a time, each page one table in record form (``Page``), REST and
        Bulk alike. ``ordered=False`` lets a Bulk job run without ORDER BY (see ``page``): its
        pages say so, and the bookmark waits for the job's last page."""
        plan = self.plan(
            fields, start, end, key=key, where=where, all_rows=all_rows, ordered=ordered
        )
        shaper = RecordShaper(self.schema, fields)
        yield from self._read_range(plan, shaper, stats)

    def _read_range(self, plan: Plan, shaper: RecordShaper, stats: StreamStats) -> Iterator[Page]:
        """Read ``[start, end)``; on QUERY_TIMEOUT before any row, split the window in two."""
        emitted = 0
        try:
            for page in self._fetch(plan, shaper, stats):
                emitted += len(page)
                yield page
        except QueryTimeout:
            start, end = plan.start, plan.end
            if emitted or not plan.key_field or end is None:
                raise
            lower = start or EARLIEST
            if end - lower <= MIN_WINDOW:
                raise
            middle = (lower + (end - lower) / 2).replace(microsecond=0)
            self.logger.warning(
                "%s: QUERY_TIMEOUT on %s..%s; splitting the window at %s",
                self.name,
                lower,
                end,
                middle,
            )
            for low, high in ((lower, middle), (middle, end)):
                yield from self._read_range(plan.window(low, high), shaper, stats)

    def open(self, plan: Plan, cancel: threading.Event | None = None) -> Opened:
        """The query's first round trips: COUNT (api_type auto), then the Bulk job created and
        complete, or the first REST page. ``cancel`` set: a Bulk job still running is aborted."""
        settings, client = self.runtime.settings, self.runtime.client
        path = self.api_type or settings.api_type
        total: int | None = None  # known when auto counted the rows first: progress shows % and ETA
        if path == "auto":
            rows = total = self.runtime.take_count(plan.select, plan.all_rows)
            if rows is None:
                rows = total = rest.count(
                    client, plan.select, all_rows=plan.all_rows, context=self.name
                )
            if rows == 0:
                # Nothing to read: no query. A row committed late with a key in this window
                # leaves the bookmark where it is, and the next run's lookback reads it.
                self.logger.info("%s: no rows to read", self.name)
                return Opened("rest", 0, first=NO_ROWS)
            path = "bulk" if rows >= settings.bulk_threshold else "rest"
            self.logger.info("%s: %d rows to read; using %s", self.name, rows, path.upper())
        if path == "bulk" and not self.bulk_refused and self.runtime.bulk_off_reason is None:
            try:
                return Opened("bulk", total, job=self._start_bulk(plan, cancel))
            except BulkNotSupported as refused:
                self.bulk_refused = True
                self.logger.warning(
                    "%s: Bulk API refused (%s); falling back to REST", self.name, refused.sf_message
                )
            except BulkJobLimit as limit:
                if self.runtime.turn_bulk_off(limit.sf_message):
                    self.logger.warning(
                        "%s: Bulk API 2.0 refused a query job (%s %s); this read and every "
                        "other Bulk read of this run go over REST",
                        self.name,
                        limit.error_code,
                        limit.sf_message,
                    )
        if len(split_for_url(plan.select)) > 1:
            return Opened("rest", total)  # field sets joined on Id: opened when read
        first = rest.first_page(
            client, plan.select.soql(), all_rows=plan.all_rows, context=self.name
        )
        return Opened("rest", total, first=first)

    def _bulk(self) -> BulkQuery:
        return BulkQuery(
            self.runtime.client,
            self.logger,
            page_records=self.runtime.settings.bulk_page_records,
            context=self.name,
        )

    def _start_bulk(self, plan: Plan, cancel: threading.Event | None) -> CompletedJob:
        """A complete Bulk job for the plan; a job that fails is started again (3 attempts)."""
        select = plan.select
        if not plan.ordered:
            select = Select(select.object_name, select.fields, select.where, (), select.limit)
        for attempt in range(1, BULK_JOB_ATTEMPTS + 1):
            try:
                return self._bulk().start(select.soql(), all_rows=plan.all_rows, cancel=cancel)
            except BulkJobFailed as failure:
                if attempt == BULK_JOB_ATTEMPTS:
                    raise
                self.logger.warning(
                    "%s: %s; starting a new job (attempt %d/%d)",
                    self.name,
                    failure,
                    attempt + 1,
                    BULK_JOB_ATTEMPTS,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, plan: Plan, shaper: RecordShaper, stats: StreamStats) -> Iterator[Page]:
        """The plan's pages: a Bulk CSV page parsed and typed once (``csv_table``), a REST JSON
        page typed once into the same table (``rest_table``)."""
        opened = self.open(plan, self.runtime.cancel)
        client = self.runtime.client
        progress = _Progress(self.name, self.logger, client, opened.total)
        if opened.path == "bulk" and opened.job is not None:
            stats.path = "bulk"
            for table, last in self._bulk().results(opened.job, shaper.csv_table):
                yield Page(table, ordered=plan.ordered, last=last)
                progress.tick(table.num_rows)
                client.check_quota()  # before the next page is requested
            return
        stats.path = "rest"
        groups = split_for_url(plan.select)
        if opened.first is NO_ROWS:
            pages: Iterator[list[dict]] = iter([[]])
        elif len(groups) > 1:
            self.logger.info(
                "%s: %d fields exceed a GET URL; reading them as %d field sets joined on Id",
                self.name,
                len(plan.select.fields),
                len(groups),
            )
            pages = _joined_pages(client, groups, plan.all_rows, self.name)
        else:
            pages = rest.pages(
                client,
                plan.select.soql(),
                all_rows=plan.all_rows,
                context=self.name,
                first=opened.first,
            )
        for page in pages:
            yield Page(shaper.rest_table(page))
            progress.tick(len(page))
            client.check_quota()  # before the next page is requested


def split_for_url(select: Select, limit: int = MAX_QUERY_URL) -> list[Select]:
    """Split a wide field list into field sets whose GET URLs fit; each keeps Id and the order keys.

    URL lengths are added up a field at a time (quoting is character by character, so ", Name"
    adds exactly its own quoted length): quoting each candidate query whole cost a wide
    object's every read a quadratic amount of work."""
    if _url_length(select) <= limit:
        return [select]
    fixed = [f for f in ("Id", *select.order_by) if f in select.fields or f == "Id"]
    fixed = list(dict.fromkeys(fixed))

    def group(fields: list[str]) -> Select:
        return Select(select.object_name, fields, select.where, select.order_by, select.limit)

    base = _url_length(group(fixed))
    groups: list[Select] = []
    current: list[str] = []
    length = base
    for name in (f for f in select.fields if f not in fixed):
        added = len(urllib.parse.quote_plus(", " + name))
        if current and length + added > limit:
            groups.append(group([*fixed, *current]))
            current, length = [], base
        current.append(name)
        length += added
    groups.append(group([*fixed, *current]))
    return groups


def _url_length(select: Select) -> int:
    return len("/services/data/v99.0/queryAll/?q=") + len(urllib.parse.quote_plus(select.soql()))


def _joined_pages(
    client: Any, groups: list[Select], all_rows: bool, context: str
) -> Iterator[list[dict]]:
    """Read every field set in the same (key, Id) order and join the rows position by position."""
    streams = [
        _records(rest.pages(client, g.soql(), all_rows=all_rows, context=context)) for g in groups
    ]
    page: list[dict] = []
    for parts in itertools.zip_longest(*streams):
        if any(p is None for p in parts) or len({p["Id"] for p in parts}) != 1:
            raise TapError(
                f"{context}: field-set queries of a wide object returned different rows; retry the run"
            )
        merged: dict = {}
        for part in parts:
            merged.update(part)
        page.append(merged)
        if len(page) >= rest.PAGE_SIZE:
            yield page
            page = []
    if page:
        yield page


def _records(pages: Iterator[list[dict]]) -> Iterator[dict]:
    for page in pages:
        yield from page


def progress_line(name: str, rows: int, total: int | None, rate: float) -> str:
    """``Opportunity: 120,000 of 480,000 rows (25.0%), 8,000 rows/s, ETA 45s``: the share and
    the time left when the tap counted the rows first (api_type auto), else rows and rate."""
    line = f"{name}: {rows:,} rows so far, {rate:,.0f} rows/s"
    if total:
        left = max(total - rows, 0)
        eta = _duration(left / rate) if rate > 0 else "unknown"
        line = f"{name}: {rows:,} of {total:,} rows ({min(rows / total, 1.0):.1%}), {rate:,.0f} rows/s, ETA {eta}"
    return line


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest_ = divmod(seconds, 3600)
    minutes, secs = divmod(rest_, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class _Progress:
    """Logs rows so far, rate (share and ETA when the total is known) and API usage every few
    seconds of a long read."""

    def __init__(
        self, name: str, logger: logging.Logger, client: Any, total: int | None = None
    ) -> None:
        self.name, self.logger, self.client, self.total = name, logger, client, total
        self.rows = 0
        self.started = self.last = time.monotonic()

    def tick(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            rate = self.rows / max(now - self.started, 1e-9)
            self.logger.info(
                "%s, API usage %s",
                progress_line(self.name, self.rows, self.total, rate),
                self.client.usage.describe(),
            )

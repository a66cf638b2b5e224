"""Reads one object's rows in ``[start, end)`` ordered by (key, Id), whichever API fits.

Shared by the SObject streams and the derived events stream: path choice (auto counts first, Bulk
at or above the threshold, REST when Bulk refuses), QUERY_TIMEOUT window halving, Bulk job retries,
progress logging, and the quota guard between pages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any, Literal

from ..errors import BulkJobFailed, BulkNotSupported, QueryTimeout, TapError
from ..runtime import Runtime, StreamStats
from ..schema import ObjectSchema
from . import rest
from .bulk import BulkQuery
from .soql import Select
from .values import RecordShaper

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MIN_WINDOW = dt.timedelta(minutes=1)
PROGRESS_EVERY_SECONDS = 15.0
BULK_JOB_ATTEMPTS = 3
# Salesforce refuses GET request lines around 16,000 characters; stay clear of it with the host.
MAX_QUERY_URL = 15_000
# What a read yields: records, typed Arrow tables (BATCH files), or record-form pages (see read).
Shape = Literal["records", "tables", "pages"]


class ObjectReader:
    def __init__(
        self,
        runtime: Runtime,
        schema: ObjectSchema,
        logger: logging.Logger,
        *,
        name: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.schema = schema
        self.logger = logger
        self.name = name or schema.name
        self.bulk_refused = False

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
        as_tables: bool = False,
        as_pages: bool = False,
    ) -> Iterator[Any]:
        """Rows with ``start <= key < end`` (no range when ``key`` is None), in (key, Id) order:
        records; with ``as_tables`` one typed Arrow table per page (BATCH mode); with
        ``as_pages`` one page at a time in record form: a Bulk page as the Arrow table of record
        values (compound objects not yet assembled), a REST page as its list of records."""
        shape: Shape = "tables" if as_tables else "pages" if as_pages else "records"
        order = [key, "Id"] if key else ["Id"]
        select = Select(self.schema.name, fields, list(where or []), order_by=order)
        shaper = RecordShaper(self.schema, fields)
        include = self.runtime.settings.include_deleted if all_rows is None else all_rows
        yield from self._read_range(select, shaper, key, start, end, stats, include, shape)

    def _read_range(
        self,
        select: Select,
        shaper: RecordShaper,
        key: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        stats: StreamStats,
        all_rows: bool,
        shape: Shape,
    ) -> Iterator[Any]:
        """Read ``[start, end)``; on QUERY_TIMEOUT before any row, split the window in two."""
        windowed = select.with_range(key, start, end) if key else select
        emitted = 0
        try:
            for record in self._fetch(windowed, shaper, stats, all_rows, shape):
                emitted += 1
                yield record
        except QueryTimeout:
            if emitted or not key or end is None:
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
            yield from self._read_range(select, shaper, key, lower, middle, stats, all_rows, shape)
            yield from self._read_range(select, shaper, key, middle, end, stats, all_rows, shape)

    def _fetch(
        self,
        select: Select,
        shaper: RecordShaper,
        stats: StreamStats,
        all_rows: bool,
        shape: Shape,
    ) -> Iterator[Any]:
        """Records, or one item per page (see ``read``)."""
        settings, client = self.runtime.settings, self.runtime.client
        path = settings.api_type
        total: int | None = None  # known when auto counted the rows first: progress shows % and ETA
        if path == "auto":
            rows = total = rest.count(client, select, all_rows=all_rows, context=self.name)
            path = "bulk" if rows >= settings.bulk_threshold and rows > 0 else "rest"
            self.logger.info("%s: %d rows to read; using %s", self.name, rows, path.upper())
        if path == "bulk" and not self.bulk_refused:
            try:
                yield from self._fetch_bulk(select, shaper, stats, all_rows, shape, total)
                return
            except BulkNotSupported as refused:
                self.bulk_refused = True
                self.logger.warning(
                    "%s: Bulk API refused (%s); falling back to REST", self.name, refused.sf_message
                )
        stats.path = "rest"
        progress = _Progress(self.name, self.logger, client, total)
        groups = split_for_url(select)
        if len(groups) > 1:
            self.logger.info(
                "%s: %d fields exceed a GET URL; reading them as %d field sets joined on Id",
                self.name,
                len(select.fields),
                len(groups),
            )
            pages: Iterator[list[dict]] = _joined_pages(client, groups, all_rows, self.name)
        else:
            pages = rest.pages(client, select.soql(), all_rows=all_rows, context=self.name)
        for page in pages:
            if shape == "tables":
                yield shaper.rest_to_arrow(page)
            elif shape == "pages":
                yield list(shaper.from_rest(page))
            else:
                yield from shaper.from_rest(page)
            progress.tick(len(page))
            client.check_quota()  # before the next page is requested

    def _fetch_bulk(
        self,
        select: Select,
        shaper: RecordShaper,
        stats: StreamStats,
        all_rows: bool,
        shape: Shape,
        total: int | None = None,
    ) -> Iterator[Any]:
        settings, client = self.runtime.settings, self.runtime.client
        stats.path = "bulk"
        progress = _Progress(self.name, self.logger, client, total)
        bulk = BulkQuery(
            client, self.logger, page_records=settings.bulk_page_records, context=self.name
        )
        for attempt in range(1, BULK_JOB_ATTEMPTS + 1):
            try:
                for table in bulk.pages(select.soql(), shaper.csv_table, all_rows=all_rows):
                    if shape == "tables":
                        yield shaper.to_arrow(table)
                    elif shape == "pages":
                        yield table
                    else:
                        yield from shaper.from_table(table)
                    progress.tick(table.num_rows)
                    client.check_quota()  # before the next page is requested
                return
            except BulkJobFailed as failure:
                if progress.rows or attempt == BULK_JOB_ATTEMPTS:
                    raise
                self.logger.warning(
                    "%s: %s; starting a new job (attempt %d/%d)",
                    self.name,
                    failure,
                    attempt + 1,
                    BULK_JOB_ATTEMPTS,
                )


def split_for_url(select: Select, limit: int = MAX_QUERY_URL) -> list[Select]:
    """Split a wide field list into field sets whose GET URLs fit; each keeps Id and the order keys."""
    if _url_length(select) <= limit:
        return [select]
    fixed = [f for f in ("Id", *select.order_by) if f in select.fields or f == "Id"]
    fixed = list(dict.fromkeys(fixed))
    groups: list[Select] = []
    current: list[str] = []
    for field in (f for f in select.fields if f not in fixed):
        candidate = Select(
            select.object_name,
            [*fixed, *current, field],
            select.where,
            select.order_by,
            select.limit,
        )
        if current and _url_length(candidate) > limit:
            groups.append(
                Select(
                    select.object_name,
                    [*fixed, *current],
                    select.where,
                    select.order_by,
                    select.limit,
                )
            )
            current = []
        current.append(field)
    groups.append(
        Select(select.object_name, [*fixed, *current], select.where, select.order_by, select.limit)
    )
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

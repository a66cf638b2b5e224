"""Bulk API 2.0 query jobs: create, poll with backoff, stream result pages by locator, abort.

Pages are bounded by ``maxRecords``; each is downloaded whole (so a dropped connection retries that
page alone) and parsed by Arrow on a helper thread while the page before it is consumed, so the
network wait overlaps the tap's own work. At most two pages are held: memory follows the page
size, never the result size. A job interrupted before it completes is aborted so it stops costing the org.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import requests

from ..connection.client import (
    SalesforceClient,
    UnreadableBody,
    in_context,
    json_object,
    whole_body,
)
from ..errors import BrokenPaging, BulkJobFailed, BulkJobLimit, Cancelled, SalesforceApiError

# Polls cost API calls but a late poll costs wall time: a 10 s job was seen complete at ~16 s
# with doubling up to 8 s; capped at 5 s it is seen at ~12 s, for at most 12 polls a minute.
# The first steps are short: a small job (an incremental run's query) done in a fraction of a
# second is seen 0.1-0.3 s after it is created instead of 0.25-0.75 s, for one more poll per job.
POLL_DELAYS = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0)
MAX_POLL_DELAY = 5.0
MAX_JOB_SECONDS = 6 * 3600
# The most a result page may inflate to: Bulk API query results come in files of at most 1 GB,
# and a page (maxRecords rows) is never more than one. Two pages are held at a time.
MAX_PAGE_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CompletedJob:
    """A query job in state JobComplete: its id and how many rows it says it holds
    (``numberRecordsProcessed``; None when the answer lacks it)."""

    id: str
    rows: int | None = None


class BulkQuery:
    def __init__(
        self, client: SalesforceClient, logger: logging.Logger, *, page_records: int, context: str
    ) -> None:
        self.client = client
        self.logger = logger
        self.page_records = page_records
        self.context = context
        self.sleep: Callable[[float], None] = time.sleep

    def start(
        self, soql: str, *, all_rows: bool, cancel: threading.Event | None = None
    ) -> CompletedJob:
        """Create a job and wait until it is complete; its id. A job interrupted before it
        completes (an error, a stop, ``cancel`` set when another stream failed) is aborted.
        The org's daily job allocation used up raises ``BulkJobLimit``."""
        try:
            job = self.client.call(
                "POST",
                "/jobs/query",
                json={
                    "operation": "queryAll" if all_rows else "query",
                    "query": soql,
                    "contentType": "CSV",
                    "columnDelimiter": "COMMA",
                    "lineEnding": "LF",
                },
                context=self.context,
                read=json_object,
            )
        except SalesforceApiError as refused:
            if refused.error_code != "LIMIT_EXCEEDED":
                raise
            raise BulkJobLimit(
                refused.status, refused.error_code, refused.sf_message, context=self.context
            ) from None
        job_id = job.get("id")
        if not isinstance(job_id, str):
            raise BulkJobFailed(f"{self.context}: Bulk API 2.0 answered a job without an id")
        try:
            rows = self._wait(job_id, cancel)
        except BulkJobFailed:
            raise  # a Failed job has nothing left to abort
        except BaseException:
            self._abort(job_id)  # interrupted while the org still works on it
            raise
        return CompletedJob(job_id, rows)

    def results(
        self, job: CompletedJob, parse: Callable[[bytes], pa.Table]
    ) -> Iterator[tuple[pa.Table, bool]]:
        """A complete job's result pages, each with whether it is the last. Pages that repeat a
        locator or hold more rows than the job processed end the read (``BrokenPaging``)."""
        job_id = job.id
        rows = 0
        # A JobComplete job cannot be aborted (Salesforce answers INVALIDJOBSTATE): stopping while
        # its pages are read costs no abort call, which matters when the quota guard stopped us.
        with ThreadPoolExecutor(1, thread_name_prefix="bulk-page") as ahead:
            pending: Future | None = ahead.submit(in_context(self._page), job_id, None, parse)
            fetched: set[str] = set()
            while pending is not None:
                with self.client.baton.released():
                    table, locator = pending.result()
                more = bool(locator) and locator != "null"
                if more:
                    # Locators only move forward: one answered again would page for ever.
                    if locator in fetched:
                        raise BrokenPaging(
                            f"{self.context}: Bulk API 2.0 answered the result locator "
                            f"{str(locator)[:60]} again; stopped instead of paging the same rows "
                            "for ever"
                        )
                    fetched.add(str(locator))
                rows += table.num_rows
                if job.rows is not None and rows > job.rows:
                    raise BrokenPaging(
                        f"{self.context}: Bulk API 2.0 result pages hold more rows ({rows:,}) "
                        f"than the job processed ({job.rows:,}); stopped instead of paging on"
                    )
                # The next page downloads and parses while this one is consumed; not once
                # the quota guard would stop the run after this page.
                pending = (
                    ahead.submit(in_context(self._page), job_id, locator, parse)
                    if more and not self.client.quota_reached()
                    else None
                )
                yield table, not more
                if more and pending is None:
                    pending = ahead.submit(in_context(self._page), job_id, locator, parse)

    def _page(
        self, job_id: str, locator: str | None, parse: Callable[[bytes], pa.Table]
    ) -> tuple[pa.Table, str | None]:
        """One result page, parsed, and the locator of the next ("null" after the last)."""
        params: dict[str, str | int] = {"maxRecords": self.page_records}
        if locator:
            params["locator"] = locator

        def read(response: requests.Response) -> tuple[pa.Table, str | None]:
            # Parsed inside the retry loop: a 200 page that is not the CSV asked for is retried.
            try:
                table = parse(whole_body(response, MAX_PAGE_BYTES))
            except (pa.ArrowInvalid, KeyError):
                raise UnreadableBody("result page is not the CSV asked for") from None
            return table, response.headers.get("Sforce-Locator")

        return self.client.call(
            "GET",
            f"/jobs/query/{job_id}/results",
            params=params,
            context=self.context,
            stream=True,
            read=read,
        )

    def _wait(self, job_id: str, cancel: threading.Event | None = None) -> int | None:
        """Poll until the job completes; its ``numberRecordsProcessed``."""
        started = time.monotonic()
        for attempt in range(10_000):
            delay = POLL_DELAYS[attempt] if attempt < len(POLL_DELAYS) else MAX_POLL_DELAY
            with self.client.baton.released():  # other streams work while the org does
                if cancel is not None and cancel.wait(delay):
                    raise Cancelled(f"{self.context}: Bulk API 2.0 job {job_id} no longer needed")
                if cancel is None:
                    self.sleep(delay)
            info = self.client.get_json(f"/jobs/query/{job_id}", context=self.context)
            state = info.get("state")
            if state == "JobComplete":
                rows = info.get("numberRecordsProcessed")
                return rows if type(rows) is int else None
            if state in ("Failed", "Aborted"):
                raise BulkJobFailed(
                    f"{self.context}: Bulk API 2.0 job {job_id} ended {state}: {info.get('errorMessage', 'no error message')}"
                )
            if time.monotonic() - started > MAX_JOB_SECONDS:
                break
        self._abort(job_id)  # still running: stop it costing the org
        raise BulkJobFailed(
            f"{self.context}: Bulk API 2.0 job {job_id} did not complete in {MAX_JOB_SECONDS}s"
        )

    def _abort(self, job_id: str) -> None:
        try:
            self.client.call(
                "PATCH",
                f"/jobs/query/{job_id}",
                json={"state": "Aborted"},
                context=self.context,
                read=lambda r: None,
            )
            self.logger.info("%s: aborted Bulk API 2.0 job %s", self.context, job_id)
        except Exception as error:
            self.logger.warning(
                "%s: could not abort Bulk API 2.0 job %s: %s", self.context, job_id, error
            )

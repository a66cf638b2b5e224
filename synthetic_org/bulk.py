"""Bulk API 2.0 query jobs: create, poll (UploadComplete -> InProgress -> JobComplete | Failed),
results paged by Sforce-Locator as CSV, abort and delete."""

from __future__ import annotations

import base64
import datetime as dt
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pyarrow.compute as pc

from .bulk_quota import DailyJobQuota
from .data.org import SyntheticOrg
from .errors import SalesforceError, sf_datetime
from .faults import Faults
from .metadata import ObjectSpec
from .rules import check_parent_filter
from .soql.engine import Engine, QueryResult, invalid_type
from .soql.parser import Query, SoqlError, parse
from .soql.render import bulk_unsupported_reason, csv_page

DEFAULT_MAX_RECORDS = 100_000
# Bulk API 2.0 splits a large query into primary-key chunks, unless it has ORDER BY (or LIMIT):
# then it runs as one query, and on a large object that exceeds the 2-minute limit and the job
# fails with QUERY_TIMEOUT ("Understanding Bulk API 2.0 Query", "How Bulk Queries Are Processed").
ORDER_BY_MAX_ROWS = 500_000
INTERNAL_ERROR = "InternalServerError : Internal error processing the query; retry the job"
QUERY_TIMEOUT = "QUERY_TIMEOUT : Your query request was running for too long."


@dataclass
class BulkJob:
    id: str
    operation: str
    query: str
    object_name: str
    created: str
    version: str
    result: QueryResult | None = None
    state: str = "UploadComplete"
    polls: int = 0
    fails: bool = False
    error_message: str | None = None
    failure: str = INTERNAL_ERROR  # the errorMessage a failing job ends with
    started: float = field(default_factory=time.monotonic)


def unordered(result: QueryResult, seed: str) -> QueryResult:
    """The rows in a seeded shuffled order, as a query without ORDER BY comes back from Bulk.

    Salesforce splits such a job into primary-key chunks processed in parallel and returns the
    chunks' results in whatever order they finish ("How Bulk Queries Are Processed"): nothing
    promises key order. Shuffling every row (a superset of shuffled chunks) keeps a client from
    relying on an order the real API does not give; the same rows of one object shuffle the same
    way, so a failure reproduces.
    """
    rows = result.table.num_rows
    if rows < 2:
        return result
    noise = pc.random(rows, initializer=zlib.crc32(seed.encode()))
    return replace(result, table=result.table.take(pc.sort_indices(noise)))


class BulkJobs:
    """The org's Bulk API 2.0 query jobs, kept until deleted."""

    def __init__(
        self,
        data: SyntheticOrg,
        engine: Engine,
        find_object: Callable[[str], ObjectSpec | None],
        faults: Faults,
        check_query_timeout: Callable[[Query], None],
        new_id: Callable[[str], str],
        bulk_job_seconds: float = 0.0,
        order_by_max_rows: int = ORDER_BY_MAX_ROWS,
        quota: DailyJobQuota | None = None,
    ) -> None:
        self.data = data
        self.engine = engine
        self.find_object = find_object
        self.faults = faults
        self.check_query_timeout = check_query_timeout
        self.new_id = new_id
        self.bulk_job_seconds = bulk_job_seconds
        self.order_by_max_rows = order_by_max_rows
        # Query jobs per rolling 24 hours (``/limits`` DailyBulkV2QueryJobs).
        self.quota = quota or DailyJobQuota()
        self.jobs: dict[str, BulkJob] = {}

    def create_job(self, body: dict, version: str) -> dict:
        # The daily allocation is checked first: the documented refusal names no query problem.
        stamp = self.quota.reserve()
        try:
            return self._create_job(body, version)
        except SalesforceError:
            self.quota.release(stamp)  # refused: no job was created
            raise

    def _create_job(self, body: dict, version: str) -> dict:
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise SalesforceError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        if body.get("contentType", "CSV") != "CSV":
            raise SalesforceError(
                400, "INVALIDJOB", "InvalidJob : Only CSV content type is supported"
            )
        soql = body.get("query") or ""
        try:
            query = parse(soql)
            obj = self.find_object(query.object_name)
            if obj is None or not obj.queryable:
                raise invalid_type(query.object_name)
            if not obj.bulk_supported:
                raise SalesforceError(
                    400, "INVALIDENTITY", f"Entity '{obj.name}' is not supported by the Bulk API."
                )
            if query.is_count:
                raise SalesforceError(
                    400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0"
                )
            check_parent_filter(obj, query)
            self.check_query_timeout(query)
            result = self.engine.execute(query, include_deleted=operation == "queryAll")
        except SoqlError as error:
            raise SalesforceError(400, error.error_code, error.message) from error
        reason = bulk_unsupported_reason(result)
        if reason:
            raise SalesforceError(400, "API_ERROR", reason)
        if not query.order_by:
            # Seeded by object, not query text: two runs whose windows differ only in their end
            # (the run's start) get their rows in the same order.
            result = unordered(result, f"{self.data.seed}:{operation}:{obj.name}")
        job = BulkJob(
            id=self.new_id("750"),
            operation=operation,
            query=soql,
            object_name=obj.name,
            created=sf_datetime(dt.datetime.now(dt.timezone.utc)),
            version=version,
            result=result,
            fails=self.faults.take_failed_job(),
        )
        if query.order_by and self.data.table(obj.name).num_rows > self.order_by_max_rows:
            # Unchunked on a large object: the job is accepted, then times out while it runs.
            self.faults.record("QUERY_TIMEOUT")
            job.fails, job.failure = True, QUERY_TIMEOUT
        self.jobs[job.id] = job
        return self.job_info(job)

    def job_info(self, job: BulkJob) -> dict:
        info = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object_name,
            "createdById": self.data.user_id(0),
            "createdDate": job.created,
            "systemModstamp": job.created,
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if job.state in ("JobComplete", "Failed", "Aborted"):
            info["numberRecordsProcessed"] = (
                job.result.total_size if job.state == "JobComplete" and job.result else 0
            )
            info["retries"] = 0
            info["totalProcessingTime"] = 42
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info

    def poll_job(self, job_id: str) -> dict:
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            running = time.monotonic() - job.started < self.bulk_job_seconds
            if job.polls <= self.faults.slow_polls or job.state == "UploadComplete" or running:
                job.state = "InProgress"
            elif job.fails:
                job.state = "Failed"
                job.error_message = job.failure
                job.result = None
            else:
                job.state = "JobComplete"
        return self.job_info(job)

    def _job(self, job_id: str) -> BulkJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def job_results(
        self, job_id: str, locator: str | None, max_records: str | None
    ) -> tuple[bytes, str, int]:
        job = self._job(job_id)
        if job.state != "JobComplete" or job.result is None:
            raise SalesforceError(
                400,
                "INVALIDJOBSTATE",
                f"InvalidJobState : Job {job_id} is in state {job.state}, results are available only for JobComplete jobs",
            )
        try:
            # A locator is the offset, base64; after a colon, what the endless_locator fault adds.
            offset = (
                int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode().split(":")[0])
                if locator
                else 0
            )
            page_size = int(max_records) if max_records else DEFAULT_MAX_RECORDS
        except ValueError as error:
            raise SalesforceError(400, "INVALIDLOCATOR", f"InvalidLocator : {locator}") from error
        if page_size <= 0 or offset < 0 or offset > job.result.total_size:
            raise SalesforceError(400, "INVALIDLOCATOR", f"InvalidLocator : {locator}")
        stop = min(offset + page_size, job.result.total_size)
        next_locator = (
            base64.b64encode(str(stop).encode()).decode().rstrip("=")
            if stop < job.result.total_size
            else "null"
        )
        if self.faults.repeats_locator(job.object_name):
            # A broken cursor: this page names itself as the next one, for ever.
            next_locator = base64.b64encode(str(offset).encode()).decode().rstrip("=")
        elif self.faults.endless(job.object_name):
            # No progress under fresh names: a new locator to these rows again.
            fresh = f"{offset}:{self.new_id('750')}"
            next_locator = base64.b64encode(fresh.encode()).decode().rstrip("=")
        return csv_page(job.result, offset, stop), next_locator, stop - offset

    def abort_job(self, job_id: str, body: dict) -> dict:
        job = self._job(job_id)
        if body.get("state") != "Aborted":
            raise SalesforceError(
                400, "INVALIDJOBSTATE", "InvalidJobState : only Aborted can be set on a query job"
            )
        if job.state in ("JobComplete", "Failed"):
            raise SalesforceError(
                400, "INVALIDJOBSTATE", f"InvalidJobState : Job {job_id} is already {job.state}"
            )
        job.state = "Aborted"
        job.result = None
        return self.job_info(job)

    def delete_job(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.state in ("UploadComplete", "InProgress"):
            raise SalesforceError(
                400, "INVALIDJOBSTATE", "InvalidJobState : abort the job before deleting it"
            )
        del self.jobs[job_id]

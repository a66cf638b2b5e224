"""One HTTP session to Salesforce: retries with backoff, session refresh, API-usage tracking.

Every call goes through ``SalesforceClient.call``. What a failure means is decided by
``errors.classify``; this module only acts on the verdict (sleep and retry, log in again, raise).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

import requests
from typing_extensions import Unpack

from ..config.settings import Settings
from ..errors import (
    Action,
    AnswerTooLarge,
    BulkNotSupported,
    QueryTimeout,
    QuotaReached,
    SalesforceApiError,
    classify,
)
from ..run.baton import Baton
from .auth import Authenticator, Session
from .http_bounds import (
    MAX_ANSWER_BYTES,
    BoundedAdapter,
    BoundedSession,
    DeadlineExceeded,
    deadline,
    preload,
    read_capped,
)

T = TypeVar("T")


class SendOptions(TypedDict, total=False):
    """What ``SalesforceClient`` hands on to ``requests`` as given."""

    params: Mapping[str, str | int]
    json: Mapping[str, str]
    stream: bool


class RequestOptions(SendOptions, total=False):
    """What a caller of ``SalesforceClient.call`` may pass: headers are added to the bearer's."""

    headers: Mapping[str, str]


# Whose work a call is (a stream's name): the run summary counts API calls per stream even when
# a stream's queries are opened ahead on another thread.
owner: contextvars.ContextVar[str] = contextvars.ContextVar("owner", default="")
MAX_BACKOFF_SECONDS = 60.0
# A session refused again right after this call's own re-login is refused for a reason a
# login does not cure: after two, the refusal is the call's error.
MAX_LOGINS_PER_CALL = 2
# Streams side by side: a call sent with a token that another thread's call has meanwhile
# replaced is sent again with the new one, without counting as this call's own re-login.
MAX_REPLACED_SESSIONS = 4
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass
class ApiUsage:
    """The org's daily API usage as last reported by ``Sforce-Limit-Info``."""

    used: int = 0
    limit: int = 0
    calls: int = 0
    retries: int = 0
    refreshes: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    calls_by_owner: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    def describe(self) -> str:
        return f"{self.used}/{self.limit} ({self.percent:.1f}%)" if self.limit else "unknown"


class SalesforceClient:
    """One instance per tap run, shared by the threads that describe and sync streams.

    Thread safety: the session is created and refreshed under ``_lock`` (a refresh replaces only
    the session that failed, so threads that saw the same expiry log in once); usage counters
    are updated under ``_count_lock``; requests' connection pool is thread-safe and sized for
    ``max_concurrency`` streams plus each Bulk reader's page thread.
    """

    def __init__(
        self, settings: Settings, logger: logging.Logger, http: requests.Session | None = None
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.http = http or _pooled_session(settings)
        self.http.headers["User-Agent"] = "tap-salesforce-temporal"
        self.auth = Authenticator(settings, self.http)
        self.usage = ApiUsage()
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep
        # Streams syncing side by side hand it over while they wait for an answer (``call``).
        self.baton = Baton()

    # -- session --
    @property
    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                self._session = self.auth.login()
            return self._session

    def _refresh(self, stale: Session) -> bool:
        """Log in again unless another thread already replaced ``stale``; True if this did."""
        with self._lock:
            if self._session is stale:
                self._session = self.auth.login()
                self.usage.refreshes += 1
                return True
            return False

    @property
    def api_base(self) -> str:
        return f"{self.session.instance_url}/services/data/v{self.settings.api_version}"

    def url(self, path: str) -> str:
        """``/services/...`` paths (nextRecordsUrl) are taken as-is; others hang off the API base."""
        if path.startswith("/services/"):
            return f"{self.session.instance_url}{path}"
        return f"{self.api_base}{path}"

    # -- calls --
    def call(
        self,
        method: str,
        path: str,
        *,
        context: str,
        read: Callable[[requests.Response], T],
        **kwargs: Unpack[RequestOptions],
    ) -> T:
        """Send a request and ``read`` its body, retrying the whole exchange on transient failures.

        ``read`` runs inside the retry loop, so a connection dropped while a page is being
        downloaded retries that page instead of surfacing half of it. The whole exchange,
        retries and their backoff included, runs with the baton handed over: other streams
        work while this one waits.
        """
        with self.baton.released():
            return self._call(method, path, context=context, read=read, **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        *,
        context: str,
        read: Callable[[requests.Response], T],
        headers: Mapping[str, str] | None = None,
        **kwargs: Unpack[SendOptions],
    ) -> T:
        extra_headers = dict(headers or {})
        streamed = bool(kwargs.get("stream"))
        logins = 0  # this call's own re-logins: a login whose token keeps being refused fails
        replaced = 0  # answers refused with a token another thread had already replaced
        attempt = 0
        while True:
            session = self.session
            headers = {**extra_headers, "Authorization": f"Bearer {session.access_token}"}
            # One deadline for the whole exchange, the body and ``read`` included: a per-read
            # timeout never ends an answer that trickles in a byte at a time.
            with deadline(self.settings.request_timeout) as current:
                try:
                    # The bearer token must not follow a redirect to another host.
                    response = self.http.request(
                        method,
                        self.url(path),
                        headers=headers,
                        timeout=self.settings.request_timeout,
                        allow_redirects=False,
                        **kwargs,
                    )
                    if streamed and response.status_code >= 400:
                        preload(response, MAX_ANSWER_BYTES)  # an error's body, for classify
                    self._track_usage(response)
                    verdict = classify(response.status_code, _json_or_none(response))
                    if verdict.action is Action.OK:
                        return read(response)
                except AnswerTooLarge as error:
                    raise AnswerTooLarge(error.limit, context) from None
                except (
                    requests.ConnectionError,
                    requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                ) as error:
                    reason = fault = type(error).__name__
                    if isinstance(error, DeadlineExceeded) or current.expired:
                        # Retried like a timeout: a slow answer may be a slow moment.
                        reason = (
                            f"no complete answer within request_timeout="
                            f"{self.settings.request_timeout}s"
                        )
                        fault = "DEADLINE_EXCEEDED"
                except UnreadableBody as error:
                    # A proxy's HTML page or a body cut short under a 200: transient, like a drop.
                    reason, fault = f"{response.status_code} {error}", "UNREADABLE_BODY"
                else:
                    reason = f"{response.status_code} {verdict.error_code}"
                    fault = verdict.error_code
                    if (
                        verdict.action is Action.REFRESH_SESSION
                        and logins < MAX_LOGINS_PER_CALL
                        and replaced < MAX_REPLACED_SESSIONS
                    ):
                        self.logger.info(
                            "%s: session expired (%s); logging in again",
                            context,
                            verdict.error_code,
                        )
                        self._count_fault(verdict.error_code)
                        if self._refresh(session):
                            logins += 1
                        else:
                            replaced += 1
                        continue
                    if verdict.action is Action.QUERY_TIMEOUT:
                        raise QueryTimeout(
                            response.status_code,
                            verdict.error_code,
                            verdict.message,
                            context=context,
                        )
                    if verdict.action is Action.BULK_UNSUPPORTED:
                        raise BulkNotSupported(
                            response.status_code,
                            verdict.error_code,
                            verdict.message,
                            context=context,
                        )
                    if verdict.action is not Action.RETRY:
                        raise SalesforceApiError(
                            response.status_code,
                            verdict.error_code,
                            verdict.message,
                            context=context,
                        )
            self._count_fault(fault)
            attempt += 1
            if attempt > self.settings.max_retries:
                raise SalesforceApiError(
                    0,
                    "RETRIES_EXHAUSTED",
                    f"gave up after {self.settings.max_retries} retries; last failure: {reason}",
                    context=context,
                )
            delay = min(
                MAX_BACKOFF_SECONDS, self.settings.retry_backoff_seconds * 2 ** (attempt - 1)
            )
            delay *= random.uniform(0.5, 1.0)
            with self._count_lock:
                self.usage.retries += 1
            self.logger.warning(
                "%s: %s; retry %d/%d in %.1fs",
                context,
                reason,
                attempt,
                self.settings.max_retries,
                delay,
            )
            self._sleep(delay)

    def get_json(self, path: str, *, context: str, **kwargs: Unpack[RequestOptions]) -> dict:
        return self.call("GET", path, context=context, read=json_object, **kwargs)

    def _count_fault(self, name: str) -> None:
        with self._count_lock:
            self.usage.faults[name] = self.usage.faults.get(name, 0) + 1

    def _track_usage(self, response: requests.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        with self._count_lock:
            usage = self.usage
            usage.calls += 1
            who = owner.get()
            usage.calls_by_owner[who] = usage.calls_by_owner.get(who, 0) + 1
            if match:
                used = int(match[1])
                # Answers arrive out of order across threads: usage only grows within a day.
                usage.used, usage.limit = max(used, usage.used), int(match[2])

    def calls_of(self, who: str) -> int:
        with self._count_lock:
            return self.usage.calls_by_owner.get(who, 0)

    def crossed_guard(self) -> str | None:
        """The quota setting this run has reached (``name=value``), or None.

        ``max_api_usage_percent`` counts the org's usage by every client (Sforce-Limit-Info's
        used/limit); ``quota_percent_per_run`` counts this run's own calls against the same
        daily limit, as singer-io's tap-salesforce counts its requests attempted, so a run
        leaves the rest of the day's allocation to the org's other integrations.
        """
        usage, settings = self.usage, self.settings
        if not usage.limit:
            return None
        if usage.percent >= settings.max_api_usage_percent:
            return f"max_api_usage_percent={settings.max_api_usage_percent:g}"
        per_run = settings.quota_percent_per_run
        if per_run is not None and 100.0 * usage.calls / usage.limit >= per_run:
            return f"quota_percent_per_run={per_run:g}"
        return None

    def quota_reached(self) -> bool:
        return self.crossed_guard() is not None

    def check_quota(self) -> None:
        """Raise ``QuotaReached`` once usage crosses ``max_api_usage_percent`` or this run's
        calls cross ``quota_percent_per_run``."""
        guard = self.crossed_guard()
        if guard is None:
            return
        if guard.startswith("max_api_usage_percent"):
            used = f"API usage {self.usage.describe()}"
        else:
            used = (
                f"this run's {self.usage.calls} API calls (of the org's daily {self.usage.limit})"
            )
        raise QuotaReached(
            f"{used} reached {guard}; stopping cleanly, the next run resumes from STATE"
        )


def _pooled_session(settings: Settings) -> requests.Session:
    """A session whose connection pool holds a connection per concurrent request: the streams
    (``max_concurrency``), each Bulk reader's page thread and discovery's describes."""
    session = BoundedSession(settings.request_timeout)
    size = max(10, settings.max_concurrency * 2, settings.max_workers) + 2
    adapter = BoundedAdapter(pool_connections=4, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def in_context(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` run in a copy of the caller's context (its ``owner``), on any thread."""
    context = contextvars.copy_context()

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> T:
        return context.run(function, *args, **kwargs)

    return run


def whole_body(response: requests.Response, limit: int) -> bytes:
    """The body of a ``stream=True`` response, read in large chunks (``Response.content``
    reads 10 KB at a time, a real cost on the Bulk page thread) and refused past ``limit``
    decompressed bytes. A body cut short raises what ``.content`` raises, so ``call`` retries
    the page."""
    return read_capped(response, limit)


class UnreadableBody(Exception):
    """A success answer whose body is not what the API sends (HTML, JSON cut short)."""


def json_object(response: requests.Response, **options: Any) -> dict:
    """The JSON object of a success answer; anything else is retried by ``call``."""
    try:
        body = response.json(**options)
    except ValueError:
        raise UnreadableBody("answer is not JSON") from None
    if not isinstance(body, dict):
        raise UnreadableBody("answer is not a JSON object")
    return body


def _json_or_none(response: requests.Response) -> object:
    if response.status_code < 400:
        return None
    try:
        return response.json()
    except ValueError:
        return None

"""Typed errors, and the one place that decides what a Salesforce failure means.

``classify`` maps an HTTP status and Salesforce ``errorCode`` to an action (retry, refresh the
session, stop for the quota, fall back to REST, or fail). It never sleeps: backoff lives in the client.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass


class TapError(Exception):
    """An error a user can act on; the CLI prints its message as one line and exits non-zero."""


class SettingError(TapError):
    """A setting is wrong: the message names it and never shows a secret value."""


class LoginError(TapError):
    """Salesforce refused the credentials of an auth flow."""


class SalesforceApiError(TapError):
    """A Salesforce API call failed for good (after retries, or with a non-retriable error)."""

    def __init__(self, status: int, error_code: str, message: str, *, context: str = "") -> None:
        where = f"{context}: " if context else ""
        super().__init__(f"{where}Salesforce answered {status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.sf_message = message


class QueryTimeout(SalesforceApiError):
    """QUERY_TIMEOUT: the caller narrows its date window and tries again."""


class BulkNotSupported(SalesforceApiError):
    """The object or a selected field cannot be read through Bulk API 2.0: use REST."""


class BulkJobLimit(SalesforceApiError):
    """Creating a Bulk API 2.0 query job answered LIMIT_EXCEEDED: the org's rolling 24-hour
    allocation of query jobs (10,000, ``DailyBulkV2QueryJobs`` in ``/limits``) is used up. REST
    queries still answer, so the run reads over REST instead."""


class BulkJobFailed(TapError):
    """A Bulk API 2.0 query job ended in state Failed or Aborted."""


class AnswerTooLarge(TapError):
    """An answer larger than any page Salesforce sends (a decompression bomb, an endless body):
    not retried, since asking again brings the same answer."""

    def __init__(self, limit: int, context: str = "") -> None:
        self.limit = limit
        where = f"{context}: " if context else ""
        super().__init__(
            f"{where}answer exceeds {limit // (1024 * 1024)} MiB (decompressed), more than any page "
            "Salesforce sends; stopped without reading the rest"
        )


class BrokenPaging(TapError):
    """Paging that does not progress (a locator answered again, more rows than announced) or a
    page of the wrong shape: paging on would repeat rows for ever or misread them."""


class Cancelled(TapError):
    """Work the run no longer needs: another stream failed, or the run was interrupted."""


class Interrupted(TapError):
    """SIGINT or SIGTERM (Ctrl-C, an orchestrator cancelling the run): the run stops part-way
    and exits 128 + the signal's number, never 0 (the SDK's own handler exits 0: "done")."""

    def __init__(self, signum: int) -> None:
        self.exit_code = 128 + signum
        super().__init__(
            f"interrupted by {signal.Signals(signum).name}: the streams in flight stopped; each "
            "STATE written covers only records written before it, so the next run resumes "
            "from the last one"
        )


class QuotaReached(TapError):
    """API usage reached ``max_api_usage_percent``: stop cleanly and resume from STATE later."""


class Action(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    REFRESH_SESSION = "refresh_session"
    QUERY_TIMEOUT = "query_timeout"
    BULK_UNSUPPORTED = "bulk_unsupported"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    action: Action
    error_code: str = ""
    message: str = ""


# Transient by nature: Salesforce asks clients to come back later for these.
_RETRIABLE_CODES = frozenset(
    {"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "API_CURRENTLY_DISABLED"}
)
_BULK_UNSUPPORTED_HINTS = (
    "is not supported by the Bulk API",
    "compound data not supported in Bulk Query",
    "base64 fields not supported in Bulk Query",
)


def parse_error_body(body: object) -> tuple[str, str]:
    """(errorCode, message) from Salesforce's ``[{"errorCode", "message"}]`` or OAuth shapes."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    if isinstance(body, dict):
        if "errorCode" in body:
            return str(body["errorCode"]), str(body.get("message", ""))
        if "error" in body:
            return str(body["error"]), str(body.get("error_description", ""))
    return "", ""


def classify(status: int, body: object) -> Verdict:
    """Decide what to do with a response; ``body`` is its parsed JSON (or None)."""
    if 300 <= status < 400:
        # Redirects are never followed with the session token (see SalesforceClient.call).
        return Verdict(Action.FAIL, f"HTTP_{status}", "redirect not followed; check instance_url")
    if status < 400:
        return Verdict(Action.OK)
    code, message = parse_error_body(body)
    if status == 401 or code == "INVALID_SESSION_ID":
        return Verdict(Action.REFRESH_SESSION, code or "INVALID_SESSION_ID", message)
    if code == "QUERY_TIMEOUT":
        return Verdict(Action.QUERY_TIMEOUT, code, message)
    if code in _RETRIABLE_CODES or status >= 500 or status == 429:
        return Verdict(Action.RETRY, code or f"HTTP_{status}", message)
    if any(hint in message for hint in _BULK_UNSUPPORTED_HINTS):
        return Verdict(Action.BULK_UNSUPPORTED, code, message)
    return Verdict(Action.FAIL, code or f"HTTP_{status}", message)

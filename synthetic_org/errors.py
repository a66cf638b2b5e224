"""API errors in Salesforce's JSON-list shape, and the datetime format its JSON answers use."""

from __future__ import annotations

import datetime as dt


class SalesforceError(Exception):
    """An API error in Salesforce's JSON-list shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = [{"message": message, "errorCode": error_code}]


def sf_datetime(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

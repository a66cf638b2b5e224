"""REST query/queryAll with nextRecordsUrl paging; each page is read whole, then typed."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

from ..client import SalesforceClient, json_object
from .soql import Select

PAGE_SIZE = 2000


def count(client: SalesforceClient, select: Select, *, all_rows: bool, context: str) -> int:
    body = client.get_json(
        _resource(all_rows), params={"q": select.count().soql()}, context=context
    )
    return int(body["totalSize"])


HEADERS = {"Sforce-Query-Options": f"batchSize={PAGE_SIZE}"}


def first_page(client: SalesforceClient, soql: str, *, all_rows: bool, context: str) -> dict:
    """The query's first page (its body, ``nextRecordsUrl`` included)."""
    return _get_exact(
        client, _resource(all_rows), params={"q": soql}, headers=HEADERS, context=context
    )


def pages(
    client: SalesforceClient,
    soql: str,
    *,
    all_rows: bool,
    context: str,
    first: dict | None = None,
) -> Iterator[list[dict]]:
    """Yield the ``records`` of each page; a page that fails mid-download is fetched again.

    ``first``: the first page already fetched (by the read-ahead)."""
    headers = HEADERS
    body = (
        first if first is not None else first_page(client, soql, all_rows=all_rows, context=context)
    )
    yield body["records"]
    while not body.get("done", True):
        body = _get_exact(client, body["nextRecordsUrl"], headers=headers, context=context)
        yield body["records"]


def _get_exact(client: SalesforceClient, path: str, *, context: str, **kwargs: object) -> dict:
    """A query page with JSON fractions read as Decimals: a currency(18, 2) value has more digits
    than a float keeps. The shaper turns plain double fields back into floats."""
    return client.call(
        "GET",
        path,
        context=context,
        read=lambda r: json_object(r, parse_float=decimal.Decimal),
        **kwargs,
    )


def _resource(all_rows: bool) -> str:
    return "/queryAll" if all_rows else "/query"

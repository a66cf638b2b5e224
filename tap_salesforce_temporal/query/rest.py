"""REST query/queryAll with nextRecordsUrl paging; each page is read whole, then typed."""

from __future__ import annotations

from collections.abc import Iterator

from ..client import SalesforceClient
from .soql import Select

PAGE_SIZE = 2000


def count(client: SalesforceClient, select: Select, *, all_rows: bool, context: str) -> int:
    body = client.get_json(
        _resource(all_rows), params={"q": select.count().soql()}, context=context
    )
    return int(body["totalSize"])


def pages(
    client: SalesforceClient, soql: str, *, all_rows: bool, context: str
) -> Iterator[list[dict]]:
    """Yield the ``records`` of each page; a page that fails mid-download is fetched again."""
    headers = {"Sforce-Query-Options": f"batchSize={PAGE_SIZE}"}
    body = client.get_json(
        _resource(all_rows), params={"q": soql}, headers=headers, context=context
    )
    yield body["records"]
    while not body.get("done", True):
        body = client.get_json(body["nextRecordsUrl"], headers=headers, context=context)
        yield body["records"]


def _resource(all_rows: bool) -> str:
    return "/queryAll" if all_rows else "/query"

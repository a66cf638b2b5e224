"""REST query/queryAll with nextRecordsUrl paging; each page is read whole, then typed."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import msgspec
import requests
from typing_extensions import Unpack

from ..connection.client import RequestOptions, SalesforceClient, json_object
from ..errors import BrokenPaging
from .soql import Select

PAGE_SIZE = 2000
# JSON fractions as Decimals, like ``parse_float=decimal.Decimal`` (the hook gets the literal's text).
_EXACT = msgspec.json.Decoder(float_hook=decimal.Decimal)


def count(client: SalesforceClient, select: Select, *, all_rows: bool, context: str) -> int:
    body = client.get_json(
        _resource(all_rows), params={"q": select.count().soql()}, context=context
    )
    total = body.get("totalSize")
    if type(total) is not int:
        raise BrokenPaging(
            f"{context}: Salesforce answered a COUNT() whose 'totalSize' is {_json_type(total)}, "
            "not an integer; stopped"
        )
    return total


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

    Pages are fetched one after another: a stream waits for its next page while the streams
    beside it work (``scheduler``). Fetching the next page ahead on a helper thread, as Bulk
    reads do, was measured: no gain at 8 streams side by side, and a page more held per
    stream. ``first``: the first page, already fetched."""
    body = (
        first if first is not None else first_page(client, soql, all_rows=all_rows, context=context)
    )
    records = checked_records(body, context)
    total, rows = body["totalSize"], len(records)
    fetched: set[str] = set()
    yield records
    while not body["done"]:
        # Salesforce's cursors only move forward and a query never returns more rows than its
        # totalSize: a page naming a locator already fetched (itself, typically) or rows past
        # totalSize would page the same rows for ever. Such a page is refused before it is used.
        locator = body["nextRecordsUrl"]
        fetched.add(locator)
        body = _get_exact(client, locator, headers=HEADERS, context=context)
        records = checked_records(body, context)
        if not body["done"] and body["nextRecordsUrl"] in fetched:
            raise BrokenPaging(
                f"{context}: Salesforce answered the query locator {body['nextRecordsUrl'][-40:]} "
                "again (done: false); stopped instead of paging the same rows for ever"
            )
        rows += len(records)
        if rows > total:
            raise BrokenPaging(
                f"{context}: Salesforce's query pages hold more rows ({rows:,}) than its "
                f"totalSize ({total:,}); stopped instead of paging on"
            )
        yield records


def checked_records(body: dict, context: str) -> list[dict]:
    """A page's records once its members have the types the REST API documents; a page of
    another shape ends the read in one line naming the object (not retried: the same query
    answers the same way)."""

    def wrong(member: str, expected: str, value: object) -> BrokenPaging:
        return BrokenPaging(
            f"{context}: Salesforce answered a query page whose {member} is "
            f"{_json_type(value)}, not {expected}; stopped"
        )

    if type(body.get("totalSize")) is not int:
        raise wrong("'totalSize'", "an integer", body.get("totalSize"))
    if not isinstance(body.get("done"), bool):
        raise wrong("'done'", "a boolean", body.get("done"))
    if not body["done"] and not isinstance(body.get("nextRecordsUrl"), str):
        raise wrong("'nextRecordsUrl'", "a string", body.get("nextRecordsUrl"))
    records = body.get("records")
    if not isinstance(records, list):
        raise wrong("'records'", "an array", records)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise wrong(f"record {index}", "an object", record)
    return records


def _json_type(value: object) -> str:
    if value is None:
        return "null (or missing)"
    names = {bool: "a boolean", int: "an integer", str: "a string", list: "an array"}
    return names.get(type(value), "an object" if isinstance(value, dict) else "a number")


def _get_exact(
    client: SalesforceClient, path: str, *, context: str, **kwargs: Unpack[RequestOptions]
) -> dict:
    """A query page with JSON fractions read as Decimals: a currency(18, 2) value has more digits
    than a float keeps. The shaper turns plain double fields back into floats."""
    return client.call(
        "GET",
        path,
        context=context,
        read=exact_page,
        **kwargs,
    )


def exact_page(response: requests.Response) -> dict:
    """A page's JSON object, decoded from its UTF-8 bytes by msgspec's C decoder.

    requests' own ``json()`` (simplejson when installed) builds the same values several times
    slower. Anything msgspec refuses or another charset (a BOM, invalid UTF-8, lone surrogate
    escapes, NaN, a body that is not an object) is left to ``json_object``, which decides exactly
    as before: decoded, or ``UnreadableBody``.
    """
    if (response.encoding or "utf-8").lower().replace("-", "") == "utf8":
        try:
            body = _EXACT.decode(response.content)
        except msgspec.DecodeError:
            pass
        else:
            if isinstance(body, dict):
                return body
    return json_object(response, parse_float=decimal.Decimal)


def _resource(all_rows: bool) -> str:
    return "/queryAll" if all_rows else "/query"

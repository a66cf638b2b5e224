"""A page of rows as the reader hands it over, and the bookmark it allows.

REST pages and ordered Bulk jobs come sorted by (key, Id): after a page is written, its last row
is a safe bookmark. A Bulk job is read without ORDER BY (Salesforce documents that ORDER BY
disables PK chunking for Bulk API 2.0 queries and invites QUERY_TIMEOUT on large objects), so
its rows come in any order: the bookmark may move only once the whole job is written, and then
to the largest key the job returned. A kill part-way through re-reads the job's range, never
skips a row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from .values import format_datetime

if TYPE_CHECKING:
    from _typeshed import SupportsDunderLT

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Page:
    """Rows of one read: an Arrow table or a list of records.

    ``ordered``: sorted by (key, Id). ``last``: the last page of its query (a Bulk job fully read).
    """

    rows: Any
    ordered: bool = True
    last: bool = False

    def __len__(self) -> int:
        return len(self.rows)


def _plain(value: _T) -> _T | str:
    return format_datetime(value) if isinstance(value, dt.datetime) else value


def _column(rows: Any, name: str) -> list | pa.ChunkedArray | None:
    if isinstance(rows, pa.Table):
        return None if name not in rows.column_names else rows[name]
    return [r.get(name) for r in rows]


class BookmarkTracker:
    """What the bookmark may advance to once a page's rows are out (None: not yet)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        # The largest key value of the pages so far (datetimes as their ISO text).
        self._largest: SupportsDunderLT[Any] | None = None

    def after(self, page: Page) -> dict | None:
        key = self.key
        if not key:
            return None
        if page.ordered:
            if not len(page):
                return None
            if isinstance(page.rows, pa.Table):
                last = {
                    c: _plain(page.rows[c][-1].as_py())
                    for c in (key, "Id")
                    if c in page.rows.column_names
                }
            else:
                last = {c: page.rows[-1].get(c) for c in (key, "Id")}
            return last
        column = _column(page.rows, key)
        if column is not None and len(page):
            if isinstance(column, list):
                present = [v for v in column if v is not None]
                largest = _plain(max(present)) if present else None
            else:
                largest = _plain(pc.max(column).as_py())
            if largest is not None and (self._largest is None or self._largest < largest):
                self._largest = largest
        if not page.last or self._largest is None:
            return None
        bookmark, self._largest = {key: self._largest}, None
        return bookmark

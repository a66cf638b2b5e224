"""A page of rows as the reader hands it over, and the bookmark it allows.

REST pages and ordered Bulk jobs come sorted by (key, Id): after a page is written, its last row
is a safe bookmark. A Bulk job is read without ORDER BY (Salesforce documents that ORDER BY
disables PK chunking for Bulk API 2.0 queries and invites QUERY_TIMEOUT on large objects), so
its rows come in any order: the bookmark may move only once the whole job is written, and then
to the largest key the job returned. A kill part-way through re-reads the job's range, never
skips a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from _typeshed import SupportsDunderLT


@dataclass(frozen=True, slots=True)
class Page:
    """Rows of one read as one Arrow table in record form (``RecordShaper.csv_table`` and
    ``rest_table``: booleans, numbers and exact decimals typed, datetimes and dates as their
    canonical text, compound fields as their component columns), whichever API read them.

    ``ordered``: sorted by (key, Id). ``last``: the last page of its query (a Bulk job fully
    read). ``tombstones``: rows the tap built from getDeleted (Id, IsDeleted, the key and
    ``_sdc_deleted_at``), not the query's columns: a batch file holds them as they are.
    ``refresh``: rows re-read outside the window (``formula_fields: refresh``): written as any
    row, they never move the bookmark.
    """

    rows: pa.Table
    ordered: bool = True
    last: bool = False
    tombstones: bool = False
    refresh: bool = False

    def __len__(self) -> int:
        return self.rows.num_rows


class BookmarkTracker:
    """What the bookmark may advance to once a page's rows are out (None: not yet)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        # The largest key value of the pages so far (datetimes are canonical text: they sort).
        self._largest: SupportsDunderLT[Any] | None = None

    def after(self, page: Page) -> dict | None:
        key = self.key
        if not key:
            return None
        rows = page.rows
        if page.ordered:
            if not len(page):
                return None
            return {c: rows[c][-1].as_py() for c in (key, "Id") if c in rows.column_names}
        if key in rows.column_names and len(page):
            largest = pc.max(rows[key]).as_py()
            if largest is not None and (self._largest is None or self._largest < largest):
                self._largest = largest
        if not page.last or self._largest is None:
            return None
        bookmark, self._largest = {key: self._largest}, None
        return bookmark

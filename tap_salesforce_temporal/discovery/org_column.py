"""``_sdc_org_id``: the org's id on every row, so many orgs can share one lake (issue #29).

Off by default (setting ``org_id_column``): a single-org user's schemas, rows and keys stay as
they were. On, every stream's schema gains the column, its key becomes ``["_sdc_org_id", ...]``
(a target's mirror keys rows per org: two orgs' records may share an Id, a sandbox copy of
production does) and every row carries the id of the org the login reached: the 18-character
id in the token response's identity URL (``.../id/<orgId>/<userId>``), never a setting that
could name the wrong org.

Rows get it where they are written, once per page as a constant Arrow column on the page
paths, once per record on the record paths (``StreamHooks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

ORG_ID_COLUMN = "_sdc_org_id"
ORG_ID_PROPERTY = {"type": ["string"], "description": "The 18-character id of the row's org."}


@dataclass(frozen=True)
class OrgStamp:
    """The org id of this run's login (read once, at discovery: a run reaches one org)."""

    org_id: str

    def keys(self, keys: Sequence[str]) -> list[str]:
        """``keys`` per org: the column first, once."""
        return [ORG_ID_COLUMN, *(k for k in keys if k != ORG_ID_COLUMN)]

    def schema(self, schema: dict) -> dict:
        """A copy of ``schema`` with the column (the input may be a shared constant)."""
        properties = {**schema.get("properties", {}), ORG_ID_COLUMN: dict(ORG_ID_PROPERTY)}
        return {**schema, "properties": properties}

    def record(self, record: dict) -> dict:
        """``record`` with the column (in place: the record is about to be written)."""
        record[ORG_ID_COLUMN] = self.org_id
        return record

    def table(self, table: pa.Table) -> pa.Table:
        """``table`` with the column appended (or replaced): one constant array per page."""
        column = pa.repeat(pa.scalar(self.org_id, pa.string()), table.num_rows)
        if ORG_ID_COLUMN in table.column_names:
            return table.set_column(table.column_names.index(ORG_ID_COLUMN), ORG_ID_COLUMN, column)
        return table.append_column(ORG_ID_COLUMN, column)

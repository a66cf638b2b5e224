"""FieldHistoryArchive (Field Audit Trail): the org's field history rows, as the archive keeps them.

Each row names the history's object in FieldHistoryType (``Account``, ``Opportunity``...) and its
record in ParentId; the table is stored in index order (FieldHistoryType, ParentId, CreatedDate).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..metadata import OBJECTS_BY_NAME
from .base import World
from .columns import mint_ids

# History object -> (FieldHistoryType, its parent reference field).
ARCHIVED = {
    "AccountHistory": ("Account", "AccountId"),
    "CaseHistory": ("Case", "CaseId"),
    "OpportunityFieldHistory": ("Opportunity", "OpportunityId"),
}


def archived_history(org: World) -> pa.Table:
    schema = OBJECTS_BY_NAME["fieldhistoryarchive"].arrow_schema()
    parts = []
    for history, (history_type, parent_field) in ARCHIVED.items():
        rows = org.table(history)
        parts.append(
            pa.table(
                {
                    "Id": rows["Id"],
                    "FieldHistoryType": pa.array([history_type] * rows.num_rows, pa.string()),
                    "ParentId": rows[parent_field],
                    "Field": rows["Field"],
                    "OldValue": rows["OldValue"],
                    "NewValue": rows["NewValue"],
                    "CreatedDate": rows["CreatedDate"],
                    "CreatedById": rows["CreatedById"],
                }
            )
            .select(schema.names)
            .cast(schema)
        )
    table = pa.concat_tables(parts)
    table = table.take(
        pc.sort_indices(
            table,
            [
                ("FieldHistoryType", "ascending"),
                ("ParentId", "ascending"),
                ("CreatedDate", "ascending"),
            ],
        )
    )
    ids = pa.array(mint_ids("0Fh", 1, table.num_rows), type=pa.string())
    return table.set_column(table.schema.get_field_index("Id"), "Id", ids)

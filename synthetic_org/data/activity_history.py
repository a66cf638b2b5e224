"""ActivityFieldHistory rows derived from the org's tasks: each completed task's Status change.

Derived, not simulated with the tasks, because the object exists only when the org turns the
feature on (``SandboxOrg(activity_field_history=True)``); the rows agree with the Task table.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..metadata import ACTIVITY_FIELD_HISTORY
from .base import World
from .columns import TableBuilder


def activity_field_history(org: World) -> pa.Table:
    """One UPDATE row per completed task: Status from "In Progress" to "Completed", by its owner."""
    tasks = org.table("Task")
    done = tasks.filter(pc.is_valid(tasks["CompletedDateTime"]))
    builder = TableBuilder(ACTIVITY_FIELD_HISTORY)
    for row in done.select(["Id", "OwnerId", "CompletedDateTime"]).to_pylist():
        at = int(row["CompletedDateTime"].timestamp() * 1000)
        builder.add(
            ActivityId=row["Id"], ChangedById=row["OwnerId"], ChangedDate=at, FieldName="Status",
            DataType="Text", Operation="UPDATE", IsDataAvailable=True, OldValueText="In Progress",
            NewValueText="Completed", CreatedDate=at, CreatedById=row["OwnerId"], LastModifiedDate=at,
            LastModifiedById=row["OwnerId"], SystemModstamp=at,
        )  # fmt: skip
    return builder.to_table(assign_ids=True, sort_by="ChangedDate")

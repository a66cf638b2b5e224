"""A stream of an object readable only through its parent (``unsyncable.PARENT_FILTERED``).

Full table: the object is read whole each run (``query.by_parent``), so it has no replication
key and its STATE no bookmark; a run stopped part-way (the quota guard) reads it whole again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..discovery.schema import ObjectSchema
from ..query.by_parent import PARENT_BATCH, ParentBatchReader
from ..query.filters import object_filter
from ..query.reader import Plan
from ..run.runtime import Runtime
from .sobject import SObjectStream


class ParentFilteredStream(SObjectStream):
    def __init__(
        self, tap: Any, object_schema: ObjectSchema, runtime: Runtime, parent: str, field: str
    ) -> None:
        whole = dataclasses.replace(object_schema, replication_key=None)
        super().__init__(tap, whole, runtime)
        self.reader = ParentBatchReader(
            runtime,
            whole,
            self.logger,
            parent=parent,
            field=field,
            where=object_filter(runtime.settings, whole),
        )
        self.logger.info(
            "%s: read through %s (%s IN %d Ids a query, over REST), whole each run: its "
            "queries must name their parents, so no replication key can narrow them",
            self.name,
            parent,
            field,
            PARENT_BATCH,
        )

    def plan_read(self) -> Plan | None:
        """No COUNT ahead: an unfiltered COUNT() of this object is refused like its SELECT."""
        return None

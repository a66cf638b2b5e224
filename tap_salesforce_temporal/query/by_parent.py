"""Objects that answer only a query naming their parents, read a batch of parents at a time.

ContentDocumentLink refuses a query without ``ContentDocumentId`` (or ``LinkedEntityId``) ``=``
or ``IN`` (MALFORMED_QUERY "Implementation restriction: ContentDocumentLink requires a filter by
a single Id ..."), and a filter on any other field (its SystemModstamp too) is allowed only
beside ``LinkedEntityId = '...'``. So the object is read whole each run: the parent's Ids (one
read of its Id column, REST or Bulk as any read), then ``WHERE ContentDocumentId IN (200 Ids)``
per batch over REST, as Airbyte's source-salesforce reads it. A Bulk job per 200 parents would
spend the org's daily query jobs; a REST query costs one call per 2,000 rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from ..discovery.schema import FieldInfo, ObjectSchema
from ..errors import BrokenPaging
from ..run.runtime import Runtime, StreamStats
from .page import Page
from .reader import ObjectReader, ReadSpec
from .soql import identifier, string_literal

# Parents per query: Airbyte's batch; 200 18-character Ids keep the GET URL near 5,000 characters.
PARENT_BATCH = 200
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def id_only(name: str) -> ObjectSchema:
    """The schema of a read of ``name``'s Id column alone (no describe needed)."""
    return ObjectSchema(
        name=name,
        fields=(FieldInfo("Id", "id"),),
        skipped_fields=(),
        replication_key=None,
        has_is_deleted=False,
        replicateable=False,
    )


def in_ids(field: str, ids: list[str]) -> str:
    """``field IN ('a', 'b')`` (the Ids are checked record Ids: ``parent_batches``)."""
    return f"{identifier(field)} IN ({', '.join(string_literal(i) for i in ids)})"


class ParentBatchReader(ObjectReader):
    """An ``ObjectReader`` whose reads go through the parent: every row, whatever the spec's
    window (these objects cannot be filtered on a key), a batch of parents per REST query."""

    def __init__(
        self,
        runtime: Runtime,
        schema: ObjectSchema,
        logger: logging.Logger,
        *,
        parent: str,
        field: str,
        where: tuple[str, ...] = (),
    ) -> None:
        super().__init__(runtime, schema, logger, where=where, api_type="rest")
        self.field = field
        self.parents = ObjectReader(
            runtime, id_only(parent), logger, name=f"{schema.name} ({parent} Ids)"
        )

    def read_spec(self, spec: ReadSpec, stats: StreamStats) -> Iterator[Page]:
        """The rows of each batch of parents, the batches one after another (each in Id order)."""
        for ids in self.parent_batches(stats):
            batch = ReadSpec(
                spec.fields, None, None, key=None, where=(*spec.where, in_ids(self.field, ids))
            )
            yield from super().read_spec(batch, stats)

    def parent_batches(self, stats: StreamStats) -> Iterator[list[str]]:
        """The parent's Ids, ``PARENT_BATCH`` at a time, as its pages arrive (none held whole)."""
        batch: list[str] = []
        pages = self.parents.read_pages(["Id"], None, None, stats, key=None, ordered=False)
        for page in pages:
            for record_id in page.rows["Id"].to_pylist():
                if not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
                    raise BrokenPaging(
                        f"{self.parents.name}: Salesforce answered an Id that is not a record Id "
                        f"({str(record_id)[:40]!r}); stopped"
                    )
                batch.append(record_id)
                if len(batch) == PARENT_BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

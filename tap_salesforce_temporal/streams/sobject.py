"""The generic SObject stream: incremental by SystemModstamp > LastModifiedDate > CreatedDate.

Rows are read ordered by (replication key, Id) inside ``[start, end)`` where ``end`` is the run's
start (or ``end_date``), so the SDK can emit STATE while the stream runs and a killed run resumes
from its last STATE. Each incremental run re-reads ``lookback_window`` seconds before the bookmark:
Salesforce commits SystemModstamp late, and a row committed after the previous run read past its
timestamp would otherwise be lost. A QUERY_TIMEOUT halves the date window and tries again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel

from ..errors import QuotaReached, TapError
from ..query.reader import ObjectReader
from ..runtime import Runtime
from ..schema import ObjectSchema
from .base import IncrementalStream


class SObjectStream(IncrementalStream):
    """One Salesforce object as a Singer stream."""

    # Values are typed from the describe by RecordShaper; SDK conformance would turn "false" into True.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Any, object_schema: ObjectSchema, runtime: Runtime) -> None:
        self.object_schema = object_schema
        self.runtime = runtime
        super().__init__(tap=tap, schema=self.build_schema(), name=object_schema.name)
        self.primary_keys = ["Id"]
        self.replication_key = object_schema.replication_key
        self.reader = ObjectReader(runtime, object_schema, self.logger)

    def build_schema(self) -> dict:
        return self.object_schema.json_schema()

    # -- reading --
    def selected_fields(self) -> list[str]:
        """Selected columns plus what the stream needs (Id, the key, compound components)."""
        mask = self.mask
        required = {"Id", self.replication_key}
        fields = []
        compounds = {f.name: parts for f, parts in self.object_schema.compound_fields()}
        wanted_components: set[str] = set()
        for name, parts in compounds.items():
            if mask.get(("properties", name), True):
                wanted_components.update(column for _, column in parts)
        for info in self.object_schema.queryable_fields:
            if (
                info.name in required
                or info.name in wanted_components
                or mask.get(("properties", info.name), True)
            ):
                fields.append(info.name)
        return fields

    def get_records(self, context: dict | None) -> Iterable[dict]:
        runtime = self.runtime
        stats = runtime.stats_for(self.name)
        if runtime.stopped_reason:
            self.logger.warning("%s: skipped, run stopped: %s", self.name, runtime.stopped_reason)
            return
        started, calls_before = time.monotonic(), runtime.client.usage.calls
        start, end = self.query_range(context)
        if start is not None and end is not None and start >= end:
            self.logger.info("%s: nothing to read, bookmark is at the run start", self.name)
            return
        try:
            for record in self.reader.read(
                self.selected_fields(), start, end, stats, key=self.replication_key
            ):
                stats.rows += 1
                yield record
        except QuotaReached as stop:
            runtime.stopped_reason = str(stop)
            stats.errors.append("stopped: API quota guard")
            self.logger.warning("%s", stop)
        except TapError as error:
            stats.errors.append(str(error))
            raise
        finally:
            stats.seconds += time.monotonic() - started
            stats.api_calls += runtime.client.usage.calls - calls_before

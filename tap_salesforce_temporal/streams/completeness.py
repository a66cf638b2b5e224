"""What one object stream does beyond its incremental read: key reconciliation, formula fields.

- ``reconcile_deletes``: when its cadence is due, the key snapshot after the sync
  (``key_snapshot``); the stream's schema gains ``_sdc_deleted_at``, which the target's
  tombstones of keys gone carry.
- ``formula_fields``: ``exclude`` leaves formula fields (``calculated`` in the describe) out of
  the schema and the query; ``refresh`` re-reads every row of an object with a selected formula
  field when ``formula_refresh`` is due, as ordinary records: one route into the target, so no
  format needs a second, partial-row merge path. ``include`` (the default) reads them with the
  row, stale between changes of the row.

The time each task last completed is kept in the stream's STATE bookmark beside
``replication_key_value`` (``cadence``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from ..config.cadence import Cadence, parse_moment
from ..config.settings import Settings
from ..discovery.schema import ObjectSchema
from ..query.values import format_datetime

DELETED_AT = "_sdc_deleted_at"
DELETED_AT_SCHEMA = {"type": ["string", "null"], "format": "date-time"}
REFRESHED_AT = "formulas_refreshed_at"
RECONCILED_AT = "keys_reconciled_at"


class Completeness:
    """One object's completeness settings, resolved once."""

    def __init__(self, settings: Settings, object_name: str) -> None:
        self.formula_mode = settings.formula_fields
        self.reconcile: Cadence = settings.reconcile_deletes.for_object(object_name)
        self.refresh: Cadence = settings.formula_refresh.for_object(object_name)

    @property
    def reconciles(self) -> bool:
        return not self.reconcile.never

    def shaped(self, schema: ObjectSchema) -> ObjectSchema:
        """The object as the stream reads it: without its formula fields under ``exclude``."""
        if self.formula_mode != "exclude" or not any(f.calculated for f in schema.fields):
            return schema
        return dataclasses.replace(
            schema, fields=tuple(f for f in schema.fields if not f.calculated)
        )

    def reconcile_due(self, state: dict, now: dt.datetime) -> bool:
        return self.reconcile.due(parse_moment(state.get(RECONCILED_AT)), now)

    def refresh_due(
        self, state: dict, now: dt.datetime, schema: ObjectSchema, fields: list[str]
    ) -> bool:
        """Due, and the sync selects at least one formula field (else nothing can be stale)."""
        if self.formula_mode != "refresh":
            return False
        formulas = {f.name for f in schema.fields if f.calculated}
        if not formulas.intersection(fields):
            return False
        return self.refresh.due(parse_moment(state.get(REFRESHED_AT)), now)

    @staticmethod
    def mark(state: dict, key: str, moment: dt.datetime) -> None:
        """The task completed in the run started at ``moment``."""
        state[key] = format_datetime(moment)

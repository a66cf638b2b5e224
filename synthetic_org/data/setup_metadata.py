"""EntityDefinition and FieldDefinition rows derived from the org's own object catalogue."""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from ..metadata import HISTORY_TRACKED, OBJECTS
from .base import World, spec
from .columns import TableBuilder


def simulate_setup_metadata(org: World, rng: random.Random) -> dict[str, pa.Table]:
    entities = TableBuilder(spec("EntityDefinition"))
    fields = TableBuilder(spec("FieldDefinition"))
    for index, obj in enumerate(o for o in OBJECTS if o.listed):
        # Standard objects' EntityDefinitionId is their API name; custom ones have a 01I id.
        entity_id = make_id("01I", index + 1) if obj.is_custom else obj.name
        entities.add(
            Id=entity_id,
            DurableId=entity_id,
            QualifiedApiName=obj.name,
            Label=obj.label or obj.name,
            KeyPrefix=obj.key_prefix,
        )
        tracked = HISTORY_TRACKED.get(obj.name, ())
        for field in obj.fields:
            fields.add(
                Id=make_id("00N", fields.rows + 1),
                DurableId=f"{entity_id}.{field.name}",
                QualifiedApiName=field.name,
                Label=field.label or field.name,
                DataType=field.type,
                EntityDefinitionId=entity_id,
                IsFieldHistoryTracked=field.name in tracked,
            )
    return {"EntityDefinition": entities.to_table(), "FieldDefinition": fields.to_table()}

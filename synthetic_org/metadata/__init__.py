"""The synthetic org's catalogue: every object it knows, looked up case-insensitively as the API does."""

from __future__ import annotations

from .activity_history import ACTIVITY_FIELD_HISTORY
from .content import CONTENT_OBJECTS
from .custom import CUSTOM_OBJECTS, WIDE_OBJECT, extra_objects
from .fields import COMPOUND_TYPES, NUMBER_TYPES, STRING_TYPES, FieldSpec, ObjectSpec
from .setup import ENTITY_DEFINITION, FIELD_DEFINITION, HISTORY_TRACKED, REQUIRED_FILTERS
from .standard import FIELD_HISTORY_DATA_TYPES, FORECAST_CATEGORIES, STAGES, STANDARD_OBJECTS

OBJECTS: tuple[ObjectSpec, ...] = (
    *STANDARD_OBJECTS,
    *CONTENT_OBJECTS,
    *CUSTOM_OBJECTS,
    WIDE_OBJECT,
    ENTITY_DEFINITION,
    FIELD_DEFINITION,
)
OBJECTS_BY_NAME: dict[str, ObjectSpec] = {spec.name.lower(): spec for spec in OBJECTS}


def find_object(name: str) -> ObjectSpec | None:
    """Case-insensitive object lookup, as the API resolves names."""
    return OBJECTS_BY_NAME.get(name.lower())


__all__ = [
    "ACTIVITY_FIELD_HISTORY",
    "COMPOUND_TYPES",
    "FIELD_HISTORY_DATA_TYPES",
    "FORECAST_CATEGORIES",
    "HISTORY_TRACKED",
    "NUMBER_TYPES",
    "OBJECTS",
    "OBJECTS_BY_NAME",
    "REQUIRED_FILTERS",
    "STAGES",
    "STRING_TYPES",
    "FieldSpec",
    "ObjectSpec",
    "extra_objects",
    "find_object",
]

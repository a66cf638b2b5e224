"""Describe -> JSON Schema, and the per-field facts the query paths need to type values.

Types follow DESIGN.md §3. Compound address/location fields become objects assembled by the tap
from their component columns, so the REST and Bulk paths (Bulk cannot select compound fields)
produce identical records.
"""

from __future__ import annotations

from dataclasses import dataclass

STRING_TYPES = frozenset(
    {
        "id",
        "reference",
        "string",
        "picklist",
        "multipicklist",
        "textarea",
        "phone",
        "url",
        "email",
        "combobox",
        "encryptedstring",
        "anyType",
        "time",
    }
)
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
# Salesforce keeps these as exact decimals of the describe's precision and scale.
DECIMAL_TYPES = frozenset({"currency", "percent"})
MAX_DECIMAL_PRECISION = 38  # decimal128
COMPOUND_TYPES = frozenset({"address", "location"})
REPLICATION_KEYS = ("SystemModstamp", "LastModifiedDate", "CreatedDate")
ADDRESS_PARTS = (
    ("street", "Street"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
    ("latitude", "Latitude"),
    ("longitude", "Longitude"),
    ("geocodeAccuracy", "GeocodeAccuracy"),
)


@dataclass(frozen=True)
class FieldInfo:
    name: str
    sf_type: str
    precision: int = 0
    scale: int = 0
    calculated: bool = False
    nillable: bool = True
    compound_field_name: str | None = None
    # The describe's flag: whether a WHERE clause may name the field (object_filters checks it).
    filterable: bool = True

    @property
    def kind(self) -> str:
        """How values are typed: string, boolean, integer, number, decimal, date, datetime, compound.

        ``decimal`` (currency and percent with a usable precision/scale) is never a float: a
        double holds 15-17 significant digits, a currency(18, 2) field 18.
        """
        if self.sf_type in COMPOUND_TYPES:
            return "compound"
        if self.sf_type == "boolean":
            return "boolean"
        if self.sf_type == "int":
            return "integer"
        if (
            self.sf_type in DECIMAL_TYPES
            and 0 <= self.scale <= self.precision <= MAX_DECIMAL_PRECISION
        ):
            return "decimal"
        if self.sf_type in NUMBER_TYPES:
            return "number"
        if self.sf_type == "date":
            return "date"
        if self.sf_type == "datetime":
            return "datetime"
        return "string"


def field_schema(field: FieldInfo, components: list[FieldInfo]) -> dict:
    kind = field.kind
    if kind == "compound":
        if field.sf_type == "location":
            props = {
                "latitude": {"type": ["number", "null"]},
                "longitude": {"type": ["number", "null"]},
            }
        else:
            props = {
                key: {"type": ["number", "null"]}
                if key in ("latitude", "longitude")
                else {"type": ["string", "null"]}
                for key, _ in ADDRESS_PARTS
            }
        return {"type": ["object", "null"], "properties": props, "additionalProperties": False}
    if kind == "date":
        return {"type": ["string", "null"], "format": "date"}
    if kind == "datetime":
        return {"type": ["string", "null"], "format": "date-time"}
    if kind == "decimal":
        return decimal_schema(field.precision, field.scale)
    if kind == "string" and field.sf_type == "time":
        return {"type": ["string", "null"], "format": "time"}
    return {"type": [kind, "null"]}


def decimal_schema(precision: int, scale: int) -> dict:
    """A JSON number any target reads, with its exactness in standard JSON Schema keywords.

    ``multipleOf`` 10^-scale gives the scale; ``exclusiveMaximum`` / ``exclusiveMinimum``
    +-10^(precision - scale) give the precision (Salesforce refuses wider values). Custom keywords
    would not do: singer-sdk rebuilds every stream schema from its catalog model, which keeps only
    standard keywords (and ``x-sql-datatype``), so an ``x-sf-precision`` never reaches the SCHEMA
    message. target-events writes ``decimal128(precision, scale)`` from these.
    """
    bound = 10 ** (precision - scale)
    return {
        "type": ["number", "null"],
        "multipleOf": 1 if scale == 0 else float(f"1e-{scale}"),
        "exclusiveMaximum": bound,
        "exclusiveMinimum": -bound,
    }


@dataclass(frozen=True)
class ObjectSchema:
    """What the tap knows about one object after describing it."""

    name: str
    fields: tuple[FieldInfo, ...]
    skipped_fields: tuple[str, ...]
    replication_key: str | None
    has_is_deleted: bool
    replicateable: bool
    key_prefix: str | None = None
    # For field history objects: the values of the Field picklist (the tracked fields).
    tracked_fields: tuple[tuple[str, str], ...] = ()
    # The replication key the object would have, when the describe says it is not filterable
    # (``replication_key`` is then None: the object is read whole each run).
    unfilterable_key: str | None = None

    @property
    def history_parent_field(self) -> str | None:
        """The parent reference of a field history object (AccountId, ParentId...), else None."""
        names = {f.name for f in self.fields}
        if not {"Field", "OldValue", "NewValue", "CreatedDate"} <= names:
            return None
        if self.name.endswith("__History"):
            return "ParentId" if "ParentId" in names else None
        base = self.name.removesuffix("FieldHistory").removesuffix("History")
        candidate = f"{base}Id"
        return candidate if candidate in names else None

    @property
    def history_parent_object(self) -> str | None:
        if self.history_parent_field is None:
            return None
        if self.name.endswith("__History"):
            return self.name.removesuffix("__History") + "__c"
        return self.name.removesuffix("FieldHistory").removesuffix("History")

    @property
    def queryable_fields(self) -> list[FieldInfo]:
        return [f for f in self.fields if f.kind != "compound"]

    def compound_fields(self) -> list[tuple[FieldInfo, list[tuple[str, str]]]]:
        """Each compound field with (json key, component column) pairs."""
        result = []
        names = {f.name for f in self.fields}
        for field in self.fields:
            if field.kind != "compound":
                continue
            if field.sf_type == "location":
                base = field.name.removesuffix("__c")
                parts = [
                    ("latitude", f"{base}__Latitude__s"),
                    ("longitude", f"{base}__Longitude__s"),
                ]
            else:
                prefix = field.name.removesuffix("Address")
                parts = [(key, f"{prefix}{suffix}") for key, suffix in ADDRESS_PARTS]
            result.append((field, [(k, c) for k, c in parts if c in names]))
        return result

    @property
    def supports_get_deleted(self) -> bool:
        """getDeleted works for replicateable objects with soft delete (IsDeleted)."""
        return self.replicateable and self.has_is_deleted and self.replication_key is not None

    def json_schema(self) -> dict:
        properties = {f.name: field_schema(f, []) for f in self.fields}
        if self.supports_get_deleted:
            # Tombstones of hard-deleted rows (from getDeleted) carry when Salesforce deleted them.
            properties["_sdc_deleted_at"] = {"type": ["string", "null"], "format": "date-time"}
        return {"type": "object", "properties": properties, "additionalProperties": False}


def from_describe(describe: dict) -> ObjectSchema:
    """Build the object's schema; base64 fields are excluded (Bulk cannot read them, REST returns URLs)."""
    fields, skipped = [], []
    for raw in describe.get("fields", []):
        if raw["type"] == "base64":
            skipped.append(raw["name"])
            continue
        fields.append(
            FieldInfo(
                name=raw["name"],
                sf_type=raw["type"],
                precision=raw.get("precision") or raw.get("digits") or 0,
                scale=raw.get("scale") or 0,
                calculated=bool(raw.get("calculated")),
                nillable=bool(raw.get("nillable", True)),
                compound_field_name=raw.get("compoundFieldName"),
                filterable=bool(raw.get("filterable", True)),
            )
        )
    names = {f.name for f in fields}
    replication_key, unfilterable_key = replication_key_of(fields)
    tracked = tuple(
        (value["value"], value.get("label") or value["value"])
        for raw in describe.get("fields", [])
        if raw["name"] == "Field" and raw["type"] == "picklist"
        for value in raw.get("picklistValues", [])
        if value.get("active", True) and value["value"] != "created"
    )
    return ObjectSchema(
        name=describe["name"],
        fields=tuple(fields),
        skipped_fields=tuple(skipped),
        replication_key=replication_key,
        has_is_deleted="IsDeleted" in names,
        replicateable=bool(describe.get("replicateable", True)),
        key_prefix=describe.get("keyPrefix"),
        tracked_fields=tracked,
        unfilterable_key=unfilterable_key,
    )


def replication_key_of(fields: list[FieldInfo]) -> tuple[str | None, str | None]:
    """(replication key, None), or (None, the key) when the describe marks it ``filterable:
    false``: ``WHERE key >= ...`` would answer INVALID_FIELD "field 'SystemModstamp' can not be
    filtered in a query call" (ActivityFieldHistory; airbytehq/airbyte#62877, read whole since
    #68166). A later candidate is not tried: LastModifiedDate misses system changes that move
    SystemModstamp, so an incremental read on it could drop rows; a whole read drops none."""
    by_name = {f.name: f for f in fields}
    key = next((k for k in REPLICATION_KEYS if k in by_name), None)
    if key is not None and not by_name[key].filterable:
        return None, key
    return key, None

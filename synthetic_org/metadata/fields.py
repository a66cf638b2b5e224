"""Field and object specs: describe metadata as data, plus the builders the object tables use.

Describe responses, the SOQL engine's type checks and the Arrow storage types are all derived from
these specs, so an object is added by adding a table entry, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

# Salesforce field types whose values the sandbox stores as Arrow strings.
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
        "anyType",
        "encryptedstring",
        "base64",
        "time",
    }
)
COMPOUND_TYPES = frozenset({"address", "location"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "anyType": "xsd:anyType",
    "address": "urn:address",
    "location": "urn:location",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field as describe shows it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    calculated: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    compound_field_name: str | None = None
    # False models field-level security: the field exists but this user cannot read it.
    visible: bool = True
    # describe's calculatedFormula of a formula field; None for a field the platform computes
    # itself (ElapsedTimeInDays...), whose describe gives no formula.
    formula: str | None = None
    # describe says filterable: false although the type would allow a filter: seen on
    # ActivityFieldHistory.SystemModstamp (airbytehq/airbyte#62877), where WHERE SystemModstamp
    # answers INVALID_FIELD "field 'SystemModstamp' can not be filtered in a query call".
    unfilterable: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        """How the sandbox stores the field (compound fields are assembled from components)."""
        if self.type in STRING_TYPES:
            return pa.string()
        if self.type == "boolean":
            return pa.bool_()
        if self.type == "int":
            return pa.int64()
        if self.type in ("currency", "percent"):
            # Exact, as Salesforce keeps them: precision and scale from the describe.
            return pa.decimal128(max(self.precision, self.scale, 1), self.scale)
        if self.type in NUMBER_TYPES:
            return pa.float64()
        if self.type == "date":
            return pa.date32()
        if self.type == "datetime":
            return pa.timestamp("ms", tz="UTC")
        raise ValueError(f"field {self.name} of type {self.type} has no storage column")

    @property
    def filterable(self) -> bool:
        """Whether WHERE may name the field: not compound fields, not long text areas (a
        textarea over 255 characters), nor anyType or base64, as Salesforce's describe says."""
        if self.unfilterable:
            return False
        if self.type == "textarea":
            return self.length <= 255
        return self.type not in ("address", "location", "anyType", "base64")

    @property
    def is_custom(self) -> bool:
        return self.name.endswith("__c")

    def describe(self) -> dict:
        """The field entry of ``sobjects/{name}/describe``."""
        length = self.length or (18 if self.type in ("id", "reference") else 0)
        return {
            "aggregatable": self.type not in ("textarea", "anyType", "address", "location"),
            "autoNumber": False,
            "byteLength": length * 3,
            "calculated": self.calculated,
            "calculatedFormula": self.formula if self.calculated else None,
            "cascadeDelete": False,
            "compoundFieldName": self.compound_field_name,
            "createable": not self.calculated and self.type != "id",
            "custom": self.is_custom,
            "defaultValue": None,
            "defaultedOnCreate": self.type == "boolean",
            "digits": self.precision if self.type == "int" else 0,
            "externalId": False,
            "filterable": self.filterable,
            "groupable": self.type not in ("double", "currency", "percent", "textarea", "anyType"),
            "idLookup": self.type == "id",
            "label": self.label or _label(self.name),
            "length": length,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": False,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "precision": self.precision if self.type in NUMBER_TYPES else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type not in ("textarea", "anyType", "address", "location"),
            "type": self.type,
            "unique": False,
            "updateable": not self.calculated and self.type != "id",
        }


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject: its describe metadata and which APIs can reach it."""

    name: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    label: str = ""
    queryable: bool = True
    bulk_supported: bool = True
    # Objects with soft delete support getDeleted and hide IsDeleted rows from `query`.
    replicateable: bool = True
    history_of: str | None = None
    # Setup entities (FieldDefinition...) answer queries but are not in describeGlobal here.
    listed: bool = True
    # describe's deletable (delete() is a supported call) and undeletable (deletes go to the
    # Recycle Bin first, undelete() is supported), from "Supported Calls" in the Object
    # Reference; None derives them (``can_delete``, ``has_recycle_bin``).
    deletable: bool | None = None
    undeletable: bool | None = None
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name.lower(): f for f in self.fields})

    @property
    def is_custom(self) -> bool:
        return self.name.endswith(("__c", "__History"))

    def field(self, name: str) -> FieldSpec | None:
        """Case-insensitive field lookup, as SOQL resolves names."""
        return self._by_name.get(name.lower())

    @property
    def can_delete(self) -> bool:
        """Whether a user may delete rows: by default any queryable object but history ones."""
        if self.deletable is not None:
            return self.deletable
        return self.queryable and self.history_of is None

    @property
    def has_recycle_bin(self) -> bool:
        """Whether a delete is soft (IsDeleted, restorable for 15 days) rather than final: by
        default a deletable, replicateable object with IsDeleted, as custom objects are."""
        if self.undeletable is not None:
            return self.undeletable
        return self.can_delete and self.replicateable and self.field("IsDeleted") is not None

    @property
    def id_field(self) -> FieldSpec:
        """The Id field every object has (KeyError if a spec were built without one)."""
        return self._by_name["id"]

    def relationship(self, name: str) -> FieldSpec | None:
        """The reference field behind a relationship name (``Account`` -> ``AccountId``)."""
        lowered = name.lower()
        for spec in self.fields:
            if spec.relationship_name and spec.relationship_name.lower() == lowered:
                return spec
        return None

    @property
    def stored_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.type not in COMPOUND_TYPES]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.name, f.arrow_type) for f in self.stored_fields])


def _label(name: str) -> str:
    base = name.removesuffix("__c").removesuffix("Id") or name
    return base.replace("_", " ")


# --- Builders that keep the table below readable ------------------------------------------------


def ref(name: str, *targets: str, relationship: str | None = None) -> FieldSpec:
    rel = relationship or (name[:-2] if name.endswith("Id") else name.replace("__c", "__r"))
    return FieldSpec(
        name=name,
        type="reference",
        reference_to=targets,
        relationship_name=rel,
        length=18,
    )


def pick(name: str, *values: str, multi: bool = False) -> FieldSpec:
    return FieldSpec(
        name=name, type="multipicklist" if multi else "picklist", picklist=values, length=255
    )


def text(name: str, length: int = 255, type_: str = "string") -> FieldSpec:
    return FieldSpec(name=name, type=type_, length=length)


def money(name: str, precision: int = 18, scale: int = 2, type_: str = "currency") -> FieldSpec:
    return FieldSpec(name=name, type=type_, precision=precision, scale=scale)


def address(prefix: str) -> tuple[FieldSpec, ...]:
    compound = f"{prefix}Address"
    parts = [
        FieldSpec(f"{prefix}Street", "textarea", length=255, compound_field_name=compound),
        FieldSpec(f"{prefix}City", "string", length=40, compound_field_name=compound),
        FieldSpec(f"{prefix}State", "string", length=80, compound_field_name=compound),
        FieldSpec(f"{prefix}PostalCode", "string", length=20, compound_field_name=compound),
        FieldSpec(f"{prefix}Country", "string", length=80, compound_field_name=compound),
        FieldSpec(
            f"{prefix}Latitude", "double", precision=18, scale=15, compound_field_name=compound
        ),
        FieldSpec(
            f"{prefix}Longitude", "double", precision=18, scale=15, compound_field_name=compound
        ),
        FieldSpec(f"{prefix}GeocodeAccuracy", "picklist", length=40, compound_field_name=compound),
    ]
    return (*parts, FieldSpec(compound, "address"))


def audit(with_modstamp: bool = True, with_last_modified: bool = True) -> tuple[FieldSpec, ...]:
    fields = [
        FieldSpec("CreatedDate", "datetime", nillable=False),
        ref("CreatedById", "User"),
    ]
    if with_last_modified:
        fields += [
            FieldSpec("LastModifiedDate", "datetime", nillable=False),
            ref("LastModifiedById", "User"),
        ]
    if with_modstamp:
        fields.append(FieldSpec("SystemModstamp", "datetime", nillable=False))
    return tuple(fields)


ID = FieldSpec("Id", "id", nillable=False)
IS_DELETED = FieldSpec("IsDeleted", "boolean", nillable=False)

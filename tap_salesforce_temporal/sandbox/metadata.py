"""The sandbox org's objects and fields, as data: real names, real types, real key prefixes.

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
            "calculatedFormula": "1" if self.calculated else None,
            "cascadeDelete": False,
            "compoundFieldName": self.compound_field_name,
            "createable": not self.calculated and self.type != "id",
            "custom": self.is_custom,
            "defaultValue": None,
            "defaultedOnCreate": self.type == "boolean",
            "digits": self.precision if self.type == "int" else 0,
            "externalId": False,
            "filterable": self.type not in ("textarea", "address", "location"),
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
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name.lower(): f for f in self.fields})

    @property
    def is_custom(self) -> bool:
        return self.name.endswith(("__c", "__History"))

    def field(self, name: str) -> FieldSpec | None:
        """Case-insensitive field lookup, as SOQL resolves names."""
        return self._by_name.get(name.lower())

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


def f(name: str, type_: str, **kwargs: object) -> FieldSpec:
    return FieldSpec(name=name, type=type_, **kwargs)  # type: ignore[arg-type]


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


def _address(prefix: str) -> tuple[FieldSpec, ...]:
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


def _audit(with_modstamp: bool = True, with_last_modified: bool = True) -> tuple[FieldSpec, ...]:
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

STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
FORECAST_CATEGORIES = ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed")
FIELD_HISTORY_DATA_TYPES = (
    "Boolean",
    "Currency",
    "Date",
    "DateTime",
    "Double",
    "EntityId",
    "Percent",
    "Picklist",
    "Text",
    "TextArea",
)


def _field_history(
    name: str, parent: str, parent_field: str, tracked: tuple[str, ...], prefix: str = "017"
) -> ObjectSpec:
    """A field history object: insert-only, no SystemModstamp (replicate on CreatedDate)."""
    return ObjectSpec(
        name=name,
        key_prefix=prefix,
        history_of=parent,
        fields=(
            ID,
            IS_DELETED,
            ref(
                parent_field, parent, relationship="Parent" if parent_field == "ParentId" else None
            ),
            ref("CreatedById", "User"),
            FieldSpec("CreatedDate", "datetime", nillable=False),
            pick("Field", "created", *tracked),
            pick("DataType", *FIELD_HISTORY_DATA_TYPES),
            FieldSpec("OldValue", "anyType"),
            FieldSpec("NewValue", "anyType"),
        ),
    )


USER_TYPES = ("Standard", "AutomatedProcess", "CloudIntegrationUser", "PowerPartner", "CsnOnly")

OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "User",
        "005",
        (
            ID,
            text("Username", 80),
            text("FirstName", 40),
            text("LastName", 80),
            text("Name", 121),
            text("Email", 128, "email"),
            text("Title", 80),
            text("Department", 80),
            FieldSpec("IsActive", "boolean", nillable=False),
            pick("UserType", *USER_TYPES),
            ref("ProfileId", "Profile"),
            ref("ManagerId", "User", relationship="Manager"),
            pick("TimeZoneSidKey", "America/Los_Angeles", "Europe/London", "Asia/Tokyo"),
            FieldSpec("LastLoginDate", "datetime"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Account",
        "001",
        (
            ID,
            IS_DELETED,
            text("Name", 255),
            pick("Type", "Prospect", "Customer - Direct", "Customer - Channel", "Partner"),
            pick("Industry", "Banking", "Technology", "Healthcare", "Retail", "Manufacturing"),
            money("AnnualRevenue"),
            FieldSpec("NumberOfEmployees", "int", precision=8),
            text("Phone", 40, "phone"),
            text("Website", 255, "url"),
            pick("Rating", "Hot", "Warm", "Cold"),
            *_address("Billing"),
            text("Description", 32000, "textarea"),
            ref("OwnerId", "User", relationship="Owner"),
            FieldSpec("LastActivityDate", "date"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Contact",
        "003",
        (
            ID,
            IS_DELETED,
            ref("AccountId", "Account"),
            text("FirstName", 40),
            text("LastName", 80),
            text("Name", 121),
            text("Email", 80, "email"),
            text("Phone", 40, "phone"),
            text("Title", 128),
            pick("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Trade Show"),
            *_address("Mailing"),
            FieldSpec("Birthdate", "date"),
            FieldSpec("HasOptedOutOfEmail", "boolean", nillable=False),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Lead",
        "00Q",
        (
            ID,
            IS_DELETED,
            text("FirstName", 40),
            text("LastName", 80),
            text("Name", 121),
            text("Company", 255),
            text("Email", 80, "email"),
            pick(
                "Status",
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ),
            pick("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Trade Show"),
            pick("Rating", "Hot", "Warm", "Cold"),
            FieldSpec("IsConverted", "boolean", nillable=False),
            FieldSpec("ConvertedDate", "date"),
            ref("ConvertedAccountId", "Account", relationship="ConvertedAccount"),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Opportunity",
        "006",
        (
            ID,
            IS_DELETED,
            ref("AccountId", "Account"),
            text("Name", 120),
            pick("StageName", *STAGES),
            money("Amount"),
            FieldSpec("Probability", "percent", precision=3, scale=0),
            FieldSpec("ExpectedRevenue", "currency", precision=18, scale=2, calculated=True),
            FieldSpec("CloseDate", "date", nillable=False),
            pick(
                "Type", "New Customer", "Existing Customer - Upgrade", "Existing Customer - Renewal"
            ),
            pick("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Trade Show"),
            FieldSpec("IsClosed", "boolean", nillable=False),
            FieldSpec("IsWon", "boolean", nillable=False),
            pick("ForecastCategory", *FORECAST_CATEGORIES),
            pick("ForecastCategoryName", "Omitted", "Pipeline", "Best Case", "Commit", "Closed"),
            text("NextStep", 255),
            ref("OwnerId", "User", relationship="Owner"),
            FieldSpec("LastStageChangeDate", "datetime"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Case",
        "500",
        (
            ID,
            IS_DELETED,
            text("CaseNumber", 30),
            ref("AccountId", "Account"),
            ref("ContactId", "Contact"),
            text("Subject", 255),
            pick("Status", "New", "Working", "Escalated", "Closed"),
            pick("Priority", "High", "Medium", "Low"),
            pick("Origin", "Phone", "Email", "Web"),
            pick("Reason", "Installation", "Equipment Complexity", "Performance", "Breakdown"),
            FieldSpec("IsClosed", "boolean", nillable=False),
            FieldSpec("ClosedDate", "datetime"),
            FieldSpec("IsEscalated", "boolean", nillable=False),
            text("Description", 32000, "textarea"),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "OpportunityHistory",
        "008",
        (
            ID,
            IS_DELETED,
            ref("OpportunityId", "Opportunity"),
            ref("CreatedById", "User"),
            FieldSpec("CreatedDate", "datetime", nillable=False),
            pick("StageName", *STAGES),
            money("Amount"),
            money("ExpectedRevenue"),
            FieldSpec("CloseDate", "date"),
            FieldSpec("Probability", "percent", precision=3, scale=0),
            pick("ForecastCategory", *FORECAST_CATEGORIES),
            FieldSpec("SystemModstamp", "datetime", nillable=False),
        ),
    ),
    _field_history(
        "OpportunityFieldHistory",
        "Opportunity",
        "OpportunityId",
        ("StageName", "Amount", "CloseDate", "NextStep", "Owner"),
    ),
    _field_history(
        "AccountHistory", "Account", "AccountId", ("Rating", "Type", "Owner", "Industry")
    ),
    _field_history("CaseHistory", "Case", "CaseId", ("Status", "Priority", "Owner")),
    _field_history("ContactHistory", "Contact", "ContactId", ("Title", "Email", "Owner")),
    _field_history("LeadHistory", "Lead", "LeadId", ("Status", "Rating", "Owner")),
    ObjectSpec(
        "Task",
        "00T",
        (
            ID,
            IS_DELETED,
            ref("WhoId", "Contact", "Lead", relationship="Who"),
            ref("WhatId", "Account", "Opportunity", "Case", relationship="What"),
            ref("AccountId", "Account"),
            text("Subject", 255, "combobox"),
            FieldSpec("ActivityDate", "date"),
            pick("Status", "Not Started", "In Progress", "Completed", "Deferred"),
            pick("Priority", "High", "Normal", "Low"),
            FieldSpec("IsClosed", "boolean", nillable=False),
            pick("Type", "Call", "Email", "Meeting", "Other"),
            pick("TaskSubtype", "Task", "Email", "Call", "ListEmail"),
            FieldSpec("CompletedDateTime", "datetime"),
            FieldSpec("IsArchived", "boolean", nillable=False),
            text("Description", 32000, "textarea"),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "Event",
        "00U",
        (
            ID,
            IS_DELETED,
            ref("WhoId", "Contact", "Lead", relationship="Who"),
            ref("WhatId", "Account", "Opportunity", "Case", relationship="What"),
            ref("AccountId", "Account"),
            text("Subject", 255, "combobox"),
            text("Location", 255),
            FieldSpec("StartDateTime", "datetime"),
            FieldSpec("EndDateTime", "datetime"),
            FieldSpec("ActivityDateTime", "datetime"),
            FieldSpec("ActivityDate", "date"),
            FieldSpec("DurationInMinutes", "int", precision=8),
            pick("EventSubtype", "Event"),
            pick("Type", "Call", "Email", "Meeting", "Other"),
            FieldSpec("IsArchived", "boolean", nillable=False),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
    ),
    ObjectSpec(
        "TaskWhoRelation",
        "0RT",
        (
            ID,
            IS_DELETED,
            ref("TaskId", "Task"),
            ref("RelationId", "Contact", "Lead", relationship="Relation"),
            pick("Type", "Contact", "Lead"),
            *_audit(),
        ),
        bulk_supported=False,
        replicateable=False,
    ),
    ObjectSpec(
        "ProcessInstance",
        "04g",
        (
            ID,
            IS_DELETED,
            ref("ProcessDefinitionId", "ProcessDefinition"),
            ref("TargetObjectId", "Opportunity", "Case", "Project__c", relationship="TargetObject"),
            pick(
                "Status",
                "Approved",
                "Rejected",
                "Removed",
                "Fault",
                "Pending",
                "Held",
                "Reassigned",
                "Started",
                "NoResponse",
            ),
            FieldSpec("CompletedDate", "datetime"),
            ref("LastActorId", "User", relationship="LastActor"),
            ref("SubmittedById", "User", relationship="SubmittedBy"),
            FieldSpec("ElapsedTimeInDays", "double", precision=18, scale=3, calculated=True),
            FieldSpec("ElapsedTimeInHours", "double", precision=18, scale=2, calculated=True),
            FieldSpec("ElapsedTimeInMinutes", "double", precision=18, scale=0, calculated=True),
            *_audit(),
        ),
        replicateable=False,
    ),
    ObjectSpec(
        "ProcessInstanceStep",
        "04h",
        (
            ID,
            ref("ProcessInstanceId", "ProcessInstance"),
            pick(
                "StepStatus",
                "Approved",
                "Rejected",
                "Removed",
                "Fault",
                "Pending",
                "Held",
                "Reassigned",
                "Started",
                "NoResponse",
            ),
            ref("OriginalActorId", "User", relationship="OriginalActor"),
            ref("ActorId", "User", relationship="Actor"),
            text("Comments", 4000, "textarea"),
            ref("StepNodeId", "ProcessNode", relationship="StepNode"),
            FieldSpec("ElapsedTimeInDays", "double", precision=18, scale=3, calculated=True),
            FieldSpec("ElapsedTimeInHours", "double", precision=18, scale=2, calculated=True),
            FieldSpec("ElapsedTimeInMinutes", "double", precision=18, scale=0, calculated=True),
            FieldSpec("CreatedDate", "datetime", nillable=False),
            ref("CreatedById", "User"),
            FieldSpec("SystemModstamp", "datetime", nillable=False),
        ),
        replicateable=False,
    ),
    ObjectSpec(
        "ProcessInstanceWorkitem",
        "04i",
        (
            ID,
            IS_DELETED,
            ref("ProcessInstanceId", "ProcessInstance"),
            ref("OriginalActorId", "User", relationship="OriginalActor"),
            ref("ActorId", "User", relationship="Actor"),
            FieldSpec("ElapsedTimeInDays", "double", precision=18, scale=3, calculated=True),
            FieldSpec("CreatedDate", "datetime", nillable=False),
            ref("CreatedById", "User"),
            FieldSpec("SystemModstamp", "datetime", nillable=False),
        ),
        replicateable=False,
    ),
    ObjectSpec(
        "SetupAuditTrail",
        "0Ym",
        (
            ID,
            text("Action", 240),
            text("Section", 240),
            FieldSpec("CreatedDate", "datetime", nillable=False),
            ref("CreatedById", "User"),
            text("Display", 1000),
            text("DelegateUser", 80),
            text("ResponsibleNamespacePrefix", 15),
            text("CreatedByContext", 40),
            text("CreatedByIssuer", 40),
        ),
        replicateable=False,
    ),
    ObjectSpec(
        "Project__c",
        "a00",
        (
            ID,
            IS_DELETED,
            text("Name", 80),
            ref("OwnerId", "User", relationship="Owner"),
            ref("Account__c", "Account"),
            pick("Status__c", "Planned", "Active", "On Hold", "Done"),
            money("Budget__c", precision=16, scale=2),
            FieldSpec("Completion__c", "percent", precision=5, scale=2),
            FieldSpec("Start_Date__c", "date"),
            FieldSpec("Kickoff_Time__c", "time"),
            pick("Tags__c", "Migration", "Analytics", "Security", "Integration", multi=True),
            FieldSpec("Is_Critical__c", "boolean", nillable=False),
            FieldSpec("Health_Score__c", "double", precision=18, scale=1, calculated=True),
            FieldSpec("Headcount__c", "double", precision=4, scale=0),
            text("Notes__c", 32768, "textarea"),
            FieldSpec(
                "Site_Location__Latitude__s",
                "double",
                precision=12,
                scale=9,
                compound_field_name="Site_Location__c",
            ),
            FieldSpec(
                "Site_Location__Longitude__s",
                "double",
                precision=12,
                scale=9,
                compound_field_name="Site_Location__c",
            ),
            FieldSpec("Site_Location__c", "location"),
            # Field-level security hides this one from the integration user.
            FieldSpec("Internal_Cost__c", "currency", precision=16, scale=2, visible=False),
            *_audit(),
        ),
        label="Project",
    ),
    _field_history(
        "Project__History",
        "Project__c",
        "ParentId",
        ("Status__c", "Budget__c", "Owner"),
        prefix="a01",
    ),
    # A custom object with history tracking off: no Invoice__History exists.
    ObjectSpec(
        "Invoice__c",
        "a02",
        (
            ID,
            IS_DELETED,
            text("Name", 80),
            ref("Project__c", "Project__c"),
            money("Amount__c", precision=16, scale=2),
            pick("Status__c", "Draft", "Sent", "Paid"),
            FieldSpec("Due_Date__c", "date"),
            ref("OwnerId", "User", relationship="Owner"),
            *_audit(),
        ),
        label="Invoice",
    ),
    # Exists in describeGlobal but the user cannot query it (no permission): clients must skip it.
    ObjectSpec(
        "FieldHistoryArchive",
        "0Fh",
        (
            ID,
            text("FieldHistoryType", 40),
            text("ParentId", 18),
            text("Field", 255),
            FieldSpec("OldValue", "anyType"),
            FieldSpec("NewValue", "anyType"),
            FieldSpec("CreatedDate", "datetime"),
            ref("CreatedById", "User"),
        ),
        queryable=False,
    ),
)

WIDE_FIELD_COUNT = 450


def _wide_fields() -> tuple[FieldSpec, ...]:
    """Enough long custom field names that one SOQL field list exceeds a GET URL's ~16k limit."""
    kinds = ("string", "double", "boolean", "date")
    return tuple(
        FieldSpec(
            f"Quarterly_Measurement_Attribute_{n:04d}__c",
            kinds[n % 4],
            length=80 if n % 4 == 0 else 0,
            precision=18 if n % 4 == 1 else 0,
            scale=2 if n % 4 == 1 else 0,
        )
        for n in range(WIDE_FIELD_COUNT)
    )


# A very wide custom object: REST extractors must split its field list (URL length limits).
WIDE_OBJECT = ObjectSpec(
    "Wide_Record__c",
    "a03",
    (ID, IS_DELETED, text("Name", 80), *_wide_fields(), *_audit()),
    label="Wide Record",
)
OBJECTS = (*OBJECTS, WIDE_OBJECT)

OBJECTS_BY_NAME: dict[str, ObjectSpec] = {spec.name.lower(): spec for spec in OBJECTS}


def find_object(name: str) -> ObjectSpec | None:
    """Case-insensitive object lookup, as the API resolves names."""
    return OBJECTS_BY_NAME.get(name.lower())


EXTRA_FIELD_KINDS = (
    "string",
    "double",
    "boolean",
    "date",
    "datetime",
    "picklist",
    "currency",
    "int",
)


def extra_objects(count: int) -> tuple[ObjectSpec, ...]:
    """``count`` empty custom objects of 24 fields each: a large org's long tail, for discovery.

    Real orgs carry hundreds of custom objects; discovery has to describe every one of them.
    Key prefixes ``b00``..``bzz`` (base 36) keep them distinct from the seeded objects.
    """
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if count > len(digits) ** 2:
        raise ValueError(f"at most {len(digits) ** 2} extra objects")
    specs = []
    for n in range(count):
        custom = tuple(
            FieldSpec(
                f"Attribute_{k:02d}__c",
                EXTRA_FIELD_KINDS[k % len(EXTRA_FIELD_KINDS)],
                length=255 if EXTRA_FIELD_KINDS[k % len(EXTRA_FIELD_KINDS)] == "string" else 0,
                precision=18
                if EXTRA_FIELD_KINDS[k % len(EXTRA_FIELD_KINDS)] in ("double", "currency")
                else 0,
                scale=2
                if EXTRA_FIELD_KINDS[k % len(EXTRA_FIELD_KINDS)] in ("double", "currency")
                else 0,
            )
            for k in range(16)
        )
        specs.append(
            ObjectSpec(
                f"Extra_Object_{n:04d}__c",
                "b" + digits[n // 36] + digits[n % 36],
                (ID, IS_DELETED, text("Name", 80), *custom, *_audit()),
                label=f"Extra Object {n:04d}",
            )
        )
    return tuple(specs)

"""Custom objects (a project with history, an invoice without), the restricted archive, a very wide
object, and the empty long tail a large org carries."""

from __future__ import annotations

from .fields import ID, IS_DELETED, FieldSpec, ObjectSpec, audit, money, pick, ref, text
from .standard import field_history

CUSTOM_OBJECTS: tuple[ObjectSpec, ...] = (
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
            *audit(),
        ),
        label="Project",
    ),
    field_history(
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
            # Formula fields: computed when read, so their values change while the invoice's
            # SystemModstamp stays (a cross-object formula follows its project; TODAY() moves
            # every day). Values: ``data.formulas``.
            FieldSpec(
                "Project_Status__c",
                "string",
                length=1300,
                calculated=True,
                formula="TEXT(Project__r.Status__c)",
            ),
            FieldSpec(
                "Days_Overdue__c",
                "double",
                precision=18,
                scale=0,
                calculated=True,
                formula='IF(ISPICKVAL(Status__c, "Paid"), 0, MAX(0, TODAY() - Due_Date__c))',
            ),
            *audit(),
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
        deletable=False,  # supported calls: describeSObjects, query
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
    (ID, IS_DELETED, text("Name", 80), *_wide_fields(), *audit()),
    label="Wide Record",
)

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
                (ID, IS_DELETED, text("Name", 80), *custom, *audit()),
                label=f"Extra Object {n:04d}",
            )
        )
    return tuple(specs)

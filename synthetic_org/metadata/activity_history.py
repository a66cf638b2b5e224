"""ActivityFieldHistory: field history of tasks and events, whose SystemModstamp cannot be filtered.

A big object (API 55.0+, "Field History Tracking for Activities" turned on, View All Data to see
it); the org lists it only when ``SandboxOrg(activity_field_history=True)``. Fields and their
nillability follow the Object Reference and a describe-generated model (NetCoreForce, v64.0).
Supported calls: delete(), describeSObjects(), query(), retrieve(): no IsDeleted, no Recycle Bin,
no getDeleted, no Bulk API (big objects are not served by Bulk API 2.0 queries).

Its describe marks SystemModstamp ``filterable: false``, and ``WHERE SystemModstamp >= ...``
answers INVALID_FIELD "field 'SystemModstamp' can not be filtered in a query call"
(airbytehq/airbyte#62877, fixed in #68166 by reading the object whole). ChangedDate is Filter and
Sort in the Object Reference. Not modelled, for want of a documented source: the key prefix
(``0Ak`` is this org's), the Operation picklist's values, and any big-object index rule.
"""

from __future__ import annotations

from .fields import ID, FieldSpec, ObjectSpec, pick, ref, text

ACTIVITY_FIELD_HISTORY = ObjectSpec(
    "ActivityFieldHistory",
    "0Ak",
    (
        ID,
        ref("ActivityId", "Task", "Event", relationship="Activity"),
        ref("ChangedById", "User", relationship="ChangedBy"),
        FieldSpec("ChangedDate", "datetime", nillable=False),
        text("FieldName", 120),
        pick("DataType", "Boolean", "DateOnly", "DateTime", "Double", "EntityId", "Text"),
        pick("Operation", "UPDATE"),
        FieldSpec("IsDataAvailable", "boolean", nillable=False),
        FieldSpec("OldValueDateTime", "datetime"),
        FieldSpec("NewValueDateTime", "datetime"),
        FieldSpec("OldValueNumber", "double", precision=18, scale=0),
        FieldSpec("NewValueNumber", "double", precision=18, scale=0),
        text("OldValueText", 4000),
        text("NewValueText", 4000),
        FieldSpec("CreatedDate", "datetime", nillable=False),
        ref("CreatedById", "User"),
        FieldSpec("LastModifiedDate", "datetime", nillable=False),
        ref("LastModifiedById", "User"),
        FieldSpec("SystemModstamp", "datetime", nillable=False, unfilterable=True),
    ),
    label="Activity Field History",
    bulk_supported=False,
    replicateable=False,
)

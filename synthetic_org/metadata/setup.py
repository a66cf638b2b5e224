"""Setup metadata entities: EntityDefinition and FieldDefinition, queryable with restrictions.

``FieldDefinition.IsFieldHistoryTracked`` is how Salesforce tells which fields have history
tracking on. A history object's ``Field`` picklist is not that list: it keeps values for fields
whose tracking was turned off (their old rows stay), so the two differ on purpose here.
"""

from __future__ import annotations

from .fields import FieldSpec, ObjectSpec, ref, text

# Fields with history tracking on, per parent object (FieldDefinition's QualifiedApiName: OwnerId,
# where the history rows say "Owner"). NextStep and Industry are in their history picklists but
# tracking is off for them now.
HISTORY_TRACKED: dict[str, tuple[str, ...]] = {
    "Opportunity": ("StageName", "Amount", "CloseDate", "OwnerId"),
    "Account": ("Rating", "Type", "OwnerId"),
    "Case": ("Status", "Priority", "OwnerId"),
    "Contact": ("Title", "Email", "OwnerId"),
    "Lead": ("Status", "Rating", "OwnerId"),
    "Project__c": ("Status__c", "Budget__c", "OwnerId"),
}

ENTITY_DEFINITION = ObjectSpec(
    "EntityDefinition",
    "",
    (
        FieldSpec("Id", "id", nillable=False),
        FieldSpec("DurableId", "string", length=255),
        text("QualifiedApiName", 255),
        text("Label", 255),
        text("KeyPrefix", 3),
    ),
    bulk_supported=False,
    replicateable=False,
    listed=False,
    deletable=False,
)

FIELD_DEFINITION = ObjectSpec(
    "FieldDefinition",
    "",
    (
        FieldSpec("Id", "id", nillable=False),
        FieldSpec("DurableId", "string", length=255),
        text("QualifiedApiName", 255),
        text("Label", 255),
        text("DataType", 255),
        ref("EntityDefinitionId", "EntityDefinition", relationship="EntityDefinition"),
        FieldSpec("IsFieldHistoryTracked", "boolean", nillable=False),
    ),
    bulk_supported=False,
    replicateable=False,
    listed=False,
    deletable=False,
)

# A query on these must filter one of these fields with "=" (Salesforce: "a filter on a reified
# column is required"); no OR, no NOT or !=, no COUNT().
REQUIRED_FILTERS: dict[str, tuple[str, ...]] = {
    "FieldDefinition": ("EntityDefinition.QualifiedApiName", "EntityDefinitionId", "DurableId"),
    "EntityDefinition": ("QualifiedApiName", "DurableId", "Id", "KeyPrefix"),
}

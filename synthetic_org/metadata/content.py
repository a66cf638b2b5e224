"""Salesforce Files: ContentDocument and ContentDocumentLink, the link that needs a parent filter.

ContentDocumentLink ties a file to where it is shared (a record, a user). A query on it must name
the documents or the records it links: "You can't run a query without filters against
ContentDocumentLink" (Object Reference, ContentDocumentLink, Usage); the rule lives in
``rules.PARENT_FILTERS``. Supported calls, from the Object Reference:

- ContentDocument: delete(), describeLayout(), describeSObjects(), query(), retrieve(), search(),
  undelete(), update(): deleted files wait in the Recycle Bin; no getDeleted (not replicateable).
- ContentDocumentLink: create(), delete(), describeSObjects(), query(), retrieve(), update(),
  upsert(): no undelete (a deleted link is gone at once), no getDeleted.
"""

from __future__ import annotations

from .fields import ID, IS_DELETED, FieldSpec, ObjectSpec, audit, pick, ref, text

# Where the seeded files are shared (LinkedEntityId is polymorphic: any feed-tracked record).
LINKED_OBJECTS = ("Account", "Opportunity", "Case", "Project__c", "User")

CONTENT_DOCUMENT = ObjectSpec(
    "ContentDocument",
    "069",
    (
        ID,
        IS_DELETED,
        text("Title", 255),
        text("FileType", 20),
        text("FileExtension", 40),
        FieldSpec("ContentSize", "int", precision=9),
        text("Description", 1000, "textarea"),
        ref("OwnerId", "User", relationship="Owner"),
        pick("PublishStatus", "U", "P", "R"),
        pick("SharingOption", "A", "R"),
        pick("SharingPrivacy", "N", "P"),
        FieldSpec("ContentModifiedDate", "datetime"),
        # IsArchived/ArchivedDate are left out: this org's `query` hides rows whose IsArchived is
        # true (the rule for activities), which archived files are not.
        *audit(),
    ),
    label="Content Document",
    replicateable=False,
    undeletable=True,
)

CONTENT_DOCUMENT_LINK = ObjectSpec(
    "ContentDocumentLink",
    "06A",
    (
        ID,
        IS_DELETED,
        ref("LinkedEntityId", *LINKED_OBJECTS, relationship="LinkedEntity"),
        ref("ContentDocumentId", "ContentDocument"),
        # V viewer, C collaborator, I inferred (the owner's own link).
        pick("ShareType", "V", "C", "I"),
        pick("Visibility", "AllUsers", "InternalUsers", "SharedUsers"),
        FieldSpec("SystemModstamp", "datetime", nillable=False),
    ),
    label="Content Document Link",
    replicateable=False,
)

CONTENT_OBJECTS: tuple[ObjectSpec, ...] = (CONTENT_DOCUMENT, CONTENT_DOCUMENT_LINK)

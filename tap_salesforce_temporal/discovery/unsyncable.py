"""Objects describeGlobal may list as queryable that cannot be read as a plain stream.

A real org lists setup and metadata entities beside the data: FieldDefinition and
EntityDefinition answer an unfiltered query with "a filter on a reified column is required"
(Tooling API, "SOQL Operation Limitations": one entity at a time, equality filters only, no
COUNT()), others demand a filter on a parent id (ContentDocumentLink: ContentDocumentId or
LinkedEntityId; Vote and IdeaComment: ParentId/IdeaId), and some are only reachable as
subqueries (ActivityHistory, OpenActivity...). ``objects: ["*"]`` would otherwise describe them
and fail the run on their first query. The list follows the one widely used Salesforce
extractors keep (Singer tap-salesforce, Airbyte source-salesforce) for the same reason.

FieldHistoryArchive is not here: it has its own stream (``streams.archive``) that obeys its
big-object rules.
"""

from __future__ import annotations

# Queryable only with a filter the generic stream cannot supply.
FILTER_REQUIRED = frozenset(
    {
        "Announcement",
        "AppTabMember",
        "CollaborationGroupRecord",
        "ColorDefinition",
        "ContentDocumentLink",
        "ContentFolderItem",
        "ContentFolderMember",
        "DataStatistics",
        "DatacloudDandBCompany",
        "EntityDefinition",
        "EntityParticle",
        "FieldDefinition",
        "FlexQueueItem",
        "FlowVariableView",
        "FlowVersionView",
        "IconDefinition",
        "IdeaComment",
        "NetworkUserHistoryRecent",
        "OwnerChangeOptionInfo",
        "PicklistValueInfo",
        "PlatformAction",
        "RecordActionHistory",
        "RelationshipDomain",
        "RelationshipInfo",
        "SearchLayout",
        "SiteDetail",
        "UserEntityAccess",
        "UserFieldAccess",
        "Vote",
    }
)

# Not queryable on their own at all (subquery-only views, API artefacts).
QUERY_INCOMPATIBLE = frozenset(
    {
        "ActivityHistory",
        "AggregateResult",
        "AttachedContentDocument",
        "AttachedContentNote",
        "CombinedAttachment",
        "ContentBody",
        "DataType",
        "EmailStatus",
        "FeedLike",
        "FeedSignal",
        "FeedTrackedChange",
        "FolderedContentDocument",
        "ListViewChartInstance",
        "LookedUpFromActivity",
        "Name",
        "NoteAndAttachment",
        "OpenActivity",
        "OutgoingEmail",
        "OutgoingEmailRelation",
        "OwnedContentDocument",
        "ProcessInstanceHistory",
        "QuoteTemplateRichTextData",
        "UserRecordAccess",
    }
)

UNSYNCABLE = FILTER_REQUIRED | QUERY_INCOMPATIBLE

# Objects of FILTER_REQUIRED the tap reads through a parent (``query.by_parent``): object ->
# (parent object, the field that names the parent). A ContentDocumentLink query must name its
# documents or linked records with "=" or "IN" (Object Reference, ContentDocumentLink; without
# the Query All Files permission), and a link has exactly one ContentDocumentId, so batches of
# document Ids read every link once. The others of FILTER_REQUIRED stay skipped.
PARENT_FILTERED: dict[str, tuple[str, str]] = {
    "ContentDocumentLink": ("ContentDocument", "ContentDocumentId"),
}


def is_unsyncable(name: str) -> bool:
    """True for an object no unfiltered SELECT can read (see the module docstring) and that
    the tap cannot read through a parent either."""
    return name in UNSYNCABLE and name not in PARENT_FILTERED

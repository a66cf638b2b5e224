"""Salesforce Files: documents uploaded by sales users and shared to the records they concern.

Each document links to its owner (ShareType I, as Salesforce links every file to its owner) and
to one or two records (Account, Opportunity, Case, Project__c). A deleted document takes its
links with it, both waiting in the Recycle Bin.
"""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from .base import HISTORY_SPAN_DAYS, World, ms, spec
from .columns import TableBuilder

FILE_KINDS = (
    ("PDF", "pdf", "Signed contract"),
    ("WORD_X", "docx", "Statement of work"),
    ("EXCEL_X", "xlsx", "Pricing sheet"),
    ("PNG", "png", "Whiteboard photo"),
    ("CSV", "csv", "Usage export"),
)


def _records(org: World) -> tuple[tuple[str, int], ...]:
    """The record families a file can be shared to: (key prefix, how many the org has)."""
    size = org.size
    return (
        ("001", size.accounts),
        ("006", size.opportunities),
        ("500", size.cases),
        ("a00", size.projects),
    )


def simulate_files(org: World, rng: random.Random) -> dict[str, pa.Table]:
    documents = TableBuilder(spec("ContentDocument"))
    links = TableBuilder(spec("ContentDocumentLink"))
    count = max(3, org.size.opportunities // 4)
    for index, created in enumerate(org.sorted_times(rng, count, HISTORY_SPAN_DAYS)):
        document_id = make_id("069", index + 1)
        owner = org.user_id(org.owner(rng))
        file_type, extension, title = rng.choice(FILE_KINDS)
        deleted_at = org.deleted(rng, after=created)
        modified = deleted_at or created
        documents.add(
            Id=document_id, IsDeleted=deleted_at is not None, Title=f"{title} {index + 1:05d}", FileType=file_type,
            FileExtension=extension, ContentSize=rng.randrange(2_000, 5_000_000), OwnerId=owner,
            Description="Uploaded from the mobile app" if rng.random() < 0.2 else None,
            PublishStatus="P" if rng.random() < 0.9 else "R", SharingOption="A", SharingPrivacy="N",
            ContentModifiedDate=ms(created), CreatedDate=ms(created), CreatedById=owner,
            LastModifiedDate=ms(modified), LastModifiedById=owner, SystemModstamp=ms(modified),
        )  # fmt: skip
        shared = [(owner, "I", "AllUsers")]
        for prefix, total in rng.sample(_records(org), rng.choice((1, 1, 2))):
            record = make_id(prefix, 1 + rng.randrange(total))
            shared.append(
                (record, rng.choice(("V", "V", "C")), rng.choice(("AllUsers", "InternalUsers")))
            )
        for linked, share_type, visibility in shared:
            links.add(
                IsDeleted=deleted_at is not None, LinkedEntityId=linked, ContentDocumentId=document_id,
                ShareType=share_type, Visibility=visibility, SystemModstamp=ms(modified),
            )  # fmt: skip
    return {
        "ContentDocument": documents.to_table(),
        "ContentDocumentLink": links.to_table(assign_ids=True),
    }

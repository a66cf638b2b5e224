"""The org's users as events see them: User Id -> UserType, an event's ``actor_type``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rest

if TYPE_CHECKING:
    from ..connection.client import SalesforceClient


def user_types(client: SalesforceClient) -> dict[str, str | None]:
    """UserType by User Id for every user the org knows (queryAll): one query per run, its pages
    read in turn."""
    types: dict[str, str | None] = {}
    for page in rest.pages(
        client, "SELECT Id, UserType FROM User", all_rows=True, context="User types"
    ):
        types.update({row["Id"]: row.get("UserType") for row in page})
    return types

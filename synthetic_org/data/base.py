"""What every family of synthetic data shares: the org's size and clock, who acts, and how field
history rows are written.

Families receive a ``World`` (never the ``SyntheticOrg`` that holds them), so each family module
depends on this one only and the org module imports the families: no import circle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow as pa

from ..ids import make_id
from ..metadata import OBJECTS_BY_NAME, ObjectSpec
from .columns import TableBuilder

DAY = 86_400
HISTORY_SPAN_DAYS = 720


@dataclass(frozen=True)
class OrgSize:
    """How many records of each parent object an org of a given scale has."""

    opportunities: int

    @property
    def users(self) -> int:
        return min(2000, 12 + self.opportunities // 100)

    @property
    def accounts(self) -> int:
        return max(3, self.opportunities // 2)

    @property
    def contacts(self) -> int:
        return 2 * self.accounts

    @property
    def leads(self) -> int:
        return 2 + self.opportunities // 2

    @property
    def cases(self) -> int:
        return 1 + self.opportunities // 2

    @property
    def projects(self) -> int:
        return max(2, self.opportunities // 10)

    @property
    def tasks(self) -> int:
        return 2 * self.opportunities

    @property
    def events(self) -> int:
        return self.opportunities

    @property
    def setup_changes(self) -> int:
        return 20 + self.opportunities // 50


def ms(seconds: float) -> int:
    """Salesforce stores whole seconds; the sandbox keeps milliseconds at .000 like the real API."""
    return int(seconds) * 1000


def day_number(seconds: float) -> int:
    return int(seconds) // DAY


def money_text(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def spec(name: str) -> ObjectSpec:
    return OBJECTS_BY_NAME[name.lower()]


class World:
    """A seeded org's size and clock (``anchor``, epoch seconds) and the helpers families draw on."""

    # User index 0 is the admin, 1 the Automated Process user, 2 the integration user.
    ADMIN, AUTOMATION, INTEGRATION = 0, 1, 2

    def __init__(self, seed: int, scale: int, anchor: int) -> None:
        self.seed = seed
        self.size = OrgSize(max(1, scale))
        self.anchor = anchor

    def table(self, object_name: str) -> pa.Table:
        """Another family's table (a family may need the users' names)."""
        raise NotImplementedError

    def user_id(self, index: int) -> str:
        return make_id("005", index + 1)

    def random_time(self, rng: random.Random, days_back: float, not_before: float = 0) -> int:
        start = max(self.anchor - days_back * DAY, not_before)
        return int(rng.uniform(start, self.anchor - 3600))

    def sorted_times(self, rng: random.Random, count: int, days_back: float) -> list[int]:
        return sorted(self.random_time(rng, days_back) for _ in range(count))

    def owner(self, rng: random.Random) -> int:
        """A sales user (never the automation or integration users)."""
        return rng.randrange(3, self.size.users) if self.size.users > 3 else self.ADMIN

    def actor(self, rng: random.Random, owner: int) -> int:
        """Who made a change: mostly the owner, sometimes automation or an integration."""
        roll = rng.random()
        if roll < 0.08:
            return self.AUTOMATION
        if roll < 0.14:
            return self.INTEGRATION
        return owner

    def deleted(self, rng: random.Random, after: int, rate: float = 0.02) -> int | None:
        """When a record was soft-deleted (it sits in the recycle bin), or None.

        Deletions happen in the last ten days and always after the record's last change.
        """
        if rng.random() >= rate:
            return None
        deleted_at = int(self.anchor - rng.uniform(0.1, 10) * DAY)
        return deleted_at if deleted_at > after else None


class FieldHistoryWriter:
    """Writes the rows Salesforce's field history tracking records for one parent record."""

    def __init__(self, builder: TableBuilder, parent_field: str, parent_id: str) -> None:
        self.builder = builder
        self.parent_field = parent_field
        self.parent_id = parent_id

    def created(self, at: int, actor_id: str) -> None:
        self._row(at, actor_id, "created", "Text", None, None)

    def change(
        self, at: int, actor_id: str, field: str, data_type: str, old: object, new: object
    ) -> None:
        self._row(at, actor_id, field, data_type, old, new)

    def _row(
        self, at: int, actor_id: str, field: str, data_type: str, old: object, new: object
    ) -> None:
        self.builder.add(
            IsDeleted=False,
            CreatedById=actor_id,
            CreatedDate=ms(at),
            Field=field,
            DataType=data_type,
            OldValue=None if old is None else str(old),
            NewValue=None if new is None else str(new),
            **{self.parent_field: self.parent_id},
        )

"""Users: the admin, the Automated Process and integration users, then the sales team."""

from __future__ import annotations

import random

import pyarrow as pa

from ..ids import make_id
from .base import DAY, HISTORY_SPAN_DAYS, World, ms, spec
from .columns import TableBuilder
from .names import FIRST_NAMES, LAST_NAMES


def simulate_users(org: World, rng: random.Random) -> dict[str, pa.Table]:
    builder = TableBuilder(spec("User"))
    created = org.sorted_times(rng, org.size.users, HISTORY_SPAN_DAYS + 200)
    # The first users must exist before anything else happens in the org.
    created = [t - (HISTORY_SPAN_DAYS + 200) * DAY if i < 3 else t for i, t in enumerate(created)]
    for index, created_at in enumerate(created):
        if index == org.AUTOMATION:
            first, last, user_type, username = (
                None,
                "Automated Process",
                "AutomatedProcess",
                "autoproc@00d8d0000000001",
            )
        elif index == org.INTEGRATION:
            first, last, user_type, username = (
                "Integration",
                "User",
                "CloudIntegrationUser",
                "integration@sandbox.example.com",
            )
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            user_type = "Standard" if index == org.ADMIN or rng.random() > 0.03 else "PowerPartner"
            username = (
                f"{first.lower()}.{last.lower().replace(chr(39), '')}{index}@sandbox.example.com"
            )
        name = f"{first} {last}" if first else last
        modified = max(created_at, org.random_time(rng, 60))
        builder.add(
            Id=org.user_id(index),
            Username=username,
            FirstName=first,
            LastName=last,
            Name=name,
            Email=username if "@sandbox" in username else None,
            Title="Sales Rep" if index > 2 else None,
            Department=rng.choice(("Sales", "Sales Ops", "Support", None)),
            IsActive=index < 3 or rng.random() > 0.1,
            UserType=user_type,
            ProfileId=make_id("00e", 1 + (index % 3)),
            ManagerId=org.user_id(org.ADMIN) if index > 2 else None,
            TimeZoneSidKey=rng.choice(("America/Los_Angeles", "Europe/London", "Asia/Tokyo")),
            LastLoginDate=ms(modified) if user_type == "Standard" else None,
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(org.ADMIN),
            LastModifiedDate=ms(modified),
            LastModifiedById=org.user_id(org.ADMIN),
            SystemModstamp=ms(modified),
        )
    return {"User": builder.to_table()}
